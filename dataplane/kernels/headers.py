"""Header extraction: frame bytes (a pcap buffer + offsets) -> packet columns + parse status.

`extract(buf, offsets: int64[n], caplens: int32[n], linktype: int) -> HeaderColumns`
(link types 1 Ethernet, 101 raw IP, 228 raw IPv4, 229 raw IPv6). Columns, `ParseStatus` codes
and FRAG_* values are documented in headers_py.py (the twin, which also serves
DATAPLANE_PURE_PYTHON=1). Malformed or truncated frames get a status, never an out-of-bounds read.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.headers_py import (
    FRAG_FIRST,
    FRAG_LATER,
    FRAG_NONE,
    HeaderColumns,
    ParseStatus,
)
from dataplane.kernels.headers_py import extract as extract_py
from dataplane.kernels.slices import compiled_args

_ext = compiled("headers")


def extract_compiled(buf: bytes | bytearray | memoryview | np.ndarray, offsets: np.ndarray,
                     caplens: np.ndarray, linktype: int) -> HeaderColumns:
    if _ext is None:
        raise RuntimeError("compiled header kernel not loaded")
    data, off, cap = compiled_args(buf, offsets, caplens)
    out = HeaderColumns.empty(off.shape[0])
    _ext.extract(data, off, cap, int(linktype), *out)
    return out


extract = extract_compiled if _ext is not None else extract_py

__all__ = ["FRAG_FIRST", "FRAG_LATER", "FRAG_NONE", "HeaderColumns", "ParseStatus", "extract",
           "extract_compiled", "extract_py"]
