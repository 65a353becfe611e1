"""The batch pipeline: packet columns through vectorised stages, a dispatcher over hops.

Takes: a `Network` (compile.py; NSG tables from the control plane's Program) and `Columns`
(numpy, dual-stack: ingress NIC, family and addresses, proto, ports, length, time_in ns;
preset dispositions for packets the edge already decided: UNPARSED, UNSUPPORTED, UNMAPPED).
Emits: disposition (uint8), deciding label index (int32 into `Labels`), node paths (n x H) and
`final` (src, dst, sport, dport after translation).
Stages and drop reasons are those of reference.py (the oracle; same order, same labels):
source/anti-spoofing, outbound NSG (stages/nsg.py), un-DNAT of replies (stages/nat.py), then
per hop: route (stages/route.py), peering (stages/peering.py), appliance (stages/appliance.py:
NVA NSGs, IP forwarding; Azure Firewall: stages/firewall.py), load balancers
(stages/loadbalancer.py), edges and gateways (stages/gateway.py: on-premises, VNet-to-VNet,
Route Server NVAs, Internet edge), inbound NSG and delivery (stages/deliver.py). This module
is the dispatcher: it owns movement (which rows go to which stage next); the stages never
call each other. Python loops over stages, hops, NICs and rules; numpy (and the kernels) loop
over packets.
State: the connection-tracking table (conntrack.py, batch form `BatchConnTrack`): 5-tuples
(and translated tuples) get ids from the key-interning kernel (kernels/pipeline.py KeyIndex,
kept across batches); a row answering an entry reads its state (NSGs skipped, firewall
sessions, un-DNAT). Within a batch the state is solved in row order by iterating every row's
state from the current decisions of earlier rows until nothing changes: each row depends only
on earlier rows, so row r is exact after r + 1 rounds and the fixed point is the sequential
(reference) answer. A new flow opens an entry only while fewer than `flow_capacity` entries
are alive at its time (assumption conntrack-capacity, engine/room.py; in row order); past
`flow_limit` ids the index is compacted to the ids the entries need.
Decision cache: decide() reads only a row's (nic, src, dst, proto, sport, dport, preset) and
its conntrack state (est, firewall-session set, un-NAT address and port; the expired value of
a row whose entry idled out, `_expired`); its answer is stored
per distinct key (flow id, raw ports, nic/preset/est, interned state id or expired value -- the
rule written down in conntrack.py), cleared past `cache_limit` keys, on compaction and by
reset_state; only unseen keys are decided. Pending application-rule sessions (engine/pending.py)
are settled after the decisions (they rewrite drops only, Internet replies' paths included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from dataplane.dispositions import PASSED_CODES
from dataplane.dispositions import Disposition as D
from dataplane.engine import reopen
from dataplane.engine.address_handles import Ipv6Handles
from dataplane.engine.addresses import NicAddresses
from dataplane.engine.compile import (
    MAX_HOPS,
    NH_APPLIANCE,
    NH_ENDPOINT,
    NH_INTERNET,
    NH_NONE,
    NH_PEERING,
    NH_SERVICE,
    NH_VNETLOCAL,
    Network,
)
from dataplane.engine.conntrack import (
    IDLE_TIMEOUT_NS,
    NEVER_IDLE_NS,
    UNSNAT,
    BatchConnTrack,
    FirewallSets,
    FragmentChains,
)
from dataplane.engine.payload import FlowNames
from dataplane.engine.pending import BatchPendingSessions, PendingVerdict, public_reply_key
from dataplane.engine.reference import IPV6_INGRESS_LABEL, V6_TAG, _in
from dataplane.engine.room import admit as room_admit
from dataplane.engine.snat_ports import allocate, window
from dataplane.engine.stages import (
    appliance,
    deliver,
    firewall_nat,
    nat,
    nsg,
    peering,
    platform,
    public_edge,
    public_edge6,
    source,
)
from dataplane.engine.stages import gateway as _gateway_stage  # semantics stage, see decide()
from dataplane.engine.stages import ipv6 as _ipv6
from dataplane.engine.stages import loadbalancer as lb
from dataplane.engine.stages import route as routing
from dataplane.engine.stages.firewall import CompiledFirewall
from dataplane.engine.vnet_pairs import PeerLabels
from dataplane.errors import InputError
from dataplane.kernels.dkeys import key_hashes, row_keys, state_hashes
from dataplane.kernels.dtake import take_decided
from dataplane.kernels.entrystate import entry_state
from dataplane.kernels.openers import earliest, first_openers, touch_events
from dataplane.kernels.pipeline import KEY_WORDS, KeyIndex, flow_keys, key_fields
from dataplane.kernels.rowdiff import changed_rows
from dataplane.kernels.unnat import unnat

WIDTH = MAX_HOPS + 2
UNDECIDED = 255
SNAT_PROBE_AHEAD = 4  # _snat_probe: ports per walked opener whose owners are looked up at once


@dataclass
class Columns:
    """Packet columns, dual-stack: every packet carries its family and both addresses as two
    64-bit halves (as the header kernel extracts them: IPv4 in the low half, high half 0);
    `src`/`dst` repeat the IPv4 addresses (0 for other families) for the IPv4 stages; IPv6
    rows are decided by the stages on their halves (issue 17; stages/ipv6.py names what is
    not modelled). IPv6 addresses are translated only by an ILB's IPv6 frontend (DNAT, un-DNAT
    of replies): the rewritten halves, and a handle in `src`/`dst` (engine/address_handles.py);
    `BatchPipeline.final6` gives the final IPv6 halves."""

    nic: np.ndarray      # int32, -1 = unmapped
    src: np.ndarray      # int64 IPv4 source (0 when not IPv4)
    dst: np.ndarray      # int64
    proto: np.ndarray    # int16
    sport: np.ndarray    # int32
    dport: np.ndarray    # int32
    length: np.ndarray   # int32 bytes on the wire
    time_ns: np.ndarray  # int64
    preset: np.ndarray   # uint8 disposition decided at the edge, UNDECIDED otherwise
    family: np.ndarray | None = None  # uint8 4 | 6 (0: no IP header); default all 4
    src_hi: np.ndarray | None = None  # uint64 high half of the source (0 for IPv4)
    src_lo: np.ndarray | None = None  # uint64 low half (the IPv4 address for IPv4)
    dst_hi: np.ndarray | None = None
    dst_lo: np.ndarray | None = None
    server_name: np.ndarray | None = None  # int32 flow name id (engine/payload.py); 0 unknown

    def __post_init__(self) -> None:
        n = self.src.size
        if self.server_name is None:
            self.server_name = np.zeros(n, dtype=np.int32)
        if self.family is None:
            self.family = np.full(n, 4, dtype=np.uint8)
        for half, v4 in (("src_hi", None), ("dst_hi", None), ("src_lo", self.src),
                         ("dst_lo", self.dst)):
            if getattr(self, half) is None:
                setattr(self, half, np.zeros(n, dtype=np.uint64) if v4 is None
                        else v4.astype(np.uint64))

    def __len__(self) -> int:
        return int(self.src.size)

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def _union_rows(n: int, *arrays: np.ndarray, distinct: bool = False) -> np.ndarray:
    """np.union1d of arrays of row numbers in [0, n) (sorted, distinct), by a mask: no sort
    (int64). With `distinct` (every array already sorted and distinct), one non-empty array,
    or all non-empty ones equal, is the answer itself (not a copy: callers only read it)."""
    if distinct:
        full = [a for a in arrays if a.size]
        if not full:
            return np.zeros(0, np.int64)
        if all(a is full[0] or np.array_equal(a, full[0]) for a in full[1:]):
            return full[0].astype(np.int64, copy=False)
    mask = np.zeros(n, bool)
    for a in arrays:
        mask[a] = True
    return np.flatnonzero(mask)


class Labels:
    """Interned deciding-rule/route strings; columns carry indices."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


