"""Frames that are not IP end UNSUPPORTED with their EtherType named; damaged frames stay
UNPARSED (engine/link_layer.py, both forms; issue 17 item 4). Microsoft: "Azure Virtual Network
frequently asked questions", https://learn.microsoft.com/azure/virtual-network/
virtual-networks-faq, "Can I bring my VLANs to Azure using VNets?": "VNets are Layer-3
overlays. Azure does not support any Layer-2 semantics"."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether

from dataplane.dispositions import Disposition as D
from dataplane.engine.link_layer import decide_np, ethertype_label, verdict
from dataplane.io.writers import accounting
from dataplane.kernels.headers import ParseStatus, extract

LLDP = 0x88CC


def test_labels_name_the_ethertype() -> None:
    assert ethertype_label(0x0806) == "ethertype 0x0806 (ARP) not IP"
    assert ethertype_label(LLDP) == "ethertype 0x88cc (LLDP) not IP"
    assert ethertype_label(0x1234) == "ethertype 0x1234 not IP"
    assert ethertype_label(0x0026) == "802.3 length 0x0026 (LLC frame) not IP"


@given(st.lists(st.tuples(st.sampled_from(list(ParseStatus)), st.integers(0, 0xFFFF)),
                max_size=40))
def test_batch_form_equals_reference_form(frames) -> None:
    status = np.array([s for s, _ in frames], np.uint8)
    ethertype = np.array([e for _, e in frames], np.uint16)
    names: list[str] = []

    def labels(text: str) -> int:
        names.append(text)
        return len(names) - 1

    rows, label = decide_np(status, ethertype, labels)
    got = dict(zip(rows.tolist(), (names[i] for i in label.tolist()), strict=True))
    for i, (s, e) in enumerate(frames):
        want = verdict(s, e)
        if want is not None and want[0] == D.UNSUPPORTED:
            assert got.pop(i) == want[1]
        else:  # IP packets go on; damaged frames are UNPARSED (the emulator's preset)
            assert want is None or want == (D.UNPARSED, D.UNPARSED.reason)
            assert s != ParseStatus.NOT_IP
    assert not got


def test_arp_lldp_and_a_tagged_arp_are_unsupported_with_their_ethertype(demo) -> None:
    frames = [Ether() / ARP(pdst="10.0.1.1"), Ether(type=LLDP) / (b"\x02\x07" + b"\0" * 40),
              Ether() / Dot1Q(vlan=7) / ARP(), Ether() / IP(src="10.0.2.4", dst="10.1.1.4") /
              UDP(sport=5000, dport=53)]
    out = demo.send(frames)
    rows = out.rows()
    assert [(r["disposition"], r["deciding"], r["status"]) for r in rows[:3]] == [
        ("UNSUPPORTED", "ethertype 0x0806 (ARP) not IP", "NOT_IP"),
        ("UNSUPPORTED", "ethertype 0x88cc (LLDP) not IP", "NOT_IP"),
        ("UNSUPPORTED", "ethertype 0x0806 (ARP) not IP", "NOT_IP")]
    assert rows[3]["disposition"] not in ("UNSUPPORTED", "UNPARSED")  # the IP packet goes on
    assert demo.explain_row(out, 0)["hops"] == []
    assert any(a.startswith("non-ip-frames:") for a in demo.assumptions())
    terms = accounting(out.counts(), out.read)
    assert terms["holds"] and terms["unsupported"] == 3 and terms["dropped"] >= 3


def test_frames_damaged_at_layer_2_stay_unparsed(demo, tmp_path) -> None:
    from scapy.utils import wrpcap

    arp = bytes(Ether() / ARP())
    tagged = bytes(Ether() / Dot1Q(vlan=7) / ARP())
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), [arp[:13], tagged[:16]], linktype=1)  # cut in the MAC header, the tag
    out = demo.replay(path, progress=False)
    assert [(r["disposition"], r["status"]) for r in out.rows()] == [
        ("UNPARSED", "TRUNCATED"), ("UNPARSED", "TRUNCATED")]
    assert accounting(out.counts(), out.read)["unparsed"] == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(min_size=0, max_size=60)),
                min_size=1, max_size=12))
def test_every_non_ip_ethertype_through_the_emulator(demo_topology, frames) -> None:
    """Random EtherTypes and payloads: the emulator's answer for each frame is the reference
    form's verdict on the header kernel's columns (IP ones go on to the stages)."""
    from dataplane.engine import Emulator

    em = Emulator(demo_topology)
    built = [Ether(dst="12:34:56:78:9a:bc", type=t) / payload for t, payload in frames]
    out = em.send(built)
    data = [bytes(f) for f in built]
    offsets = np.cumsum([0] + [len(d) for d in data[:-1]])
    hc = extract(b"".join(data), offsets, np.array([len(d) for d in data], np.int32), 1)
    for i, row in enumerate(out.rows()):
        want = verdict(int(hc.status[i]), int(hc.ethertype[i]))
        if want is None:
            assert row["disposition"] not in ("UNSUPPORTED", "UNPARSED") or \
                row["status"] == "NON_FIRST_FRAGMENT"
        else:
            assert (row["disposition"], row["deciding"]) == (want[0].name, want[1]), row
    assert accounting(out.counts(), out.read)["holds"]
