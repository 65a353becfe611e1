"""LPM: compiled DIR-16-8-8 / IPv6 tables vs pytricia and py-radix (one call per lookup)."""

from __future__ import annotations

import ipaddress
import socket

import numpy as np
import pytest
import pytricia
from _gen import azure_table, bgp_table, ipv6_table

from dataplane.kernels.lpm import Lpm6TableCompiled, LpmTableCompiled, split128

try:
    import radix
except ImportError:  # pragma: no cover
    radix = None

N_FAST = 10_000_000
N_PEER = 200_000
RNG = np.random.default_rng(11)
ADDRS = RNG.integers(0, 1 << 32, N_FAST, dtype=np.int64).astype(np.uint32)
PEER_ADDRS = ADDRS[:N_PEER].tolist()


@pytest.fixture(scope="module", params=["bgp500k", "azure1k"])
def table(request):
    return bgp_table(500_000) if request.param == "bgp500k" else azure_table(1000)


def test_lpm4_build_500k(benchmark) -> None:
    p, n, h = bgp_table(500_000)
    benchmark.extra_info.update(ops=1, unit="build")
    benchmark.pedantic(LpmTableCompiled, args=(p, n, h), rounds=5, iterations=1)


def test_lpm4_compiled(benchmark, table) -> None:
    t = LpmTableCompiled(*table)
    benchmark.extra_info.update(ops=N_FAST, unit="lookup")
    benchmark.pedantic(t.lookup_batch, args=(ADDRS,), rounds=5, iterations=1)


def test_lpm4_pytricia(benchmark, table) -> None:
    tri = pytricia.PyTricia(32)
    for p, n, h in zip(*(c.tolist() for c in table), strict=True):
        tri[f"{ipaddress.IPv4Address(p)}/{n}"] = h
    get = tri.get

    def run() -> list:
        return [get(a) for a in PEER_ADDRS]

    benchmark.extra_info.update(ops=N_PEER, unit="lookup")
    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.skipif(radix is None, reason="py-radix not installed")
def test_lpm4_pyradix(benchmark, table) -> None:
    r = radix.Radix()
    for p, n, h in zip(*(c.tolist() for c in table), strict=True):
        r.add(network=str(ipaddress.IPv4Address(p)), masklen=n).data["h"] = h
    packed = [a.to_bytes(4, "big") for a in PEER_ADDRS]
    best = r.search_best

    def run() -> list:
        return [best(packed=a) for a in packed]

    benchmark.extra_info.update(ops=N_PEER, unit="lookup")
    benchmark.pedantic(run, rounds=3, iterations=1)


V6_PREFIXES, V6_LENGTHS, V6_HOPS = ipv6_table(1000)
V6_N = 1_000_000
_rng6 = np.random.default_rng(12)
V6_ADDRS = [V6_PREFIXES[int(k)] | int(_rng6.integers(0, 1 << 16))
            for k in _rng6.integers(1, len(V6_PREFIXES), V6_N)]
V6_HI, V6_LO = split128(V6_ADDRS)


def test_lpm6_compiled(benchmark) -> None:
    t = Lpm6TableCompiled(V6_PREFIXES, V6_LENGTHS, V6_HOPS)
    benchmark.extra_info.update(ops=V6_N, unit="lookup")
    benchmark.pedantic(t.lookup_batch, args=(V6_HI, V6_LO), rounds=5, iterations=1)


def test_lpm6_compiled_bsearch(benchmark) -> None:
    """The previous IPv6 structure (binary search per length) on the same table: peer."""
    t = Lpm6TableCompiled(V6_PREFIXES, V6_LENGTHS, V6_HOPS)
    benchmark.extra_info.update(ops=V6_N, unit="lookup")
    benchmark.pedantic(t.lookup_batch_bsearch, args=(V6_HI, V6_LO), rounds=5, iterations=1)


def test_lpm6_pytricia(benchmark) -> None:
    tri = pytricia.PyTricia(128)
    for p, n, h in zip(V6_PREFIXES, V6_LENGTHS, V6_HOPS, strict=True):
        tri[f"{ipaddress.IPv6Address(p)}/{n}"] = h
    packed = [socket.inet_pton(socket.AF_INET6, str(ipaddress.IPv6Address(a)))
              for a in V6_ADDRS[:N_PEER]]
    get = tri.get

    def run() -> list:
        return [get(a) for a in packed]

    benchmark.extra_info.update(ops=N_PEER, unit="lookup")
    benchmark.pedantic(run, rounds=3, iterations=1)
