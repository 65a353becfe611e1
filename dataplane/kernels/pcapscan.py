"""Capture record scanner: pcap / pcapng bytes -> offsets, caplens, origlens, link types, ns.

`scan_pcap(buf, pos, big_endian, unit_ns, offsets, caplens, origlens, time_ns, first)` and
`scan_pcapng(buf, pos, big_endian, if_link, if_tick, offsets, caplens, origlens, linktypes,
time_ns, first)` -> (count, pos, ScanStatus). The contract (status codes, what stops a scan,
what the caller must do next) is in pcapscan_py.py, the twin, which also serves
DATAPLANE_PURE_PYTHON=1. The driver that reads files in bounded chunks, refills the window and
turns statuses into accounting is dataplane/io/capture.py.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.pcapscan_py import MAX_RECORD, ScanStatus
from dataplane.kernels.pcapscan_py import scan_pcap as scan_pcap_py
from dataplane.kernels.pcapscan_py import scan_pcapng as scan_pcapng_py

_ext = compiled("pcapscan")


def scan_pcap_compiled(buf: np.ndarray, pos: int, big_endian: bool, unit_ns: int,
                       offsets: np.ndarray, caplens: np.ndarray, origlens: np.ndarray,
                       time_ns: np.ndarray, first: int) -> tuple[int, int, int]:
    if _ext is None:
        raise RuntimeError("compiled pcapscan kernel not loaded")
    n, p, s = _ext.scan_pcap(buf, int(pos), bool(big_endian), int(unit_ns), offsets, caplens,
                             origlens, time_ns, int(first))
    return n, p, ScanStatus(s)


def scan_pcapng_compiled(buf: np.ndarray, pos: int, big_endian: bool, if_link: np.ndarray,
                         if_tick: np.ndarray, offsets: np.ndarray, caplens: np.ndarray,
                         origlens: np.ndarray, linktypes: np.ndarray, time_ns: np.ndarray,
                         first: int) -> tuple[int, int, int]:
    if _ext is None:
        raise RuntimeError("compiled pcapscan kernel not loaded")
    n, p, s = _ext.scan_pcapng(buf, int(pos), bool(big_endian), if_link, if_tick, offsets,
                               caplens, origlens, linktypes, time_ns, int(first))
    return n, p, ScanStatus(s)


scan_pcap = scan_pcap_compiled if _ext is not None else scan_pcap_py
scan_pcapng = scan_pcapng_compiled if _ext is not None else scan_pcapng_py

__all__ = ["MAX_RECORD", "ScanStatus", "scan_pcap", "scan_pcap_compiled",
           "scan_pcap_py", "scan_pcapng", "scan_pcapng_compiled", "scan_pcapng_py"]
