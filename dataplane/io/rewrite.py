"""Frames rewritten as the emulated network carries them, on columns (a batch at a time).

Takes: frames as (buffer, offsets, caplens, linktypes) columns and, per frame, the IPv4
source/destination and TCP/UDP source/destination ports it should carry (the address map's
rewrite, io/mapping.py; the engine's translations: load-balancer DNAT, reply un-DNAT, SNAT). Emits a copy of the buffer where every frame whose
addresses or port change carries the new values: IPv4 source and destination replaced, the
IPv4 header checksum and the TCP/UDP checksum updated incrementally over the changed words
(RFC 1624 eqn. 3, so a truncated capture's checksum is right too; a UDP checksum of 0 stays
0, a computed 0 becomes 0xFFFF, RFC 768). The ports (and so the L4 checksum) are rewritten
only in first fragments whose L4 checksum was captured. Frames that do not change,
that are not IPv4 over Ethernet (with 802.1Q/802.1ad tags) or a raw-IP link type, or are too
short, are left byte for byte as captured.
`rewrite(frame, ...)` is the same for one frame (bytes in, bytes out).
IPv6 (`rewrite_frames6`, issue 17): frames whose IPv6 header is followed directly by TCP, UDP
or ICMPv6 carry the given source/destination (as uint64 halves: the address map's, or the
engine's translation: an internal load balancer's IPv6 DNAT, its replies' un-DNAT) and, for
TCP/UDP, ports; the L4 checksum (its pseudo-header holds both addresses, RFC 8200 §8.1) is
updated incrementally over the changed words. A frame with IPv6 extension headers before
its L4 header is left as captured and counted (`rewrite_frames6`'s second value), so the
writer names it as a caveat.
"""

from __future__ import annotations

import numpy as np

ETHERNET = 1
RAW_IP_LINKTYPES = (101, 228, 12, 14)
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
MAX_VLAN_TAGS = 4


