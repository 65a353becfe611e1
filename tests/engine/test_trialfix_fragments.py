"""Trial finding (trialfix item 2): with `--fragments-out-of-order forward` a later fragment
arriving before its first fragment still drops, but its label names the emulator's limit (it
does not hold fragments back), not Azure's documented drop ("TCP/IP performance tuning for
Azure VMs", https://learn.microsoft.com/azure/virtual-network/
virtual-network-tcpip-performance-tuning, "Azure and fragmentation"); both forms."""

from __future__ import annotations

import numpy as np
from scapy.layers.inet import IP
from test_fragments import datagram

from dataplane.engine import Emulator
from dataplane.engine.conntrack import FragmentChains
from dataplane.engine.fragments import FORWARD_ASSUMPTION, FORWARD_LIMIT, Fragment, order_label
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.kernels.headers import FRAG_NONE, extract


def _reference(em: Emulator, frames: list) -> list[tuple[str, str]]:
    ref = ReferencePipeline(em.net)
    ref.fragments = FragmentChains(out_of_order=em.batch.fragments.out_of_order)
    out = []
    for f in frames:
        data = bytes(f)
        hc = extract(data, np.array([0]), np.array([len(data)], dtype=np.int32), 228)
        p = Packet(em.net.nic_by_vm("jumpbox"), int(hc.src4[0]), int(hc.dst4[0]),
                   int(hc.proto[0]), int(hc.sport[0]), int(hc.dport[0]), len(data), 0)
        frag = None if int(hc.frag[0]) == FRAG_NONE else Fragment(
            int(hc.frag[0]), int(hc.frag_id[0]), int(hc.frag_offset[0]), int(hc.frag_len[0]),
            bool(hc.frag_more[0]))
        w = ref.send(p, frag)
        out.append((w.disposition.name, w.deciding))
    return out


def test_before_its_first_in_forward_mode_is_labelled_the_emulators_limit(demo_topology):
    first, second, last = datagram("10.0.2.4", "10.1.1.4", 43)
    frames = [IP(bytes(x)) for x in (last, first, second)]
    em = Emulator(demo_topology, fragments_out_of_order="forward")
    rows = em.send(frames, source="jumpbox").rows()
    got = [(r["disposition"], r["deciding"]) for r in rows]
    assert got[0] == ("FRAGMENT_OUT_OF_ORDER", FORWARD_LIMIT)
    assert "emulator's limit, not Azure's" in got[0][1]
    assert [d for d, _ in got[1:]] == ["DELIVERED", "DELIVERED"]
    assert FORWARD_ASSUMPTION in em.assumptions()
    assert "labelled as this emulator's limit" in FORWARD_ASSUMPTION
    assert _reference(Emulator(demo_topology, fragments_out_of_order="forward"), frames) == got


def test_drop_mode_keeps_azures_label(demo_topology):
    first, second, last = datagram("10.0.2.4", "10.1.1.4", 44)
    frames = [IP(bytes(x)) for x in (last, first, second)]
    em = Emulator(demo_topology)
    rows = em.send(frames, source="jumpbox").rows()
    got = [(r["disposition"], r["deciding"]) for r in rows]
    assert got[0] == ("FRAGMENT_OUT_OF_ORDER", order_label("no-chain"))
    assert got[0][1] != FORWARD_LIMIT
    assert _reference(Emulator(demo_topology), frames) == got
