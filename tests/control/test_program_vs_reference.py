"""Property tests: the compiled Program against a deliberately simple reference evaluator.

The reference is written straight from docs/azure-behaviour.md sections 2 and 3 with the ipaddress
module and linear scans; it shares no code with dataplane.control except the representative
service-endpoint prefixes (a data table, not logic).
"""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from topo_factory import Builder

from dataplane.control.program import NEXT_HOP_TYPES, compile_program
from dataplane.control.tags import service_prefixes

NET = ipaddress.ip_network
RESERVED = [NET(p) for p in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")]
NOT_INTERNET = [NET(p) for p in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                 "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
                                 "224.0.0.0/4", "240.0.0.0/4")]
DEFAULT_RULES = [  # docs/azure-behaviour.md §2.2
    ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
]


def net(p) -> ipaddress.IPv4Network:
    return NET(str(p))


# -- the reference ------------------------------------------------------------------------------

def ref_gateway_vnets(topo, vnet):
    """VNets whose gateways this VNet uses: its own, else the hub's via transit (4.1)."""
    if topo.gateways_of(vnet.id):
        return [vnet]
    for link in vnet.virtual_network_peerings:
        if link.use_remote_gateways and link.peering_state == "Connected":
            hub = topo.get(link.remote_virtual_network)
            back = [b for b in hub.virtual_network_peerings
                    if b.remote_virtual_network.lower() == vnet.id.lower()]
            if back and back[0].allow_gateway_transit and back[0].peering_state == "Connected" \
                    and any(g.sku != "Basic" for g in topo.gateways_of(hub.id)):
                return [hub]
    return []


def ref_onprem(topo, vnet):
    out = []
    for owner in ref_gateway_vnets(topo, vnet):
        gw_ids = {g.id.lower() for g in topo.gateways_of(owner.id)}
        for conn in topo.connections:
            if conn.virtual_network_gateway1.lower() in gw_ids:
                out += [net(p) for p in topo.get(conn.local_network_gateway2).address_prefixes]
    return out


def ref_next_hop(topo, subnet, dst: ipaddress.IPv4Address):
    vnet = topo.vnet_of_subnet(subnet.id)
    table = topo.get(subnet.route_table) if subnet.route_table else None
    space = [net(p) for p in vnet.address_space]
    cands = [(n, "system", "VnetLocal", None) for n in space]  # (net, class, type, ip)
    cands.append((NET("0.0.0.0/0"), "default", "Internet", None))
    forced = table is not None and any(
        str(r.address_prefix) == "0.0.0.0/0" and r.next_hop_type in
        ("VirtualAppliance", "VirtualNetworkGateway") for r in table.routes)
    for r in RESERVED:
        if not forced and not any(s.supernet_of(r) for s in space):
            cands.append((r, "default", "None", None))
    for link in vnet.virtual_network_peerings:
        if link.peering_state == "Connected":
            remote = topo.get(link.remote_virtual_network)
            kind = "VNetPeering" if remote.location == vnet.location else "VNetGlobalPeering"
            cands += [(net(p), "system", kind, None) for p in link.remote_address_space]
    for service in subnet.service_endpoints:
        cands += [(net(p), "endpoint", "VirtualNetworkServiceEndpoint", None)
                  for p in service_prefixes(service)]
    if table is None or not table.disable_bgp_route_propagation:
        cands += [(n, "bgp", "VirtualNetworkGateway", None) for n in ref_onprem(topo, vnet)]
    if table is not None:
        for r in table.routes:
            cands.append((net(r.address_prefix), "user", r.next_hop_type,
                          str(r.next_hop_ip_address) if r.next_hop_ip_address else None))
    matching = [c for c in cands if dst in c[0]]
    # 3.4: VNet, peering and service-endpoint routes are preferred even over more specific BGP.
    if any(c[1] in ("system", "endpoint") for c in matching):
        matching = [c for c in matching if c[1] != "bgp"]
    longest = max(c[0].prefixlen for c in matching)
    order = {"endpoint": 0, "user": 1, "system": 2, "bgp": 3, "default": 4}
    best = min((c for c in matching if c[0].prefixlen == longest), key=lambda c: order[c[1]])
    return best[2], best[3]


def ref_virtual_network(topo, scope):
    """scope = (VNet, the NIC's subnet): the VNet space, Connected access-allowed peers,
    on-premises, the host's virtual IP 168.63.129.16 and every user-route prefix (0.0.0.0/0
    too) of the subnet's own route table (control/tags.py, `virtualnetwork-udr-prefixes`)."""
    vnet, subnet = scope
    nets = [net(p) for p in vnet.address_space] + [ipaddress.ip_network("168.63.129.16/32")]
    for link in vnet.virtual_network_peerings:
        if link.peering_state == "Connected" and link.allow_virtual_network_access:
            nets += [net(p) for p in link.remote_address_space]
    nets += ref_onprem(topo, vnet)
    if subnet.route_table:
        nets += [net(r.address_prefix) for r in topo.get(subnet.route_table).routes]
    return nets