class BatchPipeline:
    def __init__(self, net: Network, flow_capacity: int = 1 << 20,
                 cache_limit: int = 1 << 20, idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.net = net
        self.labels = Labels()
        self.flow_capacity = flow_capacity
        self.cache = KeyIndex(4, 1 << 16)  # decision key -> row of the stores below
        self.states = KeyIndex(4, 1 << 10)  # conntrack state -> id (decision-key word)
        self.cache_limit = cache_limit
        self.fwsets = FirewallSets(len(net.nics), len(net.firewalls))
        self.flow_names = FlowNames()  # server names of flows (engine/payload.py)
        self._clear_cache()
        self.flow_index = KeyIndex(KEY_WORDS, 1 << 16)  # 5-tuple -> flow id, across batches
        self.flow_limit = 2 * flow_capacity + (1 << 16)
        self.ct = BatchConnTrack(flow_capacity, idle_timeout_ns)
        self._touches: tuple[np.ndarray, ...] = (np.zeros(0, np.int64),) * 3
        self.snat_pools: dict[tuple[int, ...], int] = {}  # firewall SNAT port pool -> id
        self._pool_keys: list[tuple[int, ...]] = []  # id -> pool (pool_key)
        self.pool_limit: list[int] = []  # ports of each pool (firewall_nat.snat_limit)
        self.pending_sessions = BatchPendingSessions(flow_capacity, idle_timeout_ns)  # engine/pending.py
        self.fragments = FragmentChains()  # fragment chains (engine/fragments.py, emulator)
        self._pending: tuple | None = None
        self._prep: tuple | None = None  # the last batch's flow ids and decision keys
        self.final: tuple = ()
        self.final6: tuple = ()  # uint64 (src_hi, src_lo, dst_hi, dst_lo) after translation
        # whether the caller writes rows of `final6` after run (the emulator's fragment
        # followers, fragments.follow_np): then run hands out copies of the untranslated
        # halves, else the Columns' own arrays (read only)
        self.final6_written = True
        self.addr6 = Ipv6Handles()  # translated IPv6 addresses in int64 columns
        self.openers = np.zeros(0, np.int64)
        self._snat_prev: tuple | None = None  # _snat_ports' previous round (and its answer)
        self._xlat_prev: list[tuple[np.ndarray, ...]] = []  # _translated_ids' last calls
        self._inner_prev: tuple | None = None  # _inner_state's last call (and its answer)
        self._round_prev: tuple | None = None  # _in_batch_openers' last call (and answer)
        self._snat_moved = False
        self._snat_sport = self._snat_blockers = np.zeros(0, np.int64)
        self._snat_take = np.zeros(0, bool)
        self.recorders = np.zeros(0, np.int64)  # rows recording a pending session
        self.depended_on = np.zeros(0, np.int64)
        self._iota = np.zeros(0, np.int64)  # row numbers (_rows)
        self._clear_flows()
        p = net.program
        self.route_label = np.array([self.labels(s) for s in net.route_labels], dtype=np.int32)
        rs = np.searchsorted(p.ruleset_offsets, np.arange(p.rule_priority.size), side="right") - 1
        self.rule_label = np.array(
            [self.labels(f"nsg {p.ruleset_nsg[s].rsplit('/', 1)[-1]}/{p.rule_names[p.rule_name[r]]}")
             for r, s in enumerate(rs.tolist())], dtype=np.int32)
        self.peer_label = PeerLabels(net, self.labels)  # "peering A->B", made on demand
        self.spoof_label = np.array([self.labels(source.label(net, i))
                                     for i in range(len(net.nics))] + [0], dtype=np.int32)
        self.fwd_label = np.array([self.labels(appliance.label_forwarding(net, i))
                                   for i in range(len(net.nics))] + [0], dtype=np.int32)
        self.l_unmapped = self.labels("source address is not an emulated NIC")
        self.l_noroute = self.labels(routing.NO_ROUTE_LABEL)
        self.l_hoplimit = self.labels("hop limit")
        self.l_edge = {d: self.labels(d.reason) for d in (D.UNPARSED, D.UNSUPPORTED)}
        self.nic_ip_keys = source.nic_address_keys(net.nics)
        self.platform_exempt = platform.exempt_table(platform.tags_per_nic(net))
        self.forwarding = np.array([nic.enable_ip_forwarding for nic in net.nics] + [False])
        self.is_firewall = appliance.firewall_nodes(net)
        self.addresses = NicAddresses(net.nics, net.node_vnet)
        self.fw_public, self.fw_private = firewall_nat.address_owners(net)  # stages/firewall_nat
        self.fw_instance = firewall_nat.instance_owners(net)
        self.fw_own = {**self.fw_public, **self.fw_instance}  # _expired
        self.own6 = source.NicOwn6(net.nics)
        self.l_ingress6 = self.labels(IPV6_INGRESS_LABEL)
        self.fw_own6 = _ipv6.firewall_own6(net.firewalls)

    # -- public --
    def run(self, c: Columns, excluded: np.ndarray | None = None, commit: bool = True
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decide a batch: (disposition uint8[n], deciding label int32[n], node paths
        int32[n, WIDTH]); the final (translated) addresses and ports are left in
        `self.final` (src, dst, sport, dport columns). Conntrack state (conntrack.py) is
        solved in row order: each row reads the entries opened by earlier passing rows (this
        batch or earlier ones); rows in `excluded` (shaper drops) open nothing. With
        commit=False the openers are kept pending until `commit()` (the emulator commits
        after the shaper)."""
        n = len(c)
        if n == 0:
            disp, dec, nodes, *final = self.decide(c, *self._no_state(0))
            self.final = tuple(final[:4])
            self.snat_pool_rows = np.zeros(0, np.int64)
            self.reopened = np.zeros(0, bool)
            self.final6 = (c.src_hi, c.src_lo, c.dst_hi, c.dst_lo)
            self._pending = None
            self.recorders = np.zeros(0, np.int64)
            return disp, dec, nodes
        excl = np.zeros(n, bool) if excluded is None else excluded
        warm = None
        if self._prep is not None and self._prep[0] is c:  # a re-run of the same batch
            fid, rid, rev, dkeys, warm = self._prep[1:]
        else:
            if self.cache.size > self.cache_limit:  # bounded memory; decisions recomputed
                self._clear_cache()
            if self.flow_index.size > self.flow_limit:
                self._compact_flows()
            fid, rid, rev = self._flow_ids(c)
            dkeys = self._decision_keys(c, fid)
        ct = self.ct
        rows = self._rows(n)
        # replies of entries opened in earlier batches: the entry, its state, its last touch
        known, *base5, known_since = entry_state(  # kernels/entrystate
            rid, ct.reply_entry, ct.fwset, ct.unnat_ip, ct.unnat_port, ct.usrc, ct.last_ns,
            -(1 << 62))
        base = (*base5, *self._no_state(n, 5))  # SNAT-pool-full and expired: none yet
        empty = np.zeros(0, np.int64)
        if warm is None:
            state, rkey, prev = base, known >= 0, empty
            ids = self._decisions(c, state, rows, dkeys)
        else:  # start from the last run's answer: the iteration converges from any start
            ids, state, rkey, prev = warm
            ids = ids.copy()  # written below; the last run's (not copied when stored)
        entry, since, op = known, known_since, empty  # the previous round's (room touches)
        self._snat_prev = None  # SNAT ports of the previous round (engine/snat_ports.py)
        self._xlat_prev = []  # translated ids of the previous round (_translated_ids)
        self._inner_prev = None  # in-batch openers' state of the previous round
        self._round_prev = None  # each row's in-batch opener in the previous round
        wrote = empty  # rows of entry/since the last round wrote (copies of known/known_since)
        wrote_from: np.ndarray | None = None  # their in-batch openers (None: kr's, not known's)
        no_entry = known < 0
        for _ in range(n + 1):  # row r is final after r+1 rounds; usually 1-3 rounds
            last_op = op
            op, tid, rid, exact = self._openers(c, fid, rid, rev, ids, rkey, excl, partial(
                self._room_touches, c, entry, since, fid, ids, excl))
            again_room = exact and not np.array_equal(op, last_op)  # room read earlier rows
            again_room |= self._snat_moved  # SNAT ports read touches (engine/snat_ports.py)
            # the openers' un-NAT state (reused below), each row's earliest in-batch opener,
            # the committed entries with taken-over reply ids
            unnat, cand, kr = self._in_batch_openers(c, fid, ids, op, tid, rid, known)
            # each row's entry (opener id), -1 none (conntrack-idle), and a touch of it before
            # the row (ns): known/known_since with the inner rows' in-batch openers; one copy
            # per run, then the last round's rows put back (the room touches of this round's
            # _openers read the last round's, before this)
            if kr is known:  # no reply id taken over by a SNAT port (the common case)
                inner = np.flatnonzero((cand < rows) & no_entry)
                depends = cand[inner]
                if entry is known and inner.size:
                    entry, since = known.copy(), known_since.copy()
                if entry is not known and not (  # else the last round's writes, again
                        wrote_from is not None and np.array_equal(inner, wrote)
                        and np.array_equal(depends, wrote_from)):
                    entry[wrote], since[wrote] = known[wrote], known_since[wrote]
                    entry[inner], since[inner] = fid[depends], c.time_ns[depends]
                    wrote, wrote_from = inner, depends
            else:  # taken-over reply ids: entries from kr, every row put back next round
                inner = np.flatnonzero((cand < rows) & (kr < 0))
                depends = cand[inner]
                entry, since = kr.copy(), known_since.copy()
                entry[inner], since[inner] = fid[depends], c.time_ns[depends]
                wrote, wrote_from = rows, None  # not known's plus inner rows: rewritten
            alive, _ = self._alive(c, entry, since, fid, op, ids, excl, False)
            dead = empty if alive is None else np.flatnonzero((entry >= 0) & ~alive)
            full = self._snat_full(c, fid, op, ids, partial(
                self._alive, c, entry, since, fid, op, ids, excl, True))
            marked = _union_rows(n, inner, dead, np.flatnonzero(full), distinct=True)
            touched = _union_rows(n, prev, marked, distinct=True)  # may differ from base
            if touched.size == 0 and not again_room:
                break
            if alive is None:
                new = self._inner_state(base, c, ids, inner, depends)
            else:
                live = alive[inner]
                new = self._inner_state(base, c, ids, inner[live], depends[live])
            if dead.size or full.any():  # never write base's or _inner_state's columns (reused)
                new = (*(a.copy() for a in new[:5]), *new[5:])
                expired = new[6].copy()  # each dead row's expired flow (never base's array)
                expired[dead] = self._expired(c, dead, kr, cand, ids)
                new = (*new[:5], full, expired)  # full: a fresh array of _snat_full's
                for a, none in zip(new[:5], self._no_state(1)[:5], strict=True):
                    a[dead] = none[0]  # an expired entry gives no state: a new flow
            new_rkey = entry >= 0
            changed = self._changed(touched, (*new, new_rkey), (*state, rkey))
            state, rkey, prev = new, new_rkey, marked
            if changed.size == 0 and not again_room:
                break
            ids[changed] = self._decisions(c, state, changed, dkeys[changed])
        else:  # the rounds ran out after changing ids: the openers' state is recomputed
            unnat = self._unnat_of(c, ids, op)
        _, touches = self._alive(c, entry, since, fid, op, ids, excl, True)
        self.reopened = reopen.reopened_np(n, *touches, entry < 0, c.proto, ct.opened,
                                           ct.last_ns, ct.idle_timeout_ns)  # engine/reopen.py
        self._pending = (fid[op], tid, self._fwset[ids[op]], *unnat, c.time_ns[op],
                         self._pool[ids[op]], self._snat_sport, self._snat_take)
        self._touches = touches
        # each row's answer from the decision store, one pass (kernels/dtake): the final
        # addresses and ports, the SNAT port pool id (explanations), disposition and label
        *final, self.snat_pool_rows, disp, dec = take_decided(
            ids, self._fsrc, self._fdst, self._fsport, self._fdport, self._pool, self._disp,
            self._dec)
        self.final = tuple(final)
        edge = np.flatnonzero(c.preset != UNDECIDED)  # decided at the edge: untranslated
        if edge.size:
            for f, col in zip(self.final, (c.src, c.dst, c.sport, c.dport), strict=True):
                f[edge] = col[edge]
        self._snat_final(c, fid, op, ids, rkey, excl)  # engine/snat_ports.py
        self.final6 = self._final6(c, self.final[0], self.final[1])
        self.openers = op
        # opener rows whose entry later rows read, or whose flow has later rows in the batch
        # (were the opener withdrawn, the next of them would open the flow)
        # (each opener flow's last row in the batch: the earliest of -row, one scatter pass)
        again = op[-earliest(fid, -rows, fid[op], 0, self._scratch) > op]
        # pending application-rule sessions (engine/pending.py): replies take their flow's
        # verdict; rewrites drops only, so nothing above depends on it
        public, rid = self._public_replies(c, fid, rid, rev, ids)
        # rid may hold new ids (translated tuples, public reply keys) and the current "no id"
        # sentinel (_reverse_ids relies on it); ids/state warm-start a re-run
        self._prep = (c, fid, rid, rev, dkeys, (ids, state, rkey, prev))
        disp, dec, self.recorders, used = self.pending_sessions.settle(
            fid, rid, disp, dec, excl, c.time_ns, public)
        self.depended_on = _union_rows(n, depends, again, used, self._snat_blockers)
        if commit:
            self.commit()
        nodes = np.take(self._nodes, ids, axis=0)
        came, fw = self.pending_sessions.entered  # Internet replies of pending sessions
        if came.size:
            nodes[came] = -1
            nodes[came, 0], nodes[came, 1] = self.net.internet_node, fw
        return disp, dec, nodes

    def _public_replies(self, c: Columns, fid: np.ndarray, rid: np.ndarray, rev: tuple,
                        ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(int64[n]: per row an Azure Firewall's application rules dropped, the flow id of
        the forward tuple of its pending.public_reply_key, -1 none; `rid`, re-looked-up when
        that interned new tuples). Computed once per (flow, firewall) of the batch."""
        n = len(c)
        public = np.full(n, -1, np.int64)
        if not self.pending_sessions.registered or not self.fw_public:
            return public, rid
        at, app = self.pending_sessions.rule_drops(self._disp[ids], self._dec[ids])
        rows = np.flatnonzero(app & (c.family == 4))
        if rows.size == 0:
            return public, rid
        _, first = np.unique(fid[rows] * (len(self.net.node_kind) + 1) + at[rows],
                             return_index=True)
        found: list[tuple[int, int, tuple[int, ...]]] = []
        leaves: dict[tuple[int, int], bool] = {}  # route checks by (firewall, server)
        for r in rows[first].tolist():
            key = public_reply_key(self.net, int(at[r]), self.fw_public, (
                int(c.src[r]), int(c.dst[r]), int(c.proto[r]), int(c.sport[r]),
                int(c.dport[r])), leaves)
            if key is not None:
                found.append((int(fid[r]), int(at[r]), key))
        if not found:
            return public, rid
        k = np.array([key for _, _, key in found], np.int64)  # (server, public, proto, ports)
        m = k.shape[0]
        u, h = flow_keys(np.full(m, 4, np.uint8), np.zeros(m, np.uint64), k[:, 1].astype(
            np.uint64), np.zeros(m, np.uint64), k[:, 0].astype(np.uint64), k[:, 2].astype(
            np.int16), k[:, 4].astype(np.int32), k[:, 3].astype(np.int32))
        tid, new = self.flow_index.index(h[:m], u[:m])
        if new.any():
            sentinel = self.ct.sentinel
            self._grow_ids()
            rid = self._reverse_ids(rid, rev, sentinel)
        pair = np.array([f * (len(self.net.node_kind) + 1) + a for f, a, _ in found], np.int64)
        order = np.argsort(pair)
        want = fid[rows] * (len(self.net.node_kind) + 1) + at[rows]
        at_pair = np.minimum(np.searchsorted(pair[order], want), m - 1)
        hit = pair[order][at_pair] == want
        public[rows[hit]] = tid[order][at_pair][hit]
        return public, rid

    def _final6(self, c: Columns, fsrc: np.ndarray, fdst: np.ndarray) -> tuple[np.ndarray, ...]:
        """The final addresses as uint64 halves (IPv6 translations are handles in `fsrc`/
        `fdst`, engine/address_handles.py); IPv6 rows' `fsrc`/`fdst` are reset to 0 (the
        IPv4 columns' value for other families). Untranslated halves are the Columns' own
        arrays unless `final6_written` (then copies: the caller writes followers' rows)."""
        six = c.family == 6
        if not six.any() or not self.addr6.index:
            halves = (c.src_hi, c.src_lo, c.dst_hi, c.dst_lo)
            return tuple(a.copy() for a in halves) if self.final6_written else halves
        shi, slo = self.addr6.halves_np(np.where(six, fsrc, 0), c.src_hi, c.src_lo)
        dhi, dlo = self.addr6.halves_np(np.where(six, fdst, 0), c.dst_hi, c.dst_lo)
        fsrc[six] = 0
        fdst[six] = 0
        return shi, slo, dhi, dlo

    def drop_openers(self, rows: np.ndarray) -> None:
        """Withdraw pending openers and pending-session recorders (rows of the last run) no
        later row depended on."""
        self.pending_sessions.withdraw(rows)
        if self._pending is None or rows.size == 0:
            return
        keep = ~np.isin(self.openers, rows)
        self._pending = tuple(a[keep] for a in self._pending)
        self.openers = self.openers[keep]
        keep = ~np.isin(self._touches[0], rows)  # a withdrawn opener touched only its entry
        self._touches = tuple(a[keep] for a in self._touches)

    def commit(self) -> None:
        """Open the entries of the last run's openers (with their SNAT ports,
        engine/snat_ports.py) and write its pending sessions."""
        self.pending_sessions.commit()
        if self._pending is not None:
            fid, tid, fwset, uip, uport, usrc, last_ns, pool, sport, take = self._pending
            self.ct.open(fid, tid, fwset, uip, uport, usrc, last_ns, pool, sport, take)
            self.ct.touch(*self._touches[1:])  # replies and forward packets (conntrack-idle)
            self._pending = None

    def mark(self) -> tuple[int, int]:
        """The conntrack table as it stands now: (generation, entries opened)."""
        return self.ct.generation, self.ct.count

    def entry_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(latest touch ns int64[entries], SNAT port pool id int64[entries], -1 none) of the
        committed entries, by opening order (`seq`): a Result keeps them from when it was
        made, so explanations see each entry's age and port as the run found them."""
        ct = self.ct
        last = np.full(ct.count, NEVER_IDLE_NS, np.int64)
        pool = np.full(ct.count, -1, np.int64)
        held = np.flatnonzero(ct.opened)
        last[ct.seq[held]] = ct.last_ns[held]
        pool[ct.seq[held]] = ct.pool[held]
        return last, pool

    def pool_key(self, pool_id: int) -> tuple[int, ...] | None:
        """The SNAT port pool (reference form, firewall_nat.snat_key with its firewall) of an
        interned pool id; None for -1."""
        if pool_id < 0:
            return None
        if len(self._pool_keys) != len(self.snat_pools):
            self._pool_keys = list(self.snat_pools)
        return self._pool_keys[pool_id]

    def entries(self, mark: tuple[int, int] | None = None
                ) -> list[tuple[tuple[int, ...], tuple[int, ...], frozenset[int]]]:
        """The committed conntrack entries (those opened before `mark`, when given) as
        (original key, translated key, firewall nodes), the reply-key owners first
        (re-committing them in this order into a conntrack.ConnTrack gives the same reply
        lookups). InputError when the table was reset since the mark."""
        return [e[:3] for e in self.timed_entries(mark)]

    def timed_entries(self, mark: tuple[int, int] | None = None,
                      times: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> list[tuple[tuple[int, ...], tuple[int, ...], frozenset[int], int,
                                      tuple[int, ...] | None]]:
        """entries(mark), each with its latest touch (ns) and its SNAT port pool (reference
        form, None: none) -- as `times` (entry_times() taken with the mark) has them, else as
        they stand now."""
        ct = self.ct
        if mark is not None and mark[0] != ct.generation:
            raise InputError("the emulator's flow state was reset after this result was "
                             "made; explain it before reset() or send it again")
        limit = ct.count if mark is None else mark[1]
        if limit == 0:
            return []
        k = self._reference_keys()
        size = k.shape[0]
        owner = ct.reply_entry[:size]
        sets = {v: frozenset(k_) for k_, v in self.fwsets.ids.items()}
        last, pool = self.entry_times() if times is None else times
        first, rest = [], []
        for f in np.flatnonzero(ct.opened[:size] & (ct.seq[:size] < limit)).tolist():
            t = int(ct.translated_id[f])
            q = int(ct.seq[f])
            row = (tuple(k[f].tolist()), tuple(k[t].tolist()), sets[int(ct.fwset[f])],
                   int(last[q]), self.pool_key(int(pool[q])))
            (first if int(owner[t]) == f else rest).append(row)
        return first + rest

    def pending_records(self) -> list[tuple[tuple[int, ...], PendingVerdict, int]]:
        """The committed pending sessions (engine/pending.py) as (the key of the replies they
        answer, in reference.flow_key form; the verdict; the capture time ns it was recorded
        at)."""
        records = self.pending_sessions.export()
        if not records:
            return []
        k = self._reference_keys()
        out = []
        aliases = self.pending_sessions.aliases()  # public reply tuples (public_reply_key)
        for f, (fw, disp, label) in records.items():
            s, d, proto, sport, dport = k[f].tolist()
            out.append(((d, s, proto, dport, sport),
                        PendingVerdict(fw, D(disp), self.labels.names[label]),
                        self.pending_sessions.recorded_at(f)))
        for t, f in aliases.items():
            fw, disp, label = records[f]
            s, d, proto, sport, dport = k[t].tolist()
            out.append(((d, s, proto, dport, sport),
                        PendingVerdict(fw, D(disp), self.labels.names[label]),
                        self.pending_sessions.recorded_at(f)))
        return out

    def _reference_keys(self) -> np.ndarray:
        """object[ids, 5]: each flow id's 5-tuple in reference.flow_key form."""
        _, keys = self.flow_index.export()
        family, shi, slo, dhi, dlo, proto, sport, dport = key_fields(keys)
        k = np.stack([slo.astype(np.int64), dlo.astype(np.int64), proto, sport, dport],
                     axis=1).astype(object)
        for f in np.flatnonzero(family == 6).tolist():  # reference.flow_key's IPv6 form
            k[f, 0] = (int(shi[f]) << 64 | int(slo[f])) | V6_TAG
            k[f, 1] = (int(dhi[f]) << 64 | int(dlo[f])) | V6_TAG
        return k

    # -- conntrack state of rows --
    _NO_STATE = ((bool, 0), (np.int32, 0), (np.int64, -1), (np.int32, -1), (np.int64, -1),
                 (bool, 0), (np.int32, -1))  # (dtype, value) of each state column, no state

    def _no_state(self, n: int, first: int = 0) -> tuple[np.ndarray, ...]:
        """(est, firewall-session set, un-NAT address, un-NAT port, source restore, SNAT
        pool full, expired) of rows without state, from column `first` on; `expired`
        (int32): -1 the row answers no expired entry, else `_expired`'s value."""
        return tuple(np.full(n, v, t) if v else np.zeros(n, t) for t, v in self._NO_STATE[first:])

    def _expired(self, c: Columns, dead: np.ndarray, known: np.ndarray, opener: np.ndarray,
                 ids: np.ndarray) -> np.ndarray:
        """int32 per row of `dead` (rows whose entry idled out: the committed entry `known`,
        else the in-batch opener row `opener`): k + 1 when the entry is a source-translated
        flow that Azure Firewall k (lowest index) holds and the row is keyed by
        reverse(original) -- an Internet reply captured at the VM, reference._unexposed,
        assumption stages/gateway.py expired-reply-at-vm --; EXPIRED_OWN | k + 1 when the
        row (IPv4) is addressed to an instance or public address of firewall k and k held the
        flow's session -- the reply to the address:port k translated the source to,
        `_expired_at_firewall`, assumption expired-reply-at-firewall --; else 0."""
        ct = self.ct
        k = known[dead]
        held = k >= 0
        fws = np.zeros(dead.size, np.int32)
        uip = np.full(dead.size, -1, np.int64)
        uport = np.full(dead.size, -1, np.int32)
        e = k[held]
        fws[held], uip[held], uport[held] = ct.fwset[e], ct.unnat_ip[e], ct.unnat_port[e]
        rows = opener[dead[~held]]
        if rows.size:
            fws[~held] = self._fwset[ids[rows]]
            uip[~held], uport[~held], _ = self._unnat_of(c, ids, rows)
        at_vm = (uip >= UNSNAT) & (c.dst[dead] == (uip & (UNSNAT - 1))) & (
            c.dport[dead] == uport)
        member = self.fwsets.member[fws]
        has = member.any(axis=1) & at_vm
        value = np.where(has, np.argmax(member, axis=1) + 1, 0)
        # to the address:port firewall k translated the flow's source to, k holding its
        # session: EXPIRED_OWN | k + 1 (assumption stages/gateway.py expired-reply-at-firewall)
        k = firewall_nat.owner_np(self.fw_own, c.dst[dead])
        own = np.flatnonzero((k >= 0) & (c.family[dead] == 4))
        own = own[member[own, k[own]]]
        value[own] = _gateway_stage.EXPIRED_OWN | (k[own] + 1)
        return value.astype(np.int32)

    def _expired_at_firewall(self, c: Columns, expired: np.ndarray | None, disp: np.ndarray,
                             dec: np.ndarray, nodes: np.ndarray, pos: np.ndarray,
                             active: np.ndarray) -> None:
        """decide()'s rows answering an expired flow at the address:port firewall k translated
        its source to (`_expired` value EXPIRED_OWN | k + 1; assumption stages/gateway.py
        expired-reply-at-firewall), before the hop loop: from a VM to an instance address,
        after its outbound NSG, to firewall k (peering checks) and denied there; from outside
        to a public address, a DNAT miss (the firewall's default deny) is relabelled
        (reference._expired_firewall, _expired_own)."""
        if expired is None:
            return
        rows = np.flatnonzero((expired & _gateway_stage.EXPIRED_OWN) != 0)
        if rows.size == 0:
            return
        net = self.net
        fw = (expired[rows] & (_gateway_stage.EXPIRED_OWN - 1)).astype(np.int64) - 1
        node = fw + len(net.nics)
        vm = active[rows] & (c.nic[rows] >= 0) & (
            firewall_nat.owner_np(self.fw_instance, c.dst[rows]) == fw)
        ok = self._cross(c, rows[vm], net.node_vnet[c.nic[rows[vm]]], net.node_vnet[node[vm]],
                         disp, dec, active)
        to_fw = np.flatnonzero(vm)[ok]
        nodes[rows[to_fw], 1] = node[to_fw]
        pos[rows[to_fw]] = 2
        public = (c.nic[rows] < 0) & (disp[rows] == D.FIREWALL_DENIED) & (
            nodes[rows, 1] == node)
        public[public] = dec[rows[public]] == np.array(
            [self.labels(net.firewall_rules[f].no_dnat_label) for f in fw[public].tolist()],
            np.int32).reshape(-1)
        for j in np.union1d(to_fw, np.flatnonzero(public)).tolist():
            r, f = int(rows[j]), int(fw[j])
            dec[r] = self.labels(_gateway_stage.label_expired_own(
                net.firewall_rules[f].name, int(c.dst[r]), int(c.proto[r]), int(c.dport[r])))
            disp[r] = D.FIREWALL_DENIED
            active[r] = False
            if public[j]:  # may answer a pending session, as the default deny (pending.py)
                self.pending_sessions.register(dec[r:r + 1], f + len(net.nics),
                                               np.zeros(1, bool))

    def _alive(self, c: Columns, entry: np.ndarray, since: np.ndarray, fid: np.ndarray,
               op: np.ndarray, ids: np.ndarray, excl: np.ndarray, touches: bool
               ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Idle expiry (conntrack.py, assumption conntrack-idle) in capture time, batch
        independent: (alive bool[n] -- False for a row whose entry `entry[r]` (opener id, -1
        none) was idle longer than the timeout at its time --, with `touches`: (rows, entry
        ids, time_ns) the commit applies, else None). Events per entry in row order: committed
        forward packets (passing, not shaper-excluded, not a reply key, the flow open before
        or by the row) touch always; a reply touches when alive: its time minus the latest
        touch before it (the committed last_ns, then earlier events) is at most the timeout.
        Fast paths: a reply within the timeout of `since` (a touch of its entry before it: the
        committed last_ns or its in-batch opener's time) is alive; else every reply alive
        assuming all earlier ones were; entries where that fails are scanned in order.
        `alive` is None when every row is alive (the first fast path)."""
        ct = self.ct
        n = entry.size
        rep = np.flatnonzero((entry >= 0) & (c.preset == UNDECIDED))
        sure = bool((c.time_ns[rep] - since[rep] <= ct.idle_timeout_ns).all())
        if sure and not touches:
            return None, None
        # the events in one pass (kernels/openers): the replies `rep`, then the forward rows
        # (a flow opened in the batch: by its opener row, first_openers' at most one per flow)
        ev_rows, ev_ent, t, nrep = touch_events(entry, c.preset, UNDECIDED, fid, ids,
                                                self._pass, excl, ct.opened, op, c.time_ns,
                                                self._scratch)
        if sure:
            return None, (ev_rows, ev_ent, t)
        alive = np.ones(n, bool)
        is_rep = self._rows(ev_rows.size) < nrep
        o = np.lexsort((ev_rows, ev_ent))
        ev_rows, ev_ent, is_rep, t = ev_rows[o], ev_ent[o], is_rep[o], t[o]
        start = np.r_[True, ev_ent[1:] != ev_ent[:-1]]
        gid = np.cumsum(start) - 1
        times, rank = np.unique(t, return_inverse=True)  # group-wise running max by rank
        key = gid * times.size + rank.ravel()
        upto = times[np.maximum.accumulate(key) - gid * times.size]
        before = np.r_[np.int64(-(1 << 62)), upto[:-1]]
        before[start] = -(1 << 62)
        committed = np.where(ct.opened[ev_ent], ct.last_ns[ev_ent], -(1 << 62))
        ok = ~is_rep | (t - np.maximum(before, committed) <= ct.idle_timeout_ns)
        for g in np.unique(gid[~ok]).tolist():  # a reply expired: scan its entry in order
            evs = np.flatnonzero(gid == g).tolist()
            last = int(committed[evs[0]])
            for k in evs:
                tk = int(t[k])
                ok[k] = not is_rep[k] or tk - last <= ct.idle_timeout_ns
                if ok[k]:
                    last = max(last, tk)
        alive[ev_rows[is_rep & ~ok]] = False
        return alive, (ev_rows[ok], ev_ent[ok], t[ok])

    def _rows(self, n: int) -> np.ndarray:
        """np.arange(n) (int64), read only: a view of one array kept for the largest n."""
        if self._iota.size < n:
            self._iota = np.arange(max(n, 2 * self._iota.size), dtype=np.int64)
            self._iota.flags.writeable = False
        return self._iota[:n]

    def _snat_full(self, c: Columns, fid: np.ndarray, op: np.ndarray, ids: np.ndarray,
                   alive_of: Callable[[], tuple[np.ndarray, Any]]) -> np.ndarray:
        """bool[n]: rows of flows without an entry before them whose decision draws a firewall
        SNAT port (`_pool`) from a pool that has `pool_limit` live entries at the row's time
        (stages/firewall_nat.py; reference._firewall_snat): committed entries and earlier
        in-batch openers of the pool, alive by their latest touch before the row (the touches
        `alive_of()` gives, `_alive`'s). Fast paths: the committed entries of every pool and
        the batch's pooled openers together stay below the smallest limit (so does each pool's
        share); a pool with fewer entries than its limit is not counted."""
        n = len(c)
        full = np.zeros(n, bool)
        if not self.snat_pools:
            return full
        ct = self.ct
        size = len(self.snat_pools)
        if int(ct.pool_entries[:size].sum()) + int(np.count_nonzero(
                self._pool[ids[op]] >= 0)) < min(self.pool_limit):
            return full
        pool = self._pool[ids]
        cand = np.flatnonzero((pool >= 0) & ~ct.opened[fid])
        if cand.size == 0:
            return full
        op_pool = pool[op]
        size = len(self.snat_pools)  # a bound first: committed + every in-batch opener
        counted = np.zeros(size, np.int64)
        counted[:ct.pool_entries.size] = ct.pool_entries[:size]
        bound = counted + np.bincount(op_pool[op_pool >= 0], minlength=size)
        cand = cand[bound[pool[cand]] >= np.asarray(self.pool_limit, np.int64)[pool[cand]]]
        if cand.size == 0:
            return full
        ofid = fid[op]
        order = np.argsort(ofid, kind="stable")
        at = np.minimum(np.searchsorted(ofid[order], fid[cand]), max(op.size - 1, 0))
        if op.size:  # the flow's in-batch opener is an earlier row: it has an entry
            cand = cand[~((ofid[order][at] == fid[cand]) & (op[order][at] < cand))]
        t_rows: np.ndarray | None = None
        for k in np.unique(pool[cand]).tolist():
            rk = cand[pool[cand] == k]
            ob = op[op_pool == k]  # in-batch openers of the pool, row order
            limit = self.pool_limit[k]
            near = rk[counted[k] + np.searchsorted(ob, rk) >= limit]
            if near.size == 0:
                continue
            if t_rows is None:
                t_rows, t_ent, t_ns = alive_of()[1]
            size = ct.opened.size
            held = np.flatnonzero((ct.pool[:size] == k) & ct.opened[:size])
            ents = np.concatenate([held, fid[ob]])
            born = np.concatenate([np.full(held.size, -1, np.int64), ob])
            base = np.concatenate([ct.last_ns[held], np.full(ob.size, -(1 << 62), np.int64)])
            order = np.argsort(ents)
            m = np.isin(t_ent, ents)
            where = order[np.searchsorted(ents[order], t_ent[m])]
            tr, tt = t_rows[m], t_ns[m]
            for r in near.tolist():
                last = base.copy()
                b = tr < r
                np.maximum.at(last, where[b], tt[b])
                now = int(c.time_ns[r])
                full[r] = int(((born < r) & (now - last <= ct.idle_timeout_ns)).sum()) >= limit
        return full

    @staticmethod
    def _changed(touched: np.ndarray, news: tuple[np.ndarray, ...], olds: tuple[np.ndarray, ...]
                 ) -> np.ndarray:
        """Rows of `touched` where a column of `news` differs from its pair in `olds`
        (kernels/rowdiff `changed_rows`); a pair that is one array (a column never written
        once made: base's, `_inner_state`'s) is not compared."""
        pairs = [(a, b) for a, b in zip(news, olds, strict=True) if a is not b]
        if not pairs:
            return touched[:0]
        return changed_rows(touched, [a for a, _ in pairs], [b for _, b in pairs])

    def _inner_state(self, base: tuple[np.ndarray, ...], c: Columns, ids: np.ndarray,
                     rows: np.ndarray, opener: np.ndarray) -> tuple[np.ndarray, ...]:
        """`base` with rows answering an in-batch opener row (`opener`, per row) given that
        opener's state: its decision's firewall set and translation. A column whose `rows`
        already hold those values is base's own array (never written: callers copy a column
        that `is` base's before writing it); the others are copies, never written either (the
        caller copies before writing). A call with the base, rows, openers and openers'
        decisions of the previous call (`_inner_prev`: a later round of the same run, usually
        the same answer) gets that call's own columns again."""
        if rows.size == 0:
            return base
        d = ids[opener]
        prev = self._inner_prev
        if prev is not None and prev[0] is base and _same_inputs(prev[1:4], (rows, opener, d)):
            new = prev[4]
        else:
            values = (True, self._fwset[d], *self._unnat_of(c, ids, opener))
            new = []
            for a, v in zip(base[:5], values, strict=True):
                if (a[rows] != v).any():  # most rows: est only (no firewall set, no translation)
                    a = a.copy()
                    a[rows] = v
                new.append(a)
            self._inner_prev = (base, rows, opener, d, new)
        return (*new, *base[5:])  # SNAT-pool-full, expired: not written here (caller's)

    def _unnat_of(self, c: Columns, ids: np.ndarray, rows: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(un-NAT address int64, port int32, source restore int64) of the entries opener
        `rows` open (conntrack.py): a DNATed flow's original destination, a SNATed flow's
        original source or-ed with UNSNAT, -1 when nothing was translated; ports 0 unless
        TCP/UDP; the source restore (conntrack.Entry.source_restore) is the original source
        address << 16 | port whenever the source was translated, else -1."""
        return unnat(rows, ids, c.family, c.proto, c.src, c.dst, c.sport, c.dport,  # kernels/
                     self._fsrc, self._fdst, self._fsport, self._fdport, UNSNAT,  # unnat
                     c.src_hi, c.src_lo, c.dst_hi, c.dst_lo, self.addr6.handle_np)

    def _openers(self, c: Columns, fid: np.ndarray, rid: np.ndarray, rev: tuple,
                 ids: np.ndarray, rkey: np.ndarray, excl: np.ndarray,
                 touches_of: Callable[[np.ndarray], tuple[np.ndarray, ...]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Rows that open an entry (passing, not a reply key -- `rkey`: the row answers an
        entry, alive or expired --, flow not yet open, first of their flow, within the table's
        room; row order), the flow ids of their translated tuples, `rid` (re-looked-up
        when translated tuples got new ids) and whether the room was counted exactly.
        Room (assumption conntrack-capacity, engine/room.py): a row opens only while fewer
        than `flow_capacity` entries are alive at its time. Fast path: the entries held plus
        this batch's openers stay below the capacity; else the entries possibly alive at the
        batch's first time bound it; else `room.admit` counts, with the touches
        `touches_of(openers)` gives (the previous round's `_alive`: exact for a row once the
        rows before it are, so the caller repeats rounds while the openers change)."""
        ct = self.ct
        room = max(self.flow_capacity - ct.count, 0)
        op = first_openers(fid, ids, self._pass, rkey, excl, ct.opened, room + 1,
                           self._scratch)
        exact = False
        if op.size > room:  # the held entries alone no longer bound the room
            op = first_openers(fid, ids, self._pass, rkey, excl, ct.opened, fid.size,
                               self._scratch)
            size = ct.opened.size
            held = np.flatnonzero(ct.opened[:size])
            held_last = ct.last_ns[held]
            lowest = int(c.time_ns.min()) - ct.idle_timeout_ns
            maybe = int((held_last >= lowest).sum())  # alive at some row, or revived by one:
            revive = np.unique(fid[ct.opened[fid] & self._pass[ids]]).size  # a forward row
            if maybe + revive + op.size > self.flow_capacity:
                exact = True
                cand = np.flatnonzero(self._pass[ids] & ~rkey & ~excl & ~ct.opened[fid])
                rows, ent, t = touches_of(op)
                op = room_admit(cand, fid[cand], c.time_ns, held, held_last, rows, ent, t,
                                self.flow_capacity, ct.idle_timeout_ns)
        tid = fid[op].copy()
        x = np.flatnonzero(self._xlat[ids[op]])
        grown, sentinel = False, ct.sentinel  # "no id" in rid (moves when the arrays grow)
        if x.size:
            tid[x], grown = self._translated_ids(c, op[x], ids, self._fsport[ids[op[x]]])
        moved = self._snat_ports(c, fid, op, ids, tid, touches_of)  # engine/snat_ports.py
        if moved.size:  # allocated ports other than the hash ports
            tid[moved], more = self._translated_ids(c, op[moved], ids, self._snat_sport[moved])
            grown |= more
        if grown:
            rid = self._reverse_ids(rid, rev, sentinel)
        return op, tid, rid, exact

    def _reverse_ids(self, rid: np.ndarray, rev: tuple, sentinel: int) -> np.ndarray:
        """`rid` (int64[n], each row's reverse-tuple flow id, `sentinel`: none) once new flow
        ids were made (the conntrack arrays grown: the current sentinel may differ): ids are
        never renumbered within a run, so only the rows without one can have one now; only
        they are looked up again (reverse tuples `rev`: `_flow_ids`' hashes and keys). A new
        array when a row changes; `rid` itself is not written."""
        miss = np.flatnonzero(rid == sentinel)
        if miss.size == 0:
            return rid
        found = self.flow_index.lookup(rev[0][miss], rev[1][miss])
        rid = rid.copy()
        rid[miss] = np.where(found >= 0, found, self.ct.sentinel)
        return rid

    def _translated_ids(self, c: Columns, xo: np.ndarray, ids: np.ndarray, sport: np.ndarray
                        ) -> tuple[np.ndarray, bool]:
        """(flow ids of the translated tuples of opener rows `xo` with source ports `sport`,
        whether new ids were made -- the conntrack arrays are grown for them). A call with
        the rows, their decisions and ports of one of this run's last two calls (`_xlat_prev`:
        a round makes at most two, hash ports and moved ports; ids are stable within a run)
        gets that call's ids again (and no new ids)."""
        d = ids[xo]
        for *inputs, t in self._xlat_prev:
            if _same_inputs(inputs, (xo, d, sport)):
                return t, False
        shi, slo = self.addr6.halves_np(self._fsrc[d], c.src_hi[xo], self._fsrc[d])
        dhi, dlo = self.addr6.halves_np(self._fdst[d], c.dst_hi[xo], self._fdst[d])
        six = c.family[xo] == 6  # untranslated IPv6 halves stay the row's own
        slo = np.where(six & ~self.addr6.is_handle(self._fsrc[d]), c.src_lo[xo], slo)
        dlo = np.where(six & ~self.addr6.is_handle(self._fdst[d]), c.dst_lo[xo], dlo)
        u, h = flow_keys(c.family[xo], shi, slo, dhi, dlo, c.proto[xo], sport,
                         self._fdport[d])
        m = xo.size
        t, new = self.flow_index.index(h[:m], u[:m])
        grown = bool(new.any())
        if grown:
            self._grow_ids()
        self._xlat_prev = [*self._xlat_prev[-1:], (xo, d, sport, t)]
        return t, grown

    def _snat_ports(self, c: Columns, fid: np.ndarray, op: np.ndarray, ids: np.ndarray,
                    tid: np.ndarray, touches_of: Callable[[np.ndarray], tuple[np.ndarray, ...]]
                    ) -> np.ndarray:
        """Indexes into `op` (opener rows) whose translated tuple takes another source port
        than the hash port its decision carries (`tid`: the translated tuples' ids with the
        hash ports). An opener of a flow an Azure Firewall SNATed (its decision's pool, IPv4
        TCP/UDP) takes the first port from its hash port up that no live entry of its space
        holds (engine/snat_ports.py `allocate`, as ConnTrack.commit). Fast path (`_snat_hot`):
        no hash tuple is held by a committed entry or drawn twice, so every opener keeps its
        hash port; else only the openers that may not keep theirs are walked in row order
        (`_snat_probe`). Leaves per opener `_snat_sport` (-1: none) and `_snat_take` (it takes
        over an idled-out holder's reply id: BatchConnTrack.open), `_snat_blockers` (opener
        rows whose live port moved a later opener: withdrawing them would change its port) and
        `_snat_moved` (the ports differ from the previous round's and read touches: the caller
        decides another round). A round whose openers, their decisions and hash tuples are the
        previous round's (same batch and table: `_snat_prev` is per run) gets that round's
        answer again when it read no touches (the only input that changes between rounds)."""
        d = ids[op]
        prev = self._snat_prev
        if prev is not None and not prev[4] and _same_inputs((prev[0], prev[2], prev[3]),
                                                             (op, d, tid)):
            self._snat_sport, self._snat_take, self._snat_blockers = prev[1], prev[5], prev[6]
            self._snat_moved = False
            return prev[7]
        sport = np.full(op.size, -1, np.int32)
        take = np.zeros(op.size, bool)
        self._snat_blockers = np.zeros(0, np.int64)
        used_touches = False
        a = np.flatnonzero(self._xlat[d] & (self._pool[d] >= 0) & (c.family[op] == 4)
                           & ((c.proto[op] == 6) | (c.proto[op] == 17)))
        if a.size:
            rows, da = op[a], d[a]
            space = np.stack([self._fsrc[da], self._fdst[da], c.proto[rows].astype(np.int64),
                              self._fdport[da].astype(np.int64)], axis=1)
            start = self._fsport[da].astype(np.int32)
            owner, hot = self._snat_hot(tid[a])
            got, took = start.copy(), np.zeros(a.size, bool)
            if hot.any():
                used_touches = self._snat_probe(c, fid, op, rows, space, start, tid[a], owner,
                                                hot, touches_of, got, took)
            sport[a], take[a] = got, took
            moved = a[got != start]
        else:
            moved = a
        self._snat_prev = (op, sport, d, tid.copy(), used_touches, take, self._snat_blockers,
                           moved)
        self._snat_moved = used_touches and (prev is None or not (
            np.array_equal(prev[0], op) and np.array_equal(prev[1], sport)))
        self._snat_sport, self._snat_take = sport, take
        return moved

    def _snat_hot(self, tid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the committed owner of each hash tuple's reply id -- `tid`: the tuples' flow ids --,
        -1 none; `hot`: bool, the hash tuple is owned or drawn by an earlier opener)."""
        k = tid.size
        owner = self.ct.reply_entry[tid]
        at = self._rows(k)
        return owner, (owner >= 0) | (earliest(tid, at, tid, k, self._scratch) != at)

    def _snat_probe(self, c: Columns, fid: np.ndarray, op: np.ndarray, rows: np.ndarray,
                    space: np.ndarray, start: np.ndarray, tid: np.ndarray, owner: np.ndarray,
                    hot: np.ndarray, touches_of: Callable[[np.ndarray], tuple[np.ndarray, ...]],
                    got: np.ndarray, took: np.ndarray) -> bool:
        """`_snat_ports`' slow path: each opener (`rows`, row order; its `space`, hash port
        `start`, hash tuple id `tid`) takes `allocate`'s port into `got`/`took` as if every
        opener were walked in row order -- a port's holder is the latest earlier opener of the
        space that took it, else the committed owner of its reply id, alive at the opener's
        time by its latest touch before it (committed last_ns, then the previous round's
        touches `touches_of(op)`). Sets `_snat_blockers`; True when touches were read.

        Only a set W of openers is walked; the others keep their hash ports without a walk.
        W starts as the `hot` openers (hash tuple owned by a committed entry, or drawn by an
        earlier opener) and grows by every opener whose hash port a walked opener before it
        took, walking W again until no opener is added (W only grows: at most one walk per
        opener). Proof that the answer is the full walk's, by induction over the openers in
        row order, assuming every opener before j got the full walk's port: (1) j in W: its
        walk reads the holders of its space's ports as the latest earlier opener that took
        each -- the walked ones (`local`) and the unwalked ones, each holding its own hash
        port only (the earliest opener of that hash tuple, `earliest` over `tid`; a later one
        drew it twice and is hot) -- the same holders as the full walk's by the assumption, so
        the same port, take-over and blockers. (2) j not in W: it is not hot, so no committed
        entry owns its hash tuple and no earlier opener drew it (an earlier unwalked opener
        holds only its own hash port); no walked opener before j took it either, or j would
        have been added; so the full walk finds its hash port free (snat_ports.allocate
        returns `start` unchanged, no take-over, no holder read: no blocker, no touch) -- what
        an unwalked opener keeps. Touches are read by walks only, so the returned flag is the
        full walk's too (the last pass's). A (space, port) is one flow id (the translated
        tuple's, `_tuple_ids`): its committed owner and its earliest hash-port opener come
        from it; a tuple never interned has neither."""
        ct = self.ct
        timeout = ct.idle_timeout_ns
        touches: list[tuple[np.ndarray, ...]] = []
        time_ns = c.time_ns
        k = tid.size
        at = self._rows(k)
        # (space, port) -> (earliest opener with it as hash tuple, committed owner), -1 none
        info: dict[tuple[int, ...], tuple[int, int]] = {}
        spaces: dict[int, tuple[int, ...]] = {}

        def learn(who: np.ndarray, ports: np.ndarray) -> None:
            t = self._tuple_ids(space[who], ports)
            known = t >= 0
            first = np.full(t.size, -1, np.int64)
            own = np.full(t.size, -1, np.int64)
            first[known] = earliest(tid, at, t[known], k, self._scratch)  # k: none
            first[first == k] = -1
            own[known] = ct.reply_entry[t[known]]
            for w, q, f, o in zip(who.tolist(), ports.tolist(), first.tolist(), own.tolist(),
                                  strict=True):
                if w not in spaces:
                    spaces[w] = tuple(space[w].tolist())
                info[(*spaces[w], q)] = f, o

        def last_touch(entry: int, before: int, since: int) -> int:
            if not touches:
                touches.append(touches_of(op))
            tr, te, tt = touches[0]
            m = (te == entry) & (tr < before)
            return max(since, int(tt[m].max())) if m.any() else since

        ahead = np.flatnonzero(hot)  # their first ports, looked up at once
        learn(np.repeat(ahead, SNAT_PROBE_AHEAD), window(start[ahead], SNAT_PROBE_AHEAD).ravel())
        walk = set(ahead.tolist())
        while True:
            local: dict[tuple[int, ...], int] = {}  # (space, port) -> latest walker taking it
            taken: list[tuple[tuple[int, ...], int]] = []  # every walker's (space, port)
            blockers: list[int] = []
            read = False
            for j in sorted(walk):
                if j not in spaces:
                    spaces[j] = tuple(space[j].tolist())
                sp = spaces[j]
                r = int(rows[j])
                now = int(time_ns[r])
                moved: list[int] = []

                def holder(q: int, j: int = j, sp: tuple[int, ...] = sp,
                           local: dict[tuple[int, ...], int] = local,
                           walk: set[int] = walk) -> tuple[bool, int] | None:
                    key = (*sp, q)
                    if key not in info:
                        learn(np.array([j]), np.array([q], np.int64))
                    s, own = info[key]
                    v = local.get(key, -1)
                    if v < s < j and s not in walk:  # an unwalked opener's hash port
                        v = s
                    if v >= 0:
                        return True, v
                    return (False, own) if own >= 0 else None

                def alive(h: tuple[bool, int], r: int = r, now: int = now,
                          moved: list[int] = moved) -> bool:
                    nonlocal read
                    in_batch, v = h
                    q = int(rows[v]) if in_batch else -1
                    since = int(time_ns[q]) if in_batch else int(ct.last_ns[v])
                    ent = int(fid[q]) if in_batch else v
                    ok = now - since <= timeout
                    if not ok:
                        read = True
                        ok = now - last_touch(ent, r, since) <= timeout
                    if ok and in_batch:
                        moved.append(q)
                    return ok

                port, take = allocate(int(start[j]), holder, alive)
                if port != start[j]:
                    blockers += moved
                key = (*sp, port)
                local[key] = j
                taken.append((key, j))
                got[j], took[j] = port, take
            more = {s for key, j in taken for s in (info[key][0],) if s > j and s not in walk}
            if not more:  # no later opener's hash port taken by a walker
                break
            walk |= more
        self._snat_blockers = np.unique(np.array(blockers, np.int64))
        return read

    def _in_batch_openers(self, c: Columns, fid: np.ndarray, ids: np.ndarray, op: np.ndarray,
                          tid: np.ndarray, rid: np.ndarray, known: np.ndarray
                          ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
        """(the un-NAT state of the openers `op` (`_unnat_of`); int64[n], each row's earliest
        in-batch opener row -- its reverse tuple (`rid`) is an opener's translated tuple
        (`tid`) or a SNATed opener's original one --, n none; the committed entries `known`
        once SNAT take-overs apply (`_snat_owners`: both may be replaced)). A round with the
        last call's openers, their decisions, translated ids and take-overs and the same
        `rid` array (`_round_prev`, per run) gets the last call's answer."""
        d = ids[op]
        prev = self._round_prev
        if prev is not None and prev[0] is rid and _same_inputs(
                prev[1:5], (op, d, tid, self._snat_take)):
            return prev[5]
        unnat = self._unnat_of(c, ids, op)
        also = op[unnat[0] >= UNSNAT]  # SNAT: reverse(original) too
        keys, by = np.concatenate([tid, fid[also]]), np.concatenate([op, also])
        cand = earliest(keys, by, rid, rid.size, self._scratch)
        answer = (unnat, *self._snat_owners(rid, op, tid, cand, known))
        self._round_prev = (rid, op, d, tid, self._snat_take, answer)
        return answer

    def _snat_owners(self, rid: np.ndarray, op: np.ndarray, tid: np.ndarray, cand: np.ndarray,
                     known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each row's in-batch opener `cand`, its committed entry `known`) once openers that
        took over an idled-out holder's reply id (`_snat_take`, engine/snat_ports.py) are
        applied: a later row keyed by that reply id answers the latest such opener before it
        (no longer the committed entry, nor an earlier opener)."""
        took = np.flatnonzero(self._snat_take)
        if took.size == 0:
            return cand, known
        cand, known = cand.copy(), known.copy()
        rows = np.arange(rid.size, dtype=np.int64)
        for k in took.tolist():  # row order: the latest taker wins
            q = int(op[k])
            m = (rid == tid[k]) & (rows > q)
            cand[m] = q
            known[m] = -1
        return cand, known

    def _snat_final(self, c: Columns, fid: np.ndarray, op: np.ndarray, ids: np.ndarray,
                    rkey: np.ndarray, excl: np.ndarray) -> None:
        """The final source port (`final[2]`) of rows whose flow holds an allocated SNAT port
        (engine/snat_ports.py): its opener, and its later forward rows (passing, not a reply
        key, not shaper-excluded) leave with the entry's port, not the hash port -- the
        committed entry's (`ct.sport`) or this batch's opener's (`_snat_sport`)."""
        cand = np.flatnonzero((self._pool[ids] >= 0) & self._pass[ids] & ~(rkey | excl))
        if cand.size == 0:
            return
        port = np.full(cand.size, -1, np.int32)
        flow = fid[cand]
        held = self.ct.opened[flow]
        port[held] = self.ct.sport[flow[held]]
        if op.size:  # its flow's opener row (n: none), then that opener's port (a flow has
            ofid = fid[op]  # one opener: first_openers, room.admit)
            at = earliest(ofid, op, flow, fid.size, self._scratch)
            mine = np.flatnonzero(~held & (at <= cand))
            port[mine] = earliest(ofid, self._snat_sport, flow[mine], 1 << 31, self._scratch)
        m = port >= 0
        self.final[2][cand[m]] = port[m]

    def _tuple_ids(self, space: np.ndarray, port: np.ndarray) -> np.ndarray:
        """int64[k]: the flow id of each IPv4 tuple (space row: source, destination, protocol,
        destination port; source port `port`), -1 when never interned (no entry holds it)."""
        k = port.size
        zero = np.zeros(k, np.uint64)
        u, h = flow_keys(np.full(k, 4, np.uint8), zero, space[:, 0].astype(np.uint64), zero,
                         space[:, 1].astype(np.uint64), space[:, 2], port, space[:, 3])
        return self.flow_index.lookup(h[:k], u[:k])

    def _room_touches(self, c: Columns, entry: np.ndarray, since: np.ndarray,
                      fid: np.ndarray, ids: np.ndarray, excl: np.ndarray, op: np.ndarray
                      ) -> tuple[np.ndarray, ...]:
        """(rows, entry ids, time_ns) that touch entries (`_alive`'s touches) given each
        row's entry, its touch before it and the openers `op`."""
        return self._alive(c, entry, since, fid, op, ids, excl, True)[1]

    # -- the decision cache --
    @staticmethod
    def _decision_keys(c: Columns, fid: np.ndarray) -> np.ndarray:
        """The row part of a decision key as exact uint64 words: the flow id (the exact
        5-tuple, ports 0 unless TCP/UDP), the raw ports (sport << 32 | dport, both int32),
        nic << 10 | preset << 2 (the SNAT-pool-full bit 1 and the est bit 0 or-ed in later) and the row's conntrack state id
        (0: none; filled by `_decisions`). Flow ids are kept with the cache (see
        _compact_flows)."""
        return row_keys(fid, c.sport, c.dport, c.nic, c.preset, c.server_name)  # kernels/dkeys

    def _decisions(self, c: Columns, state: tuple[np.ndarray, ...], rows: np.ndarray,
                   dkeys: np.ndarray) -> np.ndarray:
        """Decision ids of `rows` (dkeys restricted to them). The key is everything decide()
        reads of a row: its fields and its conntrack state (est bit, and the interned
        (firewall-session set, un-NAT address, un-NAT port) as a state id) -- never an entry
        id, so a cached answer is exact whatever entry supplied the state. Rows with the
        same key share one decide() (within this batch and across batches); new keys are
        decided once, by their first row."""
        # fast path: `rows` are distinct ascending rows of the batch (run's arange, or
        # changed_rows' subset of the ascending `touched`), so as many as the batch are all of
        # them in order: the state columns are read as they are, without a gather
        sel = slice(None) if rows.size == state[0].size else rows
        est = state[0][sel]
        keys = dkeys  # rows without state: est bit and state id are 0 already
        full = np.flatnonzero(state[5][sel])  # a new flow whose SNAT port pool is in use
        if full.size:
            keys = dkeys.copy()
            keys[full, 2] |= np.uint64(2)
        gone = np.flatnonzero(state[6][sel] >= 0)  # answers an expired entry (no est bit)
        if gone.size:
            keys = keys.copy()
            keys[gone, 3] |= np.uint64(1 << 31) | state[6][rows[gone]].astype(np.uint64)
        st = np.flatnonzero(est)
        if st.size:
            r = rows[st]
            words = np.empty((st.size, 4), dtype=np.int64)
            words[:, 0] = state[1][r]
            words[:, 1] = state[2][r]
            words[:, 2] = state[3][r]
            words[:, 3] = state[4][r]
            u = words.view(np.uint64)
            sid, _ = self.states.index(state_hashes(u), u)
            keys = keys.copy()
            keys[st, 2] |= np.uint64(1)
            keys[st, 3] |= (sid + 1).astype(np.uint64)
        ids, new = self.cache.index(key_hashes(keys), keys)
        if new.any():
            reps = rows[new]
            self._store(*self.decide(c.take(reps), *(a[reps] for a in state)))
        return ids

    _STORE = (("_disp", np.uint8), ("_dec", np.int32), ("_pass", bool), ("_fwset", np.int32),
              ("_xlat", bool), ("_fsrc", np.int64), ("_fdst", np.int64),
              ("_fsport", np.int32), ("_fdport", np.int32), ("_pool", np.int64))

    def _store(self, disp: np.ndarray, dec: np.ndarray, nodes: np.ndarray, src: np.ndarray,
               dst: np.ndarray, sport: np.ndarray, dport: np.ndarray, xlat: np.ndarray,
               pool: np.ndarray) -> None:
        lo, k = self._stored, disp.size
        if lo + k > self._disp.size:
            cap = max(2 * self._disp.size, lo + k)
            for name, _ in self._STORE:
                setattr(self, name, np.resize(getattr(self, name), cap))
            self._nodes = np.resize(self._nodes, (cap, WIDTH))
        s = slice(lo, lo + k)
        self._disp[s], self._dec[s], self._nodes[s] = disp, dec, nodes
        self._pass[s] = np.isin(disp, PASSED_CODES)
        self._fwset[s] = self.fwsets.of_paths(nodes)
        self._xlat[s] = xlat
        self._pool[s] = pool
        self._fsrc[s], self._fdst[s], self._fsport[s], self._fdport[s] = src, dst, sport, dport
        self._stored = lo + k

    def _clear_cache(self) -> None:
        self.cache.clear()
        self.states.clear()
        self._stored = 0
        for name, t in self._STORE:
            setattr(self, name, np.empty(1024, dtype=t))
        self._nodes = np.empty((1024, WIDTH), dtype=np.int32)

    def reset_state(self) -> None:
        self.fragments.clear()
        self.flow_names.reset()
        self._clear_flows()
        self._clear_cache()

    # -- flow ids --
    def _flow_ids(self, c: Columns) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Flow ids of each packet's 5-tuple (ports 0 unless TCP/UDP) and of its reverse, from
        the key-interning kernel (exact keys and their 64-bit hashes from `flow_keys`; the hash
        picks the slot, so a collision costs time only). Ids are kept across batches; the
        conntrack arrays (conntrack.BatchConnTrack) are indexed by them. Only forward (and
        translated) tuples get ids; a reverse tuple never seen gets the sentinel id."""
        n = len(c)
        u, h = flow_keys(c.family, c.src_hi, c.src_lo, c.dst_hi, c.dst_lo, c.proto, c.sport,
                         c.dport)  # forward rows, then reverse
        fid, _ = self.flow_index.index(h[:n], u[:n])
        rev = (h[n:], u[n:])
        self._grow_ids()
        rid = self.flow_index.lookup(*rev)
        rid[rid < 0] = self.ct.sentinel
        return fid, rid, rev

    def _grow_ids(self) -> None:
        self.ct.grow(self.flow_index.size)
        self.pending_sessions.grow(self.ct.opened.size)
        if self._scratch.size < self.ct.opened.size:
            self._scratch = np.empty(self.ct.opened.size, dtype=np.int64)

    def _clear_flows(self) -> None:
        self._prep = None
        self.flow_index.clear()
        self.ct.clear()
        self.pending_sessions.clear()
        self._scratch = np.empty(self.ct.opened.size, dtype=np.int64)  # reset where used

    def _compact_flows(self) -> None:
        """Bounded memory: keep only the ids conntrack needs (open flows and their translated
        tuples; renumbered, the state follows); the decision cache is cleared (its keys
        hold flow ids)."""
        self._prep = None
        h, k = self.flow_index.export()
        keep = self.ct.keep_mask(h.size) | self.pending_sessions.keep_mask(h.size)
        self.flow_index.clear()
        self.flow_index.index(h[keep], k[keep])
        self.ct.renumber(keep)
        self.pending_sessions.renumber(keep, self.ct.opened.size)
        self._scratch = np.empty(self.ct.opened.size, dtype=np.int64)
        self._clear_cache()

    # -- the stages --
    def decide(self, c: Columns, est: np.ndarray, fwset: np.ndarray, unnat_ip: np.ndarray,
               unnat_port: np.ndarray, usrc: np.ndarray | None = None,
               full: np.ndarray | None = None, expired: np.ndarray | None = None
               ) -> tuple[np.ndarray, ...]:
        """Rows in, (disposition, deciding label, node path, final src, dst, sport, dport,
        translated flag, SNAT pool id) out; reads only the rows' fields and their conntrack
        state (`full`: the row's SNAT port pool is in use, stages/firewall_nat.py; `expired`:
        int32, -1 or `_expired`'s value for a row whose entry idled out). The pool
        id (-1 none) names the firewall SNAT port pool the row drew from (`snat_pools`)."""
        net = self.net
        n = len(c)
        pool = np.full(n, -1, np.int64)
        full = np.zeros(n, bool) if full is None else full
        orig = (c.src, c.dst, c.sport, c.dport)
        c = replace(c, src=c.src.copy(), dst=c.dst.copy(), sport=c.sport.copy(),
                    dport=c.dport.copy(), src_hi=c.src_hi.copy(), src_lo=c.src_lo.copy(),
                    dst_hi=c.dst_hi.copy(), dst_lo=c.dst_lo.copy())  # translations rewrite
        # these from their hop on (IPv6 translations: handles + halves, address_handles.py)
        disp = c.preset.copy()
        dec = np.full(n, -1, dtype=np.int32)
        nodes = np.full((n, WIDTH), -1, dtype=np.int32)
        for d, lab in self.l_edge.items():
            dec[disp == d] = lab
        six = c.family == 6
        outside6 = (disp == UNDECIDED) & (c.nic < 0) & six  # UNMAPPED after the edges below
        disp[outside6] = D.IPV6_NOT_MODELLED
        unmapped = (disp == UNDECIDED) & (c.nic < 0)
        disp[unmapped] = D.UNMAPPED
        dec[unmapped] = self.l_unmapped
        active = disp == UNDECIDED
        nodes[active, 0] = c.nic[active]

        def end(mask_idx: np.ndarray, d: D, label: np.ndarray | int) -> None:
            disp[mask_idx] = d
            dec[mask_idx] = label
            active[mask_idx] = False

        # 1 source / anti-spoofing
        idx = np.flatnonzero(active)
        nic = c.nic[idx].astype(np.int64)
        bad = source.decide_np(self.nic_ip_keys, self.forwarding, nic, c.src[idx], six[idx],
                               self.own6, c.src_hi[idx], c.src_lo[idx])
        end(idx[bad], D.SPOOFED, self.spoof_label[nic[bad]])
        # what a VNet does not carry (multicast, broadcast, IP-in-IP, GRE)
        idx = np.flatnonzero(active)
        kind = source.blocked_np(c.dst[idx], c.proto[idx], six[idx], c.dst_hi[idx],
                                 c.sport[idx])
        for k, name in enumerate(source.BLOCKED_KINDS):
            hit = idx[kind == k]
            if hit.size:
                end(hit, D.BLOCKED_IN_VNET, self.labels(source.blocked_label(name)))
        # IPv6 neighbour discovery: answered by the host (stages/platform.py, ipv6-nd-host)
        idx = np.flatnonzero(active & six)
        if idx.size:
            idx = idx[platform.nd_np(six[idx], c.proto[idx], c.sport[idx])]
            for t in np.unique(c.sport[idx]).tolist():
                end(idx[c.sport[idx] == t], D.EXITS_PLATFORM, self.labels(platform.nd_label(t)))
        # Azure's host services (DNS, DHCP, WireServer, IMDS): answered by the host
        idx = np.flatnonzero(active)
        which = platform.decide_np(c.dst[idx], c.proto[idx], c.dport[idx], c.nic[idx],
                                   self.platform_exempt)
        for k, service in enumerate(platform.OUTBOUND):
            hit = idx[which == k]
            if hit.size:
                end(hit, D.EXITS_PLATFORM, self.labels(platform.label(service)))
        # 2 outbound NSG at the source NIC
        self._nsg(c, est, active, c.nic, "Outbound", D.DENIED_OUT, dec, disp)
        # un-DNAT of a load-balanced flow's reply at its source host (conntrack.py)
        m = active & (unnat_ip >= 0) & (unnat_ip < UNSNAT)
        if m.any():
            nat.unnat_np(c, m, unnat_ip, unnat_port)
            m6 = m & six  # an IPv6 frontend's address back from its handle
            if m6.any():
                c.src_hi[m6], c.src_lo[m6] = self.addr6.halves_np(unnat_ip[m6], c.src_hi[m6],
                                                                  c.src_lo[m6])
        # a firewall-translated source restored at the reply's sending host (conntrack.py)
        m = active & (usrc >= 0) if usrc is not None else active & False
        if m.any():
            nat.unsnat_np(c, m, usrc >> 16, (usrc & 0xFFFF).astype(np.int32))
        # un-SNAT of a source-translated flow's reply from outside (conntrack.py)
        m = (disp == D.UNMAPPED) & (c.nic < 0) & (unnat_ip >= UNSNAT)
        if m.any():
            nat.unsnat_np(c, m, unnat_ip & (UNSNAT - 1), unnat_port)
        subnet = np.where(active, net.node_subnet[np.maximum(c.nic, 0)], -1)
        pos = np.ones(n, dtype=np.int64)
        # a new flow to an Azure Firewall's public address: its DNAT rules (firewall_nat.py)
        rows = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0) & ~est)
        if rows.size and self.fw_public:
            fw = firewall_nat.owner_np(self.fw_public, c.dst[rows])
            rows, fw = rows[fw >= 0], fw[fw >= 0]
            nodes[rows, 0] = net.internet_node
            nodes[rows, 1] = fw + len(net.nics)
            pos[rows] = 2
            disp[rows], dec[rows], active[rows] = UNDECIDED, -1, True
            self._firewall_dnat(c, rows, fw, subnet, disp, dec, active)
        # replies to a firewall's own address return through it (restored above; firewall_nat)
        rows = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0) & est)
        rows, fw = self._reply_firewall(rows, orig[1], fwset, self.fw_public)
        if net.firewalls:  # firewall SNAT, the reply captured at the VM (reference.py)
            at_vm, f = self._captured_at_vm(c, orig, est, fwset, unnat_ip, unnat_port, disp)
            rows, fw = np.concatenate([rows, at_vm]), np.concatenate([fw, f])
        entered = np.full(rows.size, net.internet_node, np.int64)
        if self.fw_instance:  # to an instance address from on-premises (reference.py)
            inst = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0) & est)
            inst, f = self._reply_firewall(inst, orig[1], fwset, self.fw_instance)
            gw = _gateway_stage.onprem_gateways_np(net, orig[0][inst])
            inst, f, gw = inst[gw >= 0], f[gw >= 0], gw[gw >= 0]
            ok = peering.decide_np(net, self.labels, self.peer_label, orig[0][inst], inst,
                                   net.node_vnet[gw], net.node_vnet[f + len(net.nics)], gw,
                                   np.ones(inst.size, bool), disp, dec, active)
            rows, fw = np.concatenate([rows, inst[ok]]), np.concatenate([fw, f[ok]])
            entered = np.concatenate([entered, gw[ok]])
        if rows.size:
            nodes[rows, 0] = entered
            nodes[rows, 1] = fw + len(net.nics)
            pos[rows] = 2
            disp[rows], dec[rows], active[rows] = UNDECIDED, -1, True
            subnet[rows] = appliance.next_subnet_np(net, fw + len(net.nics))
        rows, fw = self._reply_firewall(np.flatnonzero(active & est & (c.nic >= 0)), orig[1],
                                        fwset, self.fw_instance)
        chains = self._chains(c, est, fwset, unnat_ip, unnat_port, usrc)
        for i, f in zip(rows.tolist(), fw.tolist(), strict=True):
            if f in chains.get(i, {}):  # chained DNAT: this firewall undoes its own only
                self._restore(c, i, chains[i][f])
        if rows.size:  # they cross as sent (orig), restored at the firewall (reference.py)
            node = fw + len(net.nics)
            ok = self._cross(c, rows, net.node_vnet[c.nic[rows]], net.node_vnet[node], disp, dec,
                             active, src=orig[0][rows])
            stopped = rows[~ok]  # dropped before the firewall: never translated
            for now, sent in zip((c.src, c.dst, c.sport, c.dport), orig, strict=True):
                now[stopped] = sent[stopped]
            rows, node = rows[ok], node[ok]
            nodes[rows, 1] = node
            pos[rows] = 2
            subnet[rows] = appliance.next_subnet_np(net, node)
        # a public load balancer's frontend: rule, DNAT, delivery (stages/loadbalancer.py)
        rows = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0))  # no emulated source NIC
        if rows.size and net.lb.public_keys.size:
            rows_lb, backend, ip, port, label = lb.public_np(net, self.labels, c, rows[~est[rows]],
                                                             disp, dec, active)
            nat.dnat_np(c, rows_lb, ip, port)
            self.deliver(c, est, rows_lb, backend, label, nodes, np.zeros(n, np.int64), disp,
                         dec, active)
            rows = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0))
        # DNAT to an instance public IP's private address (stages/public_edge.py)
        if rows.size:
            shut, which = public_edge.inbound_np(net, c, rows, est)
            for k in np.unique(which).tolist():
                end(shut[which == k], D.PUBLIC_IP_CLOSED,
                    self.labels(public_edge.closed_label(public_edge.tables(net).names[k])))
            rows = rows[disp[rows] == D.UNMAPPED]
            shut, which = public_edge.outbound_only_np(net, c, rows, est)
            for k in np.unique(which).tolist():
                end(shut[which == k], D.NAT_OUTBOUND_ONLY, self.labels(
                    public_edge.outbound_only_label(
                        public_edge.tables(net).outbound_only_names[k])))
        self._expired_at_firewall(c, expired, disp, dec, nodes, pos, active)
        # >>> semantics stage owned by stages/gateway.py (on-premises/probe/Internet ingress)
        _gateway_stage.enter_stage(self, c, est, disp, dec, nodes, pos, active, subnet,
                                   expired)
        disp[outside6] = D.UNMAPPED  # IPv6 from outside the VNets (reference.py, engine-ipv6)
        dec[outside6] = self.l_ingress6
        if outside6.any():  # ... but on-premises (ExpressRoute), public IPv6 and tracked
            self._ingress6(c, est, np.flatnonzero(outside6), nodes, pos, subnet, disp, dec,
                           active, unnat_ip, unnat_port)  # flows' replies get in
        for _ in range(MAX_HOPS):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            long = pos[idx] > MAX_HOPS  # gateways crossed count as path nodes (gateway.py)
            end(idx[long], D.LOOP, self.l_hoplimit)
            idx = idx[~long]
            sub = subnet[idx].astype(np.int64)
            rid = routing.decide_np(net, sub, c.dst[idx], six[idx], c.dst_hi[idx],
                                    c.dst_lo[idx])  # stages/route.py
            none = rid < 0
            end(idx[none], D.NO_ROUTE, self.l_noroute)
            idx, rid, sub = idx[~none], rid[~none], sub[~none]
            # >>> stages/gateway.py: one of equal-cost gateway rows per flow
            rid = _gateway_stage.ecmp_np(net, c, idx, rid, nodes, pos)
            dec[idx] = self.route_label[rid]
            nh = net.route_nh[rid]
            vnet = net.program.subnet_vnet[sub]
            idx, rid, sub, nh, vnet = self._hop_stages(c, est, idx, rid, sub, nh, vnet,
                                                       nodes, pos, disp, dec, active)
            end(idx[nh == NH_NONE], D.NULL_ROUTED, self.route_label[rid[nh == NH_NONE]])
            m = nh == NH_INTERNET  # a new flow without outbound access (stages/public_edge.py)
            if m.any():
                shut = public_edge.exit_np(net, idx[m], nodes[idx[m], pos[idx[m]] - 1], est)
                for i in idx[m][shut].tolist():
                    node = int(nodes[i, pos[i] - 1])
                    end(np.array([i]), D.NO_OUTBOUND_ACCESS, self.labels(
                        public_edge.tables(net).no_outbound_label[node]))
                keep = np.ones(idx.size, bool)
                keep[np.flatnonzero(m)[shut]] = False
                idx, rid, sub, nh, vnet = idx[keep], rid[keep], sub[keep], nh[keep], vnet[keep]
            m = nh == NH_INTERNET  # a new flow takes its outbound source (public_edge.py)
            if m.any():
                public_edge.snat_np(net, c, idx[m], nodes[idx[m], pos[idx[m]] - 1], est)
            m = (nh == NH_INTERNET) | (nh == NH_SERVICE)
            nodes[idx[m], pos[idx[m]]] = net.internet_node
            end(idx[m], D.EXITS_INTERNET, self.route_label[rid[m]])
            # >>> stages/gateway.py: gateway rows (on-premises, VNet-to-VNet), NVA egress
            keep = _gateway_stage.hop_np(self, c, idx, rid, nh, nodes, pos, subnet, disp, dec,
                                         active)
            idx, rid, nh, vnet = idx[keep], rid[keep], nh[keep], vnet[keep]
            m = nh == NH_ENDPOINT  # stages/public_edge.py (a private endpoint's /32)
            if m.any():
                ok = self._cross(c, idx[m], vnet[m], net.route_vnet[rid[m]], disp, dec, active)
                public_edge.reach_np(end, D.PRIVATE_ENDPOINT, idx[m][ok], rid[m][ok],
                                     self.route_label)
            # VnetLocal / peering
            m = (nh == NH_VNETLOCAL) | (nh == NH_PEERING)
            if m.any():
                self._direct(c, est, idx[m], rid[m], vnet[m], nodes, pos, disp, dec, active,
                             chains,
                             subnet)
            # appliances
            m = nh == NH_APPLIANCE
            if m.any():
                self._appliance(c, est, fwset, idx[m], rid[m], vnet[m], nodes, pos, subnet,
                                disp, dec, active, full, pool)
        left = np.flatnonzero(active)
        end(left, D.LOOP, self.l_hoplimit)
        xlat = (c.src != orig[0]) | (c.dst != orig[1]) | (c.sport != orig[2]) | (
            c.dport != orig[3])
        return disp, dec, nodes, c.src, c.dst, c.sport, c.dport, xlat, pool

    def _chains(self, c: Columns, est: np.ndarray, fwset: np.ndarray, unnat_ip: np.ndarray,
                unnat_port: np.ndarray, usrc: np.ndarray | None
                ) -> dict[int, dict[int, tuple[int, int, int, int, int]]]:
        """{row: stages/firewall_nat.py `dnat_chain`} of the replies of flows two or more
        firewalls DNATed in turn; the original key comes from the row's state (un-NAT
        address/port: the original destination; source restore: the original source), so
        the answer is a function of the decision key (reference._chain)."""
        if usrc is None or len(self.net.firewall_rules) < 2:
            return {}
        rows = np.flatnonzero(est & (unnat_ip >= 0) & (unnat_ip < UNSNAT) & (usrc >= 0)
                              & (c.family == 4))
        out = {}
        for r in rows.tolist():
            fws = frozenset(np.flatnonzero(self.fwsets.member[fwset[r]]).tolist())
            original = (int(usrc[r]) >> 16, int(unnat_ip[r]), int(c.proto[r]),
                        int(usrc[r]) & 0xFFFF, int(unnat_port[r]))
            chain = firewall_nat.dnat_chain(self.net.firewall_rules, self.fw_public,
                                            self.fw_private, original, fws)
            if chain:
                out[r] = chain
        return out

    @staticmethod
    def _restore(c: Columns, row: int, key: tuple[int, int, int, int, int]) -> None:
        """Row `row` becomes reverse(`key`) (reference._restore; chains are TCP/UDP)."""
        c.src[row], c.dst[row], c.sport[row], c.dport[row] = key[1], key[0], key[4], key[3]

    def _captured_at_vm(self, c: Columns, orig: tuple[np.ndarray, ...], est: np.ndarray,
                        fwset: np.ndarray, unnat_ip: np.ndarray, unnat_port: np.ndarray,
                        disp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, firewall index) of replies from outside the VNets keyed by reverse(original)
        of a source-translated flow (captured at the VM, assumption snat-capture-at-vm) whose
        session a firewall holds: they enter through the lowest-indexed such firewall
        (reference._captured_at_vm)."""
        rows = np.flatnonzero((disp == D.UNMAPPED) & (c.nic < 0) & est & (unnat_ip >= UNSNAT)
                              & (orig[1] == (unnat_ip & (UNSNAT - 1)))
                              & (orig[3] == unnat_port))
        member = self.fwsets.member[fwset[rows]]
        has = member.any(axis=1)
        return rows[has], np.argmax(member[has], axis=1).astype(np.int64)

    def _reply_firewall(self, rows: np.ndarray, dst: np.ndarray, fwset: np.ndarray,
                        owners: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, firewall index) of the replies among `rows` addressed (`dst`, as sent) to a
        firewall's address in `owners` whose session they hold (reference._reply_firewall)."""
        if rows.size == 0 or not owners:
            return rows[:0], np.zeros(0, np.int64)
        fw = firewall_nat.owner_np(owners, dst[rows]).astype(np.int64)
        keep = fw >= 0
        for f in np.unique(fw[keep]).tolist():
            m = fw == f
            keep[m] = self.fwsets.has(fwset[rows[m]], f + len(self.net.nics))
        return rows[keep], fw[keep]

    def _cross(self, c: Columns, idx: np.ndarray, a: np.ndarray, b: np.ndarray,
               disp: np.ndarray, dec: np.ndarray, active: np.ndarray,
               src: np.ndarray | None = None) -> np.ndarray:
        """stages/peering.py's batch form for packets not entering from a gateway; returns
        the mask (over idx) of packets that may cross. `src` (IPv4, over idx): the source
        they cross with when not their current one (a reply restored past the crossing)."""
        none = np.zeros(idx.size, bool)
        src = c.src[idx] if src is None else src
        return peering.decide_np(self.net, self.labels, self.peer_label, src, idx, a, b,
                                 np.full(idx.size, -1), none, disp, dec, active,
                                 c.family[idx] == 6, c.src_hi[idx], c.src_lo[idx])

    def _owner(self, c: Columns, idx: np.ndarray, vnet: np.ndarray) -> np.ndarray:
        """The NIC holding each row's destination in its VNet (engine/addresses.py): IPv4
        rows by `dst` (translations rewrite it), IPv6 rows by their halves."""
        fam = c.family[idx]
        six = fam == 6
        lo = np.where(six, c.dst_lo[idx], c.dst[idx].astype(np.uint64))
        return self.addresses.owner_np(vnet, fam, np.where(six, c.dst_hi[idx], 0), lo)

    def _hop_stages(self, c: Columns, est: np.ndarray, idx: np.ndarray, rid: np.ndarray,
                    sub: np.ndarray, nh: np.ndarray, vnet: np.ndarray, nodes: np.ndarray,
                    pos: np.ndarray, disp: np.ndarray, dec: np.ndarray, active: np.ndarray
                    ) -> tuple[np.ndarray, ...]:
        """Right after each hop's route lookup: the Internet edge (non-routable destination),
        load-balancer frontends (peering, stages/loadbalancer.py, DNAT, delivery),
        gateway-ingress crossings into spokes (transit) and ILB next hops (route id rewritten
        to the chosen backend's synthetic route). Returns the rows left for the base stages
        (idx, rid, sub, nh, vnet filtered)."""
        net = self.net
        if idx.size == 0:
            return idx, rid, sub, nh, vnet
        keep = np.ones(idx.size, bool)
        six = c.family[idx] == 6
        if six.any():  # IPv6 Internet edge (stages/public_edge6.py)
            keep = self._edge6(c, est, idx, rid, nh, six, nodes, pos, disp, dec, active)
        # >>> stages/gateway.py (Internet edge)
        if keep.any():
            keep[keep] = _gateway_stage.edge_stage(self, c, idx[keep], rid[keep], nh[keep],
                                                   disp, dec, active)
        direct = keep & ((nh == NH_VNETLOCAL) | (nh == NH_PEERING))
        tv = net.route_vnet[rid]
        prev = nodes[idx, pos[idx] - 1]
        via_gw = net.node_is_gateway[np.maximum(prev, 0)] & (prev >= 0)
        if net.lb.frontends and direct.any():
            fe = np.where(direct, net.lb.at_np(tv, c.dst[idx]), -1)
            m6 = direct & six & (self._owner(c, idx, tv) < 0) if net.lb.by_key6 else six & False
            if m6.any():  # IPv6 frontends of dual-stack ILBs (stages/loadbalancer.py)
                fe[m6] = net.lb.at6_np(tv[m6], c.dst_hi[idx[m6]], c.dst_lo[idx[m6]])
            m = fe >= 0
            if m.any():
                self._frontends(c, est, idx[m], fe[m], vnet[m], prev[m], via_gw[m], nodes,
                                pos, disp, dec, active)
                keep &= ~m
        m = keep & direct & via_gw & (tv != vnet)
        if m.any() and self.fw_private:  # private-IP DNAT from a gateway: `_direct`'s
            j = np.flatnonzero(m)
            to_fw = self._private_dnat(c, est, idx[j], tv[j]) >= 0
            to_fw[to_fw] = self._owner(c, idx[j[to_fw]], tv[j[to_fw]]) < 0
            m[j[to_fw]] = False
        if m.any():
            # >>> stages/gateway.py (gateway transit)
            _gateway_stage.transit_stage(self, c, est, idx[m], rid[m], vnet[m], tv[m], prev[m],
                                         nodes, pos, disp, dec, active)
            keep &= ~m
        m = keep & (nh == NH_APPLIANCE) & (net.route_fe[rid] >= 0)
        if m.any():
            rid = rid.copy()
            ok = lb.next_hop_np(net, self.labels, c, idx, rid, vnet, m, disp, dec, active)
            keep &= ~m | ok
        return idx[keep], rid[keep], sub[keep], nh[keep], vnet[keep]

    def _ingress6(self, c: Columns, est: np.ndarray, rows: np.ndarray, nodes: np.ndarray,
                  pos: np.ndarray, subnet: np.ndarray, disp: np.ndarray, dec: np.ndarray,
                  active: np.ndarray, unnat_ip: np.ndarray, unnat_port: np.ndarray) -> None:
        """IPv6 rows from outside the VNets (reference.py `_ingress6`): from an on-premises
        IPv6 prefix, active at its gateway in the GatewaySubnet (GATEWAY_IPV4_ONLY at an
        IPv4-only one; stages/gateway.py); public IPv6 (DNAT) and tracked flows' replies
        delivered to their NIC; a public load balancer's IPv6 frontend IPV6_NOT_MODELLED;
        closed Standard public IPs (stages/public_edge6.py)."""
        net = self.net
        ing = net.ingress
        if ing.sites6:
            onprem = []
            for r, src in zip(rows.tolist(), (int(h) << 64 | int(x) for h, x in zip(
                    c.src_hi[rows].tolist(), c.src_lo[rows].tolist(), strict=True)),
                    strict=True):
                site = ing.site_of6(src)
                if site is None:
                    continue
                onprem.append(r)
                gw = site.gateway_node
                if gw not in ing.entry_subnet:
                    continue  # UNMAPPED, as for IPv4
                nodes[r, 0] = gw
                if gw in ing.ipv4_only:
                    disp[r], dec[r] = D.GATEWAY_IPV4_ONLY, self.labels(ing.ipv4_only[gw])
                    continue
                disp[r], dec[r], active[r] = UNDECIDED, -1, True
                subnet[r], pos[r] = ing.entry_subnet[gw], 1
            rows = np.setdiff1d(rows, np.array(onprem, np.int64))
        if net.lb.by_public6 and rows.size:  # new flows to public IPv6 frontends (loadbalancer)
            fe = np.array([net.lb.at_public6(int(h) << 64 | int(x)) for h, x in zip(
                c.dst_hi[rows].tolist(), c.dst_lo[rows].tolist(), strict=True)], np.int32)
            m = (fe >= 0) & ~est[rows]
            if m.any():
                self._public6(c, est, rows[m], fe[m], nodes, disp, dec, active)
                rows = rows[~m]
        m = est[rows] & (unnat_ip[rows] >= UNSNAT)  # a SNATed flow's reply: un-SNAT
        if m.any():
            r = rows[m]
            h = unnat_ip[r] & (UNSNAT - 1)
            hi, lo = self.addr6.halves_np(h, c.dst_hi[r], c.dst_lo[r])
            ported = (c.proto[r] == 6) | (c.proto[r] == 17)
            port = np.where(ported, unnat_port[r], c.dport[r])
            moved = (hi != c.dst_hi[r]) | (lo != c.dst_lo[r]) | (port != c.dport[r])
            r, h, hi, lo, port = r[moved], h[moved], hi[moved], lo[moved], port[moved]
            c.dst_hi[r], c.dst_lo[r], c.dst[r], c.dport[r] = hi, lo, h, port
        found, _ = public_edge6.ingress_np(net, c, rows, est, self.addr6)
        deliver_at: dict[tuple[int, bool], list[int]] = {}
        for kind, r, target, label in found:
            if kind in ("closed", "outbound-only"):  # outbound-only: a NAT gateway's address
                disp[r] = D.PUBLIC_IP_CLOSED if kind == "closed" else D.NAT_OUTBOUND_ONLY
                dec[r] = self.labels(label)
            elif kind != "unmapped":
                deliver_at.setdefault((target, kind == "reply"), []).append(r)
        for (nic, reply), q_rows in deliver_at.items():
            q = np.array(q_rows, np.int64)
            nodes[q, 0] = nic
            self.deliver(c, est, q, np.full(q.size, nic, np.int32),
                         self.labels(_gateway_stage.label_internet(net, nic, reply)), nodes,
                         np.zeros(len(c), np.int64), disp, dec, active)

    def _public6(self, c: Columns, est: np.ndarray, sel: np.ndarray, fe: np.ndarray,
                 nodes: np.ndarray, disp: np.ndarray, dec: np.ndarray, active: np.ndarray
                 ) -> None:
        """New IPv6 flows to public load balancer frontends `fe` (rows `sel`): the rule and
        hash (lb.frontends_np), the Standard SKU's closed default, DNAT to the backend's IPv6
        address (halves, its handle in `dst`), delivery (reference `_public_frontend`)."""
        net = self.net
        rows, backend, _ip, port, label, hi, lo = lb.frontends_np(
            net, self.labels, c, sel, fe, np.full(sel.size, -1, np.int32), disp, dec, active)
        of = fe[np.searchsorted(sel, rows)] if rows.size else rows
        basic = np.array([net.lb.frontends[f].basic for f in of.tolist()], bool)
        shut = ~basic & ~net.lb.nic_guarded[backend]
        for f in np.unique(of[shut]).tolist():
            q = rows[shut & (of == f)]
            disp[q], dec[q] = D.PUBLIC_IP_CLOSED, self.labels(lb.label_closed(
                net.lb.frontends[f]))
        keep = ~shut
        rows, backend, port, label, hi, lo = (x[keep] for x in (rows, backend, port, label,
                                                                 hi, lo))
        c.dst_hi[rows], c.dst_lo[rows] = hi, lo
        nat.dnat_np(c, rows, self.addr6.handle_np(hi, lo), port)
        self.deliver(c, est, rows, backend, label, nodes, np.zeros(len(c), np.int64), disp,
                     dec, active)

    def _edge6(self, c: Columns, est: np.ndarray, idx: np.ndarray, rid: np.ndarray,
               nh: np.ndarray, six: np.ndarray, nodes: np.ndarray, pos: np.ndarray,
               disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> np.ndarray:
        """IPv6 rows of one hop whose route leaves for the Internet: NON_ROUTABLE outside
        2000::/3; NO_IPV6_INTERNET for a new flow from a NIC without IPv6 outbound method,
        else EXITS_INTERNET, SNATed by an instance public IPv6 (stages/public_edge6.py).
        Gateway rows go on to stages/gateway.py `hop_np`. Returns keep (over idx)."""
        net = self.net
        c_hi = c.dst_hi[idx]
        out = six & (nh == NH_INTERNET)
        bad = out & public_edge.nonroutable6_np(c_hi)
        disp[idx[bad]] = D.NON_ROUTABLE
        dec[idx[bad]] = self.route_label[rid[bad]]
        ok = out & ~bad
        if ok.any():
            at = nodes[idx[ok], pos[idx[ok]] - 1]
            shut = np.zeros(idx.size, bool)
            shut[ok] = public_edge6.egress_np(net, c, idx[ok], at, est, self.addr6)
            t6 = public_edge6.tables(net)
            for node in np.unique(at[shut[ok]]).tolist():
                m = shut & (nodes[idx, np.maximum(pos[idx] - 1, 0)] == node)
                disp[idx[m]] = D.NO_IPV6_INTERNET
                dec[idx[m]] = self.labels(t6.no_internet_label[node])
            ok &= ~shut
        nodes[idx[ok], pos[idx[ok]]] = net.internet_node
        disp[idx[ok]] = D.EXITS_INTERNET
        dec[idx[ok]] = self.route_label[rid[ok]]
        active[idx[out]] = False
        return ~out

    def _frontends(self, c, est, sel, fe, vnet, prev, via_gw, nodes, pos, disp, dec,
                   active) -> None:
        """Rows addressed to ILB frontends: peering into the frontend's VNet, the load
        balancer's choice, DNAT (the packet carries the backend's address from here on),
        delivery at the backend."""
        net = self.net
        fvnet = np.array([f.vnet for f in net.lb.frontends], np.int32)[fe]
        ok = peering.decide_np(net, self.labels, self.peer_label, c.src[sel], sel, vnet, fvnet,
                               prev, via_gw, disp, dec, active, c.family[sel] == 6,
                               c.src_hi[sel], c.src_lo[sel])
        rows, backend, ip, port, label, hi, lo = lb.frontends_np(
            net, self.labels, c, sel[ok], fe[ok], vnet[ok], disp, dec, active)
        six = c.family[rows] == 6  # IPv6 DNAT: the backend's halves, its handle in `dst`
        if six.any():
            ip = ip.copy()
            ip[six] = self.addr6.handle_np(hi[six], lo[six])
            c.dst_hi[rows[six]], c.dst_lo[rows[six]] = hi[six], lo[six]
        nat.dnat_np(c, rows, ip, port)
        self.deliver(c, est, rows, backend, label, nodes, pos, disp, dec, active)

    def deliver(self, c: Columns, est: np.ndarray, sel: np.ndarray, target: np.ndarray,
                 label: np.ndarray | int, nodes: np.ndarray, pos: np.ndarray, disp: np.ndarray,
                 dec: np.ndarray, active: np.ndarray) -> None:
        """Movement into destination NICs `target` (aligned with rows `sel`): the path's last
        node, the inbound NSG there (stages/nsg.py; skipped for tracked flows), delivery with
        `label` (stages/deliver.py). Also the edges' way in (stages/gateway.py)."""
        deliver.arrive_np(sel, target, nodes, pos)
        n = len(c)
        mask = np.zeros(n, bool)
        mask[sel] = True
        at = np.full(n, -1, dtype=np.int32)
        at[sel] = target
        self._nsg(c, est, mask, at, "Inbound", D.DENIED_IN, dec, disp)
        deliver.decide_np(sel, mask[sel], label, disp, dec, active)

    def _direct(self, c, est, idx, rid, vnet, nodes, pos, disp, dec, active, chains,
                subnet) -> None:
        net = self.net
        tv = net.route_vnet[rid]
        target = self._owner(c, idx, tv)
        miss = target < 0
        chained = np.zeros(idx.size, bool)  # a chained flow's reply: on to the next firewall
        if chains:
            back = firewall_nat.owner_np(self.fw_instance, c.dst[idx]) if self.fw_instance \
                else np.full(idx.size, -1, np.int32)
            for j in np.flatnonzero(miss & est[idx] & (back >= 0)).tolist():
                i, node = int(idx[j]), int(back[j]) + len(net.nics)
                chained[j] = int(back[j]) in chains.get(i, {}) and not (
                    nodes[i, :pos[i]] == node).any()
            rows, fw = idx[chained], back[chained].astype(np.int64)
            ok = self._cross(c, rows, vnet[chained], net.node_vnet[fw + len(net.nics)], disp,
                             dec, active)
            for i, f in zip(rows[ok].tolist(), fw[ok].tolist(), strict=True):
                nodes[i, pos[i]] = f + len(net.nics)
                pos[i] += 1
                self._restore(c, i, chains[i][f])
                subnet[i] = appliance.next_subnet(net, f + len(net.nics))
                if subnet[i] < 0:
                    disp[i] = D.NEXT_HOP_UNREACHABLE
                    active[i] = False
        fw = self._private_dnat(c, est, idx, tv)
        m = miss & (fw >= 0)  # private-IP DNAT (stages/firewall_nat.py), also from a gateway
        if m.any():
            rows, fw = idx[m], fw[m]
            prev = nodes[rows, pos[rows] - 1]
            via_gw = net.node_is_gateway[np.maximum(prev, 0)] & (prev >= 0)
            ok = peering.decide_np(net, self.labels, self.peer_label, c.src[rows], rows,
                                   vnet[m], tv[m], prev, via_gw, disp, dec, active)
            rows, fw = rows[ok], fw[ok]
            nodes[rows, pos[rows]] = fw + len(net.nics)
            pos[rows] += 1
            self._firewall_dnat(c, rows, fw, subnet, disp, dec, active)
        m |= chained
        disp[idx[miss & ~m]] = D.NO_DESTINATION
        active[idx[miss & ~m]] = False
        if self.fw_own6:  # IPv6 to a dual-stack firewall's own address (stages/ipv6.py)
            for j in np.flatnonzero(miss & (c.family[idx] == 6)).tolist():
                i = int(idx[j])
                f = self.fw_own6.get(int(c.dst_hi[i]) << 64 | int(c.dst_lo[i]), -1)
                if f >= 0 and int(net.node_vnet[f + len(net.nics)]) == int(tv[j]):
                    disp[i] = D.IPV6_NOT_MODELLED
                    dec[i] = self.labels(_ipv6.firewall_own6_label(net.firewalls[f].name))
        idx, rid, tv, vnet, target = idx[~miss], rid[~miss], tv[~miss], vnet[~miss], target[~miss]
        ok = self._cross(c, idx, vnet, tv, disp, dec, active)
        self.deliver(c, est, idx[ok], target[ok], self.route_label[rid[ok]], nodes, pos, disp,
                      dec, active)

    def _private_dnat(self, c: Columns, est: np.ndarray, idx: np.ndarray, tv: np.ndarray
                      ) -> np.ndarray:
        """int32 (over idx): the firewall whose private-IP DNAT each new IPv4 row reaches in
        VNet `tv` (stages/firewall_nat.py `private_target_np`; the caller checks that no NIC
        holds the address), -1 none."""
        if not self.fw_private:
            return np.full(idx.size, -1, np.int32)
        fw = firewall_nat.private_target_np(self.fw_private, self.net, c.dst[idx], tv)
        fw[est[idx] | (c.family[idx] != 4)] = -1
        return fw

    def _appliance(self, c, est, fwset, idx, rid, vnet, nodes, pos, subnet, disp, dec,
                   active, full, pool) -> None:
        """Movement through appliances (stages/appliance.py): peering into the appliance's
        VNet, the loop check, then an Azure Firewall's rules (stages/firewall.py) and SNAT
        (its port pool recorded in `pool` at the first SNAT; rows marked `full` dropped there)
        or a NIC's inbound NSG, IP forwarding and outbound NSG; survivors continue in its
        subnet."""
        net = self.net
        app = net.route_appliance[rid]
        miss = app < 0
        disp[idx[miss]] = D.NEXT_HOP_UNREACHABLE
        active[idx[miss]] = False
        idx, app, vnet = idx[~miss], app[~miss], vnet[~miss]
        ok = self._cross(c, idx, vnet, net.node_vnet[app], disp, dec, active)
        idx, app = idx[ok], app[ok]
        seen = appliance.loop_np(nodes, pos, idx, app)
        disp[idx[seen]] = D.LOOP
        active[idx[seen]] = False
        idx, app = idx[~seen], app[~seen]
        nodes[idx, pos[idx]] = app
        pos[idx] += 1
        is_fw = self.is_firewall[app]
        fw6 = is_fw & (c.family[idx] == 6)  # network rules only: a preview (stages/firewall.py)
        for f in np.unique(app[fw6]).tolist():
            sel = idx[fw6 & (app == f)]
            fw = net.firewall_rules[f - len(net.nics)]
            session = est[sel] & self.fwsets.has(fwset[sel], f)
            allow, names, which, nm = fw.decide6_np(
                c.proto[sel], c.src_hi[sel], c.src_lo[sel], c.dst_hi[sel], c.dst_lo[sel],
                c.dport[sel], session)
            ids = np.array([self.labels(x) for x in names], dtype=np.int32)
            deny = sel[~allow]
            disp[deny] = np.where(nm[~allow], D.IPV6_NOT_MODELLED, D.FIREWALL_DENIED)
            dec[deny] = ids[np.maximum(which[~allow], 0)]
            active[deny] = False
        fw4 = is_fw & ~fw6
        for f in np.unique(app[fw4]).tolist():
            sel = idx[fw4 & (app == f)]
            fw = net.firewall_rules[f - len(net.nics)]
            own = ~est[sel] & np.isin(c.dst[sel], fw.nat.addresses)  # DNAT rules come first
            if own.any():
                self._firewall_dnat(c, sel[own], np.full(int(own.sum()), f - len(net.nics)),
                                    subnet, disp, dec, active)
                sel = sel[~own]
            session = est[sel] & self.fwsets.has(fwset[sel], f)  # stateful: no evaluation
            allow, label, unknown, application = self._firewall(c, sel, fw, session, f)
            disp[sel[~allow]] = np.where(unknown[~allow], D.FIREWALL_NAME_UNKNOWN,
                                         D.FIREWALL_DENIED)
            dec[sel[~allow]] = label[~allow]
            active[sel[~allow]] = False
            new = allow & ~session  # SNAT of allowed new flows (stages/firewall_nat.py)
            snat = new & fw.nat.needs_snat_np(c.dst[sel], application)
            if snat.any():
                rows = sel[snat]
                fw_subnet = np.full(rows.size, appliance.next_subnet(net, f), np.int64)
                rid = routing.decide_np(net, fw_subnet, c.dst[rows])
                internet = (rid >= 0) & (net.route_nh[np.maximum(rid, 0)] == NH_INTERNET)
                address, port = fw.nat.snat_np(internet, c.src[rows], c.dst[rows],
                                               c.proto[rows], c.sport[rows], c.dport[rows])
                first = pool[rows] < 0  # ports are counted at the first firewall that SNATs
                if first.any():
                    r = rows[first]
                    pool[r] = self._pools(f - len(net.nics), fw.nat, address[first], c, r)
                    out = first & full[rows]
                    if out.any():
                        disp[rows[out]] = D.FIREWALL_SNAT_EXHAUSTED
                        dec[rows[out]] = [self.labels(firewall_nat.exhausted_label(fw.nat, a))
                                          for a in address[out].tolist()]
                        active[rows[out]] = False
                        rows, address, port = rows[~out], address[~out], port[~out]
                c.src[rows], c.sport[rows] = address, port
        nic_idx = idx[~is_fw]
        if nic_idx.size:
            a = np.full(len(c), -1, dtype=np.int32)
            a[nic_idx] = app[~is_fw]
            mask = np.zeros(len(c), bool)
            mask[nic_idx] = True
            self._nsg(c, est, mask, a, "Inbound", D.DENIED_IN, dec, disp)
            fwd_off = mask & (a >= 0) & ~appliance.forwards_np(self.forwarding, a) & (
                disp == UNDECIDED)
            disp[fwd_off] = D.IP_FORWARDING_DISABLED
            dec[fwd_off] = self.fwd_label[a[fwd_off]]
            mask &= ~fwd_off
            self._nsg(c, est, mask, a, "Outbound", D.DENIED_OUT, dec, disp)
            active[nic_idx] &= disp[nic_idx] == UNDECIDED
        idx = idx[active[idx]]
        subnet[idx] = appliance.next_subnet_np(net, nodes[idx, pos[idx] - 1])
        bad = subnet[idx] < 0
        disp[idx[bad]] = D.NEXT_HOP_UNREACHABLE
        active[idx[bad]] = False

    def _pools(self, firewall: int, fwn: firewall_nat.FirewallNat, address: np.ndarray,
               c: Columns, rows: np.ndarray) -> np.ndarray:
        """int64[k]: the interned SNAT port pool ids (`snat_pools`, firewall_nat.snat_key) of
        rows SNATed to `address` at firewall `firewall`, as they reached it."""
        inst = fwn.instance_np(c.src[rows], c.dst[rows], c.proto[rows], c.sport[rows],
                               c.dport[rows])
        ported = (c.proto[rows] == 6) | (c.proto[rows] == 17)
        keys = np.stack([address, inst, c.proto[rows].astype(np.int64), c.dst[rows],
                         np.where(ported, c.dport[rows], 0).astype(np.int64)], axis=1)
        uniq, inv = _unique_rows(keys)
        ids = np.empty(uniq.shape[0], np.int64)
        for k, key in enumerate(uniq.tolist()):
            pool = (firewall, *key)
            pid = self.snat_pools.get(pool)
            if pid is None:
                pid = self.snat_pools[pool] = len(self.snat_pools)
                self.pool_limit.append(fwn.snat_limit(key[0]))
            ids[k] = pid
        return ids[inv]

    def _firewall(self, c: Columns, sel: np.ndarray, fw: CompiledFirewall,
                  session: np.ndarray, node: int) -> tuple[np.ndarray, ...]:
        """stages/firewall.py's batch form at firewall `node`; labels interned (sessions
        keep label -1), the labels it drops with registered for pending sessions
        (engine/pending.py); the last column tells the rows an application rule decided."""
        by_name = np.zeros(sel.size, bool)  # Verdict.application_part
        allow, names, which, unknown = fw.decide_np(
            c.proto[sel], c.src[sel], c.dst[sel], c.dport[sel], session, c.server_name[sel],
            self.flow_names.table, by_name)
        ids = np.array([self.labels(x) for x in names], dtype=np.int32)
        label = np.where(which >= 0, ids[np.maximum(which, 0)], -1)
        self.pending_sessions.register(label[~allow], node, by_name[~allow])
        return allow, label, unknown, fw.application_np(names, which)

    def _firewall_dnat(self, c: Columns, rows: np.ndarray, fw: np.ndarray, subnet: np.ndarray,
                       disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> None:
        """New flows at firewall `fw` (index per row; the firewall is the rows' last path node)
        addressed to its own address: its DNS proxy (TCP/UDP 53 to its private address,
        stages/firewall.py), its DNAT rules (stages/firewall_nat.py); a match translates
        destination and source and continues in the firewall's subnet, no match is the
        firewall's default deny."""
        net = self.net
        for f in np.unique(fw).tolist():
            sel = rows[fw == f]
            cf = net.firewall_rules[f]
            proxy = cf.dns_proxy_np(c.proto[sel], c.dst[sel], c.dport[sel])  # firewall-own-address
            if proxy.any():
                answered = sel[proxy]
                disp[answered], dec[answered] = D.EXITS_PLATFORM, self.labels(cf.dns_proxy_label)
                active[answered] = False
                sel = sel[~proxy]
            rule = cf.nat.dnat_np(c.proto[sel], c.src[sel], c.dst[sel], c.dport[sel], cf.groups)
            miss = sel[rule < 0]
            disp[miss] = D.FIREWALL_DENIED
            dec[miss] = self.labels(cf.no_dnat_label)
            active[miss] = False
            if miss.size:  # may answer a pending session (engine/pending.py public_reply_key)
                self.pending_sessions.register(dec[miss[:1]], f + len(net.nics),
                                               np.zeros(1, bool))
            sel, rule = sel[rule >= 0], rule[rule >= 0]
            if sel.size == 0:
                continue
            address, port = cf.nat.snat_np(np.zeros(sel.size, bool), c.src[sel], c.dst[sel],
                                           c.proto[sel], c.sport[sel], c.dport[sel])
            to = np.array([r.translated_address or 0 for r in cf.nat.rules], dtype=np.int64)
            to_port = np.array([r.translated_port for r in cf.nat.rules], dtype=np.int32)
            nat.dnat_np(c, sel, to[rule], to_port[rule])
            ported = (c.proto[sel] == 6) | (c.proto[sel] == 17)
            c.src[sel] = address
            c.sport[sel] = np.where(ported, port, c.sport[sel])
            dec[sel] = np.array([self.labels(r.label) for r in cf.nat.rules], np.int32)[rule]
            subnet[sel] = appliance.next_subnet(net, f + len(net.nics))
            bad = sel[subnet[sel] < 0]
            disp[bad] = D.NEXT_HOP_UNREACHABLE
            active[bad] = False

    def _nsg(self, c: Columns, est: np.ndarray, mask: np.ndarray, at_nic: np.ndarray,
             direction: str, deny: D, dec: np.ndarray, disp: np.ndarray) -> None:
        """stages/nsg.py's batch form; denied packets leave `mask` (in place)."""
        nsg.decide_np(self.net.program, self.rule_label, c, est, mask, at_nic, direction,
                      deny, dec, disp)


def _unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, axis=0, return_inverse=True) for an int64 (n, k) array -- the same
    rows in the same (lexicographic) order and the same inverse -- by one lexsort of the
    columns (np.unique sorts the rows as a structured type, several times slower)."""
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    first = np.ones(order.size, bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(order.size, np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _same_inputs(before: Sequence[np.ndarray], now: Sequence[np.ndarray]) -> bool:
    """Whether a decision round's inputs `now` equal a previous call's `before`, array by
    array (the rounds' memos: `_snat_ports`, `_translated_ids`, `_inner_state`,
    `_in_batch_openers` give that call's answer again)."""
    return all(np.array_equal(a, b) for a, b in zip(before, now, strict=True))


__all__ = ["Columns", "BatchPipeline", "Labels", "UNDECIDED", "_in"]

