"""Fragments: batch == reference (engine/fragments.py, both forms) on fragmented datagrams drawn
in shuffled order with fragments missing, mixed with whole packets, over random batch splits
(the chains live across batches, so the answers must not depend on where batches split), in
both out-of-order modes (drop, Azure's default, and forward: FragmentChains(out_of_order=...)).
Topology: the load-balancer one of test_lb (port-specific and HA ports frontends, an NSG that
denies everything inbound, NVAs behind an ILB next hop, the Internet)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, fragment
from test_lb import LB_TOPO

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.conntrack import FragmentChains
from dataplane.engine.fragments import Fragment
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.kernels.headers import FRAG_NONE, extract

SOURCES = {"jumpbox": "10.0.3.4", "web1": "10.1.1.4", "app1": "10.2.1.4", "nva1": "10.0.1.4"}
DESTINATIONS = ["10.0.4.4", "10.2.1.100", "10.0.2.100", "10.1.1.4", "10.2.1.4", "10.0.3.4",
                "8.8.8.8"]


@pytest.fixture(scope="module")
def lb_topology(tmp_path_factory):
    import dataplane

    path = tmp_path_factory.mktemp("lbfrag") / "lb.yaml"
    path.write_text(LB_TOPO)
    return dataplane.load(str(path))


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[tuple[bytes, str]], list[int]]:
    """(frames with their source VM, batch split points): datagrams of 1 to 4 fragments
    (identifications drawn from a small set, so datagrams collide and repeat), their
    fragments shuffled and some left out."""
    frames: list[tuple[bytes, str]] = []
    for _ in range(draw(st.integers(1, 6))):
        vm = draw(st.sampled_from(sorted(SOURCES)))
        dst = draw(st.sampled_from(DESTINATIONS))
        proto = draw(st.sampled_from([TCP, UDP]))
        dport = draw(st.sampled_from([80, 8080, 53]))
        sport = draw(st.sampled_from([40000, 40001]))
        size = draw(st.sampled_from([8, 60, 120, 200]))
        pkt = IP(src=SOURCES[vm], dst=dst, id=draw(st.integers(1, 3))) / proto(
            sport=sport, dport=dport) / (b"p" * size)
        frames += [(bytes(f), vm) for f in fragment(pkt, fragsize=64)]
    in_order = draw(st.booleans())  # half the cases keep the sending order
    order = list(range(len(frames))) if in_order else draw(st.permutations(range(len(frames))))
    keep = draw(st.lists(st.integers(0, 4), min_size=len(frames), max_size=len(frames)))
    picked = [frames[i] for i, k in zip(order, keep, strict=True) if k]
    if not picked:
        picked = frames[:1]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(picked) - 1, 1)), max_size=4))))
    return picked, cuts


def _reference(em: Emulator, frames: list[tuple[bytes, str]]
               ) -> tuple[list[tuple], dict[str, int], int]:
    ref = ReferencePipeline(em.net)
    ref.fragments = FragmentChains(out_of_order=em.batch.fragments.out_of_order)
    out = []
    for data, vm in frames:
        hc = extract(data, np.array([0]), np.array([len(data)], dtype=np.int32), 228)
        p = Packet(em.net.nic_by_vm(vm), int(hc.src4[0]), int(hc.dst4[0]), int(hc.proto[0]),
                   int(hc.sport[0]), int(hc.dport[0]), len(data), 0)
        frag = None if int(hc.frag[0]) == FRAG_NONE else Fragment(
            int(hc.frag[0]), int(hc.frag_id[0]), int(hc.frag_offset[0]), int(hc.frag_len[0]),
            bool(hc.frag_more[0]))
        w = ref.send(p, frag)
        final = w.out[:2] if w.out else (p.src, p.dst)
        out.append((w.disposition.name, w.deciding, [x for x in w.nodes if x >= 0],
                    tuple(int(x) for x in final)))
    return out, ref.fragments.counts, len(ref.fragments)


def _batch(em: Emulator, frames: list[tuple[bytes, str]], cuts: list[int]) -> list[tuple]:
    out = []
    names = em.batch.labels.names
    for lo, hi in zip([0, *cuts], [*cuts, len(frames)], strict=True):
        part = frames[lo:hi]
        if not part:
            continue
        r = em.send([IP(d) for d, _ in part], source=[vm for _, vm in part])
        c = r.columns
        for i in range(len(part)):
            dec = int(c["deciding"][i])
            out.append((D(int(c["decision"][i])).name, names[dec] if dec >= 0 else "",
                        [int(x) for x in r.nodes[i] if x >= 0],
                        (int(c["final_src"][i]), int(c["final_dst"][i]))))
    return out


@settings(max_examples=60, deadline=None)
@given(traffic(), st.sampled_from(["drop", "forward"]))
def test_fragments_batch_equals_reference_over_batch_splits(lb_topology, case, mode):
    frames, cuts = case
    em = Emulator(lb_topology, fragments_out_of_order=mode)
    got = _batch(em, frames, cuts)
    want = _reference(em, frames)
    assert got == want[0]
    assert em.batch.fragments.counts == want[1]
    assert len(em.batch.fragments) == want[2]
