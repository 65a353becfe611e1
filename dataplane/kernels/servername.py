"""Server name from a flow's first payload: TLS ClientHello SNI or HTTP/1.x Host.

`server_names(buf, offsets: int64[n], lengths: int32[n]) -> ServerNameColumns`. Columns,
`NameKind` codes, what is parsed and the sources are documented in servername_py.py (the twin,
which also serves DATAPLANE_PURE_PYTHON=1). Called once per flow, not per packet: the caller
passes each flow's first payload (or its first segments concatenated, for a split ClientHello).
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.servername_py import NameKind, ServerNameColumns
from dataplane.kernels.servername_py import server_names as server_names_py
from dataplane.kernels.slices import compiled_args

_ext = compiled("servername")


def server_names_compiled(buf: bytes | bytearray | memoryview | np.ndarray, offsets: np.ndarray,
                          lengths: np.ndarray) -> ServerNameColumns:
    if _ext is None:
        raise RuntimeError("compiled server-name kernel not loaded")
    data, off, size = compiled_args(buf, offsets, lengths)
    out = ServerNameColumns.empty(off.shape[0])
    _ext.server_names(data, off, size, *out)
    return out


server_names = server_names_compiled if _ext is not None else server_names_py

__all__ = ["NameKind", "ServerNameColumns", "server_names", "server_names_compiled",
           "server_names_py"]
