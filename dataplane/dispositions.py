"""Dispositions: how every packet's journey ends, with a one-line reason.

Takes nothing; emits `Disposition` (an IntEnum, stored as uint8 in the batch columns) and
`REASONS` (one line per value). Every packet read ends in exactly one disposition, so
read = delivered + left the network + dropped-with-reason + unparsed (+ unreadable records,
counted by the capture reader). Azure sources: docs/azure-behaviour.md §2 (NSG), 3 (routes),
4 (peering; 4.4 for LB_BASIC_GLOBAL), 5 (VM bandwidth). Load-balancer dispositions:
engine/stages/loadbalancer.py; edge and ingress ones (NON_ROUTABLE, TRANSIT_BLOCKED):
engine/stages/gateway.py.
"""

from __future__ import annotations

from enum import IntEnum


class Disposition(IntEnum):
    DELIVERED = 0
    EXITS_INTERNET = 1
    EXITS_ON_PREMISES = 2
    DENIED_OUT = 3
    DENIED_IN = 4
    NO_ROUTE = 5
    NULL_ROUTED = 6
    PEERING_BLOCKED = 7
    FORWARDING_BLOCKED = 8
    SPOOFED = 9
    LOOP = 10
    SHAPER_DROP = 11
    UNPARSED = 12
    UNSUPPORTED = 13
    UNMAPPED = 14
    FIREWALL_DENIED = 15
    NO_DESTINATION = 16
    NEXT_HOP_UNREACHABLE = 17
    IP_FORWARDING_DISABLED = 18
    LB_NO_BACKEND = 19
    LB_NO_RULE = 20
    LB_BASIC_GLOBAL = 21
    NON_ROUTABLE = 22
    TRANSIT_BLOCKED = 23
    BLOCKED_IN_VNET = 24
    EXITS_PLATFORM = 25
    LB_HAIRPIN = 26
    PRIVATE_ENDPOINT = 27
    PUBLIC_IP_CLOSED = 28
    NO_OUTBOUND_ACCESS = 29
    FIREWALL_NAME_UNKNOWN = 30
    NAT_OUTBOUND_ONLY = 31
    FRAGMENT_OUT_OF_ORDER = 32
    LB_FRAGMENT = 33
    FRAGMENT_DEFAULT_OUTBOUND = 34
    FRAGMENT_STATE_FULL = 35
    IPV6_NOT_MODELLED = 36
    FIREWALL_SNAT_EXHAUSTED = 37
    NO_IPV6_INTERNET = 43  # v6edge (issue 17)
    GATEWAY_IPV4_ONLY = 44  # v6edge (issue 17)

    @property
    def reason(self) -> str:
        return REASONS[self]

    @property
    def delivered(self) -> bool:
        return self == Disposition.DELIVERED

    @property
    def exited(self) -> bool:
        return self in EXITED

    @property
    def passed(self) -> bool:
        """Delivered or left the network: the packet was not dropped."""
        return self in PASSED


