"""Several captures merged on columns == the previous heapq.merge over per-record tuples."""

from __future__ import annotations

import heapq
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataplane.engine.emulator import _merged
from dataplane.io.capture import CaptureStats, read_batches


def _heapq_merged(paths, batch):
    """The record order of the per-record implementation this replaced."""
    stats = [CaptureStats(str(p)) for p in paths]

    def records(ci):
        for rb in read_batches(paths[ci], stats[ci], batch):
            for k in range(len(rb)):
                o, n = int(rb.offsets[k]), int(rb.caplens[k])
                yield (int(rb.time_ns[k]), ci, int(rb.record[k]), bytes(rb.buf[o:o + n]),
                       int(rb.origlens[k]))

    out = list(heapq.merge(*(records(i) for i in range(len(paths))), key=lambda r: (r[0], r[1])))
    return [out[i:i + batch] for i in range(0, len(out), batch)]


def _columns_merged(paths, batch):
    stats = [CaptureStats(str(p)) for p in paths]
    out = []
    for ci, rb in _merged(paths, stats, batch):
        cis = np.broadcast_to(ci, (len(rb),))
        out.append([(int(rb.time_ns[k]), int(cis[k]), int(rb.record[k]),
                     bytes(rb.buf[int(rb.offsets[k]):int(rb.offsets[k]) + int(rb.caplens[k])]),
                     int(rb.origlens[k])) for k in range(len(rb))])
    return out


captures = st.lists(st.lists(st.tuples(st.integers(0, 6), st.binary(min_size=1, max_size=9)),
                             max_size=25), min_size=2, max_size=3)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(captures, st.sampled_from([1, 2, 5, 64]), st.booleans())
def test_merge_matches_heapq(tmp_path, caps, batch, monotone):
    paths = []
    for i, recs in enumerate(caps):
        times = [t for t, _ in recs]
        if monotone:
            times = sorted(times)
        data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        for t, (_, payload) in zip(times, recs, strict=True):
            data += struct.pack("<IIII", t, 0, len(payload), len(payload) + 3) + payload
        p = tmp_path / f"c{i}.pcap"
        p.write_bytes(data)
        paths.append(p)
    assert _columns_merged(paths, batch) == _heapq_merged(paths, batch)
