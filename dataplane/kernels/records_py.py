"""Copy runs of bytes between buffers: the plain-Python twin of ext/records.pyx.

`copy_runs(src, src_at, length, dst, dst_at)`: for every k, dst[dst_at[k]:dst_at[k] +
length[k]] = src[src_at[k]:src_at[k] + length[k]]. Inputs as the compiled kernel takes them
(uint8 buffers, int64 columns), bounds already checked by the wrapper.
"""

from __future__ import annotations

import numpy as np


def copy_runs(src: np.ndarray, src_at: np.ndarray, length: np.ndarray, dst: np.ndarray,
              dst_at: np.ndarray) -> None:
    for s, n, d in zip(src_at.tolist(), length.tolist(), dst_at.tolist(), strict=True):
        if n > 0:
            dst[d:d + n] = src[s:s + n]
