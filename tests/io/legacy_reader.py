"""The streaming reader as it was before the compiled scanner (pure Python, struct per record).

Kept verbatim (bar this header and the imports) as the oracle of tests/io/test_capture_scan.py:
the scanner-driven reader must give the same records, accounting and damage messages.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataplane.io.capture import CaptureStats

MAX_RECORD = 256 * 1024
_CHUNK = 4 << 20
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


@dataclass
class RecordBatch:
    buf: np.ndarray          # uint8, frames back to back
    offsets: np.ndarray      # int64 start of each frame in buf
    caplens: np.ndarray      # int32
    origlens: np.ndarray     # int32
    linktypes: np.ndarray    # int32 per record
    time_ns: np.ndarray      # int64 capture timestamps
    record: np.ndarray       # int64 record index within the capture (0-based)

    def __len__(self) -> int:
        return int(self.offsets.size)


class _Source:
    """Chunked file reader keeping a bounded window."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("rb")
        self.size = path.stat().st_size
        self.data = b""
        self.base = 0  # file offset of data[0]

    def get(self, pos: int, n: int) -> bytes | None:
        """n bytes at file offset pos, or None at/after the end of file."""
        rel = pos - self.base
        if rel + n > len(self.data):
            self.f.seek(pos)
            self.data = self.f.read(max(n, _CHUNK))
            self.base = pos
            rel = 0
        out = self.data[rel:rel + n]
        return out if len(out) == n else None

    def close(self) -> None:
        self.f.close()


class _Batcher:
    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.reset()

    def reset(self) -> None:
        self.frames: list[bytes] = []
        self.orig: list[int] = []
        self.link: list[int] = []
        self.ts: list[int] = []
        self.idx: list[int] = []

    def add(self, frame: bytes, orig: int, link: int, ts: int, idx: int) -> bool:
        self.frames.append(frame)
        self.orig.append(orig)
        self.link.append(link)
        self.ts.append(ts)
        self.idx.append(idx)
        return len(self.frames) >= self.batch

    def flush(self) -> RecordBatch | None:
        if not self.frames:
            return None
        caplens = np.fromiter((len(f) for f in self.frames), dtype=np.int32,
                              count=len(self.frames))
        offsets = np.zeros(caplens.size, dtype=np.int64)
        np.cumsum(caplens[:-1], out=offsets[1:])
        out = RecordBatch(np.frombuffer(b"".join(self.frames), dtype=np.uint8), offsets, caplens,
                          np.array(self.orig, dtype=np.int32), np.array(self.link, dtype=np.int32),
                          np.array(self.ts, dtype=np.int64), np.array(self.idx, dtype=np.int64))
        self.reset()
        return out


def read_batches(path: str | Path, stats: CaptureStats | None = None,
                 batch: int = 65536) -> Iterator[RecordBatch]:
    """Stream a capture in batches; `stats` is filled as records are read."""
    p = Path(path)
    stats = stats if stats is not None else CaptureStats(str(p))
    src = _Source(p)
    try:
        head = src.get(0, 4)
        if head is None:
            stats.damage = "file shorter than a capture header"
            return
        if head in PCAP_MAGICS:
            stats.format = "pcap"
            yield from _pcap(src, stats, batch)
        elif head == PCAPNG_SHB:
            stats.format = "pcapng"
            yield from _pcapng(src, stats, batch)
        else:
            stats.damage = f"not a pcap or pcapng file (magic {head.hex()})"
    finally:
        src.close()


def _pcap(src: _Source, stats: CaptureStats, batch: int) -> Iterator[RecordBatch]:
    hdr = src.get(0, 24)
    if hdr is None:
        stats.damage = "truncated pcap file header"
        return
    order, unit = PCAP_MAGICS[hdr[:4]]
    major, minor, _, _, snaplen, network = struct.unpack(order + "HHiIII", hdr[4:])
    if (major, minor) != (2, 4):
        stats.damage = f"unsupported pcap version {major}.{minor} (only 2.4 is defined)"
        return
    link = network & 0x0FFFFFFF
    stats.linktypes.add(link)
    rec = struct.Struct(order + "IIII")
    b = _Batcher(batch)
    pos, idx = 24, 0
    while True:
        rh = src.get(pos, 16)
        if rh is None:
            if pos < src.size:
                stats.unreadable += 1
                stats.damage = f"record {idx}: truncated record header at offset {pos}"
            break
        sec, frac, caplen, origlen = rec.unpack(rh)
        if caplen > MAX_RECORD:
            stats.unreadable += 1
            stats.damage = (f"record {idx}: captured length {caplen} exceeds {MAX_RECORD} "
                            f"at offset {pos}; stopped reading")
            break
        frame = src.get(pos + 16, caplen)
        if frame is None:
            stats.unreadable += 1
            stats.damage = (f"record {idx}: captured length {caplen} runs past the end of the "
                            f"file at offset {pos}")
            break
        stats.records += 1
        if b.add(frame, origlen, link, sec * 1_000_000_000 + frac * unit, idx):
            yield b.flush()  # type: ignore[misc]
        pos += 16 + caplen
        idx += 1
    out = b.flush()
    if out is not None:
        yield out


