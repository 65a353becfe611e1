"""Replay outputs, written a batch at a time from columns, in memory that does not grow with the
capture: per-VM pcaps, dropped.pcapng, packets.parquet / packets.csv, summary.json.

Takes: decided batches (the Emulator's sink: columns, node paths, the RecordBatch frames) and
the emulator (its network's names, the address map, assumptions). Emits in `out` (and nowhere
else):
- `<vm>.pcap` per receiving VM: nanosecond pcap, frames delivered to that VM stamped with their
  emulated arrival time, in processing order (io/records.py; arrival times >= 2^32 s are
  clamped and counted as a caveat). File names come from resource names sanitised
  (`safe_file_name`: letters, digits, '.', '_' and '-'; never a path) and de-duplicated
  case-insensitively; the VM -> file map is summary.json's `pcapFiles`.
- `dropped.pcapng`: every dropped and unparsed frame, its Enhanced Packet Block's opt_comment
  "DISPOSITION: reason; deciding"; one interface per link type.
- `packets.parquet` / `packets.csv`: one row per packet (io/packet_table.py); its `caveats`
  column holds the keys of the caveats the engine decided for the row (a re-opened idled-out
  TCP flow, a source address several VNets hold)
  and of the path caveats (io/caveat_counts.py) that touch the packet, so summary.json's count
  of each of those equals the rows whose cell holds its key. The
  replay's own caveats (latency histogram, clamped pcap times, IPv6 frames left as captured)
  are about the histogram and the pcaps, which the row's exact columns do not share: they are
  in no cell, and their summary.json entries say so (`"inPacketsTable": false`).
- `summary.json`: running aggregates (io/aggregates.py) plus captures, address map, timing,
  assumptions, caveats (`caveats()`: {key, text, resources, packets}, the replay's own then the
  emulator's `path_caveats()` counted per packet path, io/caveat_counts.py), and the files written; `accounting` (`accounting()`: read = delivered
  + leftNetwork + dropped + unparsed, UNSUPPORTED counted in dropped, the rule stated in the
  file) and `fragmentChains` (engine/conntrack.py FragmentChains counters: chains opened,
  followers, completed, expired, out of order dropped / forwarded, state-full drops, chains
  still open, and the out-of-order mode of the run).
`Outputs` switches each file off. Frames are written as the emulated network carries them
(io/rewrite.py): the address map's source and destination; a delivered packet as its receiver
sees it: the engine's final (translated) addresses and ports (`final_src`, `final_dst`,
`final_sport`, `final_dport`: load-balancer DNAT, reply un-DNAT; engine/conntrack.py), never
derived again here. Frames whose addresses and ports do not change are written as captured.
Link type: a classic pcap holds one, so a VM receiving frames of several link types (a pcapng
with mixed interfaces) gets one pcap per link type: `<vm>.pcap` for the first,
`<vm>.linktype<N>.pcap` for each other (summary.json `pcapFilesByLinkType`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataplane.dispositions import DROPPED, EXITED, PASSED_CODES
from dataplane.dispositions import Disposition as D
from dataplane.io.aggregates import LATENCY_CAVEAT, Aggregates
from dataplane.io.caveat_counts import CaveatCounter, sent_ipv4, with_row_keys
from dataplane.io.packet_table import Batch, PacketTableWriter, record_batch
from dataplane.io.paths import PathIndex
from dataplane.io.records import (
    comment_options,
    epb_records,
    pcap_header,
    pcap_records,
    pcapng_interface_block,
    pcapng_section_header,
)
from dataplane.io.rewrite import rewrite_frames, rewrite_frames6
from dataplane.kernels.headers import extract

RESERVED = {"summary", "packets", "dropped"}
ACCOUNTING_RULE = ("read = delivered + leftNetwork + dropped + unparsed; dropped includes "
                   "unsupported (parsed, not carried: frames that are not IP, later fragments "
                   "of a datagram not emulated); unreadable records are counted apart")


def accounting(counts: Mapping[str, int], read: int) -> dict[str, Any]:
    """The accounting invariant of a run from its disposition counts (name -> packets):
    delivered, leftNetwork (EXITED), dropped (DROPPED, UNSUPPORTED included; `unsupported`
    repeats its share), unparsed, and `holds` (the sum equals `read`)."""
    def total(kinds: frozenset[D]) -> int:
        return sum(int(counts.get(d.name, 0)) for d in kinds)

    terms = {"delivered": int(counts.get(D.DELIVERED.name, 0)), "leftNetwork": total(EXITED),
             "dropped": total(DROPPED), "unparsed": int(counts.get(D.UNPARSED.name, 0))}
    return {"read": read, **terms, "unsupported": int(counts.get(D.UNSUPPORTED.name, 0)),
            "holds": sum(terms.values()) == read, "rule": ACCOUNTING_RULE}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Outputs:
    csv: bool = False
    parquet: bool = True
    pcaps: bool = True
    dropped: bool = True


def safe_file_name(name: str, taken: set[str]) -> str:
    """A file name stem for a resource name: no separators, no leading dots, not reserved,
    not in `taken` (compared case-insensitively; the result is added to it)."""
    stem = _UNSAFE.sub("_", name).strip("._-")[:100] or "vm"
    if stem.lower() in RESERVED:
        stem += "-vm"
    candidate, n = stem, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate.lower())
    return candidate


def _inside(out: Path, name: str) -> Path:
    path = out / name
    if path.resolve().parent != out.resolve():
        raise ValueError(f"refusing to write {name!r} outside {out}")  # unreachable by design
    return path


class _PcapFile:
    def __init__(self, path: Path, linktype: int) -> None:
        self.file: BinaryIO = path.open("wb")
        self.file.write(pcap_header(linktype))


class ReplayWriter:
    def __init__(self, out: Path, emulator: Any, outputs: Outputs = Outputs()) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.em = emulator
        self.outputs = outputs
        net = emulator.net
        self.node_names: tuple[str, ...] = tuple(net.node_names)
        self.labels = emulator.batch.labels.names
        self.aggregates = Aggregates(self.node_names, net.node_region, net.node_vnet,
                                     tuple(net.vnet_names), self.labels)
        self.path_caveats = CaveatCounter(emulator.path_caveats(), len(self.node_names))
        self.table = PacketTableWriter(
            _inside(out, "packets.parquet") if outputs.parquet else None,
            _inside(out, "packets.csv") if outputs.csv else None)
        self.vm_files: dict[tuple[int, int], _PcapFile] = {}  # (node, link type) -> file
        self.pcap_names: dict[str, str] = {}  # VM -> its first pcap
        self.pcap_links: dict[str, dict[str, str]] = {}  # VM -> link type -> pcap
        self._taken: set[str] = set(RESERVED)
        self.dropped: BinaryIO | None = None
        self.interfaces: dict[int, int] = {}
        self.comments: dict[tuple[int, int], int] = {}
        self.clamped = 0
        self.unrewritten6 = 0  # IPv6 frames with extension headers left as captured
        self.row_counts: dict[str, int] = {}  # per-row caveat line -> rows (em.row_caveats)
        self.index = 0

    # -- the sink --
    def __call__(self, cols: dict[str, np.ndarray], nodes: np.ndarray, rb: Any) -> None:
        n = int(cols["disposition"].size)
        paths = PathIndex.of(nodes)
        self.aggregates.add(cols, paths)
        flagged = self.em.row_caveats(cols)  # engine/results.py: reopened, ambiguous source
        for line, mask in flagged:
            self.row_counts[line] = self.row_counts.get(line, 0) + int(mask.sum())
        caveats = with_row_keys(  # the path's caveats (counted), after the row's own
            self.path_caveats.add(paths, cols["length"], sent_ipv4(cols)),
            [(_key(line), mask) for line, mask in flagged])
        if self.outputs.parquet or self.outputs.csv:
            self.table.write(record_batch(Batch(cols, paths, self.index, self.node_names,
                                                self.labels, self._server_names(), caveats)))
        if self.outputs.pcaps or self.outputs.dropped:
            self._frames(cols, rb, paths.last)
        self.index += n

    def _server_names(self) -> list[str]:
        """Per name id of the emulator's flow names (engine/payload.py NameTable), the name
        a flow asked for ('' when none is known: packets.csv's serverName)."""
        table = self.em.batch.flow_names.table
        return [n.name if n.protocol else "" for n in table.names]

    def _frames(self, cols: dict[str, np.ndarray], rb: Any, last: np.ndarray) -> None:
        disp = cols["disposition"]
        parsed = np.flatnonzero((disp != D.UNPARSED) & (disp != D.UNSUPPORTED))
        delivered = disp == D.DELIVERED
        src, dst, sport, dport = self._as_received(cols, last, delivered)
        if self._identity_map():  # captured addresses kept: only translated frames change
            moved = parsed[(src[parsed] != cols["src"][parsed])
                           | (dst[parsed] != cols["dst"][parsed])
                           | (sport[parsed] != cols["sport"][parsed])
                           | (dport[parsed] != cols["dport"][parsed])]
        else:
            moved = parsed[self._changed(rb, parsed, src, dst, sport, dport)]
        buf = rb.buf
        if moved.size:
            buf, _ = rewrite_frames(rb.buf, rb.offsets[moved], rb.caplens[moved],
                                    rb.linktypes[moved], src[moved], dst[moved],
                                    dport[moved], sport[moved])
        six = parsed[cols["family"][parsed] == 6] if "family" in cols else parsed[:0]
        if six.size:  # IPv6 frames: the address map's and the engine's (ILB) addresses
            halves = [np.where(delivered, cols[f"final_{k}"], cols[k])[six] for k in (
                "src_hi", "src_lo", "dst_hi", "dst_lo")]
            buf, _, skipped = rewrite_frames6(buf, rb.offsets[six], rb.caplens[six],
                                              rb.linktypes[six], *halves, dport[six],
                                              sport[six])
            self.unrewritten6 += skipped
        if self.outputs.pcaps:
            self._pcaps(buf, rb, cols, last, np.flatnonzero(delivered))
        if self.outputs.dropped:
            self._dropped(buf, rb, cols, np.flatnonzero(~np.isin(disp, PASSED_CODES)))

    def _identity_map(self) -> bool:
        """True when the replay's address map moves no IPv4 address (so far): no host or
        subnet entry. An emulator without a map (Emulator.replay_map) is not the identity."""
        amap = getattr(self.em, "replay_map", None)
        return amap is not None and amap.moves_no_ipv4_address()

    def _as_received(self, cols: dict[str, np.ndarray], last: np.ndarray,
                     delivered: np.ndarray) -> tuple[np.ndarray, ...]:
        """(src, dst, sport, dport) of every packet as written: delivered ones as their
        receiver sees them, the others as sent (after the address map)."""
        return tuple(np.where(delivered, cols[f"final_{k}"], cols[k]).astype(np.int64)
                     for k in ("src", "dst", "sport", "dport"))

    @staticmethod
    def _changed(rb: Any, rows: np.ndarray, src: np.ndarray, dst: np.ndarray,
                 sport: np.ndarray, dport: np.ndarray) -> np.ndarray:
        """Which of `rows` carry other addresses or port than captured (the compiled header
        kernel reads the captured ones), so only those frames are rewritten."""
        changed = np.zeros(rows.size, dtype=bool)
        links = rb.linktypes[rows]
        for link in np.unique(links).tolist():
            sel = np.flatnonzero(links == link)
            hc = extract(rb.buf, rb.offsets[rows[sel]], rb.caplens[rows[sel]], link)
            r = rows[sel]
            changed[sel] = ((hc.src4.astype(np.int64) != (src[r] & 0xFFFFFFFF))
                            | (hc.dst4.astype(np.int64) != (dst[r] & 0xFFFFFFFF))
                            | (hc.dport.astype(np.int64) != dport[r])
                            | (hc.sport.astype(np.int64) != sport[r]))
        return changed

    def _pcaps(self, buf: np.ndarray, rb: Any, cols: dict[str, np.ndarray], last: np.ndarray,
               rows: np.ndarray) -> None:
        """Delivered frames into their receiver's pcap: one file per (VM, link type), since a
        classic pcap holds one link type (the first link type a VM receives names the file
        `<vm>.pcap`, later ones `<vm>.linktype<N>.pcap`)."""
        if not rows.size:
            return
        receivers = last[rows].astype(np.int64)
        links = rb.linktypes[rows].astype(np.int64)
        keys = np.unique(np.stack([receivers, links], axis=1), axis=0)
        for node, link in keys.tolist():
            group = rows[(receivers == node) & (links == link)]
            if (node, link) not in self.vm_files:
                name = self.node_names[node]
                base = safe_file_name(name, self._taken) if name not in self.pcap_names else \
                    safe_file_name(f"{self.pcap_names[name][:-5]}.linktype{link}", self._taken)
                file = base + ".pcap"
                self.vm_files[(node, link)] = _PcapFile(_inside(self.out, file), link)
                self.pcap_names.setdefault(name, file)
                self.pcap_links.setdefault(name, {})[str(link)] = file
            data, clamped = pcap_records(buf, rb.offsets[group], rb.caplens[group],
                                         rb.origlens[group], cols["time_out"][group])
            self.clamped += clamped
            data.tofile(self.vm_files[(node, link)].file)

    def _dropped(self, buf: np.ndarray, rb: Any, cols: dict[str, np.ndarray],
                 rows: np.ndarray) -> None:
        if self.dropped is None:
            self.dropped = _inside(self.out, "dropped.pcapng").open("wb")
            self.dropped.write(pcapng_section_header())
        if not rows.size:
            return
        links = rb.linktypes[rows]
        for link in np.unique(links).tolist():
            if link not in self.interfaces:
                self.dropped.write(pcapng_interface_block(link))
                self.interfaces[link] = len(self.interfaces)
        kinds, which = np.unique(links, return_inverse=True)
        interface = np.array([self.interfaces[k] for k in kinds.tolist()],
                             dtype=np.int64)[which.ravel()]
        keys = cols["deciding"][rows].astype(np.int64) * 256 + cols["disposition"][rows]
        encoded = pc.dictionary_encode(pa.array(keys))
        inverse = encoded.indices.to_numpy().astype(np.int64)
        texts = []
        for dec, d in (divmod(k, 256) for k in encoded.dictionary.to_pylist()):
            disposition = D(d)
            label = self.labels[dec] if dec >= 0 else ""
            texts.append(f"{disposition.name}: {disposition.reason}; {label}")
        data = epb_records(buf, rb.offsets[rows], rb.caplens[rows], rb.origlens[rows],
                           cols["time_in"][rows], interface, comment_options(texts), inverse)
        data.tofile(self.dropped)

    def close(self) -> None:
        if not self.table.started and (self.outputs.parquet or self.outputs.csv):
            empty = {k: np.zeros(0, dtype=np.int64) for k in (
                "capture", "record", "time_in", "src", "dst", "proto", "sport", "dport",
                "length", "disposition", "deciding", "time_out")}
            empty["status"] = np.zeros(0, dtype=object)
            self.table.write(record_batch(Batch(empty, PathIndex.of(np.zeros((0, 1), np.int32)),
                                                0, self.node_names, self.labels)))
        self.table.close()
        if self.outputs.dropped and self.dropped is None:
            self._dropped(np.zeros(0, np.uint8), None, {}, np.zeros(0, np.int64))
        if self.dropped is not None:
            self.dropped.close()
        for f in self.vm_files.values():
            f.file.close()

    # -- summary.json --
    def caveats(self, counts: Mapping[str, int]) -> list[dict[str, Any]]:
        """summary.json's `caveats`: each {"key", "text", "resources", "packets",
        "inPacketsTable"} (packets whose answer it touches; whether packets.csv/parquet's
        `caveats` cells name it): the replay's own (latency histogram, clamped pcap times, IPv6 frames
        left as captured: in no cell), the engine's per-row ones (TCP packets that re-opened an
        idled-out flow, sources several VNets hold: in their
        rows' cells), then the topology's and its firewalls' (io/caveat_counts.py)."""
        timed = int(counts.get(D.DELIVERED.name, 0))  # what the histogram holds (aggregates.py)
        out = [_own("latency-histogram", LATENCY_CAVEAT, timed)]
        if self.clamped:
            out.append(_own("pcap-time-clamped", (
                "arrival time(s) outside the classic pcap range (0 .. 2^32 s) were clamped into "
                "it in the per-VM pcaps; dropped.pcapng and packets.parquet hold the exact "
                "nanoseconds"), self.clamped))
        if self.unrewritten6:
            out.append(_own("ipv6-frames-as-captured", (
                "IPv6 frame(s) with extension headers before their L4 header were written with "
                "their captured addresses and ports, not the mapped or translated ones "
                "(packets.parquet holds those)"), self.unrewritten6))
        # per-row caveats, in the rows' `caveats` cells (with_row_keys, same order)
        out += [_per_row(line, k) for line, k in self.row_counts.items() if k]
        return out + self.path_caveats.as_list()

    def files(self) -> list[str]:
        names = ["summary.json"]
        names += [f for f, on in (("packets.parquet", self.outputs.parquet),
                                  ("packets.csv", self.outputs.csv),
                                  ("dropped.pcapng", self.outputs.dropped)) if on]
        return names + sorted(f for links in self.pcap_links.values() for f in links.values())

    def write_summary(self, result: Any) -> dict[str, Any]:
        """summary.json from the running aggregates and the replay's result counters."""
        em = self.em
        summary = {
            **self.aggregates.as_dict(),
            "unreadableRecords": result.unreadable,
            "accountingOk": result.check_accounting() and self.aggregates.read == result.read,
            "accounting": accounting(result.counts(), result.read),
            "fragmentChains": {**em.batch.fragments.counts, "open": len(em.batch.fragments),
                               "outOfOrderMode": em.batch.fragments.out_of_order},
            "shaperDropsByVm": {em.net.vm_names[v]: int(x) for v, x in
                                enumerate(em.shaper.drops.tolist()) if x},
            "captures": [s.as_dict() for s in result.captures],
            "addressMap": list(result.mapping),
            "timing": em.params.as_dict(),
            "assumptions": [*em.assumptions(),  # + the load's (a chosen private IP, ...)
                            *(f"{a.key}: {a.text}" for a in em.topology.assumptions)],
            "caveats": self.caveats(result.counts()),
            "files": self.files(),
            "pcapFiles": dict(sorted(self.pcap_names.items())),
            "pcapFilesByLinkType": dict(sorted(self.pcap_links.items())),
        }
        _inside(self.out, "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def _key(line: str) -> str:
    """A caveat line's key ("key: text")."""
    return line.partition(": ")[0]


def _per_row(line: str, packets: int) -> dict[str, Any]:
    """A caveat the engine decides per row ("key: text"): named in those rows' `caveats` cells."""
    key, _, text = line.partition(": ")
    return {"key": key, "text": text, "resources": [], "packets": packets,
            "inPacketsTable": True}


def _own(key: str, text: str, packets: int) -> dict[str, Any]:
    """A caveat of the replay's outputs, not of a packet's answer: in no `caveats` cell."""
    return {"key": key, "text": text, "resources": [], "packets": packets,
            "inPacketsTable": False}
