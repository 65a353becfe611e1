"""Batch pipeline == reference pipeline on random flows (demo + small random topologies)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import columns, compare
from ipv6_topo import (
    A1,
    A1_4,
    A1_PUBLIC,
    A1N,
    A2,
    A2N,
    B1,
    B1_4,
    B1N,
    ICMPV6,
    NVA,
    NVAN,
    TCP,
    UDP,
    topo,
    v6,
)

from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline

ADDRS = ["10.0.1.4", "10.0.2.4", "10.1.1.4", "10.1.1.5", "10.2.1.4", "10.2.1.9", "192.168.3.3",
         "8.8.8.8", "10.9.0.1", "172.16.0.5", "10.0.255.4", "10.3.0.4"]
IPS = [int(ipaddress.IPv4Address(a)) for a in ADDRS]

flows = st.lists(st.tuples(st.integers(-1, 6), st.sampled_from(IPS), st.sampled_from(IPS),
                           st.sampled_from([6, 17, 1]), st.sampled_from([22, 80, 443, 1433, 40000]),
                           st.sampled_from([22, 23, 80, 443, 1433, 40000])),
                 min_size=1, max_size=40)


def _compare(net, pkts):
    nics = len(net.nics)
    packets = [Packet(n if n < nics else -1, s, d, p, sp, dp, 100, i)
               for i, (n, s, d, p, sp, dp) in enumerate(pkts)]
    # half the time the packet comes from the NIC owning its source (no spoofing)
    packets = [p._replace(nic=net.ip_nic.get(p.src, -1)) if p.nic == -1 else p for p in packets]
    walks = ReferencePipeline(net).run(packets)
    cols = columns(packets)  # ipv6_harness.py: dual-stack columns of Packets
    bp = BatchPipeline(net)
    disp, dec, nodes = bp.run(cols)
    for i, w in enumerate(walks):
        got = (int(disp[i]), bp.labels.names[dec[i]] if dec[i] >= 0 else "",
               [int(x) for x in nodes[i] if x >= 0], tuple(int(f[i]) for f in bp.final))
        assert got == (int(w.disposition), w.deciding, w.nodes, w.out), (i, packets[i], w.hops)


@given(flows)
def test_demo_batch_equals_reference(demo_topology, pkts):
    _compare(build_network(demo_topology), pkts)


TOPO = """
vnets:
  a: {{region: {ra}, address_space: [10.0.0.0/16], subnets: {{s: {{prefix: 10.0.1.0/24, nsg: n1, route_table: rt}}, f: 10.0.255.0/26}}}}
  b: {{region: {rb}, address_space: [10.1.0.0/16], subnets: {{s: {{prefix: 10.1.1.0/24, route_table: rtb}}}}}}
  c: {{region: westeurope, address_space: [10.2.0.0/16], subnets: {{s: 10.2.1.0/24}}}}
peerings:
  - {{between: [a, b], allow_forwarded_traffic: {fwd}}}
  - {{between: [b, c], allow_forwarded_traffic: {fwd2}}}
nsgs:
  n1:
    rules:
      - {{name: deny22, priority: 100, direction: Inbound, access: Deny, protocol: Tcp, source: "*", destination: "*", destination_ports: "22"}}
      - {{name: deny-out-udp, priority: 110, direction: Outbound, access: Deny, protocol: Udp, source: "*", destination: 10.2.0.0/16}}
route_tables:
  rt: {{routes: [{{name: r1, prefix: {p1}, next_hop: VirtualAppliance, next_hop_ip: {nh1}}}]}}
  rtb: {{routes: [{{name: r2, prefix: {p2}, next_hop: {kind2}, next_hop_ip: 10.0.1.4}}]}}
firewalls:
  fw: {{subnet: a/f, ip: 10.0.255.4, collections: [{{name: c1, priority: 100, action: Allow, rules: [{{name: web, protocols: [TCP], source: "*", destination: "*", ports: "80,443"}}]}}]}}
vms:
  x1: {{subnet: a/s, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: {ipf}}}
  x2: {{subnet: a/s, ip: 10.0.1.5, size: Standard_D2s_v3}}
  y1: {{subnet: b/s, ip: 10.1.1.4, size: Standard_D2s_v3, ip_forwarding: true}}
  z1: {{subnet: c/s, ip: 10.2.1.4, size: Standard_D2s_v3}}
