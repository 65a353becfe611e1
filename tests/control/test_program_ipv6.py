"""Property tests for the Program's IPv6 tables (lookup6, evaluate6) against a simple reference
written with the ipaddress module and linear scans (docs/azure-behaviour.md sections 2 and 3, and the
Program's assumption `program-ipv6`: Internet holds 2000::/3 minus the VirtualNetwork tag's
IPv6 prefixes, AzureLoadBalancer fe80::1234:5678:9abc, the built-in service-tag sets IPv4
prefixes only). Dual-stack random topologies: IPv4 behaviour is covered by
test_program_vs_reference.py and must not move (checked here too on the same topologies).
"""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_compile_equivalence import assert_same_program
from test_program_vs_reference import ref_verdict
from topo_factory import Builder

from dataplane.control.program import (
    NEXT_HOP_TYPES,
    _compile_reference,
    compile_program,
    split128,
)

NET6 = ipaddress.IPv6Network
ROUTE6 = ["::/0", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:0:1::/64", "2001:db8:2::/47",
          "2001:db8:9::/48", "2600::/12"]
HOPS = ["VirtualAppliance", "VnetLocal", "Internet", "None", "VirtualNetworkGateway"]
ADDR6 = ["*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "2001:db8::/32",
         "2001:db8:1:1::/64", "2600::/12", "10.0.0.0/16"]
PORTS = ["*", "80", "1000-2000", "22,443"]


@st.composite
def dual_stack(draw):
    b = Builder()
    n = draw(st.integers(1, 3))
    six = [draw(st.booleans()) for _ in range(n)]
    for i in range(n):
        spaces = [f"10.{i}.0.0/16"] + ([f"2001:db8:{i}::/48"] if six[i] else [])
        b.vnet(f"v{i}", spaces, region=draw(st.sampled_from(["westeurope", "northeurope"])),
               subnets={"s0": {"prefix": f"10.{i}.1.0/24",
                               "nsg": draw(st.sampled_from([None, "n0", "n1"])),
                               "route_table": draw(st.sampled_from([None, "rt0", "rt1"]))}})
    for i in range(n):
        for j in range(n):
            if i != j and draw(st.booleans()):
                space = [str(p) for p in b.vnets[f"v{j}"]["space"]]
                b.link(f"v{i}", f"v{j}", state=draw(st.sampled_from(["Connected", "Initiated"])),
                       remote_space=draw(st.sampled_from([space, space[-1:]])),
                       allow_virtual_network_access=draw(st.booleans()),
                       use_remote_gateways=draw(st.booleans()),
                       allow_gateway_transit=draw(st.booleans()))
    if draw(st.booleans()):
        b.gateway("v0")
        b.onprem("site", draw(st.lists(st.sampled_from(
            ["2001:db8:9::/48", "2001:db8:0:1::/64", "192.168.1.0/24", "2001:db8::/32"]),
            min_size=1, max_size=3, unique=True)), connect_to="v0")
    for t in ("rt0", "rt1"):
        routes = []
        for k, prefix in enumerate(draw(st.lists(st.sampled_from(ROUTE6 + ["0.0.0.0/0"]),
                                                 max_size=4, unique=True))):
            hop = draw(st.sampled_from(HOPS))
            ip = ("2001:db8:0:1::4" if ":" in prefix else "10.0.1.4") \
                if hop == "VirtualAppliance" else None
            routes.append((f"r{k}", prefix, hop, ip))
        b.route_table(t, routes, disable_bgp=draw(st.booleans()))
    for name in ("n0", "n1"):
        rules = []
        for k, priority in enumerate(draw(st.lists(st.integers(100, 4096), min_size=1,
                                                   max_size=5, unique=True))):
            rule = {"name": f"{name}-r{k}", "priority": priority,
                    "direction": draw(st.sampled_from(["Inbound", "Outbound"])),
                    "access": draw(st.sampled_from(["Allow", "Deny"])),
                    "protocol": draw(st.sampled_from(["*", "Tcp", "Udp", "Icmp"])),
                    "source": draw(st.sampled_from(ADDR6)),
                    "destination": draw(st.sampled_from(ADDR6)),
                    "source_ports": draw(st.sampled_from(PORTS)),
                    "destination_ports": draw(st.sampled_from(PORTS))}
            if draw(st.integers(0, 4)) == 0:
                rule["destination_asgs"] = ["asg-a"]
            rules.append(rule)
        b.nsg(name, rules)
    for i in range(n):
        b.vm(f"vm{i}", f"v{i}/s0", f"10.{i}.1.4", nsg=draw(st.sampled_from([None, "n0", "n1"])),
             asgs=draw(st.sampled_from([(), ("asg-a",)])),
             extra_ips=(f"2001:db8:{i}:1::4",) if six[i] else ())
    return b.build()


