"""Header extraction, plain-Python twin: frame bytes -> packet columns with a parse status.

Takes: `buf` (bytes-like: e.g. a pcap file's bytes), `offsets` (int64[n]: start of each frame in
`buf`), `caplens` (int32[n]: captured bytes of each frame), `linktype` (pcap LINKTYPE_*:
1 Ethernet, 101 raw IP (version from the first nibble), 228 raw IPv4, 229 raw IPv6).
Returns `HeaderColumns` (one entry per frame):
  status     uint8  ParseStatus below
  ethertype  uint16 innermost EtherType after all 802.1Q/802.1ad/QinQ tags (raw: 0x0800/0x86DD)
  vlan_count uint8  number of VLAN tags (0x8100, 0x88A8, 0x9100), saturating at 255
  ip_version uint8  4 or 6 when the IP header is valid, else 0
  src4, dst4 uint32 IPv4 addresses (0 for IPv6)
  src_hi, src_lo, dst_hi, dst_lo  uint64  IPv6 addresses as halves; IPv4 in *_lo (hi 0)
  proto      uint8  upper-layer protocol (IPv4 protocol; IPv6 after extension headers)
  sport, dport uint16  TCP/UDP/SCTP/UDP-Lite ports; ICMP/ICMPv6: sport = type, dport = code
  ip_len     uint32 IPv4 total length; IPv6 40 + payload length
  frag       uint8  FRAG_NONE 0, FRAG_FIRST 1 (offset 0, more fragments), FRAG_LATER 2
  ttl        uint8  IPv4 TTL / IPv6 hop limit
  l3_offset, l4_offset int32  offsets of the IP and transport headers in the frame, -1 if none
  payload_offset int32  offset of the layer-4 payload in the frame (TCP after its data offset,
             UDP/UDP-Lite after 8 bytes), -1 when the whole transport header was not captured
             or does not fit the IP length, or the protocol has no payload parsed here
  payload_len int32  payload bytes per the IP length (may exceed what was captured: the captured
             part is min(payload_len, caplen - payload_offset)); 0 when payload_offset is -1
  frag_id    uint32 fragments only (frag != FRAG_NONE): IPv4 identification (16 bits), IPv6
             fragment header identification (32 bits); 0 otherwise
  frag_offset uint16 fragments only: fragment offset in 8-byte units (13 bits)
  frag_more  uint8  fragments only: the more-fragments flag (1: not the datagram's last)
  frag_len   uint16 fragments only: bytes of the datagram this fragment carries per the IP
             length (IPv4 total length - header length; IPv6: payload after the fragment
             header), so the next in-order fragment starts at frag_offset + frag_len // 8
IPv6: the fragment columns come from the fragment header in the extension chain (an atomic
fragment, offset 0 and M clear, is no fragment, RFC 8200 section 4.5); with several fragment
headers the last one parsed counts.
L3 fields are filled only when the IP header is valid; L4 fields only when status is OK. The
transport header must lie within both the captured bytes and the IP length (so Ethernet padding
is never read as ports). Nothing outside buf[offset : offset + caplen] is ever read.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import numpy as np

from dataplane.kernels.slices import records

FRAG_NONE, FRAG_FIRST, FRAG_LATER = 0, 1, 2
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
PORT_PROTOS = (6, 17, 132, 136)
ICMP_PROTOS = (1, 58)
# IPv6 extension headers with length (hdr[1] + 1) * 8; AH (51) is (hdr[1] + 2) * 4; fragment 8
EXT_8 = (0, 43, 60, 135, 139, 140)
EXT_AH = 51
EXT_FRAG = 44
LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6 = 1, 101, 228, 229


class ParseStatus(IntEnum):
    OK = 0                  # all columns valid (L4 columns 0 when the protocol has no ports)
    TRUNCATED = 1           # frame ends inside the link or IP header
    NOT_IP = 2              # EtherType neither IPv4 nor IPv6 (ARP, LLC, ...)
    BAD_IP_HEADER = 3       # wrong version, IHL < 5, total length < header length
    NON_FIRST_FRAGMENT = 4  # IP valid, fragment offset != 0: no transport header here
    L4_TRUNCATED = 5        # IP valid, transport header (or IPv6 extension chain) cut off
    BAD_RECORD = 6          # offset/caplen negative or outside the buffer
    BAD_LINKTYPE = 7        # link type not supported


COLUMNS: tuple[tuple[str, type], ...] = (
    ("status", np.uint8), ("ethertype", np.uint16), ("vlan_count", np.uint8),
    ("ip_version", np.uint8), ("src4", np.uint32), ("dst4", np.uint32),
    ("src_hi", np.uint64), ("src_lo", np.uint64), ("dst_hi", np.uint64), ("dst_lo", np.uint64),
    ("proto", np.uint8), ("sport", np.uint16), ("dport", np.uint16), ("ip_len", np.uint32),
    ("frag", np.uint8), ("ttl", np.uint8), ("l3_offset", np.int32), ("l4_offset", np.int32),
    ("payload_offset", np.int32), ("payload_len", np.int32), ("frag_id", np.uint32),
    ("frag_offset", np.uint16), ("frag_more", np.uint8), ("frag_len", np.uint16),
)


class HeaderColumns(NamedTuple):
    status: np.ndarray
    ethertype: np.ndarray
    vlan_count: np.ndarray
    ip_version: np.ndarray
    src4: np.ndarray
    dst4: np.ndarray
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    ip_len: np.ndarray
    frag: np.ndarray
    ttl: np.ndarray
    l3_offset: np.ndarray
    l4_offset: np.ndarray
    payload_offset: np.ndarray
    payload_len: np.ndarray
    frag_id: np.ndarray
    frag_offset: np.ndarray
    frag_more: np.ndarray
    frag_len: np.ndarray

    @classmethod
    def empty(cls, n: int) -> HeaderColumns:
        out = cls(*(np.zeros(n, dtype=t) for _, t in COLUMNS))
        for column in (out.l3_offset, out.l4_offset, out.payload_offset):
            column[:] = -1
        return out


def _u16(b: bytes, p: int) -> int:
    return (b[p] << 8) | b[p + 1]


def _parse(b: bytes, linktype: int) -> dict[str, int]:
    """One frame -> the fields that differ from the defaults."""
    r: dict[str, int] = {}
    n = len(b)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            r["status"] = ParseStatus.TRUNCATED
            return r
        et = _u16(b, 12)
        p = 14
        vlans = 0
        while et in VLAN_TPIDS:
            if p + 4 > n:
                r.update(status=ParseStatus.TRUNCATED, ethertype=et, vlan_count=vlans)
                return r
            et = _u16(b, p + 2)
            vlans = min(vlans + 1, 255)
            p += 4
        r.update(ethertype=et, vlan_count=vlans)
        if et == 0x0800:
            version = 4
        elif et == 0x86DD:
            version = 6
        else:
            r["status"] = ParseStatus.NOT_IP
            return r
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        p = 0
        if linktype == LINKTYPE_RAW:
            if n < 1:
                r["status"] = ParseStatus.TRUNCATED
                return r
            version = b[0] >> 4
            if version not in (4, 6):
                r["status"] = ParseStatus.BAD_IP_HEADER
                return r
        else:
            version = 4 if linktype == LINKTYPE_IPV4 else 6
        r["ethertype"] = 0x0800 if version == 4 else 0x86DD
    else:
        r["status"] = ParseStatus.BAD_LINKTYPE
        return r

    l3 = p
    frag = FRAG_NONE
    if version == 4:
        if n - l3 < 20:
            r["status"] = ParseStatus.TRUNCATED
            return r
        if b[l3] >> 4 != 4 or (b[l3] & 15) < 5:
            r["status"] = ParseStatus.BAD_IP_HEADER
            return r
        hlen = (b[l3] & 15) * 4
        if n - l3 < hlen:
            r["status"] = ParseStatus.TRUNCATED
            return r
        total = _u16(b, l3 + 2)
        if total < hlen:
            r["status"] = ParseStatus.BAD_IP_HEADER
            return r
        src = int.from_bytes(b[l3 + 12:l3 + 16], "big")
        dst = int.from_bytes(b[l3 + 16:l3 + 20], "big")
        proto = b[l3 + 9]
        offset = _u16(b, l3 + 6) & 0x1FFF
        more = (b[l3 + 6] >> 5) & 1
        if offset:
            frag = FRAG_LATER
        elif more:
            frag = FRAG_FIRST
        if frag != FRAG_NONE:
            r.update(frag_id=_u16(b, l3 + 4), frag_offset=offset, frag_more=more,
                     frag_len=total - hlen)
        r.update(ip_version=4, src4=src, dst4=dst, src_lo=src, dst_lo=dst, proto=proto,
                 ip_len=total, ttl=b[l3 + 8], l3_offset=l3, frag=frag)
        end = l3 + min(total, n - l3)
        p = l3 + hlen
    else:
        if n - l3 < 40:
            r["status"] = ParseStatus.TRUNCATED
            return r
        if b[l3] >> 4 != 6:
            r["status"] = ParseStatus.BAD_IP_HEADER
            return r
        src = int.from_bytes(b[l3 + 8:l3 + 24], "big")
        dst = int.from_bytes(b[l3 + 24:l3 + 40], "big")
        payload = _u16(b, l3 + 4)
        r.update(ip_version=6, src_hi=src >> 64, src_lo=src & (2**64 - 1), dst_hi=dst >> 64,
                 dst_lo=dst & (2**64 - 1), ip_len=40 + payload, ttl=b[l3 + 7], l3_offset=l3)
        end = l3 + min(40 + payload, n - l3)
        proto = b[l3 + 6]
        p = l3 + 40
        while proto in EXT_8 or proto in (EXT_AH, EXT_FRAG):
            if p + 8 > end:
                r.update(proto=proto, frag=frag, status=ParseStatus.L4_TRUNCATED)
                return r
            if proto == EXT_FRAG:
                offset = _u16(b, p + 2) >> 3
                more = b[p + 3] & 1
                if offset:
                    frag = FRAG_LATER
                elif more:
                    frag = FRAG_FIRST
                if offset or more:
                    r.update(frag_id=int.from_bytes(b[p + 4:p + 8], "big"), frag_offset=offset,
                             frag_more=more, frag_len=l3 + 40 + payload - p - 8)
                hlen = 8
            elif proto == EXT_AH:
                hlen = (b[p + 1] + 2) * 4
            else:
                hlen = (b[p + 1] + 1) * 8
            proto = b[p]
            p += hlen
            if frag == FRAG_LATER:
                break
        r.update(proto=proto, frag=frag)
    if frag == FRAG_LATER:
        r["status"] = ParseStatus.NON_FIRST_FRAGMENT
        return r
    if proto in PORT_PROTOS:
        if p + 4 > end:
            r["status"] = ParseStatus.L4_TRUNCATED
            return r
        r.update(sport=_u16(b, p), dport=_u16(b, p + 2), l4_offset=p)
        r.update(_payload(b, p, end, l3 + r["ip_len"], proto))
    elif proto in ICMP_PROTOS:
        if p + 2 > end:
            r["status"] = ParseStatus.L4_TRUNCATED
            return r
        r.update(sport=b[p], dport=b[p + 1], l4_offset=p)
    return r


def _payload(b: bytes, p: int, end: int, wire_end: int, proto: int) -> dict[str, int]:
    """Layer-4 payload: TCP after its data offset, UDP/UDP-Lite after 8 bytes; only when the
    whole transport header was captured and fits the IP length."""
    if proto == 6:
        if p + 13 > end or (b[p + 12] >> 4) * 4 < 20:
            return {}
        hlen = (b[p + 12] >> 4) * 4
    elif proto in (17, 136):
        hlen = 8
    else:
        return {}
    if p + hlen > end or p + hlen > wire_end:
        return {}
    return {"payload_offset": p + hlen, "payload_len": wire_end - p - hlen}


def extract(buf: bytes | bytearray | memoryview | np.ndarray, offsets: np.ndarray,
            caplens: np.ndarray, linktype: int) -> HeaderColumns:
    out = HeaderColumns.empty(len(offsets))
    for i, frame in records(buf, offsets, caplens):
        if frame is None:
            out.status[i] = ParseStatus.BAD_RECORD
            continue
        for name, value in _parse(frame, int(linktype)).items():
            getattr(out, name)[i] = value
    return out
