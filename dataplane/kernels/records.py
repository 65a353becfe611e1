"""Copy runs of bytes between buffers: public entry point (compiled kernel or twin).

`copy_runs(src, src_at, length, dst, dst_at)`: dst[dst_at[k]:dst_at[k]+length[k]] =
src[src_at[k]:src_at[k]+length[k]] for every run k (records of a capture file assembled from
the frames of a batch: io/records.py).
Takes: `src`, `dst` uint8 arrays (dst writable, C-contiguous); int64-convertible columns of
equal length. Errors: ValueError when the columns differ in length, a length is negative or a
run falls outside either buffer (checked on columns before any byte moves).
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.records_py import copy_runs as copy_runs_py

_ext = compiled("records")


def copy_runs(src: np.ndarray, src_at: np.ndarray, length: np.ndarray, dst: np.ndarray,
              dst_at: np.ndarray) -> None:
    src_at, length, dst_at = (np.ascontiguousarray(x, dtype=np.int64)
                              for x in (src_at, length, dst_at))
    if not src_at.size == length.size == dst_at.size:
        raise ValueError("copy_runs: columns differ in length")
    if src_at.size:
        if length.min() < 0:
            raise ValueError("copy_runs: negative run length")
        if src_at.min() < 0 or dst_at.min() < 0 or (src_at + length).max() > src.size or (
                dst_at + length).max() > dst.size:
            raise ValueError("copy_runs: a run falls outside its buffer")
    if _ext is not None:
        _ext.copy_runs(np.ascontiguousarray(src, dtype=np.uint8), src_at, length, dst, dst_at)
    else:
        copy_runs_py(src, src_at, length, dst, dst_at)
