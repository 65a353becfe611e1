"""Capture records assembled in numpy buffers: classic pcap (nanosecond) and pcapng blocks.

Takes frames as (buffer, offsets, caplens, origlens) columns and per-record timestamps (int64
ns); emits the bytes of a whole run of records at once (`pcap_records`, `epb_records`), so a
writer does one `write` per batch, never one per packet. Also the file headers
(`pcap_header`, `pcapng_section_header`, `pcapng_interface_block`).
Timestamps: pcap holds 32-bit seconds, so arrival times outside [0, 2^32 s) are clamped into it
and counted (`clamped`, reported as a caveat by the writer); pcapng holds 64-bit nanoseconds
(if_tsresol 9), so only negative times are clamped to 0. Formats: the pcap file format
(nanosecond magic 0xA1B23C4D) and pcapng (IETF draft-ietf-opsawg-pcapng, sections 4.1, 4.2,
4.3: SHB, IDB, EPB with opt_comment).
"""

from __future__ import annotations

import struct

import numpy as np

from dataplane.kernels.records import copy_runs

PCAP_MAX_S = (1 << 32) - 1
NS = 1_000_000_000


def pcap_header(linktype: int, snaplen: int = 262144) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, linktype)


def pcapng_section_header() -> bytes:
    return struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)


def pcapng_interface_block(linktype: int) -> bytes:
    """An IDB for a pcap link-type field: its low 16 bits are the link type (libpcap's FCS and
    reserved bits above them have no place in a pcapng LinkType)."""
    linktype &= 0xFFFF
    opt = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # if_tsresol: ns
    length = 20 + len(opt)
    return struct.pack("<IIHHI", 1, length, linktype, 0, 0) + opt + struct.pack("<I", length)


def _starts(lengths: np.ndarray) -> np.ndarray:
    starts = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def _put_words(out: np.ndarray, at: np.ndarray, words: np.ndarray) -> None:
    """Write rows of little-endian uint32 words at byte offsets `at`."""
    raw = np.ascontiguousarray(words, dtype="<u4").view(np.uint8).ravel()
    size = 4 * words.shape[1]
    copy_runs(raw, np.arange(at.size, dtype=np.int64) * size,
              np.full(at.size, size, dtype=np.int64), out, at)


def pcap_records(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                 origlens: np.ndarray, time_ns: np.ndarray) -> tuple[np.ndarray, int]:
    """(bytes of the records, how many timestamps were clamped into the 32-bit range)."""
    n = offsets.size
    lengths = 16 + caplens.astype(np.int64)
    starts = _starts(lengths)
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    clamped = np.clip(time_ns, 0, PCAP_MAX_S * NS + NS - 1)
    count = int(np.count_nonzero(clamped != time_ns))
    words = np.empty((n, 4), dtype=np.uint32)
    words[:, 0] = clamped // NS
    words[:, 1] = clamped % NS
    words[:, 2] = caplens
    words[:, 3] = origlens
    _put_words(out, starts, words)
    copy_runs(buf, offsets.astype(np.int64), caplens.astype(np.int64), out, starts + 16)
    return out, count


def comment_options(comments: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The opt_comment + opt_endofopt bytes of each comment: (buffer, offsets, lengths)."""
    parts = []
    for text in comments:
        data = text.encode()[:60000]
        parts.append(struct.pack("<HH", 1, len(data)) + data + b"\0" * (-len(data) % 4)
                     + struct.pack("<HH", 0, 0))
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    return np.frombuffer(b"".join(parts), dtype=np.uint8), _starts(lengths), lengths


def epb_records(buf: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                origlens: np.ndarray, time_ns: np.ndarray, interface: np.ndarray,
                options: tuple[np.ndarray, np.ndarray, np.ndarray], option: np.ndarray
                ) -> np.ndarray:
    """Enhanced Packet Blocks; record i carries option entry `option[i]` of `options`."""
    n = offsets.size
    caplens = caplens.astype(np.int64)
    opt_buf, opt_off, opt_len = options
    padded = caplens + (-caplens % 4)
    lengths = 28 + padded + opt_len[option] + 4
    starts = _starts(lengths)
    out = np.zeros(int(lengths.sum()), dtype=np.uint8)
    t = np.maximum(time_ns, 0).astype(np.uint64)
    words = np.empty((n, 7), dtype=np.uint32)
    words[:, 0] = 6
    words[:, 1] = lengths
    words[:, 2] = interface
    words[:, 3] = t >> np.uint64(32)
    words[:, 4] = t & np.uint64(0xFFFFFFFF)
    words[:, 5] = caplens
    words[:, 6] = origlens
    _put_words(out, starts, words)
    copy_runs(buf, offsets.astype(np.int64), caplens, out, starts + 28)
    copy_runs(opt_buf, opt_off[option], opt_len[option], out, starts + 28 + padded)
    _put_words(out, starts + lengths - 4, lengths.astype(np.uint32)[:, None])
    return out
