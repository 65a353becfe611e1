"""Byte buffers cut into records: the argument handling every buffer kernel shares.

`compiled_args(buf, offsets, lengths)` -> (uint8 array, int64 offsets, int32 lengths), contiguous,
for a compiled kernel (raises ValueError when offsets and lengths differ in shape).
`records(buf, offsets, lengths)` -> the plain-Python twins' view: (index, the record's bytes, or
None when it lies outside the buffer) for each record (same ValueError).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

Buffer = bytes | bytearray | memoryview | np.ndarray


def compiled_args(buf: Buffer, offsets: np.ndarray, lengths: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf
    data = np.ascontiguousarray(data, dtype=np.uint8).ravel()
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    size = np.ascontiguousarray(lengths, dtype=np.int32)
    if off.shape != size.shape or off.ndim != 1:
        raise ValueError("offsets and lengths differ in length")
    return data, off, size


def records(buf: Buffer, offsets: np.ndarray, lengths: np.ndarray
            ) -> Iterator[tuple[int, bytes | None]]:
    data = bytes(buf)
    off = np.asarray(offsets, dtype=np.int64).tolist()
    size = np.asarray(lengths, dtype=np.int32).tolist()
    if len(off) != len(size):
        raise ValueError("offsets and lengths differ in length")
    for i, (o, c) in enumerate(zip(off, size, strict=True)):
        yield i, (None if o < 0 or c < 0 or o + c > len(data) else data[o:o + c])
