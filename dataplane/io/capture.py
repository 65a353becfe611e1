"""Streaming pcap / pcapng reader with per-record accounting and damage handling.

Takes: a capture path (classic pcap in either byte order, µs or ns; pcapng with SHB, IDB, EPB,
SPB and obsolete PB blocks, per-interface link type and timestamp resolution).
Emits: `read_batches(path, batch=...)` -> iterator of `RecordBatch` (a uint8 buffer holding the
frames, offsets of each frame in it -- record headers may sit between frames --, captured
lengths, original lengths, link type per record, timestamps in integer ns, record index) and
fills a `CaptureStats` as it goes: records read, unreadable records, and `damage` (a one-line
message with the record index and file offset) when the file is damaged. The file is read in
chunks into a window; the compiled scanner (kernels/pcapscan.py) walks the records of the
window without per-record Python, and a batch's buffer is a view of the window (no copy).
Memory is bounded by the batch size plus one chunk. Section headers, interface blocks and
damage are handled here, in Python, once per block.
Not a capture: a file whose first bytes are neither a pcap nor a pcapng magic (or shorter than
one) raises InputError naming the file (exit status 2), before any record is read.
Link type (classic pcap): read as libpcap does (LT_LINKTYPE: the low 16 bits); the upper bits
carry the FCS length (LT_FCS_LENGTH_PRESENT 0x04000000, length in 16-bit words in the top 4
bits), kept in `CaptureStats.fcs_bytes`, and reserved bits, ignored. So tcpdump's
bootp_asan.pcap (0x04000001) reads as Ethernet (1).
Timestamps: pcap seconds are 32-bit (up to 2106, fits int64 ns); pcapng 64-bit tick counts
beyond 2**63 - 1 ns (year 2262) are clamped there and counted in `timestamps_clamped`.
Damage policy: a bad file header (the pcap global header; pcapng: the first section header
block) -> no records, damage set ("unsupported pcap version 1.4") and `header_damaged` True;
`check_file_header(path)` raises that as an InputError naming the file, which `dataplane
replay` does for every capture before any work (exit 2: nothing of that file would replay).
A record whose header or block is inconsistent (captured length beyond
256 KiB or beyond the end of file, pcapng block length not a multiple of 4, too short, past
the end of file, trailing length mismatch; any other 32-bit pcapng block length is valid,
however large) cannot be resynchronised safely: it is counted as
one unreadable record and reading stops there; records before it are replayed.
Timestamps are taken as written (they may go backwards); the engine decides what to do.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dataplane.errors import InputError
from dataplane.kernels.pcapscan import ScanStatus, scan_pcap, scan_pcapng

MAX_RECORD = 256 * 1024
_I64_MAX = 2**63 - 1
_CHUNK = 4 << 20
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


@dataclass
class CaptureStats:
    path: str
    format: str = "unknown"
    records: int = 0       # records whose frame bytes were read (parsed or not)
    unreadable: int = 0    # damaged records counted, not replayed
    damage: str | None = None
    linktypes: set[int] = field(default_factory=set)
    fcs_bytes: int = 0           # FCS bytes at the end of each frame (pcap link-type field)
    timestamps_clamped: int = 0  # pcapng times past 2**63 - 1 ns, clamped there
    header_damaged: bool = False  # the damage is in the file header: nothing was readable

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "records": self.records,
                "unreadable": self.unreadable, "damage": self.damage,
                "linktypes": sorted(self.linktypes), "fcsBytes": self.fcs_bytes,
                "timestampsClamped": self.timestamps_clamped}


@dataclass
class RecordBatch:
    buf: np.ndarray          # uint8 holding the frames (a view of the reader window)
    offsets: np.ndarray      # int64 start of each frame in buf
    caplens: np.ndarray      # int32
    origlens: np.ndarray     # int32
    linktypes: np.ndarray    # int32 per record
    time_ns: np.ndarray      # int64 capture timestamps
    record: np.ndarray       # int64 record index within the capture (0-based)

    def __len__(self) -> int:
        return int(self.offsets.size)


class _Window:
    """A bounded window of the file as a numpy array; refills keep the tail from `keep` on.

    A refill builds a new array (never writes into the old one), so batches that are views of
    an earlier window stay valid while their consumer holds them."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("rb")
        self.size = os.fstat(self.f.fileno()).st_size
        self.data = np.empty(0, dtype=np.uint8)
        self.base = 0  # file offset of data[0]
        self.eof = self.size == 0

    def fill(self, keep: int) -> int:
        """Drop data[:keep], append the next chunk; returns the shift (keep)."""
        tail = self.data[keep:]
        want = max(_CHUNK, tail.size)  # grows with the batch: copying stays linear
        new = np.empty(tail.size + want, dtype=np.uint8)
        new[:tail.size] = tail
        view = memoryview(new)[tail.size:]
        got = 0
        while got < want:
            r = self.f.readinto(view[got:])
            if not r:
                break
            got += r
        self.base += keep
        self.data = new[:tail.size + got]
        self.eof = got < want or self.base + self.data.size >= self.size
        return keep

    def close(self) -> None:
        self.f.close()


