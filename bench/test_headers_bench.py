"""Header extraction from an in-memory pcap buffer vs scapy's reader on the same bytes; also
the shaper and the overlap kernel."""

from __future__ import annotations

import io

import numpy as np
from _gen import pcap_bytes, pcap_records

from dataplane.kernels.headers import extract_compiled
from dataplane.kernels.overlap import overlap_pairs
from dataplane.kernels.shaper import ShaperCompiled

DISTINCT = pcap_bytes(5_000)
REPEAT = 200  # 1M frames: the same 5,000 records tiled
_records = DISTINCT[24:]
BIG = DISTINCT[:24] + _records * REPEAT
OFFS, CAPS = pcap_records(BIG)


def test_headers_compiled(benchmark) -> None:
    benchmark.extra_info.update(ops=len(OFFS), unit="packet")
    benchmark.pedantic(extract_compiled, args=(BIG, OFFS, CAPS, 1), rounds=5, iterations=1)


def test_headers_scapy_reader(benchmark) -> None:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    def run() -> int:
        k = 0
        for pkt in PcapReader(io.BytesIO(DISTINCT)):
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
            k += (ip is not None) + (l4.sport if l4 is not None else 0)
        return k

    benchmark.extra_info.update(ops=5_000, unit="packet")
    benchmark.pedantic(run, rounds=3, iterations=1)


def test_shaper_compiled(benchmark) -> None:
    n = 2_000_000
    rng = np.random.default_rng(9)
    vm = rng.integers(0, 100, n).astype(np.int32)
    arrival = np.cumsum(rng.integers(0, 200, n)).astype(np.int64)
    size = rng.integers(64, 1500, n).astype(np.int32)

    def run() -> None:
        ShaperCompiled(np.full(100, 1_000_000_000), 1 << 20).shape(vm, arrival, size)

    benchmark.extra_info.update(ops=n, unit="packet")
    benchmark.pedantic(run, rounds=5, iterations=1)


def test_overlap_100k(benchmark) -> None:
    rng = np.random.default_rng(10)
    n = 100_000
    ln = rng.choice([16, 20, 24, 28, 32], n)
    first = (rng.integers(0, 1 << 32, n) >> (32 - ln)) << (32 - ln)
    last = first + (1 << (32 - ln)) - 1
    benchmark.extra_info.update(ops=n, unit="interval")
    benchmark.pedantic(overlap_pairs, args=(first.astype(np.uint64), last.astype(np.uint64)),
                       rounds=5, iterations=1)