def ref_address_match(topo, scope, spec, ip, asgs=()):
    if asgs:
        return any(ip == c.private_ip_address.value and any(a in c.application_security_groups
                                                            for a in asgs)
                   for n in topo.network_interfaces for c in n.ip_configurations)
    for item in spec:
        if item == "*":
            return True
        address = ipaddress.ip_address(ip)
        if isinstance(item, str):
            if item == "VirtualNetwork" and any(address in n for n in
                                                ref_virtual_network(topo, scope)):
                return True
            if item == "Internet" and not any(address in n for n in NOT_INTERNET) and not any(
                    address in n for n in ref_virtual_network(topo, scope) if n.prefixlen):
                return True
            if item == "AzureLoadBalancer" and str(address) == "168.63.129.16":
                return True
        elif address in net(item):
            return True
    return False


def ref_rules(nsg):
    rows = [(f"securityRules/{r.name}", r.priority, r.direction, r.access, r.protocol,
             r.source_address_prefixes, r.source_application_security_groups,
             [(p.low, p.high) for p in r.source_port_ranges], r.destination_address_prefixes,
             r.destination_application_security_groups,
             [(p.low, p.high) for p in r.destination_port_ranges]) for r in nsg.security_rules]
    rows += [(f"defaultSecurityRules/{n}", pr, d, a, "*", (s,), (), [(0, 65535)], (t,), (),
              [(0, 65535)]) for n, pr, d, a, s, t in DEFAULT_RULES]
    return sorted(rows, key=lambda r: r[1])


def ref_level(topo, vnet, nsg, direction, flow, match=None):
    """First matching rule of one NSG; `match(topo, vnet, spec, ip, asgs)` decides an address
    side (IPv4 here, IPv6 in test_program_ipv6.py)."""
    match = match or ref_address_match
    proto, src, sport, dst, dport = flow
    names = {"Tcp": 6, "Udp": 17, "Icmp": 1, "Esp": 50, "Ah": 51}
    for (name, _, d, access, protocol, s, sa, sp, t, ta, tp) in ref_rules(nsg):
        if d != direction or (protocol != "*" and names[protocol] != proto):
            continue
        if not match(topo, vnet, s, src, sa) or not match(topo, vnet, t, dst, ta):
            continue
        if proto in (6, 17):
            if not any(lo <= sport <= hi for lo, hi in sp) or \
                    not any(lo <= dport <= hi for lo, hi in tp):
                continue
        elif sp != [(0, 65535)] or tp != [(0, 65535)]:
            continue
        return access, name
    raise AssertionError("the default rules always match")


def ref_verdict(topo, nic, direction, flow, match=None):
    subnet = topo.get(nic.ip_configurations[0].subnet)
    vnet = topo.vnet_of_subnet(subnet.id)
    levels = [topo.get(subnet.network_security_group), topo.get(nic.network_security_group)]
    if direction == "Outbound":
        levels.reverse()
    access, name = "Allow", None
    for nsg in levels:
        if nsg is None:
            continue
        access, name = ref_level(topo, (vnet, subnet), nsg, direction, flow, match)
        if access == "Deny":
            break
    return access, name


# -- random topologies ------------------------------------------------------------------------

ROUTE_PREFIXES = ["0.0.0.0/0", "10.0.0.0/16", "10.1.0.0/16", "10.1.1.0/24", "10.0.5.0/24",
                  "192.168.100.0/24", "8.8.0.0/16", "172.16.0.0/12", "10.2.0.0/15"]
HOP_TYPES = ["VirtualAppliance", "VnetLocal", "Internet", "None", "VirtualNetworkGateway"]
ADDRESSES = ["*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "10.0.0.0/16",
             "10.1.1.0/24", "8.8.8.0/24", "192.168.100.0/24"]
PORTS = ["*", "80", "1000-2000", "22,443"]


