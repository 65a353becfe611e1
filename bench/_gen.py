"""Deterministic workload generators shared by the benchmarks."""

from __future__ import annotations

import io

import numpy as np

from dataplane.acl import AclRule

# BGP-like prefix-length mix (roughly a public IPv4 table: /24 dominates, few longer than /24)
BGP_LENGTHS = np.array([8, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                        30, 32])
BGP_WEIGHTS = np.array([0.1, 0.3, 0.4, 0.5, 2.0, 1.0, 1.8, 3.0, 4.0, 4.5, 8.5, 9.0, 62.0, 0.6,
                        0.6, 0.4, 0.4, 0.3, 0.3, 0.3])


def bgp_table(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.choice(BGP_LENGTHS, n, p=BGP_WEIGHTS / BGP_WEIGHTS.sum()).astype(np.int64)
    nets = rng.integers(0x01000000, 0xE0000000, n, dtype=np.int64)
    nets = (nets >> (32 - lengths)) << (32 - lengths)
    return nets, lengths, np.arange(n, dtype=np.int64)


def azure_table(n: int = 1000, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azure-scale route table: 0/0, VNet /16s, subnet /24s, a few /32 NVA routes."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice([16, 24, 24, 24, 26, 32], n).astype(np.int64)
    lengths[0] = 0
    nets = (0x0A000000 | rng.integers(0, 1 << 24, n, dtype=np.int64))
    nets = (nets >> (32 - lengths)) << (32 - lengths)
    return nets, lengths, np.arange(n, dtype=np.int64)


def ipv6_table(n: int = 1000, seed: int = 3) -> tuple[list[int], list[int], list[int]]:
    rng = np.random.default_rng(seed)
    base = 0x2001_0DB8 << 96
    prefixes, lengths = [0], [0]
    for _ in range(n - 1):
        ln = int(rng.choice([48, 56, 64, 64, 64, 128]))
        v = base | (int(rng.integers(0, 1 << 62)) << 34) | int(rng.integers(0, 1 << 34))
        prefixes.append((v >> (128 - ln)) << (128 - ln))
        lengths.append(ln)
    return prefixes, lengths, list(range(n))


def nsg_rules(n: int = 1000, seed: int = 4) -> list[AclRule]:
    """n - 1 specific allow rules (a /24 or /32 destination, one or two ports, TCP/UDP, source a
    /8../24 or any) ahead of a default deny-all."""
    rng = np.random.default_rng(seed)
    rules = []
    for _ in range(n - 1):
        dl = int(rng.choice([24, 32]))
        d = int(0x0A000000 | int(rng.integers(0, 1 << 24))) >> (32 - dl) << (32 - dl)
        src = None
        if rng.random() < 0.5:
            sl = int(rng.choice([8, 16, 24]))
            s = int(rng.integers(0, 1 << 32)) >> (32 - sl) << (32 - sl)
            src = ((s, s + (1 << (32 - sl)) - 1),)
        p = int(rng.integers(1, 65536))
        dport = ((p, p),) if rng.random() < 0.7 else ((p, p), (443, 443))
        rules.append(AclRule(src=src, dst=((d, d + (1 << (32 - dl)) - 1),), dport=dport,
                             proto=int(rng.choice([6, 17]))))
    rules.append(AclRule())
    return rules


def nsg_packets(rules: list[AclRule], n: int, seed: int = 5) -> tuple[np.ndarray, ...]:
    """Random flows; half aimed at a random rule (inside its intervals)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 1 << 32, n, dtype=np.int64)
    dst = 0x0A000000 | rng.integers(0, 1 << 24, n, dtype=np.int64)
    sport = rng.integers(1024, 65536, n)
    dport = rng.integers(0, 65536, n)
    proto = rng.choice([6, 17], n)
    pick = rng.integers(0, len(rules) - 1, n)
    for k in np.flatnonzero(rng.random(n) < 0.5):
        r = rules[pick[k]]
        if r.src:
            src[k] = r.src[0][0] + (src[k] % (r.src[0][1] - r.src[0][0] + 1))
        dst[k] = r.dst[0][0]
        dport[k] = r.dport[0][0]
        proto[k] = r.proto
    return (src.astype(np.uint32), dst.astype(np.uint32), sport.astype(np.uint16),
            dport.astype(np.uint16), proto.astype(np.uint8))


def pcap_bytes(n: int, seed: int = 6) -> bytes:
    """An in-memory pcap (Ethernet) with a mix of IPv4/IPv6, VLAN, TCP/UDP/ICMP frames."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.utils import PcapWriter

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        kind = k % 5
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        if kind == 0:
            pkt = eth / IP(src="10.0.0.1", dst="10.1.2.3") / TCP(sport=int(rng.integers(1024, 65535)), dport=443)
        elif kind == 1:
            pkt = eth / Dot1Q(vlan=7) / IP(src="10.0.0.2", dst="10.9.9.9") / UDP(sport=5353, dport=53)
        elif kind == 2:
            pkt = eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40000, dport=22)
        elif kind == 3:
            pkt = eth / IPv6(src="2001:db8::1", dst="2001:db8::3") / IPv6ExtHdrFragment(m=1) / UDP()
        else:
            pkt = eth / IP(src="10.0.0.3", dst="8.8.8.8") / ICMP()
        frames.append(pkt / bytes(int(rng.integers(0, 200))))
    out = io.BytesIO()
    w = PcapWriter(out, linktype=1, sync=True)
    for f in frames:
        w.write(f)
    w.flush()
    return out.getvalue()


def pcap_records(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, caplens) of the records of a little-endian classic pcap buffer."""
    offs, caps = [], []
    p = 24
    while p + 16 <= len(data):
        cap = int.from_bytes(data[p + 8:p + 12], "little")
        offs.append(p + 16)
        caps.append(cap)
        p += 16 + cap
    return np.array(offs, dtype=np.int64), np.array(caps, dtype=np.int32)
