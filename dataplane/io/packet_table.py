"""Per-packet results as Arrow record batches, written as Parquet (pyarrow) and CSV (pyarrow's
vectorised CSV writer): one row per packet, built from the batch columns without a Python
object per packet.

Columns (`COLUMNS`, camelCase as az prints keys): index, capture, record, timeInNs, sourceIp,
destinationIp, protocol, sourcePort, destinationPort, length, disposition, deciding, hops,
timeOutNs, latencyNs, parseStatus, and when the engine hands over translated addresses
(`final_*` columns: NAT, load balancers; engine/conntrack.py) finalSourceIp,
finalDestinationIp, finalSourcePort, finalDestinationPort, and serverName (the TLS SNI or HTTP
Host the packet's flow asked for, as Azure Firewall's application rules read it:
engine/payload.py; empty when the flow has none, or none is known), and caveats (the keys
of the named caveats touching the packet's path, ';'-joined, empty when none: io/caveat_counts.py,
summary.json's `caveats` texts them). timeOutNs and latencyNs are empty (null) for a packet that
did not arrive (not delivered and not left the network). Rows without an IP header (non-IP
frames such as ARP, status NOT_IP; frames cut before their IP header) have empty (null)
addresses, protocol and ports rather than 0.0.0.0 / 0. Strings with few distinct values
(addresses, names, hop paths) are dictionary-encoded: each distinct value is formatted once per
batch. Parquet is written uncompressed, without statistics, dictionary pages for those string
columns only (the writer keeps up with the engine). A new column is one entry in `COLUMNS`: a name and a function of the batch (`Batch`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataplane.dispositions import PASSED_CODES
from dataplane.dispositions import Disposition as D
from dataplane.io.paths import PathIndex
from dataplane.kernels.headers import ParseStatus

PROTOCOL_NAMES = {6: "Tcp", 17: "Udp", 1: "Icmp", 58: "Icmpv6", 50: "Esp", 51: "Ah"}
_DISPOSITIONS = pa.array([D(v).name if v in D._value2member_map_ else ""  # codes may have gaps
                          for v in range(int(max(D)) + 1)])
_STATUSES = pa.array([s.name for s in ParseStatus])
_STATUS_CODE = {s.name: int(s) for s in ParseStatus}


@dataclass
class Batch:
    """One decided batch as the table needs it."""

    cols: dict[str, np.ndarray]
    paths: PathIndex
    first_index: int
    node_names: tuple[str, ...]
    labels: tuple[str, ...] | list[str]
    server_names: Sequence[str] = ()  # name id -> the name asked ('' for none)
    caveats: pa.Array | None = None  # per row, caveat keys ';'-joined (None: none known)

    @property
    def size(self) -> int:
        return int(self.cols["disposition"].size)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """(distinct values in first-seen order, each row's index among them): Arrow's hash
    dictionary encoder, no sort."""
    encoded = pc.dictionary_encode(pa.array(values))
    return encoded.dictionary.to_numpy(zero_copy_only=False), encoded.indices


def _dictionary(values: np.ndarray, render: Callable[[int], str]) -> pa.DictionaryArray:
    distinct, indices = _distinct(values)
    return pa.DictionaryArray.from_arrays(indices, pa.array([render(v) for v in
                                                             distinct.tolist()]))


def _address(values: np.ndarray) -> pa.DictionaryArray:
    """Dotted quads: each distinct address formatted once, by Arrow (octets cast and joined)."""
    distinct, indices = _distinct(values.astype(np.int64) & 0xFFFFFFFF)
    octets = [pa.array(((distinct >> shift) & 255).astype(np.uint8)).cast(pa.string())
              for shift in (24, 16, 8, 0)]
    return pa.DictionaryArray.from_arrays(indices, pc.binary_join_element_wise(*octets, "."))


def _address_of(b: Batch, which: str) -> pa.DictionaryArray:
    """Column `which` (src, dst, final_src, final_dst) as text: IPv4 rows dotted quads,
    IPv6 rows from their 64-bit halves (`which`_hi / _lo; final_*: after an ILB's IPv6
    DNAT or un-DNAT, engine/batch.py final6)."""
    six = b.cols["family"] == 6 if "family" in b.cols else np.zeros(b.size, bool)
    if not six.any() or f"{which}_hi" not in b.cols:
        return _address(b.cols[which])
    # One key per row (family flag, high half, low half; IPv4 rows: 0, 0, address), the
    # distinct keys found by numpy (vectorised) and each formatted once.
    keys = np.empty(b.size, dtype=[("six", "u1"), ("hi", "u8"), ("lo", "u8")])
    keys["six"] = six
    # uint64 on both sides: numpy promotes uint64 with int64 to float64, which rounds the low
    # half of an IPv6 address (new-user trial: ...:29cc:1c40 written as ...:29cc:2000)
    keys["hi"] = np.where(six, b.cols[f"{which}_hi"].astype(np.uint64), np.uint64(0))
    keys["lo"] = np.where(six, b.cols[f"{which}_lo"].astype(np.uint64),
                          (b.cols[which].astype(np.int64) & 0xFFFFFFFF).astype(np.uint64))
    distinct, index = np.unique(keys, return_inverse=True)
    names = [str(ipaddress.IPv6Address(int(hi) << 64 | int(lo))) if v6
             else str(ipaddress.IPv4Address(int(lo))) for v6, hi, lo in distinct.tolist()]
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32).ravel()),
                                          pa.array(names, pa.string()))


def _no_ip_header(b: Batch) -> np.ndarray:
    """Rows without an IP header: non-IP frames (status NOT_IP) and unparsed frames whose
    header columns are all zero (cut before the IP header)."""
    c = b.cols
    d = c["disposition"]
    odd = (d == D.UNPARSED) | (d == D.UNSUPPORTED)
    if not odd.any():
        return np.zeros(b.size, bool)
    not_ip = np.zeros(b.size, bool)
    rows = np.flatnonzero(odd)
    not_ip[rows] = [str(s) == ParseStatus.NOT_IP.name for s in c["status"][rows].tolist()]
    cut = odd & (d == D.UNPARSED) & (c["src"] == 0) & (c["dst"] == 0) & (c["proto"] == 0)
    return not_ip | cut


def _blank(make: Callable[[Batch], pa.Array]) -> Callable[[Batch], pa.Array]:
    """`make`'s column with the rows without an IP header null (empty CSV cells)."""
    def column(b: Batch) -> pa.Array:
        values = make(b)
        empty = _no_ip_header(b)
        if not empty.any():
            return values
        if isinstance(values, pa.DictionaryArray):
            return pa.DictionaryArray.from_arrays(
                pa.array(values.indices.to_numpy(zero_copy_only=False), mask=empty),
                                                  values.dictionary)
        return pa.array(values.to_numpy(zero_copy_only=False), mask=empty)
    return column


def _hops(b: Batch) -> pa.DictionaryArray:
    """Hop paths 'web1 > nva1 > db1': each distinct path rendered once (io/paths.py)."""
    return pa.DictionaryArray.from_arrays(pa.array(b.paths.index.astype(np.int32)),
                                          pa.array(b.paths.names(b.node_names)))


def _arrived(b: Batch) -> np.ndarray:
    d = b.cols["disposition"]
    return np.isin(d, PASSED_CODES)


def _time_out(b: Batch) -> pa.Array:
    return pa.array(b.cols["time_out"].astype(np.int64), mask=~_arrived(b))


def _latency(b: Batch) -> pa.Array:
    c = b.cols
    return pa.array((c["time_out"] - c["time_in"]).astype(np.int64), mask=~_arrived(b))


def _protocol(b: Batch) -> pa.DictionaryArray:
    return _dictionary(b.cols["proto"].astype(np.int64),
                       lambda v: PROTOCOL_NAMES.get(v, str(v)))


def _deciding(b: Batch) -> pa.DictionaryArray:
    return _dictionary(b.cols["deciding"].astype(np.int64),
                       lambda v: b.labels[v] if v >= 0 else "")


def _server_name(b: Batch) -> pa.DictionaryArray:
    return _dictionary(b.cols["server_name"].astype(np.int64),
                       lambda v: b.server_names[v] if v < len(b.server_names) else "")


def _status(b: Batch) -> pa.DictionaryArray:
    """Parse status names; only unparsed/unsupported rows can be other than OK."""
    code = np.zeros(b.size, dtype=np.int32)
    d = b.cols["disposition"]
    odd = np.flatnonzero((d == D.UNPARSED) | (d == D.UNSUPPORTED))
    if odd.size:
        code[odd] = [_STATUS_CODE[str(name)] for name in b.cols["status"][odd].tolist()]
    return pa.DictionaryArray.from_arrays(pa.array(code), _STATUSES)


def _caveats(b: Batch) -> pa.Array:
    """The caveat keys per row (io/caveat_counts.py CaveatCounter.add); '' for a batch
    without them (the empty table written when no packet was read)."""
    if b.caveats is not None:
        return b.caveats
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(b.size, np.int32)),
                                          pa.array([""]))


