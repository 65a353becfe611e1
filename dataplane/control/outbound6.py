"""IPv6 Internet connectivity of an IPv6 ip configuration: which method gives it, to which address.

Takes: a Topology, a NetworkInterface and one of its IPv6 IP configurations
(`privateIPAddressVersion: IPv6`). Emits an `Outbound` (control/outbound.py's shape: method,
resource, rule, public IPv6 addresses, overridden methods, assumptions).

Microsoft's rule (modelled, issue 17): **What is IPv6 for Azure Virtual Network?**,
https://learn.microsoft.com/azure/virtual-network/ip-services/ipv6-overview, "Benefits":
"Secure by default since IPv6 connectivity to the Internet is only established when you
explicitly request it in your deployment"; "Capabilities" names the ways to request it:
"Instance-level public IP provides IPv6 Internet connectivity directly to individual VMs" and
the "Standard IPv6 public load balancer" (with "Optional outbound rules"); a StandardV2 NAT
gateway takes IPv6 public IPs and prefixes ("Azure NAT Gateway SKUs",
https://learn.microsoft.com/azure/nat-gateway/nat-sku, "SKU comparison": public IP version
"IPv4, IPv6", "16 IPv6 addresses", "/124 IPv6 prefix"). Default outbound access gives none:
its address is "The public IPv4 address used for the access" (**Default outbound access in
Azure**, https://learn.microsoft.com/azure/virtual-network/ip-services/
default-outbound-access, "How is default outbound access provided?"). Precedence, first
present wins:
1. `NatGateway`: the configuration's subnet has a NAT gateway with IPv6 public IPs or prefixes
   (`publicIpAddressesV6`, `publicIpPrefixesV6`): "NAT gateway takes precedence over other
   outbound scenarios" ("Azure NAT Gateway resource", https://learn.microsoft.com/azure/
   nat-gateway/nat-gateway-resource, "NAT gateway and other outbound connectivity methods";
   the page does not restrict it to IPv4, so IPv6 follows the IPv4 order). Its first IPv6
   public IP's address is the source (a SNAT port, as for IPv4); with prefixes only, no
   address is known (public_addresses: prefixes are not modelled) and the packet leaves
   keeping its source. A NAT gateway with IPv4 addresses only gives no IPv6 (Standard SKU).
2. `InstancePublicIP`: an IPv6 public IP on this IP configuration (1:1, the port kept, as for
   IPv4: "Public IP address assigned to the VM", load-balancer-outbound-connections).
3. `LoadBalancerOutboundRule`, then `LoadBalancerRule`: a public load balancer whose backend
   pool holds this configuration, through a rule whose frontends carry an IPv6 public IP
   (control/outbound.py `lb_methods` with version 6; the IPv4 precedence of "Outbound rules
   Azure Load Balancer", https://learn.microsoft.com/azure/load-balancer/outbound-rules).
4. `None`: no IPv6 Internet connectivity (engine: NO_IPV6_INTERNET for a new flow).
Addresses a template lacks are chosen offline (control/public_addresses.py, assumption
`public-address-allocation`).
"""

from __future__ import annotations

from dataplane.control.outbound import (
    INSTANCE_PUBLIC_IP,
    NAT_GATEWAY,
    NONE,
    Outbound,
    lb_methods,
)
from dataplane.control.public_addresses import ALLOCATION, chosen_here, public_address
from dataplane.model import (
    IPConfiguration,
    NatGateway,
    NetworkInterface,
    PublicIPAddress,
    Subnet,
    Topology,
    id_key,
)


def first_ipv6_config(nic: NetworkInterface) -> IPConfiguration | None:
    """The NIC's first IPv6 IP configuration (the source of its IPv6 flows), None if none."""
    return next((c for c in nic.ip_configurations if c.private_ip_address is not None
                 and c.private_ip_address.version == 6), None)


def outbound_access6(topology: Topology, nic: NetworkInterface, config: IPConfiguration
                     ) -> Outbound:
    """The IPv6 outbound method of `config` (an IPv6 IP configuration of `nic`; module
    docstring). `public_addresses` holds IPv6 addresses only."""
    del nic  # the method is the configuration's own (NIC-level siblings do not lend it)
    pools = {id_key(p) for p in config.load_balancer_backend_address_pools}
    balanced = [m for m in lb_methods(topology, pools, version=6) if m.public_addresses]
    pip = topology.get(config.public_ip_address) if config.public_ip_address else None
    address = public_address(topology, pip) if isinstance(pip, PublicIPAddress) else None
    own = pip if isinstance(pip, PublicIPAddress) and address is not None and \
        address.version == 6 else None
    through_lb = [f"{m.method} {(m.resource or '').rsplit('/', 1)[-1]}/{m.rule}" for m in balanced]
    nat = _nat_gateway6(topology, config)
    if nat is not None:
        found = [(a, p) for p in nat.public_ip_addresses_v6
                 if (a := public_address(topology, p)) is not None and a.version == 6]
        lower = ([f"{INSTANCE_PUBLIC_IP} {own.name}"] if own is not None else []) + through_lb
        return Outbound(NAT_GATEWAY, nat.id, "", tuple(a for a, _ in found),
                        tuple(dict.fromkeys(lower)),
                        (ALLOCATION,) if any(chosen_here(topology, p) for _, p in found) else (),
                        tuple(p for _, p in found))
    if own is not None and address is not None:
        return Outbound(INSTANCE_PUBLIC_IP, own.id, "", (address,),
                        tuple(dict.fromkeys(through_lb)),
                        (ALLOCATION,) if chosen_here(topology, own.id) else (), (own.id,))
    if balanced:
        chosen = balanced[0]
        allocated = any(chosen_here(topology, p) for p in chosen.public_ips if p)
        return Outbound(chosen.method, chosen.resource, chosen.rule, chosen.public_addresses,
                        (), (ALLOCATION,) if allocated else (), chosen.public_ips)
    return Outbound(NONE)


def _nat_gateway6(topology: Topology, config: IPConfiguration) -> NatGateway | None:
    """The NAT gateway of the configuration's subnet when it has IPv6 public IPs or prefixes."""
    subnet = topology.get(config.subnet)
    nat = topology.get(subnet.nat_gateway) if isinstance(subnet, Subnet) and \
        subnet.nat_gateway else None
    if isinstance(nat, NatGateway) and (nat.public_ip_addresses_v6 or nat.public_ip_prefixes_v6):
        return nat
    return None


__all__ = ["first_ipv6_config", "outbound_access6"]