REASONS: dict[Disposition, str] = {
    Disposition.DELIVERED: "delivered to the destination NIC",
    Disposition.EXITS_INTERNET: "left the virtual network towards the Internet (route Internet)",
    Disposition.EXITS_ON_PREMISES: "left towards on-premises through a VPN/ExpressRoute gateway",
    Disposition.DENIED_OUT: "denied by an outbound NSG rule (NIC or subnet level)",
    Disposition.DENIED_IN: "denied by an inbound NSG rule (subnet or NIC level)",
    Disposition.NO_ROUTE: "no effective route matches the destination",
    Disposition.NULL_ROUTED: "the matching route has next hop None (dropped by Azure)",
    Disposition.PEERING_BLOCKED: "the peering is not Connected on both links",
    Disposition.FORWARDING_BLOCKED: "forwarded traffic refused: allowForwardedTraffic is off",
    Disposition.SPOOFED: "source address is not the sending NIC's and IP forwarding is off",
    Disposition.LOOP: "routing loop or hop limit exceeded between virtual appliances",
    Disposition.SHAPER_DROP: "dropped by the VM's egress shaper (queue full at the size's cap)",
    Disposition.UNPARSED: "the frame could not be parsed as IPv4/IPv6 (reason in the record)",
    Disposition.UNSUPPORTED: "parsed but not carried: a frame that is not IP (EtherType in "
                             "the label; a VNet is a layer-3 overlay), or a later IP fragment "
                             "whose first fragment was not emulated",
    Disposition.UNMAPPED: "the source is not an emulated NIC and nothing admits it (label "
                          "says which): an Internet packet gets in only to a public IP or as "
                          "the reply to a flow a VM opened; a private capture address outside "
                          "the topology is placed on a VM with --map or --map-subnet",
    Disposition.FIREWALL_DENIED: "denied by the Azure Firewall (a Deny rule collection, or "
                                 "no DNAT, network or application rule allows it: the label "
                                 "names which)",
    Disposition.NO_DESTINATION: "no NIC holds the destination address in the target VNet",
    Disposition.NEXT_HOP_UNREACHABLE: "the VirtualAppliance next-hop address has no NIC",
    Disposition.IP_FORWARDING_DISABLED: "the appliance NIC does not have IP forwarding enabled",
    Disposition.LB_NO_BACKEND: "the internal load balancer frontend has no reachable backend",
    Disposition.LB_NO_RULE: "no load-balancing rule of the frontend matches the protocol/port",
    Disposition.LB_BASIC_GLOBAL: "a Basic SKU load balancer frontend is not reachable across "
                                 "global peering",
    Disposition.NON_ROUTABLE: "an Internet route selected a non-routable (private/reserved) "
                              "destination: dropped at the Azure edge",
    Disposition.TRANSIT_BLOCKED: "from on-premises into a peered VNet that does not use this "
                                 "gateway (no gateway transit)",
    Disposition.BLOCKED_IN_VNET: "multicast, broadcast, IP-in-IP and GRE are blocked within "
                                 "virtual networks (Azure Virtual Network FAQ)",
    Disposition.LB_HAIRPIN: "a backend's flow to its own internal load balancer's frontend was "
                            "mapped back to itself: Azure fails it (Load Balancer limitations)",
    Disposition.PRIVATE_ENDPOINT: "reached a private endpoint: handed to the private link "
                                  "service it names (the service itself is not emulated)",
    Disposition.PUBLIC_IP_CLOSED: "to a Standard public IP with no NSG on its NIC or subnet: "
                                  "closed to inbound traffic",
    Disposition.NO_OUTBOUND_ACCESS: "a new flow to the Internet from a private subnet "
                                    "(defaultOutboundAccess false) with no outbound method",
    Disposition.FIREWALL_NAME_UNKNOWN: "not decided: an Azure Firewall application rule could "
                                       "allow this flow, but its server name (TLS SNI / HTTP "
                                       "Host) is not known (reason in the label)",
    Disposition.NAT_OUTBOUND_ONLY: "unsolicited from the Internet to a NAT gateway's public "
                                   "address: NAT gateway is outbound only",
    # engine/fragments.py: "TCP/IP performance tuning for Azure VMs", https://learn.microsoft.com/
    # azure/virtual-network/virtual-network-tcpip-performance-tuning, "Azure and fragmentation"
    Disposition.FRAGMENT_OUT_OF_ORDER: "an IP fragment out of its datagram's transmission order "
                                       "(before its first fragment, a gap, a repeat or an "
                                       "overlap): Azure drops out-of-order fragments by "
                                       "default; with --fragments-out-of-order forward only "
                                       "one before its first fragment (the emulator's limit)",
    # "Azure Load Balancer components", https://learn.microsoft.com/azure/load-balancer/
    # components, "Limitations"
    Disposition.LB_FRAGMENT: "a fragmented datagram on a port-specific load-balancing rule: "
                             "only HA ports rules forward IP fragments",
    # "Default outbound access in Azure", https://learn.microsoft.com/azure/virtual-network/
    # ip-services/default-outbound-access, "Constraints"
    Disposition.FRAGMENT_DEFAULT_OUTBOUND: "a fragmented datagram leaving through default "
                                           "outbound access, which does not support fragments",
    Disposition.FRAGMENT_STATE_FULL: "an IP fragment needing a new fragment chain while its "
                                     "NIC's chains are at their bound (assumption "
                                     "fragment-state)",
    Disposition.IPV6_NOT_MODELLED: "not decided: an IPv6 packet reached a part the emulator "
                                   "models for IPv4 only (Azure Firewall IPv6 preview: "
                                   "application and DNAT rules; named in the label)",
    # "What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/
    # virtual-network/ip-services/ipv6-overview, "Benefits" (engine/stages/public_edge6.py)
    Disposition.NO_IPV6_INTERNET: "a new IPv6 flow to the Internet from a NIC without a public "
                                  "IPv6 address or public load-balancer IPv6 frontend: IPv6 "
                                  "Internet connectivity exists only when the deployment "
                                  "requests it",
    # ipv6-overview "Limitations"; "Add IPv6 support for private peering using the Azure
    # portal", https://learn.microsoft.com/azure/expressroute/expressroute-howto-add-ipv6-portal
    # (engine/stages/gateway.py `ipv4_only_reason`)
    Disposition.GATEWAY_IPV4_ONLY: "an IPv6 packet at a virtual network gateway that carries "
                                   "IPv4 only (a VPN gateway, or an ExpressRoute gateway "
                                   "whose GatewaySubnet has no IPv6 prefix)",
    Disposition.EXITS_PLATFORM: "answered by Azure's host (DNS, DHCP, WireServer, IMDS at "
                                "168.63.129.16 / 169.254.169.254): no NSG unless it names the "
                                "service's tag, no user route",
    # engine/stages/firewall_nat.py: "Scale SNAT ports with Azure NAT Gateway",
    # https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway
    Disposition.FIREWALL_SNAT_EXHAUSTED: "a new flow an Azure Firewall would SNAT while its "
                                         "SNAT port pool to that destination is in use (2,496 "
                                         "ports per public IP per instance, 'Scale SNAT ports "
                                         "with Azure NAT Gateway')",
}

EXITED: frozenset[Disposition] = frozenset({
    Disposition.EXITS_INTERNET, Disposition.EXITS_ON_PREMISES, Disposition.EXITS_PLATFORM,
    Disposition.PRIVATE_ENDPOINT})
PASSED: frozenset[Disposition] = EXITED | {Disposition.DELIVERED}
PASSED_CODES: tuple[int, ...] = tuple(sorted(int(d) for d in PASSED))  # for np.isin over columns
DROPPED: frozenset[Disposition] = frozenset(
    d for d in Disposition if d not in PASSED and d != Disposition.UNPARSED)