# (name, the batch column it needs or None, builder)
COLUMNS: tuple[tuple[str, str | None, Callable[[Batch], pa.Array]], ...] = (
    ("index", None, lambda b: pa.array(np.arange(b.first_index, b.first_index + b.size))),
    ("capture", None, lambda b: pa.array(b.cols["capture"].astype(np.int32))),
    ("record", None, lambda b: pa.array(b.cols["record"].astype(np.int64))),
    ("timeInNs", None, lambda b: pa.array(b.cols["time_in"].astype(np.int64))),
    ("sourceIp", None, _blank(lambda b: _address_of(b, "src"))),
    ("destinationIp", None, _blank(lambda b: _address_of(b, "dst"))),
    ("protocol", None, _blank(_protocol)),
    ("sourcePort", None, _blank(lambda b: pa.array(b.cols["sport"].astype(np.int32)))),
    ("destinationPort", None,
     _blank(lambda b: pa.array(b.cols["dport"].astype(np.int32)))),
    ("length", None, lambda b: pa.array(b.cols["length"].astype(np.int32))),
    ("disposition", None, lambda b: pa.DictionaryArray.from_arrays(
        pa.array(b.cols["disposition"].astype(np.int32)), _DISPOSITIONS)),
    ("deciding", None, _deciding),
    ("hops", None, _hops),
    ("timeOutNs", None, _time_out),
    ("latencyNs", None, _latency),
    ("parseStatus", None, _status),
    ("finalSourceIp", "final_src", _blank(lambda b: _address_of(b, "final_src"))),
    ("finalDestinationIp", "final_dst", _blank(lambda b: _address_of(b, "final_dst"))),
    ("finalSourcePort", "final_sport",
     _blank(lambda b: pa.array(b.cols["final_sport"].astype(np.int32)))),
    ("finalDestinationPort", "final_dport",
     _blank(lambda b: pa.array(b.cols["final_dport"].astype(np.int32)))),
    ("serverName", "server_name", _server_name),
    ("caveats", None, _caveats),
)


