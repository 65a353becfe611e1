"""io/rewrite.py `rewrite_frames6`: IPv6 frames carry new addresses and ports with valid L4
checksums (the IPv6 pseudo-header holds both addresses, RFC 8200 section 8.1); frames with
extension headers are left as captured and counted."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether

from dataplane.io.rewrite import rewrite_frames6

NEW_SRC, NEW_DST = "fd00:db8:9::1", "fd00:db8:9::2"


def _halves(text: str) -> tuple[int, int]:
    v = int(ipaddress.IPv6Address(text))
    return v >> 64, v & ((1 << 64) - 1)


def _run(frames: list, dport: int = 8443, sport: int = 1234):
    data = [bytes(f) for f in frames]
    offsets = np.cumsum([0] + [len(d) for d in data[:-1]]).astype(np.int64)
    buf = np.frombuffer(b"".join(data), np.uint8).copy()
    n = len(data)
    sh, sl = _halves(NEW_SRC)
    dh, dl = _halves(NEW_DST)
    col = lambda v: np.full(n, v, np.uint64)  # noqa: E731
    out, changed, skipped = rewrite_frames6(
        buf, offsets, np.array([len(d) for d in data]), np.ones(n, np.int64), col(sh), col(sl),
        col(dh), col(dl), np.full(n, dport, np.int32), np.full(n, sport, np.int32))
    back = [Ether(out[o:o + len(d)].tobytes()) for o, d in zip(offsets, data, strict=True)]
    return back, changed, skipped


def _valid(frame, layer) -> bool:
    field = "cksum" if layer is ICMPv6EchoRequest else "chksum"
    fresh = Ether(bytes(frame))
    delattr(fresh[layer], field)
    return getattr(Ether(bytes(fresh))[layer], field) == getattr(frame[layer], field)


@pytest.mark.parametrize("l4, layer", [(TCP(sport=1, dport=443), TCP),
                                       (UDP(sport=1, dport=53) / b"abc", UDP),
                                       (ICMPv6EchoRequest(id=7), ICMPv6EchoRequest)])
def test_addresses_ports_and_checksum(l4, layer) -> None:
    frame = Ether() / IPv6(src="fd00::1", dst="fd00::2") / l4
    (got,), changed, skipped = _run([frame])
    assert (changed, skipped) == (1, 0)
    assert (got[IPv6].src, got[IPv6].dst) == (NEW_SRC, NEW_DST)
    if layer in (TCP, UDP):
        assert (got[layer].sport, got[layer].dport) == (1234, 8443)
    assert _valid(got, layer)


def test_extension_headers_left_as_captured_and_counted() -> None:
    frame = Ether() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / TCP(dport=443)
    (got,), changed, skipped = _run([frame])
    assert (changed, skipped) == (0, 1)
    assert bytes(got) == bytes(frame)


def test_unchanged_frames_are_not_copied() -> None:
    frame = Ether() / IPv6(src=NEW_SRC, dst=NEW_DST) / TCP(sport=1234, dport=8443)
    (got,), changed, skipped = _run([frame])
    assert (changed, skipped) == (0, 0) and bytes(got) == bytes(frame)