class _Batch:
    """Columns of the batch being scanned (fresh arrays per batch: consumers may keep them)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.offsets = np.empty(size, dtype=np.int64)
        self.caplens = np.empty(size, dtype=np.int32)
        self.origlens = np.empty(size, dtype=np.int32)
        self.linktypes = np.empty(size, dtype=np.int32)
        self.time_ns = np.empty(size, dtype=np.int64)
        self.record = np.empty(size, dtype=np.int64)
        self.count = 0
        self.start = 0  # window position of the batch's first byte

    def took(self, n: int, idx: int, stats: CaptureStats) -> None:
        self.record[self.count:self.count + n] = np.arange(idx, idx + n, dtype=np.int64)
        self.count += n
        stats.records += n

    def shift(self, by: int) -> None:
        self.offsets[:self.count] -= by
        self.start -= by

    def emit(self, data: np.ndarray, end: int) -> RecordBatch:
        k, s = self.count, self.start
        return RecordBatch(data[s:end], self.offsets[:k] - s, self.caplens[:k],
                           self.origlens[:k], self.linktypes[:k], self.time_ns[:k],
                           self.record[:k])


def read_batches(path: str | Path, stats: CaptureStats | None = None,
                 batch: int = 65536) -> Iterator[RecordBatch]:
    """Stream a capture in batches; `stats` is filled as records are read."""
    p = Path(path)
    stats = stats if stats is not None else CaptureStats(str(p))
    if batch < 1:
        raise ValueError("batch must be >= 1")
    win = _Window(p)
    try:
        win.fill(0)
        head = bytes(win.data[:4])
        if len(head) < 4:
            raise InputError("file shorter than a capture header", file=str(p))
        if head not in PCAP_MAGICS and head != PCAPNG_SHB:
            raise InputError(f"not a pcap or pcapng file (magic {head.hex()})", file=str(p))
        stats.format = "pcap" if head in PCAP_MAGICS else "pcapng"
        reader = _pcap if head in PCAP_MAGICS else _pcapng
        for rb in reader(win, stats, batch):
            stats.timestamps_clamped += int(np.count_nonzero(rb.time_ns == _I64_MAX))
            yield rb
    finally:
        win.close()


def check_file_header(path: str | Path) -> None:
    """Raise InputError (naming the file) when the capture's file header is damaged or the
    file is not a capture; reads the header and at most one record."""
    stats = CaptureStats(str(path))
    batches = read_batches(path, stats, batch=1)
    try:
        next(batches, None)
    finally:
        batches.close()
    if stats.header_damaged:
        raise InputError(f"capture damaged at its file header: {stats.damage}; no packet in "
                         "it can be read", file=str(path))


def _pcap(win: _Window, stats: CaptureStats, batch: int) -> Iterator[RecordBatch]:
    if win.data.size < 24:
        stats.damage, stats.header_damaged = "truncated pcap file header", True
        return
    hdr = bytes(win.data[:24])
    order, unit = PCAP_MAGICS[hdr[:4]]
    major, minor, _, _, snaplen, network = struct.unpack(order + "HHiIII", hdr[4:])
    if (major, minor) != (2, 4):
        stats.damage = f"unsupported pcap version {major}.{minor} (only 2.4 is defined)"
        stats.header_damaged = True
        return
    # libpcap's LT_LINKTYPE / LT_FCS_LENGTH (pcap/pcap.h); the same split is in the IETF
    # pcap draft (draft-ietf-opsawg-pcap, "LinkType and additional information").
    link = network & 0xFFFF
    if network & 0x04000000:
        stats.fcs_bytes = ((network >> 28) & 0xF) * 2
    stats.linktypes.add(link)
    big = order == ">"
    b = _Batch(batch)
    pos = b.start = 24
    idx = 0
    while True:
        n, pos, st = scan_pcap(win.data, pos, big, unit, b.offsets, b.caplens, b.origlens,
                               b.time_ns, b.count)
        b.took(n, idx, stats)
        idx += n
        if st == ScanStatus.FULL:
            b.linktypes[:] = link
            yield b.emit(win.data, pos)
            b = _Batch(batch)
            b.start = pos
            continue
        if st in (ScanStatus.END, ScanStatus.PARTIAL) and not win.eof:
            shift = win.fill(b.start)
            pos -= shift
            b.shift(shift)
            continue
        at = win.base + pos
        if st == ScanStatus.PARTIAL:
            stats.unreadable += 1
            if win.data.size - pos < 16:
                stats.damage = f"record {idx}: truncated record header at offset {at}"
            else:
                caplen = struct.unpack_from(order + "I", win.data, pos + 8)[0]
                stats.damage = (f"record {idx}: captured length {caplen} runs past the end of "
                                f"the file at offset {at}")
        elif st == ScanStatus.TOO_LONG:
            caplen = struct.unpack_from(order + "I", win.data, pos + 8)[0]
            stats.unreadable += 1
            stats.damage = (f"record {idx}: captured length {caplen} exceeds {MAX_RECORD} "
                            f"at offset {at}; stopped reading")
        break
    if b.count:
        b.linktypes[:b.count] = link
        yield b.emit(win.data, pos)


_NO_IFACE = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))


def _pcapng(win: _Window, stats: CaptureStats, batch: int) -> Iterator[RecordBatch]:
    b = _Batch(batch)
    pos = b.start = 0
    idx = 0
    order = "<"
    ifaces: list[tuple[int, int]] = []  # (linktype, ns per tick)
    if_link, if_tick = _NO_IFACE
    sections = 0  # section header blocks read whole (the first one is the file header)

    def need(n: int) -> bool:
        """Make data[pos:pos + n] available (refilling the window); False at end of file."""
        nonlocal pos
        while win.data.size - pos < n and not win.eof:
            shift = win.fill(b.start)
            pos -= shift
            b.shift(shift)
        return win.data.size - pos >= n

    def u32(at: int) -> int:
        return struct.unpack_from(order + "I", win.data, at)[0]

    def bad_length(blen: int) -> str:
        return (f"block {idx} at offset {win.base + pos}: invalid block length {blen} "
                f"(file size {win.size}); stopped reading")

    while True:
        n, pos, st = scan_pcapng(win.data, pos, order == ">", if_link, if_tick, b.offsets,
                                 b.caplens, b.origlens, b.linktypes, b.time_ns, b.count)
        b.took(n, idx, stats)
        idx += n
        if st == ScanStatus.FULL:
            yield b.emit(win.data, pos)
            b = _Batch(batch)
            b.start = pos
            continue
        if st in (ScanStatus.END, ScanStatus.PARTIAL) and not win.eof:
            need(win.data.size - pos + 1)
            continue
        at = win.base + pos
        if st == ScanStatus.END:
            break
        if st == ScanStatus.PARTIAL:
            stats.unreadable += 1
            stats.damage = (f"block at offset {at}: truncated block header"
                            if win.data.size - pos < 8 else bad_length(u32(pos + 4)))
            break
        if st == ScanStatus.BAD_LENGTH:
            stats.unreadable += 1
            stats.damage = bad_length(u32(pos + 4))
            break
        if st == ScanStatus.BAD_TRAILER:
            stats.unreadable += 1
            stats.damage = f"block at offset {at}: trailing length differs from {u32(pos + 4)}"
            break
        if st == ScanStatus.SECTION:
            bom = bytes(win.data[pos + 8:pos + 12]) if need(12) else b""
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                stats.unreadable += 1
                stats.damage = f"section header at offset {win.base + pos}: bad byte-order magic"
                break
            ifaces = []
            if_link, if_tick = _NO_IFACE
            blen = u32(pos + 4)
            if blen < 12 or blen % 4 or not need(blen):
                stats.unreadable += 1
                stats.damage = bad_length(blen)
                break
            at = win.base + pos
            body = bytes(win.data[pos:pos + blen])
            if struct.unpack(order + "I", body[-4:])[0] != blen:
                stats.unreadable += 1
                stats.damage = f"block at offset {at}: trailing length differs from {blen}"
                break
            if blen < 28:
                stats.unreadable += 1
                stats.damage = f"section header at offset {at}: too short ({blen})"
                break
            major = struct.unpack(order + "H", body[12:14])[0]
            if major != 1:
                stats.damage = f"unsupported pcapng major version {major} at offset {at}"
                break
            damaged = _check_options(body[24:-4], order)
            if damaged:
                stats.unreadable += 1
                stats.damage = f"section header at offset {at}: {damaged}"
                break
            sections += 1
            pos += blen
            continue
        if st == ScanStatus.INTERFACE:  # Interface Description Block, framing checked
            blen = u32(pos + 4)
            if blen < 20:
                stats.unreadable += 1
                stats.damage = f"interface block at offset {at}: too short"
                break
            body = bytes(win.data[pos:pos + blen])
            link = struct.unpack(order + "H", body[8:10])[0]
            ifaces.append((link, _tsresol(body[16:-4], order)))
            if_link = np.array([x[0] for x in ifaces], dtype=np.int32)
            if_tick = np.array([x[1] for x in ifaces], dtype=np.int64)
            stats.linktypes.add(link)
            pos += blen
            continue
        if st == ScanStatus.TOO_SHORT:
            stats.unreadable += 1
            stats.damage = f"packet block at offset {at}: too short"
            break
        # a bad packet in a well-framed block: counted, and reading goes on
        stats.unreadable += 1
        stats.damage = {
            ScanStatus.UNKNOWN_INTERFACE: f"packet {idx} at offset {at}: unknown interface",
            ScanStatus.CAPLEN_BEYOND_BLOCK:
                f"packet {idx} at offset {at}: captured length beyond its block",
            ScanStatus.NO_INTERFACE: f"simple packet {idx} at offset {at}: no interface",
        }[ScanStatus(st)]
        pos += u32(pos + 4)
        idx += 1
    stats.header_damaged = stats.damage is not None and sections == 0
    if b.count:
        yield b.emit(win.data, pos)


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
