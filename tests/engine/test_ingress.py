"""Traffic entering the emulated network (engine/stages/gateway.py): from on-premises through the VPN
gateway (GatewaySubnet routes, gateway transit to spokes), the Internet (public IPs are
references only: delivered when the IP configuration has one) and stateful replies."""

from __future__ import annotations

from dataclasses import replace

from scapy.layers.inet import IP, TCP

from dataplane.engine import Disposition as D
from dataplane.engine import Emulator

BRANCH = "192.168.1.10"


def tcp(src, dst, dport, sport=50000):
    return IP(src=src, dst=dst) / TCP(sport=sport, dport=dport)


def one(em, pkt, source=None):
    out = em.send(pkt, source=source)
    row = out.row(0)
    return row["disposition"], row["deciding"], row["hops"]


def test_onprem_enters_at_the_hub_gateway_and_reaches_spokes_by_transit(demo):
    # web-nsg allows ssh from the branch; the spoke uses the hub gateway (transit)
    assert one(demo, tcp(BRANCH, "10.1.1.4", 22)) == (
        "DELIVERED", "route System 10.1.0.0/16 VNetPeering", "gateway hub-gw > web1")
    # hub VNet itself: VnetLocal from the GatewaySubnet; shared-nsg denies telnet
    assert one(demo, tcp(BRANCH, "10.0.2.4", 22))[0] == "DELIVERED"
    assert one(demo, tcp(BRANCH, "10.0.2.4", 23))[:2] == (
        "DENIED_IN", "nsg shared-nsg/securityRules/deny-telnet")
    # db-nsg: deny-vnet-in (the VirtualNetwork tag includes on-premises prefixes)
    assert one(demo, tcp(BRANCH, "10.2.1.4", 1433))[:2] == (
        "DENIED_IN", "nsg db-nsg/securityRules/deny-vnet-in")
    # global hop: the gateway (West Europe) to db1 (East US) takes the published latency
    res = demo.send(tcp(BRANCH, "10.2.1.4", 1433))
    assert res.row(0)["hops"] == "gateway hub-gw > db1"


def test_replies_to_flows_opened_towards_onprem_pass_the_nsgs(demo):
    out = demo.send([tcp("10.2.1.4", BRANCH, 443, 40000), tcp(BRANCH, "10.2.1.4", 40000, 443)],
                    source=["db1", None], times_ns=[0, 10**9])
    assert out.dispositions() == [D.EXITS_ON_PREMISES, D.DELIVERED]  # stateful (2.1)


TRANSIT = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16],
        subnets: {GatewaySubnet: {prefix: 10.0.255.0/27, route_table: gw-rt}, nva: 10.0.1.0/24},
        gateway: {type: Vpn, sku: VpnGw1}}
  spoke1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {s: 10.1.1.0/24}}
  spoke2: {region: westeurope, address_space: [10.2.0.0/16], subnets: {s: 10.2.1.0/24}}
  spoke3: {region: westeurope, address_space: [10.3.0.0/16], subnets: {s: 10.3.1.0/24}}
peerings:
  - {vnet: hub, remote: spoke1, allow_gateway_transit: true}
  - {vnet: spoke1, remote: hub, use_remote_gateways: true}
  - {between: [hub, spoke2]}
  - {vnet: hub, remote: spoke3, allow_gateway_transit: true, allow_forwarded_traffic: true}
  - {vnet: spoke3, remote: hub, use_remote_gateways: true, allow_forwarded_traffic: {fwd}}
route_tables:
  gw-rt: {routes: [{name: spoke3-via-nva, prefix: 10.3.0.0/16, next_hop: VirtualAppliance,
                    next_hop_ip: 10.0.1.4}]}
vms:
  nva: {subnet: hub/nva, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}
  a: {subnet: spoke1/s, ip: 10.1.1.4, size: Standard_D2s_v3}
  b: {subnet: spoke2/s, ip: 10.2.1.4, size: Standard_D2s_v3}
  c: {subnet: spoke3/s, ip: 10.3.1.4, size: Standard_D2s_v3}
