"""Pending application-rule sessions: the reply direction of a TCP flow that an Azure
Firewall's application rules did not allow takes the flow's verdict (issue 12 item 3).

Why. Azure Firewall's proxy completes a TCP flow's handshake and only then reads the server
name its application rules match ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing, "Application rules": the TLS SNI
or HTTP Host decides; "Azure Firewall FAQ", https://learn.microsoft.com/azure/firewall/
firewall-faq). The emulator decides the flow as a whole (stages/firewall.py assumption
firewall-app-handshake): its client packets carry the verdict of its server name
(engine/payload.py). A flow the application rules deny, or whose name never arrives
(FIREWALL_NAME_UNKNOWN), opens no connection-tracking entry (conntrack.py), so the server's
replies (SYN-ACK, ACKs) would be evaluated as new flows and denied by the firewall's default
rule -- another verdict than their flow's. A pending session carries the flow's verdict to
them.

Contract (reference form `PendingSessions`, batch form `BatchPendingSessions`, one rule):
* A packet *records* at firewall F when F's rule evaluation drops it through the
  application-rule part (stages/firewall.py `Verdict.application_part`: FIREWALL_DENIED by an
  application rule, by no rule matching its name or by a first payload without a name;
  FIREWALL_NAME_UNKNOWN). The record, keyed by the reverse of the packet's 5-tuple as it was
  sent, holds F and the verdict (disposition, deciding label). The latest record of a flow
  replaces the earlier one (a name that arrives late turns an unknown flow into a denied one).
* A packet *answers* a record when its 5-tuple is the record's key, it reaches F without a
  session there, and F's rules drop it outside the application-rule part (a reply's ports are
  the client's: no application rule reads them): it takes the record's verdict, and its
  firewall hop says `"session": "pending"`.
* Internet replies (issues 11/12, inet): a packet from the Internet to a VM's private
  address that nothing admits (no public address, no live flow entry: UNMAPPED at the
  Internet entry, stages/gateway.py) whose 5-tuple is a live record's key answers it at the
  record's firewall, whatever that is: the server's reply of a denied or undecided flow
  captured at the VM (assumption conntrack.py snat-capture-at-vm) enters through the firewall
  that dropped its flow (path internet > firewall, as the SNATed reply of an allowed flow
  enters) and takes the flow's verdict there, explain hop `"session": "pending"`. A reply to
  the firewall's public address keyed by the record's `public_reply_key` (the SNAT an
  application rule would have applied) answers it too, at the firewall's DNAT step (whose
  default deny, "no DNAT rule matches", is a drop outside the application-rule part).
* Only drops are rewritten (a drop stays a drop at the same firewall): pending sessions never
  change which packets pass, open flows or are shaped. A reply the firewall's rules allow
  stays allowed (assumption conntrack.py firewall-stateful: TCP flags are not modelled).
* Like a flow entry, a record is kept only for a packet that left its source VM (callers that
  shape record only packets their source VM's shaper kept); at most `capacity` flows are
  recorded (a full table records no new flow: its replies are evaluated as new flows).
* Idle expiry (assumption `pending-idle`, the flow table's conntrack-idle timeout,
  conntrack.IDLE_TIMEOUT_NS, a constructor parameter): a record keeps the capture time of its
  latest recording packet; a packet at t answers it only while t - that time <= the timeout
  (a record older than the timeout is gone: the reply is evaluated as a new flow). Answers
  do not refresh it (only the flow's client packets record). Room (assumption
  conntrack-capacity, engine/room.py): a new flow records only while fewer than `capacity`
  records are alive at its time; an expired record counts for nothing (it stays, and its
  flow's next record replaces it without needing room).
Keys: the reference form keys by reference.flow_key tuples, the batch form by the engine's
flow ids (batch.py: the ids of forward tuples; a row's reverse tuple id `rid`), so state
crosses batches in both and a verdict does not depend on where the replay cuts them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from dataplane.dispositions import Disposition as D
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.engine.room import admit
from dataplane.engine.stages import appliance
from dataplane.engine.stages import route as routing

Key = tuple[int, int, int, int, int]
DROPS = (D.FIREWALL_DENIED, D.FIREWALL_NAME_UNKNOWN)  # what a firewall's rules drop with
PENDING_ASSUMPTION = (
    "pending-idle: the verdict a flow's application rules gave (FIREWALL_DENIED, "
    "FIREWALL_NAME_UNKNOWN) carries to its replies while the flow's latest client packet is at "
    "most 4 minutes old (conntrack-idle's timeout); a later reply is evaluated as a new flow. "
    "A reply from the Internet captured at the VM (its private address, snat-capture-at-vm) "
    "enters through the firewall that dropped its flow and takes that verdict there.")


def public_reply_key(net: Any, fw_node: int, public: dict[int, int], key: Key,
                     leaves: dict[tuple[int, int], bool] | None = None) -> Key | None:
    """The 5-tuple of a server's reply addressed to a firewall's public address had firewall
    node `fw_node` translated the client flow `key` (as sent, IPv4) as an application rule
    does (always SNAT; stages/firewall_nat.py: a public address when the firewall's subnet
    routes the destination to the Internet, port from the 5-tuple's hash); None when it would
    not leave with one of the firewall's public addresses (`public`: address -> firewall).
    `leaves`: a memo of `_leaves_to_internet` by (firewall node, destination) a caller
    deriving many keys passes along (its answer depends on nothing else)."""
    src, dst, proto, sport, dport = key
    if max(src, dst) >> 32:  # IPv6 (reference.V6_TAG): application rules are IPv4 only
        return None
    fwn = net.firewall_rules[fw_node - len(net.nics)].nat
    memo: dict[tuple[int, int], bool] = {} if leaves is None else leaves
    out = memo.get((fw_node, dst))
    if out is None:
        out = memo[(fw_node, dst)] = _leaves_to_internet(net, fwn, fw_node, dst)
    if not out:
        return None
    address, port = fwn.snat_source(True, src, dst, proto, sport, dport)
    if public.get(address, -1) != fw_node - len(net.nics):
        return None
    return (dst, address, proto, dport, port if proto in (6, 17) else 0)


def _leaves_to_internet(net: Any, fwn: Any, fw_node: int, dst: int) -> bool:
    """An application rule's flow to `dst` leaves firewall node `fw_node` SNATed to a public
    address: its NAT SNATs `dst` and the firewall's subnet routes it to the Internet."""
    if not fwn.needs_snat(dst, True):
        return False
    _, route, _ = routing.decide(net, appliance.next_subnet(net, fw_node), fw_node, dst)
    return route is not None and route.next_hop_type == "Internet"


class PendingVerdict(NamedTuple):
    """A recorded verdict: the firewall node (engine/compile.py node id), the disposition
    and the deciding label of the flow's latest client packet there."""

    firewall: int
    disposition: D
    label: str


class PendingSessions:
    """Reference form: a dict by reply key (reverse of the recording packet's key), and the
    capture time (ns) each was recorded at."""

    def __init__(self, capacity: int | None = None,
                 idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.capacity = capacity
        self.idle_timeout_ns = idle_timeout_ns
        self.by_reply: dict[Key, PendingVerdict] = {}
        self.recorded_ns: dict[Key, int] = {}
        self.alias: dict[Key, Key] = {}  # public_reply_key -> the record's key

    def __len__(self) -> int:
        return len(self.by_reply)

    def record(self, reply_key: Key, verdict: PendingVerdict, now_ns: int = 0,
               public_key: Key | None = None) -> None:
        """A client packet at `now_ns` (capture time) dropped by `verdict.firewall`'s
        application rules (contract); `public_key`: its public_reply_key, answered too."""
        full = self.capacity is not None and len(self.by_reply) >= self.capacity and sum(
            1 for t in self.recorded_ns.values()
            if now_ns - t <= self.idle_timeout_ns) >= self.capacity  # conntrack-capacity
        if reply_key in self.by_reply or not full:
            self.by_reply[reply_key] = verdict
            self.recorded_ns[reply_key] = now_ns
            if public_key is not None:
                self.alias[public_key] = reply_key

    def answer(self, key: Key, firewall: int, now_ns: int | None = None
               ) -> PendingVerdict | None:
        """The verdict a packet with `key` at `now_ns` takes at `firewall` (node id) when its
        rules drop it outside the application-rule part; None when it answers no live record
        there (now_ns None: no expiry check)."""
        key = key if key in self.by_reply else self.alias.get(key, key)
        v = self.by_reply.get(key)
        if v is None or v.firewall != firewall:
            return None
        if now_ns is not None and now_ns - self.recorded_ns[key] > self.idle_timeout_ns:
            return None
        return v

    def answer_from_internet(self, key: Key, now_ns: int) -> PendingVerdict | None:
        """The verdict an Internet packet with `key` at `now_ns` takes when it reaches no VM
        on its own (contract, "Internet replies"): the live record's, whatever its firewall."""
        v = self.by_reply.get(key)
        return None if v is None else self.answer(key, v.firewall, now_ns)


class BatchPendingSessions:
    """Batch form: arrays by flow id (the engine's forward-tuple ids, batch.py), one spare
    last slot like conntrack.BatchConnTrack (the sentinel "no id" never holds a record).
    `firewall` int32 (-1: no record), `disposition` uint8, `label` int32 (batch.Labels ids),
    `recorded_ns` int64 (capture time of the latest recording packet).
    Label registries (by label id, filled by the firewall stage as it decides): `drop_at`
    (int32: the firewall node whose rule evaluation drops with that label, -1) and
    `application` (bool: the drop is the application-rule part's)."""

    def __init__(self, capacity: int, idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.capacity = capacity
        self.idle_timeout_ns = idle_timeout_ns
        self.drop_at = np.full(64, -1, np.int32)
        self.application = np.zeros(64, bool)
        self.internet = np.zeros(64, bool)  # label ids of Internet packets nothing admits
        self.entered = (np.zeros(0, np.int64), np.zeros(0, np.int32))  # see settle
        self.registered = False  # any label registered yet
        self.clear()

    def clear(self) -> None:
        size = 1 << 16
        self.firewall = np.full(size, -1, np.int32)
        self.disposition = np.zeros(size, np.uint8)
        self.label = np.full(size, -1, np.int32)
        self.recorded_ns = np.zeros(size, np.int64)
        self.alias_to = np.full(size, -1, np.int64)  # public reply tuple id -> recorded flow id
        self.count = 0
        self._staged: tuple[np.ndarray, ...] | None = None

    # -- labels --
    def register(self, labels: np.ndarray, firewall: int, application: np.ndarray) -> None:
        """Label ids the rule evaluation of `firewall` (node id) dropped rows with, and
        whether each drop was the application-rule part's (stages/firewall.py)."""
        if labels.size == 0:
            return
        self._fit(int(labels.max()) + 1)
        self.drop_at[labels] = firewall
        self.application[labels] = application
        self.registered = True

    def register_internet(self, label: int) -> None:
        """A label id the Internet entry (stages/gateway.py `enter_stage`) gives a packet to a
        VM's private address that nothing admits: such a row may answer a record from the
        Internet (contract, "Internet replies")."""
        self._fit(label + 1)
        self.internet[label] = True

    def _fit(self, top: int) -> None:
        """Label registries with room for label ids below `top`."""
        if top <= self.drop_at.size:
            return
        grow = max(2 * self.drop_at.size, top) - self.drop_at.size
        self.drop_at = np.concatenate([self.drop_at, np.full(grow, -1, np.int32)])
        self.application = np.concatenate([self.application, np.zeros(grow, bool)])
        self.internet = np.concatenate([self.internet, np.zeros(grow, bool)])

    def rule_drops(self, disposition: np.ndarray, label: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(firewall node int32[n], -1 none; application part bool[n]) of rows a firewall's
        rule evaluation dropped."""
        known = (label >= 0) & (label < self.drop_at.size) & np.isin(disposition, DROPS)
        at = np.where(known, self.drop_at[np.where(known, label, 0)], -1)
        return at, known & (at >= 0) & self.application[np.where(known, label, 0)]

    # -- state --
    def grow(self, size: int) -> None:
        """Room for flow ids 0..size-2 plus the sentinel slot (conntrack.BatchConnTrack)."""
        if size <= self.firewall.size:
            return
        old = self.firewall.size - 1  # the old sentinel slot becomes an ordinary id
        for name, fill in (("firewall", -1), ("disposition", 0), ("label", -1),
                           ("recorded_ns", 0), ("alias_to", -1)):
            a = getattr(self, name)
            grown = np.full(size, fill, a.dtype)
            grown[:old] = a[:old]
            setattr(self, name, grown)

    def keep_mask(self, size: int) -> np.ndarray:
        """Flow ids compaction must keep: the recorded flows and their public reply tuples."""
        return (self.firewall[:size] >= 0) | (self.alias_to[:size] >= 0)

    def renumber(self, keep: np.ndarray, size: int) -> None:
        """After compaction kept the ids in `keep` (in order), arrays of `size` slots."""
        kept = int(keep.sum())
        for name, fill in (("firewall", -1), ("disposition", 0), ("label", -1),
                           ("recorded_ns", 0), ("alias_to", -1)):
            a = getattr(self, name)
            out = np.full(size, fill, a.dtype)
            out[:kept] = a[:keep.size][keep]
            setattr(self, name, out)
        new_id = np.cumsum(keep) - 1
        has = self.alias_to[:kept] >= 0
        self.alias_to[:kept][has] = new_id[self.alias_to[:kept][has]]

    def settle(self, fid: np.ndarray, rid: np.ndarray, disposition: np.ndarray,
               label: np.ndarray, excluded: np.ndarray, time_ns: np.ndarray | None = None,
               public: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """One batch in row order (rows: flow id `fid`, reverse-tuple id `rid`, decided
        disposition and label, capture time ns -- None: all 0; `excluded` rows record
        nothing): (disposition, label) with
        the answers rewritten (copies when any is), the recording rows (int64, staged until `commit`)
        and the recording rows some answer read (the caller re-decides without them when
        they are withdrawn, as for flow openers). `entered`: (rows, firewall node int32) of
        the answers that came from the Internet (their path becomes internet > firewall).
        `public` (int64[n], -1 none): per recording row, the flow id of the forward tuple of
        its public_reply_key (a reply keyed by it answers the record too)."""
        n = fid.size
        self.entered = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        if not self.registered or self._quiet(disposition, label):
            self._staged = None
            none = np.zeros(0, np.int64)
            return disposition, label, none, none
        disposition, label = disposition.copy(), label.copy()
        t = np.zeros(n, np.int64) if time_ns is None else np.asarray(time_ns, np.int64)
        at, app = self.rule_drops(disposition, label)
        rec = np.flatnonzero(app & ~excluded)
        rec = self._within_room(fid, rec, t)
        pub = np.full(n, -1, np.int64) if public is None else public
        known = (label >= 0) & (label < self.internet.size)
        inet = known & self.internet[np.where(known, label, 0)]  # from the Internet, unadmitted
        answer = np.flatnonzero(((at >= 0) & ~app) | inet)
        used = np.zeros(0, np.int64)
        self.entered = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        if answer.size:
            aliased = rec[pub[rec] >= 0]  # recorders also answered by their public tuple
            by = _latest_before(np.concatenate([fid[rec], pub[aliased]]),
                                np.concatenate([rec, aliased]), rid[answer], answer, n)
            inner = by >= 0
            rr = rid[answer]  # the record of the reply key, else of its public tuple
            rr = np.where((self.firewall[rr] < 0) & (self.alias_to[rr] >= 0),
                          self.alias_to[rr], rr)
            src_fw = np.where(inner, at[np.maximum(by, 0)], self.firewall[rr])
            since = np.where(inner, t[np.maximum(by, 0)], self.recorded_ns[rr])
            at_fw = np.where(inet[answer], src_fw, at[answer])  # any firewall from the Internet
            hit = (src_fw >= 0) & (src_fw == at_fw) & (t[answer] - since <= self.idle_timeout_ns)
            rows = answer[hit]
            came = inet[rows]
            self.entered = (rows[came], src_fw[hit][came].astype(np.int32))
            from_batch = by[hit]
            b = from_batch >= 0
            disposition[rows[b]] = disposition[from_batch[b]]
            label[rows[b]] = label[from_batch[b]]
            c = rr[hit][~b]
            disposition[rows[~b]] = self.disposition[c]
            label[rows[~b]] = self.label[c]
            used = np.unique(from_batch[b])
        self._staged = (rec, fid[rec], at[rec], disposition[rec], label[rec], t[rec], pub[rec])
        return disposition, label, rec, used

    def _quiet(self, disposition: np.ndarray, label: np.ndarray) -> bool:
        """The batch neither records nor answers (settle's fast path): no row has a firewall
        rule drop's disposition (a recorder or an answer at a firewall needs one) and no row
        is an Internet packet nothing admits (an answer from the Internet)."""
        if ((disposition == DROPS[0]) | (disposition == DROPS[1])).any():
            return False
        inet = np.flatnonzero(self.internet)
        return inet.size == 0 or not np.isin(label, inet).any()

    def _within_room(self, fid: np.ndarray, rec: np.ndarray, time_ns: np.ndarray
                     ) -> np.ndarray:
        """The recording rows whose flow is recorded already, or that fit in the table: a
        new flow's recording row records only while fewer than `capacity` records are alive
        at its time (assumption conntrack-capacity, engine/room.py; records touched by the
        flow's earlier recording rows); a refused flow may record at a later row. Fast path:
        records held plus this batch's new flows stay within the capacity."""
        new = self.firewall[fid[rec]] < 0
        if not new.any():
            return rec
        if self.count + np.unique(fid[rec[new]]).size <= self.capacity:
            return rec
        held = np.flatnonzero(self.firewall >= 0)
        cand = rec[new]
        first = admit(cand, fid[cand], time_ns, held, self.recorded_ns[held], rec, fid[rec],
                      time_ns[rec], self.capacity, self.idle_timeout_ns)
        opened_at = np.full(self.firewall.size, np.iinfo(np.int64).max, np.int64)
        opened_at[fid[first]] = first
        return rec[~new | (rec >= opened_at[fid[rec]])]

    def withdraw(self, rows: np.ndarray) -> None:
        """Drop the staged records of `rows` (their source VM's shaper dropped them)."""
        if self._staged is not None and rows.size:
            keep = ~np.isin(self._staged[0], rows)
            self._staged = tuple(a[keep] for a in self._staged)

    def commit(self) -> None:
        """Write the staged records, in row order (the latest of a flow wins)."""
        if self._staged is None:
            return
        _, fid, fw, disp, lab, when, pub = self._staged
        self._staged = None
        self.count += int(np.unique(fid[self.firewall[fid] < 0]).size)
        _, last = np.unique(fid[::-1], return_index=True)  # the latest row of each flow
        last = fid.size - 1 - last
        f = fid[last]
        self.firewall[f], self.disposition[f], self.label[f] = fw[last], disp[last], lab[last]
        self.recorded_ns[f] = when[last]
        m = pub >= 0
        self.alias_to[pub[m]] = fid[m]  # row order: the latest recorder of a tuple wins

    def export(self) -> dict[int, tuple[int, int, int]]:
        """{flow id: (firewall node, disposition, label id)} of the committed records."""
        ids = np.flatnonzero(self.firewall >= 0)
        return {int(f): (int(self.firewall[f]), int(self.disposition[f]), int(self.label[f]))
                for f in ids.tolist()}

    def aliases(self) -> dict[int, int]:
        """{public reply tuple's forward flow id: recorded flow id} of the committed records."""
        ids = np.flatnonzero(self.alias_to >= 0)
        return {int(t): int(self.alias_to[t]) for t in ids.tolist()
                if self.firewall[self.alias_to[t]] >= 0}

    def recorded_at(self, flow_id: int) -> int:
        """The capture time (ns) of the committed record of `flow_id`."""
        return int(self.recorded_ns[flow_id])


def _latest_before(keys: np.ndarray, rows: np.ndarray, want: np.ndarray, before: np.ndarray,
                   n: int) -> np.ndarray:
    """Per query i: the latest row r in `rows` (ascending) with keys[r] == want[i] and
    r < before[i]; -1 when none."""
    if rows.size == 0:
        return np.full(want.size, -1, np.int64)
    packed = keys.astype(np.int64) * (n + 1) + rows
    order = np.argsort(packed, kind="stable")
    packed, rows = packed[order], rows[order]
    at = np.searchsorted(packed, want.astype(np.int64) * (n + 1) + before, side="left") - 1
    ok = (at >= 0) & (packed[np.maximum(at, 0)] // (n + 1) == want)
    return np.where(ok, rows[np.maximum(at, 0)], -1)


__all__ = ["DROPS", "PENDING_ASSUMPTION", "BatchPendingSessions", "PendingSessions", "PendingVerdict",
           "public_reply_key"]
