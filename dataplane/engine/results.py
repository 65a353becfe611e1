"""Results of a send or replay: per-packet columns plus counters, built for pytest asserts.

Takes: batches of decided packets (engine/emulator.py). Emits `Result` with
`counts()` (by disposition name), `by_pair()` (source VM -> destination VM/exit),
`by_rule()` (deciding rule/route), `latency_percentiles()` (delivered, ns, by regional vs
global path), `peering_bytes()` (bytes per VNet pair crossed), `flow(src, dst, dport, proto)`
("was it delivered, in what time?"), `explain(i)` (hop by hop, reference walk), `rows()`,
`summary()` (summary.json shape), `caveats()` (named caveat -> packets it touches;
engine/path_caveats.py, as a row's `caveats`) and
`check_accounting()` (read = sum over dispositions + unreadable records).
Columns: the packet as read (src, dst: IPv4, 0 otherwise; family 4 | 6 with the addresses
as 64-bit halves src_hi/src_lo, dst_hi/dst_lo for both families; sport, dport, ...) and as it
arrived
(`final_src`, `final_dst`, `final_sport`, `final_dport`: after load-balancer DNAT or a
reply's un-DNAT, engine/conntrack.py) -- the writers read the final_* columns.
Timing columns: `decision` (the disposition code the decision stages gave, before the shaper:
a SHAPER_DROP row keeps what it would have been) and `shaper_drop_leg` (int8: the leg whose
sender's shaper dropped the packet, 0 = its source VM, k = the k-th node on its path;
NOT_SHAPER_DROPPED otherwise). `opened_flows` reads them to rebuild the flow table;
`snat_pool` (int64: the Azure Firewall SNAT port pool id the row drew a port from,
BatchPipeline.pool_key; -1 none) lets that rebuild count ports as the run did.
`reopened` (bool: the row's decision re-opened its idled-out TCP flow, engine/reopen.py): a
passing row with it carries the caveat `conntrack-reopen` (`row_caveats`).
`ambiguous_source` (bool: the row's IPv4 source is held by NICs of several VNets and nothing named
its sender, so it entered at the first holder; control/shared_addresses.py): the row carries
the caveat `ambiguous-source-address`.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataplane.control.shared_addresses import AMBIGUOUS_SOURCE
from dataplane.dispositions import PASSED_CODES
from dataplane.dispositions import Disposition as D
from dataplane.engine.path_caveats import caveat_lines
from dataplane.engine.reopen import REOPEN_CAVEAT
from dataplane.io.aggregates import global_paths
from dataplane.io.caveat_counts import sent_ipv4

_PROTO = {6: "TCP", 17: "UDP", 1: "ICMP"}
COLS = ("capture", "record", "time_in", "src", "dst", "proto", "sport", "dport", "length",
        "nic", "disposition", "deciding", "time_out", "status", "final_src", "final_dst",
        "final_sport", "final_dport", "family", "src_hi", "src_lo", "dst_hi", "dst_lo",
        "server_name", "decision", "shaper_drop_leg", "final_src_hi", "final_src_lo",
        "final_dst_hi", "final_dst_lo", "snat_pool", "reopened", "ambiguous_source")
NOT_SHAPER_DROPPED = -1  # shaper_drop_leg of a packet no shaper dropped


def opened_flows(columns: dict[str, np.ndarray], before: int) -> np.ndarray:
    """Rows (int64, ascending) before row `before` that open their flow in the conntrack
    table when no entry holds it yet (engine/conntrack.py): passing by the decision stages
    and not dropped by their source VM's shaper -- a drop at a forwarding NVA's shaper keeps
    the flow (assumption shaper-no-state)."""
    passed = np.isin(columns["decision"][:before], PASSED_CODES)
    return np.flatnonzero(passed & (columns["shaper_drop_leg"][:before] != 0))


@dataclass
class FlowAnswer:
    packets: int
    delivered: int
    dispositions: dict[str, int]
    latency_ns: list[int]

    @property
    def was_delivered(self) -> bool:
        return self.packets > 0 and self.delivered == self.packets

    @property
    def max_latency_ns(self) -> int | None:
        return max(self.latency_ns) if self.latency_ns else None


@dataclass
class Result:
    emulator: Any
    captures: list[Any] = field(default_factory=list)  # CaptureStats
    mapping: list[str] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    read: int = 0
    # the conntrack table as this run found it (BatchPipeline.mark): explain re-opens the
    # entries that existed then
    conntrack_mark: tuple[int, int] | None = field(default=None, repr=False)
    # (latest touch ns, SNAT port pool id) of those entries then (BatchPipeline.entry_times)
    conntrack_times: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # the pending application-rule sessions as this run found them (engine/pending.py;
    # BatchPipeline.pending_records: (reply key, verdict, recorded ns)); None: not taken
    pending_records: list[tuple[Any, ...]] | None = field(default=None, repr=False)
    # batches as added; `columns` / `nodes` concatenate them once, on first access
    _parts: list[tuple[dict[str, np.ndarray], np.ndarray]] = field(default_factory=list,
                                                                    repr=False)
    _columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _nodes: np.ndarray | None = field(default=None, repr=False)
    _caveats: tuple[list[list[str]], dict[str, int]] | None = field(default=None, repr=False)

    def add(self, cols: dict[str, np.ndarray], nodes: np.ndarray, keep: bool = True) -> None:
        """Count a decided batch and keep its columns (not copied: callers hand over fresh
        arrays and do not modify them afterwards)."""
        disp = np.asarray(cols["disposition"])
        self.read += int(disp.size)
        cnt = np.bincount(disp.astype(np.intp, copy=False), minlength=1)
        for v in np.flatnonzero(cnt).tolist():
            self.totals[D(v).name] += int(cnt[v])
        if keep:
            self._parts.append(({k: cols[k] for k in COLS}, nodes))

    def _gather(self) -> None:
        if not self._parts:
            return
        parts = self._parts
        if self._columns:
            parts = [(self._columns, self._nodes), *parts]
        if len(parts) == 1:
            self._columns, self._nodes = dict(parts[0][0]), parts[0][1]
        else:
            self._columns = {k: np.concatenate([p[0][k] for p in parts]) for k in COLS}
            self._nodes = np.concatenate([p[1] for p in parts])
        self._parts = []

    @property
    def columns(self) -> dict[str, np.ndarray]:
        self._gather()
        return self._columns

    @columns.setter
    def columns(self, value: dict[str, np.ndarray]) -> None:
        self._parts = []
        self._columns = value

    @property
    def nodes(self) -> np.ndarray | None:
        self._gather()
        return self._nodes

    @nodes.setter
    def nodes(self, value: np.ndarray | None) -> None:
        self._gather()
        self._nodes = value

    def __len__(self) -> int:
        return int(self.columns["disposition"].size) if self.columns else 0

    # -- counters --
    def counts(self) -> dict[str, int]:
        return dict(sorted(self.totals.items()))

    @property
    def unreadable(self) -> int:
        return sum(s.unreadable for s in self.captures)

    def check_accounting(self) -> bool:
        """read records = packets with a disposition; unreadable records counted apart."""
        records = sum(s.records for s in self.captures) if self.captures else self.read
        return records == sum(self.totals.values()) == self.read

    def dispositions(self) -> list[D]:
        return [D(v) for v in self.columns["disposition"].tolist()]

    def _name(self, node: int) -> str:
        return self.emulator.net.node_names[node] if node >= 0 else "-"

    def endpoints(self, i: int) -> tuple[str, str]:
        assert self.nodes is not None
        row = self.nodes[i]
        path = [int(x) for x in row if x >= 0]
        if not path:
            return "-", "-"
        return self._name(path[0]), self._name(path[-1]) if len(path) > 1 else "-"

    def by_pair(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter] = {}
        if self.nodes is None:
            return {}
        first = self.nodes[:, 0]
        last = np.max(np.where(self.nodes >= 0, np.arange(self.nodes.shape[1]), -1), axis=1)
        lastnode = self.nodes[np.arange(len(self)), np.maximum(last, 0)]
        keys = np.stack([first, np.where(last > 0, lastnode, -1),
                         self.columns["disposition"].astype(np.int32)], axis=1)
        uniq, cnt = np.unique(keys, axis=0, return_counts=True)
        for (a, b, d), c in zip(uniq.tolist(), cnt.tolist(), strict=True):
            out.setdefault(f"{self._name(a)} -> {self._name(b)}", Counter())[D(d).name] += c
        return {k: dict(v) for k, v in sorted(out.items())}

    def by_rule(self) -> dict[str, int]:
        dec = self.columns.get("deciding")
        if dec is None:
            return {}
        uniq, cnt = np.unique(dec, return_counts=True)
        names = self.emulator.batch.labels.names
        return {(names[u] if u >= 0 else "-"): c for u, c in zip(uniq.tolist(), cnt.tolist(),
                                                                 strict=True)}

    def latencies(self) -> np.ndarray:
        c = self.columns
        ok = c["disposition"] == D.DELIVERED
        return (c["time_out"][ok] - c["time_in"][ok]).astype(np.int64)

    def latency_percentiles(self) -> dict[str, dict[str, int]]:
        c = self.columns
        if not c:
            return {}
        net = self.emulator.net
        ok = np.flatnonzero(c["disposition"] == D.DELIVERED)
        lat = c["time_out"][ok] - c["time_in"][ok]
        glob = global_paths(self.nodes[ok], net.node_region)  # io/aggregates.py, shared
        out = {}
        for name, sel in (("all", np.ones(ok.size, bool)), ("regional", ~glob),
                          ("global", glob)):
            v = lat[sel]
            if v.size:
                out[name] = {"count": int(v.size), **{
                    f"p{q}": int(np.percentile(v, q, method="lower")) for q in (50, 90, 99)},
                    "max": int(v.max())}
        return out

    def peering_bytes(self) -> dict[str, int]:
        if self.nodes is None or not len(self):
            return {}
        net = self.emulator.net
        out: Counter = Counter()
        vn = np.where(self.nodes >= 0, net.node_vnet[np.maximum(self.nodes, 0)], -1)
        moved = self.columns["disposition"] != D.UNMAPPED
        for k in range(vn.shape[1] - 1):
            a, b = vn[:, k], vn[:, k + 1]
            m = moved & (a >= 0) & (b >= 0) & (a != b)
            if not m.any():
                continue
            pairs = np.stack([a[m], b[m]], 1)
            uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
            sums = np.bincount(inv.ravel(), weights=self.columns["length"][m])
            for (x, y), s in zip(uniq.tolist(), sums.tolist(), strict=True):
                out[f"{net.vnet_names[x]} -> {net.vnet_names[y]}"] += int(s)
        return dict(sorted(out.items()))

    def flow(self, src: str, dst: str, dport: int | None = None,
             proto: str | int | None = None) -> FlowAnswer:
        """All packets from src (VM name or IP) to dst (IP or VM name) [port, protocol]."""
        em = self.emulator
        c = self.columns
        s, d = em.address_of(src), em.address_of(dst)
        m = (c["src"] == s) & (c["dst"] == d)
        if dport is not None:
            m &= c["dport"] == dport
        if proto is not None:
            p = proto if isinstance(proto, int) else {"tcp": 6, "udp": 17, "icmp": 1}[
                proto.lower()]
            m &= c["proto"] == p
        disp = c["disposition"][m]
        lat = (c["time_out"][m] - c["time_in"][m])[disp == D.DELIVERED]
        return FlowAnswer(int(m.sum()), int((disp == D.DELIVERED).sum()),
                          dict(Counter(D(v).name for v in disp.tolist())), lat.tolist())

    def row(self, i: int) -> dict[str, Any]:
        c = self.columns
        names = self.emulator.batch.labels.names
        d = D(int(c["disposition"][i]))
        path = [self._name(int(x)) for x in self.nodes[i] if x >= 0]
        tin, tout = int(c["time_in"][i]), int(c["time_out"][i])
        return {
            "index": i, "capture": int(c["capture"][i]), "record": int(c["record"][i]),
            "time_in_ns": tin,
            "src": _address(c, "src", i), "dst": _address(c, "dst", i),
            "proto": _PROTO.get(int(c["proto"][i]), str(int(c["proto"][i]))),
            "sport": int(c["sport"][i]), "dport": int(c["dport"][i]),
            "length": int(c["length"][i]), "disposition": d.name,
            "deciding": names[int(c["deciding"][i])] if c["deciding"][i] >= 0 else "",
            "status": str(c["status"][i]) if "status" in c else "",
            "hops": " > ".join(path),
            "time_out_ns": tout if d == D.DELIVERED or d.exited else -1,
            "latency_ns": tout - tin if (d == D.DELIVERED or d.exited) and tout >= 0 else -1,
            "final_src": _address(c, "final_src", i), "final_dst": _address(c, "final_dst", i),
            "final_sport": int(c["final_sport"][i]), "final_dport": int(c["final_dport"][i]),
            "caveats": self._caveat_lines()[0][i]
            + [line for line, mask in row_caveats(c) if mask[i]],
        }

    def caveats(self) -> dict[str, int]:
        """Named caveat (its line: a firewall's own text, else "key: text") -> packets whose
        answer it touches: the topology's on the resources a packet's path crosses, its
        firewalls' rules, packets over 1,400 bytes (engine/path_caveats.py; the rows'
        `caveats` and packets.csv's column say the same)."""
        if self.nodes is None or not len(self):
            return {}
        out = dict(self._caveat_lines()[1])
        for line, mask in row_caveats(self.columns):  # decided per row
            if mask.any():
                out[line] = int(mask.sum())
        return out

    def _caveat_lines(self) -> tuple[list[list[str]], dict[str, int]]:
        """Per row its caveats' lines, and each line's packets (path_caveats.py caveat_lines),
        computed once for the rows gathered so far."""
        nodes = self.nodes
        if self._caveats is None or len(self._caveats[0]) != len(self):
            self._caveats = caveat_lines(
                self.emulator.path_caveats(), len(self.emulator.net.node_names),
                nodes if nodes is not None else np.zeros((len(self), 1), np.int32),
                self.columns["length"], sent_ipv4(self.columns))
        return self._caveats

    def rows(self) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(len(self))]

    def explain(self, i: int) -> dict[str, Any]:
        return self.emulator.explain_row(self, i)

    def summary(self) -> dict[str, Any]:
        em = self.emulator
        return {
            "read": self.read,
            "unreadable_records": self.unreadable,
            "accounting_ok": self.check_accounting(),
            "dispositions": self.counts(),
            "reasons": {k: D[k].reason for k in self.counts()},
            "by_vm_pair": self.by_pair(),
            "by_deciding_rule": self.by_rule(),
            "latency_ns": self.latency_percentiles(),
            "bytes_per_peering_link": self.peering_bytes(),
            "shaper_drops_by_vm": {em.net.vm_names[v]: int(x) for v, x in
                                   enumerate(em.shaper.drops.tolist()) if x},
            "captures": [s.as_dict() for s in self.captures],
            "address_map": self.mapping,
            "timing": em.params.as_dict(),
            "assumptions": em.assumptions(),
            "caveats": self.caveats(),
        }


def _address(c: dict[str, np.ndarray], which: str, i: int) -> str:
    """The packet's address as text, IPv6 from its halves."""
    if int(c["family"][i]) == 6:  # final_*: after an IPv6 ILB's DNAT / un-DNAT (halves)
        return str(ipaddress.IPv6Address((int(c[f"{which}_hi"][i]) << 64)
                                         | int(c[f"{which}_lo"][i])))
    return str(ipaddress.IPv4Address(int(c[which][i]) & 0xFFFFFFFF))


def row_caveats(columns: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The caveats the engine decides per row, as (line "key: text", bool[n] rows carrying it),
    in this order: `conntrack-reopen` (a passing row that re-opened its idled-out TCP flow,
    engine/reopen.py), `ambiguous-source-address` (a source NICs of several VNets hold,
    control/shared_addresses.py). Shared by Result rows/counts and the replay writer's
    packets.csv cells and summary.json (io/writers.py)."""
    passed = np.isin(columns["disposition"], PASSED_CODES)
    return [(REOPEN_CAVEAT, columns["reopened"] & passed),
            (AMBIGUOUS_SOURCE, columns["ambiguous_source"].astype(bool))]