on_premises:
  branch: {prefixes: [192.168.0.0/16], connect_to: hub}
"""


def test_transit_required_and_gateway_subnet_udrs_apply(make_topology):
    em = Emulator(make_topology(TRANSIT.replace("{fwd}", "true")))
    assert one(em, tcp(BRANCH, "10.1.1.4", 22))[0] == "DELIVERED"
    # spoke2 is peered but does not use the hub's gateway: not reachable from on-premises
    assert one(em, tcp(BRANCH, "10.2.1.4", 22))[:2] == (
        "TRANSIT_BLOCKED", "gateway hub-gw: no gateway transit to spoke2")
    # a UDR on the GatewaySubnet sends spoke3 through the hub NVA (forwarded traffic)
    assert one(em, tcp(BRANCH, "10.3.1.4", 22)) == (
        "DELIVERED", "route System 10.3.0.0/16 VNetPeering", "gateway hub-gw > nva > c")
    em = Emulator(make_topology(TRANSIT.replace("{fwd}", "false")))
    assert one(em, tcp(BRANCH, "10.3.1.4", 22))[:2] == (
        "FORWARDING_BLOCKED", "peering hub->spoke3")
    # the reference walk agrees (Result.explain runs it for mapped sources; here directly)
    from dataplane.engine.reference import Packet, ReferencePipeline

    ref = ReferencePipeline(em.net)
    w = ref.walk(Packet(-1, int.from_bytes(bytes([192, 168, 1, 10]), "big"),
                        int.from_bytes(bytes([10, 2, 1, 4]), "big"), 6, 50000, 22))
    assert (w.disposition, w.hops[0]["step"], w.hops[0]["localNetworkGateway"]) == (
        D.TRANSIT_BLOCKED, "ingress", "branch")


def test_internet_ingress_needs_a_public_ip(demo_topology):
    em = Emulator(demo_topology)
    # no public IP on web1: stays UNMAPPED, with the reason as its label
    assert one(em, tcp("203.0.113.7", "10.1.1.4", 443))[:2] == (
        "UNMAPPED", "ingress internet: web1 has no public IPv4 address (and the packet answers no "
        "live flow: one dropped on its way out opened none)")
    nics = tuple(
        replace(n, ip_configurations=(replace(n.ip_configurations[0], public_ip_address=(
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/"
            "web1-pip")),)) if n.name == "web1-nic" else n
        for n in demo_topology.network_interfaces)
    em = Emulator(replace(demo_topology, network_interfaces=nics))
    # taken as already translated to the private address; web-nsg allows 443 from anywhere
    assert one(em, tcp("203.0.113.7", "10.1.1.4", 443)) == (
        "DELIVERED", "ingress internet to web1 (public IP)", "web1")
    # web's route table sends 0.0.0.0/0 to the NVA, so its VirtualNetwork tag is 0.0.0.0/0 and
    # AllowVnetInBound admits 3389 from the Internet (control/tags.py, assumption
    # virtualnetwork-udr-prefixes; MicrosoftDocs/azure-docs#22178)
    assert one(em, tcp("203.0.113.7", "10.1.1.4", 3389))[:2] == (
        "DELIVERED", "ingress internet to web1 (public IP)")
    # a reply to a flow the VM opened comes back without a public IP
    em = Emulator(demo_topology)
    out = em.send([tcp("10.0.2.4", "8.8.8.8", 443, 41000), tcp("8.8.8.8", "10.0.2.4", 41000, 443)],
                  source=["jumpbox", None])
    assert out.dispositions() == [D.EXITS_INTERNET, D.DELIVERED]
    # jumpbox has no public IP: the label says why the reply got in
    assert out.row(1)["deciding"] == "ingress internet to jumpbox (reply of a flow it opened)"
