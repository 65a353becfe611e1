"""Shared by the batch-state tests: random traffic over the demo's (or a given topology's)
addresses (flows and their replies, some sent from a NIC other than the owner) and the batch == reference comparison
over any batch split."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st
from ipv6_harness import columns

from dataplane.engine.batch import BatchPipeline
from dataplane.engine.reference import Packet, ReferencePipeline

IPS = [int(ipaddress.IPv4Address(a)) for a in (
    "10.0.1.4", "10.0.2.4", "10.1.1.4", "10.1.1.5", "10.2.1.4", "192.168.3.3", "8.8.8.8",
    "224.0.0.251", "255.255.255.255",  # blocked within VNets (stages/source.py)
    "168.63.129.16", "169.254.169.254",  # Azure's host services (stages/platform.py)
    "10.1.1.100")]  # the ILB frontend: web1/web2 reaching it may hairpin (loadbalancer.py)


def flows_over(ips: list[int], ports: tuple[list[int], list[int]] = (
        [22, 443, 1433, 40000], [23, 53, 80, 1433, 40000])) -> st.SearchStrategy:
    return st.tuples(st.sampled_from(ips), st.sampled_from(ips), st.sampled_from([6, 17, 1, 47]),
                     st.sampled_from(ports[0]), st.sampled_from(ports[1]))


@st.composite
def traffic(draw, max_packets: int = 60, max_split: int = 60,
            flow: st.SearchStrategy | None = None):
    """(packets, batch size): packets are (src, dst, proto, sport, dport, nic choice); flows
    over the demo's addresses unless `flow` (see `flows_over`) is given."""
    flows = draw(st.lists(flow if flow is not None else flows_over(IPS), min_size=1, max_size=6))
    out = []
    for _ in range(draw(st.integers(1, max_packets))):
        s, d, p, sp, dp = draw(st.sampled_from(flows))
        if draw(st.booleans()):  # the reply direction
            s, d, sp, dp = d, s, dp, sp
        out.append((s, d, p, sp, dp, draw(st.sampled_from([0, 0, 0, 1, 2]))))
    return out, draw(st.integers(1, max_split))


def assert_batch_matches_reference(net, pkts, split, bp: BatchPipeline | None = None,
                                   cap: int | None = None) -> None:
    packets = [Packet(net.ip_nic.get(s, -1) if k == 0 else (k - 1), s, d, p, sp, dp, 100, i)
               for i, (s, d, p, sp, dp, k) in enumerate(pkts)]
    ref = ReferencePipeline(net, capacity=cap)
    walks = ref.run(packets)
    bp = bp or BatchPipeline(net)
    got = []
    for lo in range(0, len(packets), split):
        part = packets[lo:lo + split]
        cols = columns(part)  # ipv6_harness.py: dual-stack columns of Packets
        disp, dec, nodes = bp.run(cols)
        fin = bp.final
        got += [(int(disp[i]), bp.labels.names[dec[i]] if dec[i] >= 0 else "",
                 [int(x) for x in nodes[i] if x >= 0], tuple(int(f[i]) for f in fin))
                for i in range(len(part))]
    assert got == [(int(w.disposition), w.deciding, w.nodes, w.out) for w in walks]
