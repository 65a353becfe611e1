"""Generate a hub-and-spoke traffic capture for the demo topology (dataplane/data/demo.yaml).

Usage: python captures/gen_hub_spoke.py OUT.pcap [--packets N] [--seed S] [--snaplen L]

Written with numpy (frames built as columns, not one scapy packet at a time), so a 1M-packet
capture takes about a second. Deterministic for a given seed. Classic pcap, microsecond
timestamps, Ethernet, snaplen 128 by default (origlen keeps the on-the-wire size, as
`tcpdump -s 128` does). Traffic mix (flows drawn with Zipf-like weights, packets interleaved):
  web1/web2 <-> db1 TCP 1433 (through the hub NVA, both directions, stateful return)
  web -> web TCP 80 (spoke-local via the NVA), web -> Internet TCP 443 and back
  web -> branch 192.168.0.0/16 (gateway transit), jumpbox -> web TCP 23/22 (NSG denies)
  db1 -> web UDP (denied), ICMP echo, ARP (UNPARSED), IPv6 UDP (UNSUPPORTED).
Endpoints are the demo's own addresses: replay with `auto_map=False` (no remapping needed).
Dual-stack (`ipv6_share`, default 0): that share of the TCP/UDP flows is sent as IPv6, each
IPv4 address a.b.c.d written as `map6` gives it: private ones as fd00:0:0:aabb:cc00::dd (a /24
subnet becomes a /64, a /16 VNet a /56), public ones as 2001:db8::a.b.c.d (global unicast);
bench/test_pipeline.py builds the matching dual-stack demo topology with the same map.
"""

from __future__ import annotations

import argparse
import ipaddress
import struct
from pathlib import Path

import numpy as np


def _ip(s: str) -> int:
    return int(ipaddress.IPv4Address(s))


WEB = [_ip("10.1.1.4"), _ip("10.1.1.5")]
DB = _ip("10.2.1.4")
JUMP = _ip("10.0.2.4")
NVA = _ip("10.0.1.4")
MAC_A = bytes.fromhex("00155d000001")
MAC_B = bytes.fromhex("00155d000002")

# kind: (weight, proto)
KINDS = {
    "web_db": (40, 6), "db_web": (25, 6), "web_web": (8, 6), "web_inet": (10, 6),
    "inet_web": (3, 6), "web_branch": (4, 17), "jump_telnet": (2, 6), "db_udp": (2, 17),
    "icmp": (2, 1), "arp": (2, 0), "ipv6": (2, 17),
}


PRIVATE = ((_ip("10.0.0.0"), _ip("10.255.255.255")), (_ip("192.168.0.0"), _ip("192.168.255.255")))


def map6(v4: int) -> int:
    """The IPv6 address the dual-stack capture writes for IPv4 address `v4` (see above)."""
    if any(lo <= v4 <= hi for lo, hi in PRIVATE):
        return (0xFD00 << 112) | ((v4 >> 8) << 64) | (v4 & 0xFF)
    return (0x20010DB8 << 96) | v4


def _flows(rng: np.random.Generator, nflows: int) -> dict[str, np.ndarray]:
    names = list(KINDS)
    w = np.array([KINDS[k][0] for k in names], dtype=float)
    kind = rng.choice(len(names), nflows, p=w / w.sum())
    web = np.array(WEB, dtype=np.int64)[rng.integers(0, 2, nflows)]
    other_web = np.where(web == WEB[0], WEB[1], WEB[0])
    eph = rng.integers(1024, 65536, nflows)
    inet = rng.integers(_ip("20.0.0.0"), _ip("60.0.0.0"), nflows)
    branch = _ip("192.168.0.0") + rng.integers(1, 65535, nflows)
    src = np.zeros(nflows, np.int64)
    dst = np.zeros(nflows, np.int64)
    sport = np.zeros(nflows, np.int64)
    dport = np.zeros(nflows, np.int64)
    proto = np.array([KINDS[k][1] for k in names], dtype=np.int64)[kind]
    table = {
        "web_db": (web, DB, eph, 1433), "db_web": (DB, web, 1433, eph),
        "web_web": (web, other_web, eph, 80), "web_inet": (web, inet, eph, 443),
        "inet_web": (inet, web, 443, eph), "web_branch": (web, branch, eph, 53),
        "jump_telnet": (JUMP, web, eph, np.where(eph % 2 == 0, 23, 22)),
        "db_udp": (DB, web, eph, 5000), "icmp": (web, DB, 8, 0), "arp": (web, NVA, 0, 0),
        "ipv6": (web, DB, eph, 53),
    }
    for i, k in enumerate(names):
        m = kind == i
        s, d, sp, dp = (np.broadcast_to(np.asarray(x, dtype=np.int64), (nflows,))[m]
                        for x in table[k])
        src[m], dst[m], sport[m], dport[m] = s, d, sp, dp
    return {"kind": kind, "src": src, "dst": dst, "sport": sport, "dport": dport,
            "proto": proto, "names": np.array(names)}