def _u16(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return buf[at].astype(np.int64) << 8 | buf[at + 1]


def _l3_offsets(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                linktypes: np.ndarray, ethertype: int) -> np.ndarray:
    """Offset of each frame's network header: 0 for raw-IP link types, after the Ethernet
    header and up to MAX_VLAN_TAGS 802.1Q/ad tags when the innermost EtherType is
    `ethertype`; -1 otherwise (the caller checks the IP version and length)."""
    l3 = np.full(offsets.size, -1, dtype=np.int64)
    l3[np.isin(linktypes, RAW_IP_LINKTYPES)] = 0
    eth = np.flatnonzero((linktypes == ETHERNET) & (caplens >= 14))
    at = np.full(eth.size, 14, dtype=np.int64)
    etype = _u16(buf, offsets[eth] + 12)
    for _ in range(MAX_VLAN_TAGS):
        tagged = np.isin(etype, VLAN_TYPES) & (caplens[eth] >= at + 4)
        if not tagged.any():
            break
        etype[tagged] = _u16(buf, offsets[eth[tagged]] + at[tagged] + 2)
        at[tagged] += 4
    match = etype == ethertype
    l3[eth[match]] = at[match]
    return l3


def ipv4_offsets(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                 linktypes: np.ndarray) -> np.ndarray:
    """Offset of each frame's IPv4 header inside the frame, or -1 (not IPv4 / too short)."""
    n = offsets.size
    l3 = _l3_offsets(buf, offsets, caplens, linktypes, 0x0800)
    ok = np.flatnonzero(l3 >= 0)
    ok = ok[caplens[ok] >= l3[ok] + 20]
    first = buf[offsets[ok] + l3[ok]]
    ihl = (first & 15).astype(np.int64) * 4
    good = np.zeros(n, dtype=bool)
    good[ok] = (first >> 4 == 4) & (ihl >= 20) & (caplens[ok] >= l3[ok] + ihl)
    return np.where(good, l3, -1)


def _fold(total: np.ndarray) -> np.ndarray:
    for _ in range(3):
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _update(checksum: np.ndarray, old_words: list[np.ndarray], new_words: list[np.ndarray]
            ) -> np.ndarray:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over every changed 16-bit word."""
    total = ~checksum & 0xFFFF
    for old, new in zip(old_words, new_words, strict=True):
        total = total + (~old & 0xFFFF) + new
    return ~_fold(total) & 0xFFFF


def _words(value: np.ndarray) -> list[np.ndarray]:
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


def _put16(buf: np.ndarray, at: np.ndarray, value: np.ndarray) -> None:
    buf[at] = (value >> 8) & 0xFF
    buf[at + 1] = value & 0xFF


def rewrite_frames(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                   linktypes: np.ndarray, src: np.ndarray, dst: np.ndarray, dport: np.ndarray,
                   sport: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(a buffer with the frames rewritten, how many frames changed); `buf` is not modified
    (it is returned itself when no frame changes). `sport` None keeps the source ports."""
    offsets = offsets.astype(np.int64)
    caplens = caplens.astype(np.int64)
    l3 = ipv4_offsets(buf, offsets, caplens, linktypes)
    rows = np.flatnonzero(l3 >= 0)
    ip = offsets[rows] + l3[rows]
    old_src = _u16(buf, ip + 12) << 16 | _u16(buf, ip + 14)
    old_dst = _u16(buf, ip + 16) << 16 | _u16(buf, ip + 18)
    new_src = src[rows].astype(np.int64) & 0xFFFFFFFF
    new_dst = dst[rows].astype(np.int64) & 0xFFFFFFFF
    ihl = (buf[ip] & 15).astype(np.int64) * 4
    proto = buf[ip + 9]
    first_fragment = (_u16(buf, ip + 6) & 0x1FFF) == 0
    l4 = ip + ihl
    ported = ((proto == 6) | (proto == 17)) & first_fragment
    cs_at = l4 + np.where(proto == 6, 16, 6)
    end = offsets[rows] + caplens[rows]
    ported &= end >= cs_at + 2
    old_port = np.zeros(rows.size, dtype=np.int64)
    old_port[ported] = _u16(buf, l4[ported] + 2)
    new_port = np.where(ported, dport[rows].astype(np.int64) & 0xFFFF, old_port)
    old_sport = np.zeros(rows.size, dtype=np.int64)
    old_sport[ported] = _u16(buf, l4[ported])
    new_sport = old_sport if sport is None else np.where(
        ported, sport[rows].astype(np.int64) & 0xFFFF, old_sport)
    changed = ((old_src != new_src) | (old_dst != new_dst) | (old_port != new_port)
               | (old_sport != new_sport))
    if not changed.any():
        return buf, 0
    out = buf.copy()
    c = np.flatnonzero(changed)
    ip, l4, cs_at, ported = ip[c], l4[c], cs_at[c], ported[c]
    o_s, o_d, n_s, n_d = old_src[c], old_dst[c], new_src[c], new_dst[c]
    old_addr, new_addr = _words(o_s) + _words(o_d), _words(n_s) + _words(n_d)
    for k, word in enumerate(new_addr):
        _put16(out, ip + 12 + 2 * k, word)
    _put16(out, ip + 10, _update(_u16(buf, ip + 10), old_addr, new_addr))
    p = np.flatnonzero(ported)
    if p.size:
        old_cs = _u16(buf, cs_at[p])
        keep_zero = (proto[c][p] == 17) & (old_cs == 0)  # UDP without checksum
        cs = _update(old_cs, [w[p] for w in old_addr] + [old_port[c][p], old_sport[c][p]],
                     [w[p] for w in new_addr] + [new_port[c][p], new_sport[c][p]])
        cs = np.where((proto[c][p] == 17) & (cs == 0), 0xFFFF, cs)
        cs = np.where(keep_zero, 0, cs)
        _put16(out, l4[p] + 2, new_port[c][p])
        _put16(out, l4[p], new_sport[c][p])
        _put16(out, cs_at[p], cs)
    return out, int(c.size)


def rewrite(frame: bytes, link: int, src: int, dst: int, dport: int,
            sport: int | None = None) -> bytes:
    """One frame rewritten (see the module doc)."""
    buf = np.frombuffer(frame, dtype=np.uint8)
    out, _ = rewrite_frames(buf, np.zeros(1, np.int64), np.array([len(frame)]),
                            np.array([link]), np.array([src]), np.array([dst]),
                            np.array([dport]), None if sport is None else np.array([sport]))
    return out.tobytes()


def ipv6_offsets(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                 linktypes: np.ndarray) -> np.ndarray:
    """Offset of each frame's IPv6 header inside the frame, or -1 (not IPv6 / too short)."""
    n = offsets.size
    l3 = _l3_offsets(buf, offsets, caplens, linktypes, 0x86DD)
    ok = np.flatnonzero(l3 >= 0)
    ok = ok[caplens[ok] >= l3[ok] + 40]
    good = np.zeros(n, dtype=bool)
    good[ok] = buf[offsets[ok] + l3[ok]] >> 4 == 6
    return np.where(good, l3, -1)


def _words6(hi: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    """The eight 16-bit words of 128-bit addresses given as uint64 halves (int64 values)."""
    return [((half >> np.uint64(s)) & np.uint64(0xFFFF)).astype(np.int64)
            for half in (hi.astype(np.uint64), lo.astype(np.uint64)) for s in (48, 32, 16, 0)]


def rewrite_frames6(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                    linktypes: np.ndarray, src_hi: np.ndarray, src_lo: np.ndarray,
                    dst_hi: np.ndarray, dst_lo: np.ndarray, dport: np.ndarray,
                    sport: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(a buffer with the IPv6 frames rewritten, frames changed, frames that should change
    but carry extension headers and were left as captured); `buf` is not modified."""
    offsets = offsets.astype(np.int64)
    caplens = caplens.astype(np.int64)
    l3 = ipv6_offsets(buf, offsets, caplens, linktypes)
    rows = np.flatnonzero(l3 >= 0)
    ip = offsets[rows] + l3[rows]
    old = [_u16(buf, ip + 8 + 2 * k) for k in range(16)]
    new = _words6(src_hi[rows], src_lo[rows]) + _words6(dst_hi[rows], dst_lo[rows])
    nh = buf[ip + 6]
    l4 = ip + 40
    end = offsets[rows] + caplens[rows]
    ported = ((nh == 6) | (nh == 17)) & (end >= l4 + np.where(nh == 6, 18, 8))
    old_dport = np.zeros(rows.size, np.int64)
    old_sport = np.zeros(rows.size, np.int64)
    old_dport[ported] = _u16(buf, l4[ported] + 2)
    old_sport[ported] = _u16(buf, l4[ported])
    new_dport = np.where(ported, dport[rows].astype(np.int64) & 0xFFFF, old_dport)
    new_sport = np.where(ported, sport[rows].astype(np.int64) & 0xFFFF, old_sport)
    changed = np.any([a != b for a, b in zip(old, new, strict=True)], axis=0) | (
        old_dport != new_dport) | (old_sport != new_sport) if rows.size else np.zeros(0, bool)
    known = (nh == 6) | (nh == 17) | (nh == 58)
    skipped = int((changed & ~known).sum())
    c = np.flatnonzero(changed & known)
    if c.size == 0:
        return buf, 0, skipped
    out = buf.copy()
    for k in range(16):
        _put16(out, ip[c] + 8 + 2 * k, new[k][c])
    cs_at = l4[c] + np.where(nh[c] == 6, 16, np.where(nh[c] == 17, 6, 2))
    has_cs = end[c] >= cs_at + 2
    p = c[has_cs]
    cs_at = cs_at[has_cs]
    old_cs = _u16(buf, cs_at)
    cs = _update(old_cs, [w[p] for w in old] + [old_dport[p], old_sport[p]],
                 [w[p] for w in new] + [new_dport[p], new_sport[p]])
    udp = nh[p] == 17
    cs = np.where(udp & (cs == 0), 0xFFFF, cs)
    cs = np.where(udp & (old_cs == 0), 0, cs)
    _put16(out, cs_at, cs)
    q = c[ported[c]]
    _put16(out, l4[q] + 2, new_dport[q])
    _put16(out, l4[q], new_sport[q])
    return out, int(c.size), skipped