"""
R_IPS = [int(ipaddress.IPv4Address(a)) for a in
         ("10.0.1.4", "10.0.1.5", "10.1.1.4", "10.2.1.4", "10.0.255.4", "8.8.8.8", "10.1.9.9")]


@given(st.fixed_dictionaries({
    "ra": st.sampled_from(["westeurope", "eastus"]), "rb": st.sampled_from(["westeurope",
                                                                          "northeurope"]),
    "fwd": st.booleans(), "fwd2": st.booleans(), "ipf": st.booleans(),
    "p1": st.sampled_from(["0.0.0.0/0", "10.1.0.0/16", "10.2.0.0/16"]),
    "nh1": st.sampled_from(["10.1.1.4", "10.0.255.4", "10.0.1.5", "10.0.1.4"]),
    "p2": st.sampled_from(["0.0.0.0/0", "10.2.0.0/16", "10.0.0.0/16"]),
    "kind2": st.sampled_from(["VirtualAppliance", "None", "Internet"])}),
    st.lists(st.tuples(st.integers(-1, 3), st.sampled_from(R_IPS), st.sampled_from(R_IPS),
                       st.sampled_from([6, 17, 1]), st.sampled_from([80, 40000]),
                       st.sampled_from([22, 80, 443, 40000])), min_size=1, max_size=25))
def test_random_topologies(make_topology, params, pkts):
    text = TOPO.format(**params)
    if params["kind2"] != "VirtualAppliance":
        text = text.replace(", next_hop_ip: 10.0.1.4}", "}")
    topo = make_topology(text)
    _compare(build_network(topo), pkts)


# -- dual-stack (issue 17): IPv6 and IPv4 traffic on dual-stack topologies ------------------
# The hub/spoke of ipv6_topo.py drawn with its options (forwarded traffic, IP forwarding, the
# IPv6 UDR's prefix, the spoke's region); packets of both families, from the NIC holding the
# source half the time; batches split at random (state carried across them).
ADDRS6 = [A1, A2, NVA, B1, v6("2001:4860:4860::8888"), v6("fd00:db8:0:1::99"),
          v6("fd00:db8:9::1"), v6("ff02::1:ff00:5"), v6("fc00::1"),
          A1_PUBLIC]  # a1's public IPv6 (stages/public_edge6.py: DNAT in, SNAT out)
ADDRS4 = [A1_4, B1_4, 0x0A000205, 0x08080808]
packet6 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=6),
                    st.integers(-1, 3), st.sampled_from(ADDRS6), st.sampled_from(ADDRS6),
                    st.sampled_from([TCP, UDP, ICMPV6]), st.sampled_from([22, 135, 40000]),
                    st.sampled_from([0, 22, 53, 443, 40000]))
packet4 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=4),
                    st.integers(-1, 3), st.sampled_from(ADDRS4), st.sampled_from(ADDRS4),
                    st.sampled_from([TCP, UDP]), st.sampled_from([22, 40000]),
                    st.sampled_from([22, 443, 40000]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(packet6, packet4), min_size=1, max_size=30),
       st.fixed_dictionaries({"fwd": st.booleans(), "ipf": st.booleans(),
                              "udr_prefix": st.sampled_from(["fd00:db8:1::/48", "::/0",
                                                             "fd00:db8::/40"]),
                              "spoke_region": st.sampled_from(["westeurope", "eastus"])}),
       st.integers(1, 7))
def test_dual_stack_batch_equals_reference(make_topology, packets, params, split) -> None:
    net = build_network(make_topology(topo(**params)))
    # the sender is the NIC holding the source half the time (no spoofing)
    owner = {A1: A1N, A2: A2N, NVA: NVAN, B1: B1N, A1_4: A1N, B1_4: B1N}
    packets = [p._replace(nic=owner.get(p.src, -1), time_ns=i) if p.nic == -1 and i % 2
               else p._replace(time_ns=i) for i, p in enumerate(packets)]
    compare(net, packets, split)