def _csum(hdr: np.ndarray) -> np.ndarray:
    words = hdr[:, 0::2].astype(np.uint32) << 8 | hdr[:, 1::2].astype(np.uint32)
    s = words.sum(axis=1)
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s & 0xFFFF).astype(np.uint16)


def _be(mat: np.ndarray, col: int, width: int, values: np.ndarray, rows: np.ndarray) -> None:
    v = values.astype(np.uint64)
    for b in range(width):
        mat[rows, col + b] = ((v >> np.uint64(8 * (width - 1 - b))) & np.uint64(0xFF)).astype(
            np.uint8)


def _put6(mat: np.ndarray, col: int, v4: np.ndarray, rows: np.ndarray) -> None:
    """The 16 bytes of `map6(v4)` per row at column `col` (vectorised)."""
    private = np.zeros(rows.size, bool)
    for lo, hi in PRIVATE:
        private |= (v4 >= lo) & (v4 <= hi)
    p, g = rows[private], rows[~private]
    mat[p, col] = 0xFD
    _be(mat, col + 5, 3, v4[private] >> 8, p)
    _be(mat, col + 15, 1, v4[private] & 0xFF, p)
    _be(mat, col, 4, np.full(g.size, 0x20010DB8), g)
    _be(mat, col + 12, 4, v4[~private], g)


def _transport(mat: np.ndarray, at: int, f: dict[str, np.ndarray], fid: np.ndarray,
               proto: np.ndarray, orig: np.ndarray, rows: np.ndarray) -> None:
    """The TCP (PSH ACK, 20-byte header) or UDP header of `rows` starting at byte `at`."""
    _be(mat, at, 2, f["sport"][fid][rows], rows)
    _be(mat, at + 2, 2, f["dport"][fid][rows], rows)
    tcp = rows[proto[rows] == 6]
    mat[tcp, at + 12] = 0x50
    mat[tcp, at + 13] = 0x18  # PSH ACK
    _be(mat, at + 14, 2, np.full(tcp.size, 64240), tcp)
    udp = rows[proto[rows] == 17]
    _be(mat, at + 4, 2, orig[udp] - at, udp)


