"""Server-name kernel (TLS SNI / HTTP Host, issue 12) vs its plain-Python twin on the same
payloads (three quarters TLS 1.2/1.3 ClientHellos of realistic size, a third of them with an
ML-KEM key share, the SNI after other extensions; one quarter HTTP/1.1 requests), twice:
- in cache: 1,000 distinct payloads (1 MB), tiled 200x for the kernel;
- from memory: 20,000 distinct payloads (21 MB), tiled 10x: the kernel then waits on DRAM
  (about three cache lines per ClientHello), the twin much less (it copies each payload)."""

from __future__ import annotations

import struct

import numpy as np

from dataplane.kernels.servername import server_names_compiled, server_names_py


def _hello(i: int) -> bytes:
    name = f"host{i}.contoso-{i % 97}.example.com".encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    groups = struct.pack("!H", 8) + bytes(8)
    key_share = bytes(36 + (i % 3) * 1184)  # x25519, or with an ML-KEM share
    ext = (struct.pack("!HH", 10, len(groups)) + groups
           + struct.pack("!HH", 51, len(key_share)) + key_share
           + struct.pack("!HH", 0, len(sni)) + sni)
    body = (b"\x03\x03" + bytes(32) + b"\x20" + bytes(32) + struct.pack("!H", 32) + bytes(32)
            + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _request(i: int) -> bytes:
    return (f"GET /item/{i} HTTP/1.1\r\nUser-Agent: bench\r\nAccept: */*\r\n"
            f"Host: www{i}.example.org\r\n\r\n").encode()


PAYLOADS = [_hello(i) if i % 4 else _request(i) for i in range(20_000)]
BUF = b"".join(PAYLOADS)
LENS = np.array([len(p) for p in PAYLOADS], dtype=np.int32)
OFFS = np.concatenate(([0], np.cumsum(LENS[:-1]))).astype(np.int64)
SMALL = 1_000
BUF_SMALL = BUF[:int(OFFS[SMALL])]
CASES = {  # name: (buffer, distinct offsets, lengths, tiles for the kernel)
    "in_cache": (BUF_SMALL, OFFS[:SMALL], LENS[:SMALL], 200),
    "from_memory": (BUF, OFFS, LENS, 10),
}


def _compiled(benchmark, case: str) -> None:
    buf, offs, lens, tiles = CASES[case]
    benchmark.extra_info.update(ops=len(offs) * tiles, unit="payload")
    benchmark.pedantic(server_names_compiled, args=(buf, np.tile(offs, tiles), np.tile(lens, tiles)),
                       rounds=5, iterations=1)


def _twin(benchmark, case: str) -> None:
    buf, offs, lens, _ = CASES[case]
    benchmark.extra_info.update(ops=len(offs), unit="payload")
    benchmark.pedantic(server_names_py, args=(buf, offs, lens), rounds=3, iterations=1)


def test_server_names_compiled_in_cache(benchmark) -> None:
    _compiled(benchmark, "in_cache")


def test_server_names_twin_in_cache(benchmark) -> None:
    _twin(benchmark, "in_cache")


def test_server_names_compiled_from_memory(benchmark) -> None:
    _compiled(benchmark, "from_memory")


def test_server_names_twin_from_memory(benchmark) -> None:
    _twin(benchmark, "from_memory")
