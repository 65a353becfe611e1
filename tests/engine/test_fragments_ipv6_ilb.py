"""IPv6 fragments through a dual-stack internal load balancer, batch == reference over batch
splits (engine/fragments.py, both forms): a later fragment takes its first fragment's answer
and its IPv6 translation (the ILB's DNAT to a backend's IPv6 address, final* columns) also
when the first fragment was decided in an earlier batch (the chain's committed outcome).

Microsoft's pages behind the expectations: "High availability ports overview",
https://learn.microsoft.com/azure/load-balancer/load-balancer-ha-ports-overview (an HA ports
rule forwards a datagram's fragments to the backend its first fragment chose); "Azure Load
Balancer components", https://learn.microsoft.com/azure/load-balancer/components,
"Limitations" (port-specific rules do not forward IP fragments: LB_FRAGMENT)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_topo import v6
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from test_ipv6_lb import lb_topo

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.conntrack import FragmentChains
from dataplane.engine.fragments import Fragment
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.kernels.headers import FRAG_NONE, extract

SOURCES = {"a1": "fd00:db8:0:1::4", "b1": "fd00:db8:1:1::4"}
DESTINATIONS = ["fd00:db8:1:1::101", "fd00:db8:1:1::100", "fd00:db8:1:1::4",
                "fd00:db8:0:1::4", "2001:4860:4860::8888"]
LINKTYPE_IPV6 = 229


@pytest.fixture(scope="module")
def topology(make_topology):
    return make_topology(lb_topo())


def fragments(src: str, dst: str, ident: int, l4: object, pieces: int) -> list[bytes]:
    """A datagram (transport header + payload `l4`) cut into `pieces` IPv6 fragments of 16
    bytes (the last takes the rest)."""
    body = bytes(l4)
    cut = [16 * i for i in range(pieces)] + [len(body)]
    base = IPv6(src=src, dst=dst)
    return [bytes(base / IPv6ExtHdrFragment(offset=lo // 8, m=int(k < pieces - 1), id=ident,
                                            nh=body_nh(l4)) / body[lo:hi])
            for k, (lo, hi) in enumerate(zip(cut, cut[1:], strict=False))]


def body_nh(l4: object) -> int:
    return 6 if isinstance(l4, TCP) else 17


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[tuple[bytes, str]], list[int]]:
    """(raw IPv6 frames with their source VM, batch split points): datagrams of 2 or 3
    fragments (identifications from a small set, so datagrams collide), mostly to the HA
    ports frontend, in order or shuffled, some left out; batches cut at random."""
    frames: list[tuple[bytes, str]] = []
    for _ in range(draw(st.integers(1, 5))):
        vm = draw(st.sampled_from(sorted(SOURCES)))
        dst = draw(st.sampled_from([DESTINATIONS[0]] * 3 + DESTINATIONS))
        l4 = draw(st.sampled_from([TCP, UDP]))(sport=draw(st.sampled_from([5000, 5001, 5002])),
                                                dport=draw(st.sampled_from([443, 53, 9999])))
        frames += [(f, vm) for f in fragments(SOURCES[vm], dst, draw(st.integers(1, 3)),
                                              l4 / (b"x" * 30), draw(st.integers(2, 3)))]
    order = list(range(len(frames))) if draw(st.booleans()) else draw(
        st.permutations(range(len(frames))))
    keep = draw(st.lists(st.integers(0, 5), min_size=len(frames), max_size=len(frames)))
    picked = [frames[i] for i, k in zip(order, keep, strict=True) if k] or frames[:1]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(picked) - 1, 1)), min_size=1,
                                    max_size=4))))
    return picked, cuts


def _reference(em: Emulator, frames: list[tuple[bytes, str]]) -> list[tuple]:
    ref = ReferencePipeline(em.net)
    ref.fragments = FragmentChains(out_of_order=em.batch.fragments.out_of_order)
    out = []
    for data, vm in frames:
        hc = extract(data, np.array([0]), np.array([len(data)], np.int32), LINKTYPE_IPV6)
        src = int(hc.src_hi[0]) << 64 | int(hc.src_lo[0])
        dst = int(hc.dst_hi[0]) << 64 | int(hc.dst_lo[0])
        p = Packet(em.net.nic_by_vm(vm), src, dst, int(hc.proto[0]), int(hc.sport[0]),
                   int(hc.dport[0]), len(data), 0, family=6)
        frag = None if int(hc.frag[0]) == FRAG_NONE else Fragment(
            int(hc.frag[0]), int(hc.frag_id[0]), int(hc.frag_offset[0]), int(hc.frag_len[0]),
            bool(hc.frag_more[0]), 6, src >> 64, dst >> 64)
        w = ref.send(p, frag)
        final = w.out[:2] if w.out else (p.src, p.dst)
        out.append((w.disposition.name, w.deciding, [x for x in w.nodes if x >= 0], final))
    return out


def _batch(em: Emulator, frames: list[tuple[bytes, str]], cuts: list[int]) -> list[tuple]:
    out = []
    names = em.batch.labels.names
    for lo, hi in zip([0, *cuts], [*cuts, len(frames)], strict=True):
        part = frames[lo:hi]
        if not part:
            continue
        c = (r := em.send([IPv6(d) for d, _ in part], source=[vm for _, vm in part])).columns
        for i in range(len(part)):
            dec = int(c["deciding"][i])
            final = tuple(int(c[f"final_{k}_hi"][i]) << 64 | int(c[f"final_{k}_lo"][i])
                          for k in ("src", "dst"))
            out.append((D(int(c["decision"][i])).name, names[dec] if dec >= 0 else "",
                        [int(x) for x in r.nodes[i] if x >= 0], final))
    return out


@settings(max_examples=60, deadline=None)
@given(traffic(), st.sampled_from(["drop", "forward"]))
def test_ipv6_fragments_through_an_ilb_batch_equals_reference_over_batch_splits(topology, case,
                                                                               mode):
    frames, cuts = case
    em = Emulator(topology, fragments_out_of_order=mode)
    assert _batch(em, frames, cuts) == _reference(em, frames)


def test_follower_in_a_later_batch_carries_the_first_fragments_ipv6_dnat(topology) -> None:
    """The first fragment in one batch, its followers in the next two: every follower's final
    destination is the backend the HA ports rule chose for the first (not the frontend)."""
    em = Emulator(topology)
    frags = fragments(SOURCES["a1"], "fd00:db8:1:1::101", 7, TCP(sport=5000, dport=9999)
                      / (b"x" * 30), 3)
    rows = [em.send([IPv6(f)], source="a1").row(0) for f in frags]
    backend = rows[0]["final_dst"]
    assert v6(backend) in (v6("fd00:db8:1:1::4"), v6("fd00:db8:1:1::5"))
    assert [r["final_dst"] for r in rows] == [backend] * 3
    assert {r["deciding"] for r in rows} == {"lb ilb6ha/ha-ports"}