def _frames(f: dict[str, np.ndarray], fid: np.ndarray, orig: np.ndarray, snap: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Frame matrix (n, snap) and caplens for packets of flows `fid`."""
    n = fid.size
    names = list(f["names"])
    kind = f["kind"][fid]
    mat = np.zeros((n, snap), dtype=np.uint8)
    mat[:, 0:6] = np.frombuffer(MAC_B, np.uint8)
    mat[:, 6:12] = np.frombuffer(MAC_A, np.uint8)
    arp = kind == names.index("arp")
    v6 = kind == names.index("ipv6")
    dual = f["six"][fid]  # dual-stack flows sent as IPv6 (`ipv6_share`)
    v4 = ~arp & ~v6 & ~dual
    rows = np.flatnonzero(v4)
    proto = f["proto"][fid]
    # IPv4
    mat[rows, 12], mat[rows, 13] = 0x08, 0x00
    mat[rows, 14] = 0x45
    _be(mat, 16, 2, orig[rows] - 14, rows)
    _be(mat, 18, 2, fid[rows] & 0xFFFF, rows)
    mat[rows, 20] = 0x40  # DF
    mat[rows, 22] = 64
    mat[rows, 23] = proto[rows]
    _be(mat, 26, 4, f["src"][fid][rows], rows)
    _be(mat, 30, 4, f["dst"][fid][rows], rows)
    ck = _csum(mat[rows, 14:34])
    _be(mat, 24, 2, ck, rows)
    _transport(mat, 34, f, fid, proto, orig, rows)
    # ARP request
    rows = np.flatnonzero(arp)
    mat[rows, 0:6] = 0xFF
    mat[rows, 12:22] = np.frombuffer(bytes.fromhex("08060001080006040001"), np.uint8)
    mat[rows, 22:28] = np.frombuffer(MAC_A, np.uint8)
    _be(mat, 28, 4, f["src"][fid][rows], rows)
    _be(mat, 38, 4, f["dst"][fid][rows], rows)
    # IPv6 UDP (fd00::/8 ULA, addresses derived from the v4 ones)
    rows = np.flatnonzero(v6)
    mat[rows, 12], mat[rows, 13] = 0x86, 0xDD
    mat[rows, 14] = 0x60
    _be(mat, 18, 2, orig[rows] - 54, rows)
    mat[rows, 20] = 17
    mat[rows, 21] = 64
    mat[rows, 22] = 0xFD
    _be(mat, 34, 4, f["src"][fid][rows], rows)
    mat[rows, 38] = 0xFD
    _be(mat, 50, 4, f["dst"][fid][rows], rows)
    _be(mat, 54, 2, f["sport"][fid][rows], rows)
    _be(mat, 56, 2, f["dport"][fid][rows], rows)
    _be(mat, 58, 2, orig[rows] - 54, rows)
    # dual-stack flows as IPv6 (TCP or UDP; addresses by map6)
    rows = np.flatnonzero(dual)
    mat[rows, 12], mat[rows, 13] = 0x86, 0xDD
    mat[rows, 14] = 0x60
    _be(mat, 18, 2, orig[rows] - 54, rows)
    mat[rows, 20] = proto[rows]
    mat[rows, 21] = 64
    _put6(mat, 22, f["src"][fid][rows], rows)
    _put6(mat, 38, f["dst"][fid][rows], rows)
    _transport(mat, 54, f, fid, proto, orig, rows)
    caplen = np.minimum(orig, snap)
    return mat, caplen


def generate(path: str | Path, packets: int = 1_000_000, seed: int = 7, snaplen: int = 128,
             flows: int | None = None, chunk: int = 200_000, ipv6_share: float = 0.0) -> Path:
    """Write the capture; returns its path."""
    rng = np.random.default_rng(seed)
    nflows = flows if flows is not None else max(1, packets // 12)
    f = _flows(rng, nflows)
    ported = np.isin(f["proto"], (6, 17)) & (f["kind"] != list(f["names"]).index("ipv6"))
    f["six"] = ported & (np.random.default_rng(seed + 1).random(nflows) < ipv6_share)
    # Zipf-like flow popularity: a few elephants, many mice
    weight = 1.0 / np.arange(1, nflows + 1) ** 0.8
    weight /= weight.sum()
    names = list(f["names"])
    out = Path(path)
    t = 1_700_000_000 * 1_000_000  # µs
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        done = 0
        while done < packets:
            n = min(chunk, packets - done)
            fid = rng.choice(nflows, n, p=weight)
            kind = f["kind"][fid]
            big = rng.random(n) < 0.4
            orig = np.where(big, 1514, rng.integers(60, 600, n)).astype(np.int64)
            orig[kind == names.index("arp")] = 60
            six = (kind == names.index("ipv6")) | f["six"][fid]
            orig[six] = np.maximum(orig[six], 82)
            mat, caplen = _frames(f, fid, orig, snaplen)
            gaps = rng.exponential(10.0, n).astype(np.int64)  # ~100k packets/s on average
            ts = t + np.cumsum(gaps)
            t = int(ts[-1])
            rec = np.zeros((n, 16 + snaplen), dtype=np.uint8)
            hdr = np.stack([ts // 1_000_000, ts % 1_000_000, caplen, orig], axis=1).astype("<u4")
            rec[:, :16] = hdr.view(np.uint8).reshape(n, 16)
            rec[:, 16:] = mat
            keep = np.arange(16 + snaplen)[None, :] < (16 + caplen)[:, None]
            fh.write(rec[keep].tobytes())
            done += n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--snaplen", type=int, default=128)
    a = ap.parse_args()
    generate(a.out, a.packets, a.seed, a.snaplen)


if __name__ == "__main__":
    main()