def _pcapng(src: _Source, stats: CaptureStats, batch: int) -> Iterator[RecordBatch]:
    b = _Batcher(batch)
    pos, idx = 0, 0
    order = "<"
    ifaces: list[tuple[int, int]] = []  # (linktype, ns per tick)
    while True:
        bh = src.get(pos, 8)
        if bh is None:
            if pos < src.size:
                stats.unreadable += 1
                stats.damage = f"block at offset {pos}: truncated block header"
            break
        if bh[:4] == PCAPNG_SHB:
            bom = src.get(pos + 8, 4)
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                stats.unreadable += 1
                stats.damage = f"section header at offset {pos}: bad byte-order magic"
                break
            ifaces = []
        btype, blen = struct.unpack(order + "II", bh)
        if blen < 12 or blen % 4 or pos + blen > src.size or blen > MAX_RECORD + 64 * 1024:
            stats.unreadable += 1
            stats.damage = (f"block {idx} at offset {pos}: invalid block length {blen} "
                            f"(file size {src.size}); stopped reading")
            break
        body = src.get(pos, blen)
        assert body is not None
        if struct.unpack(order + "I", body[-4:])[0] != blen:
            stats.unreadable += 1
            stats.damage = f"block at offset {pos}: trailing length differs from {blen}"
            break
        if btype == 0x0A0D0D0A:
            if blen < 28:
                stats.unreadable += 1
                stats.damage = f"section header at offset {pos}: too short ({blen})"
                break
            major = struct.unpack(order + "H", body[12:14])[0]
            if major != 1:
                stats.damage = f"unsupported pcapng major version {major} at offset {pos}"
                break
            damaged = _check_options(body[24:-4], order)
            if damaged:
                stats.unreadable += 1
                stats.damage = f"section header at offset {pos}: {damaged}"
                break
        elif btype == 1:  # Interface Description Block
            if blen < 20:
                stats.unreadable += 1
                stats.damage = f"interface block at offset {pos}: too short"
                break
            link = struct.unpack(order + "H", body[8:10])[0]
            ifaces.append((link, _tsresol(body[16:-4], order)))
            stats.linktypes.add(link)
        elif btype in (6, 2):  # Enhanced Packet Block / obsolete Packet Block
            if blen < 32:
                stats.unreadable += 1
                stats.damage = f"packet block at offset {pos}: too short"
                break
            if btype == 6:
                iface, hi, lo, caplen, origlen = struct.unpack(order + "IIIII", body[8:28])
            else:
                iface, _drops, hi, lo, caplen, origlen = struct.unpack(order + "HHIIII",
                                                                       body[8:28])
            if iface >= len(ifaces) or 28 + caplen > blen - 4:
                stats.unreadable += 1
                stats.damage = (f"packet {idx} at offset {pos}: "
                                + ("unknown interface" if iface >= len(ifaces)
                                   else "captured length beyond its block"))
                pos += blen
                idx += 1
                continue  # the block framing is intact: safe to continue
            link, tick = ifaces[iface]
            stats.records += 1
            if b.add(body[28:28 + caplen], origlen, link, ((hi << 32) | lo) * tick, idx):
                yield b.flush()  # type: ignore[misc]
            idx += 1
        elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
            if not ifaces:
                stats.unreadable += 1
                stats.damage = f"simple packet {idx} at offset {pos}: no interface"
                pos += blen
                idx += 1
                continue
            origlen = struct.unpack(order + "I", body[8:12])[0]
            caplen = min(origlen, blen - 16)
            stats.records += 1
            if b.add(body[12:12 + caplen], origlen, ifaces[0][0], 0, idx):
                yield b.flush()  # type: ignore[misc]
            idx += 1
        pos += blen
    out = b.flush()
    if out is not None:
        yield out


def _options(data: bytes, order: str) -> Iterator[tuple[int, bytes]] | None:
    i = 0
    while i + 4 <= len(data):
        code, length = struct.unpack(order + "HH", data[i:i + 4])
        if code == 0:
            return
        if i + 4 + length > len(data):
            raise ValueError(f"option {code} length {length} runs past its block")
        yield code, data[i + 4:i + 4 + length]
        i += 4 + ((length + 3) & ~3)


def _check_options(data: bytes, order: str) -> str | None:
    try:
        for _ in _options(data, order):  # type: ignore[union-attr]
            pass
    except ValueError as exc:
        return str(exc)
    return None


def _tsresol(data: bytes, order: str) -> int:
    """ns per timestamp tick from if_tsresol (default µs)."""
    try:
        for code, value in _options(data, order):  # type: ignore[union-attr]
            if code == 9 and value:
                r = value[0]
                if r & 0x80:
                    return max(1, int(1_000_000_000 / (2 ** (r & 0x7F))))
                return 10 ** max(0, 9 - r) if r <= 9 else 1
    except ValueError:
        pass
    return 1_000
