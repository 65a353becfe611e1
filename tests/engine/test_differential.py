"""Batch pipeline == reference pipeline on random flows (demo + small random topologies)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st
from ipv6_harness import columns

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