# -- the reference (IPv6 only) ----------------------------------------------------------------

def v6(prefixes):
    return [NET6(str(p)) for p in prefixes if getattr(p, "version", 0) == 6]


def ref_gateway_vnets(topo, vnet):
    if topo.gateways_of(vnet.id):
        return [vnet]
    for link in vnet.virtual_network_peerings:
        if link.use_remote_gateways and link.peering_state == "Connected":
            hub = topo.get(link.remote_virtual_network)
            back = [x for x in hub.virtual_network_peerings
                    if x.remote_virtual_network.lower() == vnet.id.lower()]
            if back and back[0].allow_gateway_transit and back[0].peering_state == "Connected" \
                    and topo.gateways_of(hub.id):
                return [hub]
    return []


def ref_onprem6(topo, vnet):
    out = []
    for owner in ref_gateway_vnets(topo, vnet):
        gws = {g.id.lower() for g in topo.gateways_of(owner.id)}
        for conn in topo.connections:
            if conn.virtual_network_gateway1.lower() in gws:
                out += v6(topo.get(conn.local_network_gateway2).address_prefixes)
    return out


def ref_next_hop6(topo, subnet, dst):
    vnet = topo.vnet_of_subnet(subnet.id)
    table = topo.get(subnet.route_table) if subnet.route_table else None
    space = v6(vnet.address_space)
    cands = [(n, "system", "VnetLocal", None) for n in space]
    if space:
        cands.append((NET6("::/0"), "default", "Internet", None))
    for link in vnet.virtual_network_peerings:
        if link.peering_state == "Connected":
            remote = topo.get(link.remote_virtual_network)
            kind = "VNetPeering" if remote.location == vnet.location else "VNetGlobalPeering"
            cands += [(n, "system", kind, None) for n in v6(link.remote_address_space)]
    if table is None or not table.disable_bgp_route_propagation:
        cands += [(n, "bgp", "VirtualNetworkGateway", None) for n in ref_onprem6(topo, vnet)]
    if table is not None:
        for r in table.routes:
            if getattr(r.address_prefix, "version", 0) == 6:
                cands.append((NET6(str(r.address_prefix)), "user", r.next_hop_type,
                              str(r.next_hop_ip_address) if r.next_hop_ip_address else None))
    matching = [c for c in cands if dst in c[0]]
    if any(c[1] == "system" for c in matching):
        matching = [c for c in matching if c[1] != "bgp"]
    if not matching:
        return None
    longest = max(c[0].prefixlen for c in matching)
    order = {"user": 1, "system": 2, "bgp": 3, "default": 4}
    best = min((c for c in matching if c[0].prefixlen == longest), key=lambda c: order[c[1]])
    return best[2], best[3]


def ref_virtual_network6(topo, scope):
    """scope = (VNet, the NIC's subnet), as ref_virtual_network (IPv6 members only)."""
    vnet, subnet = scope
    nets = v6(vnet.address_space)
    for link in vnet.virtual_network_peerings:
        if link.peering_state == "Connected" and link.allow_virtual_network_access:
            nets += v6(link.remote_address_space)
    nets += ref_onprem6(topo, vnet)
    if subnet.route_table:
        nets += v6(r.address_prefix for r in topo.get(subnet.route_table).routes)
    return nets


