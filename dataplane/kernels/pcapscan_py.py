"""Capture record scanner, plain-Python twin: a window of pcap / pcapng bytes -> record columns.

The scanner walks records in `buf[pos:]` (a window of the file; the caller refills it) and
writes one row per record into caller-allocated columns starting at row `first`, until the
columns are full or it meets something it does not handle. It never reads outside `buf`.

`scan_pcap(buf, pos, big_endian, unit_ns, offsets, caplens, origlens, time_ns, first)
    -> (count, pos, status)`
  Classic pcap records (16-byte header: seconds, fraction, caplen, origlen in the file's byte
  order). offsets[i] = start of the frame in buf (after its header), time_ns = sec * 1e9 +
  frac * unit_ns (unit_ns 1000 for µs files, 1 for ns files).
`scan_pcapng(buf, pos, big_endian, if_link, if_tick, offsets, caplens, origlens, linktypes,
             time_ns, first) -> (count, pos, status)`
  pcapng blocks of one section (byte order known). Enhanced (6), obsolete Packet (2) and Simple
  (3) Packet Blocks become rows (interface i: link type if_link[i], if_tick[i] ns per timestamp
  tick; SPB: interface 0, time 0, caplen = min(origlen, block length - 16)). Other block types
  are skipped after their framing is checked; Section Header and Interface Description blocks
  stop the scan for the caller to handle.
Columns: offsets int64, caplens int32, origlens int32 (saturating at 2**31 - 1), linktypes
int32, time_ns int64 (classic pcap: seconds are 32-bit, so every time fits; pcapng: 64-bit
ticks times ns per tick saturate at 2**63 - 1, past year 2262, in both forms; never raises).
`count` rows were written at first..first+count-1; `pos` is where scanning stopped (the start
of the record/block named by `status`, or the end of the last record read).

Status (`ScanStatus`): FULL the columns are full; END pos == len(buf) (clean record boundary);
PARTIAL the record/block at pos does not fit in buf (refill, or damage at end of file);
TOO_LONG pcap caplen > MAX_RECORD; BAD_LENGTH pcapng block length < 12 or not a multiple of
4 (any other 32-bit length is valid: "PCAP Next Generation (pcapng) Capture File Format",
https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html, section 3.1 "Block Total
Length"; a large block, e.g. a Decryption Secrets Block with a TLS key log, is no damage);
BAD_TRAILER trailing block length differs; SECTION an SHB starts at pos
(framing not checked: the caller reads its byte order); INTERFACE an IDB at pos (framing
checked); TOO_SHORT a packet block shorter than 32 bytes; UNKNOWN_INTERFACE / CAPLEN_BEYOND_BLOCK
an EPB/PB whose interface is undefined or whose caplen overruns its block; NO_INTERFACE an SPB
before any IDB. The last three leave a well-framed block: the caller counts it and goes on.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import numpy as np

MAX_RECORD = 256 * 1024
_I32_MAX = 2**31 - 1
I64_MAX = 2**63 - 1
_U64 = (1 << 64) - 1


class ScanStatus(IntEnum):
    FULL = 0
    END = 1
    PARTIAL = 2
    TOO_LONG = 3
    BAD_LENGTH = 4
    BAD_TRAILER = 5
    SECTION = 6
    INTERFACE = 7
    TOO_SHORT = 8
    UNKNOWN_INTERFACE = 9
    CAPLEN_BEYOND_BLOCK = 10
    NO_INTERFACE = 11


def _ticks_to_ns(ticks: int, tick: int) -> int:
    """ticks * tick ns, saturating at 2**63 - 1 (past year 2262: clamped, never wrapped)."""
    return 0 if tick <= 0 else min(ticks * tick, I64_MAX)


def _wrap64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def scan_pcap(buf: np.ndarray, pos: int, big_endian: bool, unit_ns: int, offsets: np.ndarray,
              caplens: np.ndarray, origlens: np.ndarray, time_ns: np.ndarray, first: int
              ) -> tuple[int, int, int]:
    data = memoryview(np.ascontiguousarray(buf, dtype=np.uint8)).cast("B")
    end = len(data)
    rec = struct.Struct((">" if big_endian else "<") + "IIII")
    cap = offsets.shape[0]
    row = first
    while True:
        if row >= cap:
            return row - first, pos, ScanStatus.FULL
        if pos == end:
            return row - first, pos, ScanStatus.END
        if pos + 16 > end:
            return row - first, pos, ScanStatus.PARTIAL
        sec, frac, caplen, origlen = rec.unpack_from(data, pos)
        if caplen > MAX_RECORD:
            return row - first, pos, ScanStatus.TOO_LONG
        if pos + 16 + caplen > end:
            return row - first, pos, ScanStatus.PARTIAL
        offsets[row] = pos + 16
        caplens[row] = caplen
        origlens[row] = min(origlen, _I32_MAX)
        time_ns[row] = _wrap64(sec * 1_000_000_000 + frac * unit_ns)
        row += 1
        pos += 16 + caplen


def scan_pcapng(buf: np.ndarray, pos: int, big_endian: bool, if_link: np.ndarray,
                if_tick: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                origlens: np.ndarray, linktypes: np.ndarray, time_ns: np.ndarray, first: int
                ) -> tuple[int, int, int]:
    data = memoryview(np.ascontiguousarray(buf, dtype=np.uint8)).cast("B")
    end = len(data)
    o = ">" if big_endian else "<"
    u32 = struct.Struct(o + "I")
    nif = if_link.shape[0]
    cap = offsets.shape[0]
    row = first
    while True:
        if row >= cap:
            return row - first, pos, ScanStatus.FULL
        if pos == end:
            return row - first, pos, ScanStatus.END
        if pos + 8 > end:
            return row - first, pos, ScanStatus.PARTIAL
        if bytes(data[pos:pos + 4]) == b"\x0a\x0d\x0d\x0a":
            return row - first, pos, ScanStatus.SECTION
        btype = u32.unpack_from(data, pos)[0]
        blen = u32.unpack_from(data, pos + 4)[0]
        if blen < 12 or blen % 4:
            return row - first, pos, ScanStatus.BAD_LENGTH
        if pos + blen > end:
            return row - first, pos, ScanStatus.PARTIAL
        if u32.unpack_from(data, pos + blen - 4)[0] != blen:
            return row - first, pos, ScanStatus.BAD_TRAILER
        if btype == 1:
            return row - first, pos, ScanStatus.INTERFACE
        if btype == 6 or btype == 2:
            if blen < 32:
                return row - first, pos, ScanStatus.TOO_SHORT
            if btype == 6:
                iface, hi, lo, caplen, origlen = struct.unpack_from(o + "IIIII", data, pos + 8)
            else:
                iface, _drops, hi, lo, caplen, origlen = struct.unpack_from(o + "HHIIII", data,
                                                                            pos + 8)
            if iface >= nif:
                return row - first, pos, ScanStatus.UNKNOWN_INTERFACE
            if 28 + caplen > blen - 4:
                return row - first, pos, ScanStatus.CAPLEN_BEYOND_BLOCK
            offsets[row] = pos + 28
            caplens[row] = caplen
            origlens[row] = min(origlen, _I32_MAX)
            linktypes[row] = if_link[iface]
            time_ns[row] = _ticks_to_ns((hi << 32) | lo, int(if_tick[iface]))
            row += 1
        elif btype == 3:
            if nif == 0:
                return row - first, pos, ScanStatus.NO_INTERFACE
            origlen = u32.unpack_from(data, pos + 8)[0]
            caplen = max(0, min(origlen, blen - 16))
            offsets[row] = pos + 12
            caplens[row] = caplen
            origlens[row] = min(origlen, _I32_MAX)
            linktypes[row] = if_link[0]
            time_ns[row] = 0
            row += 1
        pos += blen


__all__ = ["MAX_RECORD", "ScanStatus", "scan_pcap", "scan_pcapng"]