def record_batch(batch: Batch) -> pa.RecordBatch:
    chosen = [(name, make) for name, needs, make in COLUMNS
              if needs is None or needs in batch.cols]
    return pa.RecordBatch.from_arrays([make(batch) for _, make in chosen],
                                      names=[name for name, _ in chosen])


class PacketTableWriter:
    """Writes record batches to packets.parquet and/or packets.csv as they come."""

    def __init__(self, parquet: Path | None, csv: Path | None) -> None:
        self.parquet_path, self.csv_path = parquet, csv
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None

    @property
    def started(self) -> bool:
        """True once a file was opened (an empty replay still gets its files, with the
        columns)."""
        return self._parquet is not None or self._csv is not None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.parquet_path is not None:
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(
                    self.parquet_path, batch.schema, compression="none",
                    use_dictionary=[f.name for f in batch.schema
                                    if pa.types.is_dictionary(f.type)],
                    write_statistics=False)
            self._parquet.write_batch(batch)
        if self.csv_path is not None:
            plain = pa.RecordBatch.from_arrays(
                [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                 for c in batch.columns], names=batch.schema.names)
            if self._csv is None:
                self._csv = pacsv.CSVWriter(self.csv_path, plain.schema)
            self._csv.write_batch(plain)

    def close(self) -> None:
        for writer in (self._parquet, self._csv):
            if writer is not None:
                writer.close()