def ref_match6(topo, vnet, spec, asgs, ip):
    address = ipaddress.IPv6Address(ip)
    if asgs:
        return any(c.private_ip_address.version == 6 and c.private_ip_address.value == ip
                   and any(a in c.application_security_groups for a in asgs)
                   for n in topo.network_interfaces for c in n.ip_configurations)
    for item in spec:
        if item == "*":
            return True
        if item == "VirtualNetwork" and any(address in n for n in
                                            ref_virtual_network6(topo, vnet)):
            return True
        if item == "Internet" and address in NET6("2000::/3") and not any(
                address in n for n in ref_virtual_network6(topo, vnet) if n.prefixlen > 0):
            return True
        if item == "AzureLoadBalancer" and address == ipaddress.IPv6Address(
                "fe80::1234:5678:9abc"):
            return True
        if not isinstance(item, str) and item.version == 6 and address in NET6(str(item)):
            return True
    return False


def ref_verdict6(topo, nic, direction, flow):
    """The IPv4 reference evaluator's rule walk with the IPv6 address matcher."""
    return ref_verdict(topo, nic, direction, flow,
                       match=lambda t, v, spec, ip, asgs: ref_match6(t, v, spec, asgs, ip))


INTERESTING6 = ["2001:db8:0:1::4", "2001:db8:1:1::4", "2001:db8:1::9", "2001:db8:2:5::1",
                "2001:db8:3::1", "2001:db8:9::1", "2001:db8:ffff::1", "2600:1::1", "2a00::1",
                "::1", "fe80::1", "fe80::1234:5678:9abc", "fd00::1"]
addresses6 = st.one_of(
    st.sampled_from(INTERESTING6).map(lambda a: int(ipaddress.IPv6Address(a))),
    st.integers(0, 2**128 - 1))


@settings(deadline=None)
@given(dual_stack(), st.lists(addresses6, min_size=1, max_size=20))
def test_next_hop6_matches_reference(topo, destinations):
    program = compile_program(topo)
    dst = split128(destinations)
    for vnet in topo.virtual_networks:
        for subnet in vnet.subnets:
            hops = program.lookup6(program.subnet_index(subnet.id), dst)
            for value, hop in zip(destinations, hops, strict=True):
                expected = ref_next_hop6(topo, subnet, ipaddress.IPv6Address(value))
                if expected is None:
                    assert hop == -1
                    continue
                assert hop >= 0
                ip = None
                if program.nh_ip6_set[hop]:
                    hi, lo = (int(x) for x in program.nh_ip6[hop])
                    ip = str(ipaddress.IPv6Address((hi << 64) | lo))
                got = (NEXT_HOP_TYPES[program.nh_type[hop]], ip)
                assert got == expected, (subnet.name, str(ipaddress.IPv6Address(value)))


flows6 = st.tuples(st.sampled_from([6, 17, 1]), addresses6, st.sampled_from([22, 80, 1500]),
                   addresses6, st.sampled_from([22, 80, 443, 3000]))


@settings(deadline=None)
@given(dual_stack(), st.lists(flows6, min_size=1, max_size=12),
       st.sampled_from(["Inbound", "Outbound"]))
def test_nsg_verdicts6_match_reference(topo, sample, direction):
    program = compile_program(topo)
    proto, src, sport, dst, dport = zip(*sample, strict=True)
    cols = (np.array(proto), split128(src), np.array(sport), split128(dst), np.array(dport))
    for nic in topo.network_interfaces:
        allow, rules = program.evaluate6(program.nic_index(nic.id), direction, *cols)
        for flow, ok, rule in zip(sample, allow, rules, strict=True):
            name = program.rule_names[program.rule_name[rule]] if rule >= 0 else None
            assert (("Allow" if ok else "Deny"), name) == ref_verdict6(topo, nic, direction, flow)


@settings(max_examples=30, deadline=None)
@given(dual_stack())
def test_dual_stack_fast_compile_equals_straightforward(topo):
    assert_same_program(compile_program(topo), _compile_reference(topo))
