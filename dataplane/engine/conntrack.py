"""The connection-tracking table: one entry per flow, keyed by its original and its translated
5-tuple, holding the state every stage that owns per-flow state reads.

Contract (reference form `ConnTrack`, batch form `BatchConnTrack`, equal by the differential
tests in tests/engine):
* A 5-tuple key is (src, dst, proto, sport, dport), ports 0 unless TCP/UDP (`flow_key`).
* An entry is opened by the first packet of a flow that (a) survives the whole path -- it is
  DELIVERED or leaves the network (EXITS_INTERNET, EXITS_ON_PREMISES) and is not dropped by
  its source VM's shaper (a drop at a forwarding NVA's shaper later keeps the flow) --, (b) is not itself a reply of an entry
  and (c) whose original key has no entry yet. At most `capacity` entries (a full table refuses
  new flows; Azure's per-VM flow limit is the motivation, the count is global here).
* The entry holds: `original` (the key as the opener left its source), `translated` (the key
  as it arrived: destination address/port rewritten by a load balancer's DNAT), `firewalls`
  (the Azure Firewall nodes on its path: each holds a session) -- the NSG "established" state
  is the entry's existence.
* A packet is a *reply* of entry E when its own key equals reverse(E.translated). A reply:
  skips every NSG (stateful NSGs: "Network security groups", https://learn.microsoft.com/
  azure/virtual-network/network-security-groups-overview, "Security rules": return traffic
  of an allowed flow needs no rule); passes each Azure Firewall in E.firewalls without rule
  evaluation ("Azure Firewall Standard features", https://learn.microsoft.com/azure/firewall/
  features, "Network traffic filtering rules": "Azure Firewall is fully stateful, so it can
  distinguish legitimate packets for different types of connections"); and, when E was
  translated, is un-NATed at its source host after the outbound NSG: its source becomes
  E.original's destination address and port ("Azure Load Balancer components",
  https://learn.microsoft.com/azure/load-balancer/components, "Frontend IP configuration":
  the load balancer "maps traffic the other way around for the response traffic from the
  VM").
* Source translation (SNAT, engine/stages/public_edge.py): an entry whose source was translated
  (a NAT gateway's or an instance public IP's address) un-SNATs its replies arriving from
  outside the VNets: their destination becomes E.original's source address and port. Such an
  entry also answers replies keyed by reverse(E.original) -- a reply captured at the VM, after
  Azure translated it back (assumption `snat-capture-at-vm`). A flow translated both ways
  un-DNATs only (no flow is: SNAT applies to new flows leaving for the Internet). Batch form:
  the un-NAT address carries `UNSNAT` (bit 40) when the restored field is the destination.
* When two entries would share a reply key (two flows translated onto the same tuple), the
  earlier entry keeps it (assumption `conntrack-first-wins`).
* Pending application-rule sessions (engine/pending.py, its own table beside this one): the
  replies of a flow an Azure Firewall's application rules dropped take the flow's verdict
  there; they open nothing here.
* Decision-cache rule (engine/batch.py): a cached decision is keyed by everything decide()
  reads of a row -- the row's exact 5-tuple (its flow id), raw ports, ingress NIC, edge
  preset -- and, for a row answering an entry, the est bit and the id of the interned state
  the entry gives it (firewall-session set, un-NAT address, un-NAT port), never the entry id:
  two rows with the same fields and the same state share one answer whichever entry supplied
  it. Flow ids are renumbered only by compaction, which clears the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataplane.dispositions import PASSED

Key = tuple[int, int, int, int, int]
PASSING = frozenset(d.name for d in PASSED)
SNAT_PORT_FIRST, SNAT_PORT_COUNT = 1024, 65536 - 1024  # engine/stages/public_edge.py
CONNTRACK_ASSUMPTIONS = (
    "conntrack-first-wins: when two flows are translated onto the same 5-tuple, replies "
    "belong to the earlier flow.",
    "firewall-stateful: replies of a flow an Azure Firewall allowed pass that firewall "
    "without rule evaluation (Azure Firewall features: stateful); a reply-shaped packet "
    "without a session, or reaching a firewall the flow did not cross (asymmetric path), is "
    "evaluated against the rules as a new flow (TCP flags are not modelled).",
    "shaper-no-state: a packet dropped by its source VM's egress shaper opens no flow; one "
    "dropped later by a forwarding NVA's shaper keeps the flow its source host recorded when "
    "it left (so state never waits for a later packet's fate, whatever the batch size); "
    "inside one batch this is settled by re-deciding the batch without the dropped openers "
    "(bounded to 4 rounds).",
    "snat-capture-at-vm: a reply whose destination is already the private address of a "
    "source-translated (SNAT) flow -- captured at the VM, after Azure translated it back -- is "
    "the reply of that flow (delivered as established), as is one to its public address:port.",
    "snat-port: a new flow leaving for the Internet through a NAT gateway, a load balancer "
    "outbound rule or a load-balancing rule takes the method's first public address and the "
    f"SNAT port {SNAT_PORT_FIRST} + hash(original 5-tuple) mod {SNAT_PORT_COUNT} (Azure "
    "allocates ports from a pool that cannot be known offline; port exhaustion is not "
    "modelled; two flows on one translated tuple: conntrack-first-wins); an instance public IP "
    "keeps the port; default outbound access keeps the private source (its address is "
    "Microsoft's); a packet an appliance or firewall forwards to the Internet keeps the "
    "source it arrived with.",
)
UNSNAT = 1 << 40  # batch form: flags an un-NAT address that restores the destination


def flow_key(src: int, dst: int, proto: int, sport: int, dport: int) -> Key:
    ported = proto in (6, 17)
    return (src, dst, proto, sport if ported else 0, dport if ported else 0)


def reverse(key: Key) -> Key:
    s, d, p, sp, dp = key
    return (d, s, p, dp, sp)


@dataclass(frozen=True)
class Entry:
    """One tracked flow. `firewalls`: node ids (engine/compile.py) of the Azure Firewalls on
    the opener's path."""

    original: Key
    translated: Key
    firewalls: frozenset[int]

    @property
    def translated_flow(self) -> bool:
        return self.original != self.translated

    @property
    def dnat(self) -> bool:
        return self.original[1::3] != self.translated[1::3]

    @property
    def snat(self) -> bool:
        return not self.dnat and self.original[0::3] != self.translated[0::3]

    def unnat(self) -> tuple[int, int] | None:
        """(address, port) a reply's source becomes (leaving its host), or None when the
        destination was not translated."""
        return (self.original[1], self.original[4]) if self.dnat else None

    def source_restore(self) -> tuple[int, int] | None:
        """(address, port) a reply's destination becomes when the flow's
        source was translated (an Azure Firewall's SNAT or DNAT source translation,
        engine/stages/firewall_nat.py), or None."""
        return (self.original[0], self.original[3]) \
            if self.original[0::3] != self.translated[0::3] else None

    def unsnat(self) -> tuple[int, int] | None:
        """(address, port) a reply's destination becomes (arriving from outside), or None
        when the source was not translated."""
        return (self.original[0], self.original[3]) if self.snat else None