@st.composite
def topologies(draw):
    b = Builder()
    n = draw(st.integers(1, 4))
    for i in range(n):
        spaces = [f"10.{i}.0.0/16"]
        if draw(st.booleans()):
            spaces.append(["172.16.0.0/12", "192.168.10.0/24", "100.64.0.0/10", "10.9.0.0/16"][i])
        subnets = {}
        for j in range(draw(st.integers(1, 2))):
            subnets[f"s{j}"] = {"prefix": f"10.{i}.{j + 1}.0/24",
                                "nsg": draw(st.sampled_from([None, "n0", "n1", "n1"])),
                                "route_table": draw(st.sampled_from([None, "rt0", "rt1"])),
                                "service_endpoints": draw(st.sampled_from(
                                    [[], ["Microsoft.Storage"]]))}
        b.vnet(f"v{i}", spaces, region=draw(st.sampled_from(["westeurope", "northeurope"])),
               subnets=subnets)
    for i in range(n):
        for j in range(n):
            if i == j or not draw(st.booleans()):
                continue
            space = b.vnets[f"v{j}"]["space"]
            synced = draw(st.sampled_from(["all", "first"]))
            b.link(f"v{i}", f"v{j}", state=draw(st.sampled_from(["Connected", "Initiated"])),
                   remote_space=[str(p) for p in (space if synced == "all" else space[:1])],
                   allow_virtual_network_access=draw(st.booleans()),
                   allow_gateway_transit=draw(st.booleans()),
                   use_remote_gateways=draw(st.booleans()))
    if draw(st.booleans()):
        b.gateway("v0", sku=draw(st.sampled_from(["VpnGw1", "Basic"])))
        b.onprem("site", draw(st.lists(st.sampled_from(
            ["192.168.100.0/24", "10.0.5.0/24", "10.1.7.0/24", "203.0.113.0/24", "10.0.0.0/8"]),
            min_size=1, max_size=3, unique=True)), connect_to="v0")
    for t in ("rt0", "rt1"):
        routes = []
        for k, prefix in enumerate(draw(st.lists(st.sampled_from(ROUTE_PREFIXES), max_size=4,
                                                 unique=True))):
            hop = draw(st.sampled_from(HOP_TYPES))
            routes.append((f"r{k}", prefix, hop, "10.0.1.4" if hop == "VirtualAppliance" else None))
        b.route_table(t, routes, disable_bgp=draw(st.booleans()))
    for name in ("n0", "n1"):
        rules = []
        priorities = draw(st.lists(st.integers(100, 4096), min_size=1, max_size=5, unique=True))
        for k, priority in enumerate(priorities):
            rule = {"name": f"{name}-r{k}", "priority": priority,
                    "direction": draw(st.sampled_from(["Inbound", "Outbound"])),
                    "access": draw(st.sampled_from(["Allow", "Deny"])),
                    "protocol": draw(st.sampled_from(["*", "Tcp", "Udp", "Icmp"])),
                    "source": draw(st.sampled_from(ADDRESSES)),
                    "destination": draw(st.sampled_from(ADDRESSES)),
                    "source_ports": draw(st.sampled_from(PORTS)),
                    "destination_ports": draw(st.sampled_from(PORTS))}
            if draw(st.integers(0, 4)) == 0:
                rule["destination_asgs"] = ["asg-a"]
            rules.append(rule)
        b.nsg(name, rules)
    for i in range(n):
        for j, _ in enumerate(b.vnets[f"v{i}"]["subnets"]):
            b.vm(f"vm{i}{j}", f"v{i}/s{j}", f"10.{i}.{j + 1}.4",
                 nsg=draw(st.sampled_from([None, "n0", "n0", "n1"])),
                 asgs=draw(st.sampled_from([(), ("asg-a",)])))
    return b.build()


INTERESTING = ["10.0.1.4", "10.1.1.4", "10.1.1.9", "10.0.5.5", "10.1.7.7", "10.2.1.4",
               "10.3.2.4", "192.168.100.5", "192.168.10.9", "172.16.3.3", "172.20.0.1",
               "100.64.0.1", "8.8.8.8", "8.8.1.1", "20.60.1.1", "203.0.113.9", "168.63.129.16",
               "10.9.1.1", "1.1.1.1"]
addresses = st.one_of(st.sampled_from(INTERESTING).map(lambda a: int(ipaddress.ip_address(a))),
                      st.integers(0, 2**32 - 1))


@given(topologies(), st.lists(addresses, min_size=1, max_size=25))
def test_next_hop_matches_reference(topo, destinations):
    program = compile_program(topo)
    dst = np.array(destinations, dtype=np.int64)
    for vnet in topo.virtual_networks:
        for subnet in vnet.subnets:
            si = program.subnet_index(subnet.id)
            hops = program.lookup(np.full(len(dst), si), dst)
            for value, hop in zip(destinations, hops, strict=True):
                expected = ref_next_hop(topo, subnet, ipaddress.ip_address(value))
                assert hop >= 0
                got_ip = int(program.nh_ip[hop])
                got = (NEXT_HOP_TYPES[program.nh_type[hop]],
                       str(ipaddress.ip_address(got_ip)) if got_ip >= 0 else None)
                assert got == expected, (subnet.name, str(ipaddress.ip_address(value)))


flows = st.tuples(st.sampled_from([6, 17, 1, 50]), addresses,
                  st.sampled_from([22, 80, 443, 1500, 50000]), addresses,
                  st.sampled_from([22, 80, 443, 1500, 3000]))


@given(topologies(), st.lists(flows, min_size=1, max_size=15),
       st.sampled_from(["Inbound", "Outbound"]))
def test_nsg_verdicts_match_reference(topo, sample, direction):
    program = compile_program(topo)
    cols = [np.array(c, dtype=np.int64) for c in zip(*sample, strict=True)]
    for nic in topo.network_interfaces:
        ni = program.nic_index(nic.id)
        allow, rules = program.evaluate(ni, direction, *cols)
        for flow, ok, rule in zip(sample, allow, rules, strict=True):
            name = program.rule_names[program.rule_name[rule]] if rule >= 0 else None
            assert (("Allow" if ok else "Deny"), name) == ref_verdict(topo, nic, direction, flow)