class ConnTrack:
    """Reference form: dicts, one packet at a time."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity
        self.by_original: dict[Key, Entry] = {}
        self.by_reply: dict[Key, Entry] = {}

    def __len__(self) -> int:
        return len(self.by_original)

    def reply_of(self, key: Key) -> Entry | None:
        return self.by_reply.get(key)

    def commit(self, original: Key, translated: Key, firewalls: frozenset[int]) -> None:
        """Open an entry for a packet that survived its whole path (the caller checks the
        disposition); replies and flows already tracked open nothing."""
        if original in self.by_reply or original in self.by_original:
            return
        if self.capacity is not None and len(self.by_original) >= self.capacity:
            return
        e = Entry(original, translated, firewalls)
        self.by_original[original] = e
        self.by_reply.setdefault(reverse(translated), e)
        if e.snat:  # a reply captured at the VM, already translated back
            self.by_reply.setdefault(reverse(original), e)


class FirewallSets:
    """Interned sets of firewall node ids (batch form of Entry.firewalls): id 0 = empty."""

    def __init__(self, first_fw: int, n_fw: int) -> None:
        self.first_fw = first_fw
        self.n_fw = n_fw
        self.ids: dict[tuple[int, ...], int] = {(): 0}
        self.member = np.zeros((1, max(n_fw, 1)), dtype=bool)  # set id x firewall index

    def of_paths(self, nodes: np.ndarray) -> np.ndarray:
        """int32[n]: the set id of the firewall nodes in each path row (n x H, -1 padded)."""
        n = nodes.shape[0]
        out = np.zeros(n, dtype=np.int32)
        if self.n_fw == 0 or n == 0:
            return out
        is_fw = (nodes >= self.first_fw) & (nodes < self.first_fw + self.n_fw)
        rows = np.flatnonzero(is_fw.any(1))
        if rows.size == 0:
            return out
        if self.n_fw <= 62:  # one bit per firewall: distinct sets by a 1-d unique
            f = is_fw[rows]
            bits = np.where(f, np.left_shift(np.int64(1), np.where(f, nodes[rows] - self.first_fw,
                                                                   0)), 0)
            uniq, inv = np.unique(np.bitwise_or.reduce(bits, axis=1), return_inverse=True)
            sets = [tuple(self.first_fw + b for b in range(self.n_fw) if (int(u) >> b) & 1)
                    for u in uniq.tolist()]
        else:
            marked = np.where(is_fw[rows], nodes[rows], -1)
            marked.sort(axis=1)
            uniq, inv = np.unique(marked, axis=0, return_inverse=True)
            sets = [tuple(sorted({int(x) for x in u if x >= 0})) for u in uniq.tolist()]
        sids = np.array([self._intern(fws) for fws in sets], dtype=np.int32)
        out[rows] = sids[inv.ravel()]
        return out

    def _intern(self, fws: tuple[int, ...]) -> int:
        sid = self.ids.get(fws)
        if sid is None:
            sid = self.ids[fws] = len(self.ids)
            row = np.zeros((1, self.member.shape[1]), dtype=bool)
            row[0, [f - self.first_fw for f in fws]] = True
            self.member = np.vstack([self.member, row])
        return sid

    def has(self, sids: np.ndarray, fw_node: int) -> np.ndarray:
        return self.member[sids, fw_node - self.first_fw]


class BatchConnTrack:
    """Batch form: state arrays indexed by flow id (the engine's 5-tuple interning, kept
    across batches; translated tuples get ids too).

    `reply_entry[id]`: the entry (its opener's flow id) whose translated tuple has id `id`,
    -1 none; a row whose reverse tuple has id r is a reply of `reply_entry[r]`.
    `opened[fid]`: the flow's original key has an entry. Entry data by opener id:
    `fwset` (FirewallSets id), `unnat_ip`/`unnat_port` (-1: not translated),
    `translated_id` (the id of its translated tuple), `seq` (opening order; with
    `generation`, bumped by clear(), a mark (generation, count) names the table as it stood).
    Arrays keep one spare last slot, the sentinel for "no id" (never an entry)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        self.generation = getattr(self, "generation", 0) + 1  # a reset invalidates marks
        size = 1 << 16
        self.reply_entry = np.full(size, -1, dtype=np.int64)
        self.opened = np.zeros(size, dtype=bool)
        self.fwset = np.zeros(size, dtype=np.int32)
        self.unnat_ip = np.full(size, -1, dtype=np.int64)
        self.unnat_port = np.full(size, -1, dtype=np.int32)
        self.translated_id = np.full(size, -1, dtype=np.int64)
        self.seq = np.full(size, -1, dtype=np.int64)  # opening order of each entry
        self.usrc = np.full(size, -1, dtype=np.int64)  # Entry.source_restore: addr << 16 | port
        self.count = 0

    @property
    def sentinel(self) -> int:
        return int(self.opened.size - 1)

    def grow(self, ids: int) -> None:
        """Room for flow ids 0..ids-1 plus the sentinel slot."""
        if ids + 1 <= self.opened.size:
            return
        cap = max(2 * self.opened.size, ids + 1)
        old = self.opened.size - 1  # the old sentinel slot becomes an ordinary id

        def g(a: np.ndarray, fill: int | bool) -> np.ndarray:
            out = np.full(cap, fill, dtype=a.dtype)
            out[:old] = a[:old]
            return out

        self.reply_entry = g(self.reply_entry, -1)
        self.opened = g(self.opened, False)
        self.fwset = g(self.fwset, 0)
        self.unnat_ip = g(self.unnat_ip, -1)
        self.unnat_port = g(self.unnat_port, -1)
        self.translated_id = g(self.translated_id, -1)
        self.seq = g(self.seq, -1)
        self.usrc = g(self.usrc, -1)

    def open(self, fid: np.ndarray, tid: np.ndarray, fwset: np.ndarray,
             unnat_ip: np.ndarray, unnat_port: np.ndarray,
             usrc: np.ndarray | None = None) -> None:
        """Open entries (rows in commit order; the caller has applied capacity and removed
        replies and already-open flows). The earlier entry keeps a shared reply id.
        `usrc`: the source restore of each (original source address << 16 | port, -1)."""
        self.opened[fid] = True
        self.usrc[fid] = -1 if usrc is None else usrc
        self.fwset[fid] = fwset
        self.unnat_ip[fid] = unnat_ip
        self.unnat_port[fid] = unnat_port
        self.translated_id[fid] = tid
        self.seq[fid] = self.count + np.arange(fid.size)
        snat = np.flatnonzero(unnat_ip >= UNSNAT)  # also answer reverse(original) (un-SNAT)
        order = np.argsort(np.concatenate([2 * np.arange(fid.size), 2 * snat + 1]),
                           kind="stable")
        tid = np.concatenate([tid, fid[snat]])[order]
        fid = np.concatenate([fid, fid[snat]])[order]
        free = self.reply_entry[tid] < 0
        tid_f, fid_f = tid[free], fid[free]
        _, first = np.unique(tid_f, return_index=True)  # the first row per reply id wins
        self.reply_entry[tid_f[first]] = fid_f[first]
        self.count += int(fid.size - snat.size)

    def keep_mask(self, size: int) -> np.ndarray:
        """Flow ids compaction must keep: open entries and translated tuples of entries."""
        keep = self.opened[:size].copy()
        keep |= self.reply_entry[:size] >= 0
        t = self.translated_id[:size][keep[:size]]
        keep[t[t >= 0]] = True
        return keep

    def renumber(self, keep: np.ndarray) -> None:
        """After compaction kept the ids in `keep` (in order): the state follows them."""
        new_id = np.cumsum(keep) - 1
        kept = int(keep.sum())
        cap = max(1 << 16, 2 * kept + 1)
        arrays = {}
        for name, fill in (("opened", False), ("fwset", 0), ("unnat_ip", -1),
                           ("unnat_port", -1), ("reply_entry", -1), ("translated_id", -1),
                           ("seq", -1), ("usrc", -1)):
            a = getattr(self, name)
            out = np.full(cap, fill, dtype=a.dtype)
            out[:kept] = a[:keep.size][keep]
            arrays[name] = out
        for name in ("reply_entry", "translated_id"):
            a = arrays[name]
            has = a[:kept] >= 0
            a[:kept][has] = new_id[a[:kept][has]]
        for name, a in arrays.items():
            setattr(self, name, a)


# -- fragment chains (issue 17; engine/fragments.py runs them, docs/fragments.md section 3) ----
FRAGMENT_TIMEOUT_NS = 30 * 10**9  # assumption fragment-state (Linux's ipfrag_time default)
FRAGMENT_CHAINS_MAX = 4096  # per NIC (assumption fragment-state)
OPENS, FOLLOWS, OUT_OF_ORDER, STATE_FULL = 0, 1, 2, 3  # FragmentChains.step verdicts
ORDER_REASONS = {
    "no-chain": "no chain: its first fragment was not seen (or the chain ended)",
    "gap": "a gap: it starts after the end of the datagram's last accepted fragment",
    "overlap": "a repeat or an overlap: it starts before the end of the last accepted fragment",
    "closed": "its datagram's chain was already out of order",
    "first-again": "a first fragment for a datagram whose chain is already open",
}
FragKey = tuple[int, int, int, int, int, int, int]


def fragment_key(family: int, src_hi: int, src_lo: int, dst_hi: int, dst_lo: int, proto: int,
                 frag_id: int) -> FragKey:
    """The datagram a fragment belongs to: (family, source halves, destination halves,
    protocol, identification) -- IPv4 (RFC 791); IPv6 keys without the protocol (RFC 8200
    section 4.5: source, destination, identification), so proto is 0 there."""
    return (family, src_hi, src_lo, dst_hi, dst_lo, proto if family == 4 else 0, frag_id)


@dataclass
class Chain:
    """One datagram's fragment chain: the NIC it is counted against, the offset (8-byte
    units) the next in-order fragment must start at (-1: closed out of order), when it expires
    (ns, FRAGMENT_TIMEOUT_NS after its last fragment) and `outcome`: the first fragment's
    answer as the caller's form records it (engine/fragments.py), None while unknown."""

    nic: int
    next_offset: int
    expires_ns: int
    outcome: object = None


class FragmentChains:
    """Fragment chains, one table for both forms (reference and batch run the same `step`
    over fragments in packet order: a fragment's verdict depends on every earlier fragment of
    its datagram, never on a stage). Bounded like the flow table: at most `chains_max` chains
    per NIC; a chain ends when its last fragment (more-fragments clear) is accepted, or
    `timeout_ns` after its latest fragment. `counts`: opened, completed, expired, closed out of
    order, refused (table full)."""

    def __init__(self, chains_max: int = FRAGMENT_CHAINS_MAX,
                 timeout_ns: int = FRAGMENT_TIMEOUT_NS) -> None:
        self.chains_max = chains_max
        self.timeout_ns = timeout_ns
        self.clear()

    def clear(self) -> None:
        self.chains: dict[FragKey, Chain] = {}
        self.per_nic: dict[int, int] = {}
        self.counts = {"opened": 0, "completed": 0, "expired": 0, "outOfOrder": 0,
                       "refused": 0}

    def __len__(self) -> int:
        return len(self.chains)

    def _drop(self, key: FragKey, why: str) -> None:
        ch = self.chains.pop(key)
        self.per_nic[ch.nic] -= 1
        self.counts[why] += 1

    def _live(self, key: FragKey, now_ns: int) -> Chain | None:
        ch = self.chains.get(key)
        if ch is not None and ch.expires_ns < now_ns:
            self._drop(key, "expired")
            return None
        return ch

    def _room(self, nic: int, now_ns: int) -> bool:
        if self.per_nic.get(nic, 0) < self.chains_max:
            return True
        for key in [k for k, ch in self.chains.items() if ch.expires_ns < now_ns]:
            self._drop(key, "expired")
        return self.per_nic.get(nic, 0) < self.chains_max

    def _open(self, key: FragKey, nic: int, next_offset: int, now_ns: int) -> Chain:
        ch = self.chains[key] = Chain(nic, next_offset, now_ns + self.timeout_ns)
        self.per_nic[nic] = self.per_nic.get(nic, 0) + 1
        if next_offset < 0:
            self.counts["outOfOrder"] += 1
        else:
            self.counts["opened"] += 1
        return ch

    def step(self, key: FragKey, nic: int, first: bool, offset: int, length: int, more: bool,
             now_ns: int) -> tuple[int, str, Chain | None]:
        """One fragment, in packet order: (verdict, out-of-order reason or '', chain).
        OPENS: a first fragment opened `chain` (the caller records its outcome); FOLLOWS: a
        later fragment in order, it takes chain.outcome (the chain ends if it was the last);
        OUT_OF_ORDER (reason in ORDER_REASONS): the chain is closed and stays until it
        expires, so the datagram's later fragments drop the same way; STATE_FULL: it needed a
        new chain and its NIC has `chains_max`."""
        ch = self._live(key, now_ns)
        if ch is None:
            if not self._room(nic, now_ns):
                self.counts["refused"] += 1
                return STATE_FULL, "", None
            if first:
                return OPENS, "", self._open(key, nic, length // 8, now_ns)
            return OUT_OF_ORDER, "no-chain", self._open(key, nic, -1, now_ns)
        ch.expires_ns = now_ns + self.timeout_ns
        if ch.next_offset < 0:
            return OUT_OF_ORDER, "closed", ch
        if first or offset != ch.next_offset:
            reason = "first-again" if first else "gap" if offset > ch.next_offset else "overlap"
            ch.next_offset = -1
            self.counts["outOfOrder"] += 1
            return OUT_OF_ORDER, reason, ch
        ch.next_offset = offset + length // 8
        if not more:
            self._drop(key, "completed")
        return FOLLOWS, "", ch


__all__ = ["BatchConnTrack", "CONNTRACK_ASSUMPTIONS", "Chain", "ConnTrack", "Entry",
           "FOLLOWS", "FRAGMENT_CHAINS_MAX", "FRAGMENT_TIMEOUT_NS", "FirewallSets",
           "FragmentChains", "OPENS", "ORDER_REASONS", "OUT_OF_ORDER", "PASSING", "STATE_FULL",
           "UNSNAT", "fragment_key", "flow_key", "reverse"]
