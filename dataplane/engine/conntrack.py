"""The connection-tracking table: one entry per flow, keyed by its original and its translated
5-tuple, holding the state every stage that owns per-flow state reads.

Contract (reference form `ConnTrack`, batch form `BatchConnTrack`, equal by the differential
tests in tests/engine):
* A 5-tuple key is (src, dst, proto, sport, dport), ports 0 unless TCP/UDP (`flow_key`).
* An entry is opened by the first packet of a flow that (a) survives the whole path -- it is
  DELIVERED or leaves the network (EXITS_INTERNET, EXITS_ON_PREMISES) and is not dropped by
  its source VM's shaper (a drop at a forwarding NVA's shaper later keeps the flow) --, (b) is not itself a reply of an entry
  and (c) whose original key has no entry yet. Room (assumption `conntrack-capacity`,
  engine/room.py): a new flow opens its entry only while fewer than `capacity` entries are
  ALIVE at its capture time (latest touch within the idle timeout, below); a refused flow
  opens nothing (its later packets ask again). Expired entries are still held (they keep
  their reply keys and their flow's forward packets revive them whatever the room), so a
  table may hold more than `capacity` entries. Microsoft documents a per-NIC limit ("Azure
  subscription and service limits, quotas, and constraints", https://learn.microsoft.com/
  azure/azure-resource-manager/management/azure-subscription-service-limits, "Networking
  limits": 500,000 concurrent TCP or UDP flows per NIC), not a network-wide table: the count
  is global here and `capacity` is the emulator's bound (per-NIC limits are not modelled).
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
* Azure Firewall SNAT ports (engine/snat_ports.py, assumption `firewall-snat-port`): a new
  entry of a flow an Azure Firewall SNATed (it draws from a port pool) is given its source
  port at its opening -- the hash port when no live entry holds that tuple's reply key, else
  the next free port up (wrapping); if the holder idled out, the new entry takes its reply
  key over. The flow's later forward packets leave with the entry's port (`commit` returns
  the entry's translated key; batch: BatchPipeline._snat_final). Reference: `commit`; batch:
  BatchPipeline._snat_ports at `_openers`, `open(take=...)`, the entry's port in `sport`.
* When two entries would share a reply key otherwise (two flows translated onto the same
  tuple: NAT gateway / load balancer SNAT hash ports, firewall DNAT source translation, a
  firewall SNAT space with no free port), the earlier entry keeps it (assumption
  `conntrack-first-wins`), also after it expired.
* Idle expiry (assumption `conntrack-idle`), in capture time and independent of batches: each
  entry keeps `last_ns`, its latest touch. A packet at t answers entry E only while
  t - E.last_ns <= the idle timeout (IDLE_TIMEOUT_NS, a constructor parameter), and then
  touches it (last_ns = max(last_ns, t)); a committed forward packet of E's flow touches it
  too, re-opening an expired entry (forward decisions read no state, so the entry's content is
  unchanged). A reply after expiry is judged as a new flow and opens no entry (its key stays
  E's reply key). Microsoft documents the Azure Firewall's TCP idle timeout: 4 minutes for
  north-south traffic ("Understanding Azure Firewall TCP session management and idle timeout
  behavior", https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout
  settings"; Microsoft's sources disagree on east-west: 4 minutes, 5 minutes without a TCP
  RST, or none enforced -- 4 minutes is chosen, the printed assumption says so); it
  documents no idle timeout for a VM's own flow state (NSG) nor for UDP/ICMP: every entry
  here idles out after 4 minutes, whatever its protocol and path (the load balancer's default
  idle timeout is also 4 minutes, "Configure TCP reset and idle timeout for Azure Load
  Balancer", https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout).
  TCP FIN/RST do not end an entry (flags are not modelled). Batch form: engine/batch.py
  `_alive` inside the fixed-point loop; touches are applied by commit.
* Pending application-rule sessions (engine/pending.py, its own table beside this one): the
  replies of a flow an Azure Firewall's application rules dropped take the flow's verdict
  there; they open nothing here.
* Decision-cache rule (engine/batch.py): a cached decision is keyed by everything decide()
  reads of a row -- the row's exact 5-tuple (its flow id), raw ports, ingress NIC, edge
  preset -- and, for a row answering an entry, the est bit and the id of the interned state
  the entry gives it (firewall-session set, un-NAT address, un-NAT port), never the entry id:
  two rows with the same fields and the same state share one answer whichever entry supplied
  it. Flow ids are renumbered only by compaction, which clears the cache. A row whose entry
  idled out has no state (no est bit, state id 0) but its *expired* value is in its key
  (word 3: bit 31 | value; batch.py `_expired`: 0, or k + 1 when firewall k SNATed the flow
  and the row is keyed by reverse(original), or EXPIRED_OWN | k + 1 when the row is
  addressed to firewall k's own translated address): the Internet entry labels such a reply
  (stages/gateway.py expired-reply-at-vm), firewall k denies the other
  (expired-reply-at-firewall), so the value is read by decide() and keyed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataplane.dispositions import PASSED
from dataplane.engine.snat_ports import allocate, ported

Key = tuple[int, int, int, int, int]
PASSING = frozenset(d.name for d in PASSED)
SNAT_PORT_FIRST, SNAT_PORT_COUNT = 1024, 65536 - 1024  # engine/stages/public_edge.py
CONNTRACK_ASSUMPTIONS = (
    "conntrack-first-wins: when two flows are translated onto the same 5-tuple (hash SNAT "
    "ports of a NAT gateway or load balancer, an Azure Firewall's DNAT source translation), "
    "replies belong to the earlier flow; an Azure Firewall's SNAT gives each live flow its "
    "own port instead (firewall-snat-port).",
    "conntrack-idle: a flow idle for more than 4 minutes (capture time) no longer has state: "
    "its replies are judged as new flows (NSG rules, firewall rules); replies and committed "
    "forward packets keep it alive, the forward direction re-opens it (a TCP answer that "
    "does names caveat conntrack-reopen). 4 minutes is Azure Firewall's north-south TCP idle "
    "timeout ('Understanding Azure Firewall TCP session management and idle timeout "
    "behavior', https://learn.microsoft.com/azure/firewall/tcp-session-behavior, 'Idle "
    "timeout settings'). For east-west traffic (between VNets, over peering, VPN or "
    "ExpressRoute) Microsoft's sources disagree: versions of that page say 4 minutes, or 5 "
    "minutes without a TCP RST, and the earlier 'TCP idle timeout behavior and long-running "
    "TCP sessions in Azure Firewall' says no idle timeout is enforced; we chose 4 minutes for "
    "all traffic, so an east-west flow idle for more than 4 minutes expires here and may live "
    "on in Azure. Microsoft documents no idle timeout for NSG flow state nor for UDP/ICMP: the "
    "same 4 minutes is assumed for every flow; TCP FIN/RST end nothing.",
    "conntrack-capacity: the emulator's flow table (flow_capacity, default 1,048,576 "
    "entries, one table for the whole network; Microsoft documents a per-NIC limit, 500,000 "
    "concurrent TCP or UDP flows ('Azure subscription and service limits, quotas, and "
    "constraints', https://learn.microsoft.com/azure/azure-resource-manager/management/"
    "azure-subscription-service-limits, 'Networking limits'), not a network-wide table nor "
    "how idle flows count: per-NIC limits are not modelled) refuses a "
    "new flow only when the entries alive at its capture time (touched within the idle "
    "timeout, conntrack-idle) reach it: expired entries free their room; a refused flow keeps "
    "its verdict but opens no entry (its replies are judged as new flows), and its next "
    "packet asks again; a flow's forward packet revives its expired entry whatever the room. "
    "Pending application-rule sessions count the same way.",
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
    "the reply of that flow (delivered as established), as is one to its public address:port; "
    "when an Azure Firewall translated the flow (its session holds it), the reply enters "
    "through that firewall -- the lowest-indexed when several -- and is routed on from its "
    "subnet, as one addressed to the firewall's public address is.",
    "snat-port: a new flow leaving for the Internet through a NAT gateway, a load balancer "
    "outbound rule or a load-balancing rule takes the method's first public address and the "
    f"SNAT port {SNAT_PORT_FIRST} + hash(original 5-tuple) mod {SNAT_PORT_COUNT} (Azure "
    "allocates ports from a pool that cannot be known offline; port exhaustion is not "
    "modelled; two flows on one translated tuple: conntrack-first-wins); an instance public IP "
    "keeps the port; default outbound access keeps the private source (its address is "
    "Microsoft's); a packet an appliance or firewall forwards to the Internet keeps the "
    "source it arrived with.",
)
IDLE_TIMEOUT_NS = 4 * 60 * 10**9  # assumption conntrack-idle (module contract)
NEVER_IDLE_NS = 1 << 62  # the touch time of an entry that never expires (explanations)
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
    """Reference form: dicts, one packet at a time. `idle_timeout_ns`: a flow idle longer than
    this (capture time) no longer answers replies (module contract, assumption `conntrack-idle`);
    a parameter so tests can use a few ns."""

    def __init__(self, capacity: int | None = None,
                 idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.capacity = capacity
        self.idle_timeout_ns = idle_timeout_ns
        self.by_original: dict[Key, Entry] = {}
        self.by_reply: dict[Key, Entry] = {}
        self.last_ns: dict[Key, int] = {}  # by original key: the entry's latest touch
        self.by_snat: dict[tuple[int, ...], list[Key]] = {}  # SNAT port pool -> its entries

    def __len__(self) -> int:
        return len(self.by_original)

    def reply_of(self, key: Key, now_ns: int | None = None) -> Entry | None:
        """The live entry `key` answers at `now_ns` (ns, capture time), touching it; None when
        none, or when its entry has been idle longer than the timeout (the packet is then
        judged as a new flow). now_ns None: no expiry check, no touch."""
        e = self.by_reply.get(key)
        if e is None or now_ns is None:
            return e
        last = self.last_ns[e.original]
        if now_ns - last > self.idle_timeout_ns:
            return None
        self.last_ns[e.original] = max(last, now_ns)
        return e

    def live_in_pool(self, pool: tuple[int, ...], now_ns: int) -> int:
        """How many entries holding a port of SNAT pool `pool` (engine/stages/firewall_nat.py
        `snat_key`) are alive at `now_ns`."""
        return sum(1 for k in self.by_snat.get(pool, ())
                   if now_ns - self.last_ns[k] <= self.idle_timeout_ns)

    def commit(self, original: Key, translated: Key, firewalls: frozenset[int],
               now_ns: int | None = None, snat_pool: tuple[int, ...] | None = None
               ) -> Key | None:
        """A packet that survived its whole path (the caller checks the disposition): opens
        its entry, or touches (and so re-opens, when expired) its flow's entry; a packet whose
        key is a reply key of an entry (alive or expired) opens and touches nothing. now_ns
        None (a table rebuilt for an explanation): the entry never expires. `snat_pool`: the
        firewall SNAT port pool a new entry takes a port of (None: none); such an entry's
        source port is allocated here (engine/snat_ports.py: `translated`'s port when free,
        else the next free one). Returns the translated key of the flow's entry (the port the
        packet leaves with), None when it has none (a reply key, or refused for room)."""
        if original in self.by_reply:
            return None
        t = NEVER_IDLE_NS if now_ns is None else now_ns
        if original in self.by_original:
            self.last_ns[original] = max(self.last_ns[original], t)
            return self.by_original[original].translated
        if self.capacity is not None and len(self.by_original) >= self.capacity \
                and self.live(now_ns) >= self.capacity:  # assumption conntrack-capacity
            return None
        take = False
        if snat_pool is not None and ported(translated[2]):  # engine/snat_ports.py
            port, take = self.snat_port(translated, t)
            translated = (*translated[:3], port, translated[4])
        self.restore(original, translated, firewalls, t, snat_pool, take=take)
        return translated

    def snat_port(self, translated: Key, now_ns: int) -> tuple[int, bool]:
        """(port, take) a new firewall-SNATed flow translated to `translated` (its hash port)
        is given at `now_ns` (engine/snat_ports.py `allocate` over the reply keys of its
        space); reads the table only (the walk's explain hop shows it)."""
        src, dst, proto, _, dport = translated
        return allocate(translated[3], lambda q: self.by_reply.get((dst, src, proto, dport, q)),
                        lambda e: now_ns - self.last_ns[e.original] <= self.idle_timeout_ns)

    def live(self, now_ns: int | None) -> int:
        """How many entries are alive at `now_ns` (ns): last touch within the idle timeout
        (assumption conntrack-capacity); None: every entry (nothing expires)."""
        if now_ns is None:
            return len(self.by_original)
        return sum(1 for last in self.last_ns.values() if now_ns - last <= self.idle_timeout_ns)

    def restore(self, original: Key, translated: Key, firewalls: frozenset[int],
                last_ns: int, snat_pool: tuple[int, ...] | None = None,
                take: bool = False) -> None:
        """Put back an entry a table held (an explanation rebuilding the table as a run found
        it): opened with its latest touch `last_ns`, whatever the room (the table held it).
        A key already held, or that is a reply key of an entry, is left alone. `take` (commit):
        its SNAT port's reply key was held by an idled-out entry (engine/snat_ports.py
        `allocate`): the new entry takes it over."""
        if original in self.by_original or original in self.by_reply:
            return
        e = Entry(original, translated, firewalls)
        self.by_original[original] = e
        self.last_ns[original] = last_ns
        back = reverse(translated)
        if snat_pool is not None:
            self.by_snat.setdefault(snat_pool, []).append(original)
        if take:  # its SNAT port's idled-out holder's reply key (engine/snat_ports.py)
            self.by_reply[back] = e
        self.by_reply.setdefault(back, e)
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

    def __init__(self, capacity: int, idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.capacity = capacity
        self.idle_timeout_ns = idle_timeout_ns
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
        self.last_ns = np.full(size, -1, dtype=np.int64)  # latest touch (ns), by opener id
        self.pool = np.full(size, -1, dtype=np.int64)  # firewall SNAT port pool id, -1 none
        self.sport = np.full(size, -1, dtype=np.int32)  # its allocated SNAT port (snat_ports)
        self.pool_entries = np.zeros(0, np.int64)  # pool id -> entries holding one of its ports
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
        self.last_ns = g(self.last_ns, -1)
        self.pool = g(self.pool, -1)
        self.sport = g(self.sport, -1)

    def open(self, fid: np.ndarray, tid: np.ndarray, fwset: np.ndarray,
             unnat_ip: np.ndarray, unnat_port: np.ndarray,
             usrc: np.ndarray | None = None, last_ns: np.ndarray | None = None,
             pool: np.ndarray | None = None, sport: np.ndarray | None = None,
             take: np.ndarray | None = None) -> None:
        """Open entries (rows in commit order; the caller has applied capacity and removed
        replies and already-open flows). The earlier entry keeps a shared reply id
        (conntrack-first-wins), but a row marked `take` takes it over (its SNAT port's holder
        idled out: engine/snat_ports.py `allocate`; in row order, so the latest such row).
        `usrc`: the source restore of each (original source address << 16 | port, -1);
        `last_ns`: each opener's time (ns; None: never expires, as ConnTrack.commit);
        `pool`: the firewall SNAT port pool id each takes a port of (-1 none); `sport`: the
        SNAT port each was allocated (-1 none)."""
        self.opened[fid] = True
        self.last_ns[fid] = NEVER_IDLE_NS if last_ns is None else last_ns
        self.sport[fid] = -1 if sport is None else sport
        if pool is not None:
            self.pool[fid] = pool
            held = pool[pool >= 0]
            if held.size:
                need = int(held.max()) + 1
                if need > self.pool_entries.size:
                    self.pool_entries = np.concatenate([
                        self.pool_entries, np.zeros(need - self.pool_entries.size, np.int64)])
                np.add.at(self.pool_entries, held, 1)
        self.usrc[fid] = -1 if usrc is None else usrc
        self.fwset[fid] = fwset
        self.unnat_ip[fid] = unnat_ip
        self.unnat_port[fid] = unnat_port
        self.translated_id[fid] = tid
        self.seq[fid] = self.count + np.arange(fid.size)
        taking = np.flatnonzero(take) if take is not None else np.zeros(0, np.int64)
        taken_tid, taken_fid = tid[taking], fid[taking]
        snat = np.flatnonzero(unnat_ip >= UNSNAT)  # also answer reverse(original) (un-SNAT)
        order = np.argsort(np.concatenate([2 * np.arange(fid.size), 2 * snat + 1]),
                           kind="stable")
        tid = np.concatenate([tid, fid[snat]])[order]
        fid = np.concatenate([fid, fid[snat]])[order]
        free = self.reply_entry[tid] < 0
        tid_f, fid_f = tid[free], fid[free]
        _, first = np.unique(tid_f, return_index=True)  # the first row per reply id wins
        self.reply_entry[tid_f[first]] = fid_f[first]
        if taking.size:  # the latest taking row per reply id
            _, last = np.unique(taken_tid[::-1], return_index=True)
            self.reply_entry[taken_tid[::-1][last]] = taken_fid[::-1][last]
        self.count += int(fid.size - snat.size)

    def touch(self, entry: np.ndarray, time_ns: np.ndarray) -> None:
        """Entries (opener ids) seen at `time_ns` (ns): their latest touch moves forward."""
        np.maximum.at(self.last_ns, entry, time_ns)

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
                           ("seq", -1), ("usrc", -1), ("last_ns", -1), ("pool", -1),
                           ("sport", -1)):
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
OUT_OF_ORDER_MODES = ("drop", "forward")  # FragmentChains(out_of_order=...), the CLI's
# --fragments-out-of-order (engine/fragments.py FORWARD_ASSUMPTION)


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
    answer as the caller's form records it (engine/fragments.py), None while unknown;
    `covered` the 8-byte units accepted so far and `total` the datagram's length in units once
    its last fragment (more-fragments clear) is accepted (-1 before): the chain is complete
    when covered reaches total."""

    nic: int
    next_offset: int
    expires_ns: int
    outcome: object = None
    covered: int = 0
    total: int = -1


class FragmentChains:
    """Fragment chains, one table for both forms (reference and batch run the same `step`
    over fragments in packet order: a fragment's verdict depends on every earlier fragment of
    its datagram, never on a stage). Bounded like the flow table: at most `chains_max` chains
    per NIC; a chain ends when its fragments cover the datagram up to its last fragment
    (more-fragments clear), or `timeout_ns` after its latest fragment. `out_of_order`
    (OUT_OF_ORDER_MODES): "drop" (Azure's default) closes a chain at its first fragment out of
    order; "forward" (Azure changes it for a subscription on request: engine/fragments.py
    FORWARD_ASSUMPTION) lets a gap, a repeat, an overlap or a repeated first fragment follow
    the chain, and keeps no chain for a later fragment before its first fragment (so a first
    fragment arriving after it still opens one). `counts`: chains opened, followers (later
    fragments that followed a chain), completed, expired, out of order (fragments dropped
    FRAGMENT_OUT_OF_ORDER), out of order forwarded, state full (fragments refused a new chain:
    FRAGMENT_STATE_FULL)."""

    def __init__(self, chains_max: int = FRAGMENT_CHAINS_MAX,
                 timeout_ns: int = FRAGMENT_TIMEOUT_NS, out_of_order: str = "drop") -> None:
        if out_of_order not in OUT_OF_ORDER_MODES:
            raise ValueError(f"out_of_order must be one of {OUT_OF_ORDER_MODES}")
        self.chains_max = chains_max
        self.timeout_ns = timeout_ns
        self.out_of_order = out_of_order
        self.clear()

    def clear(self) -> None:
        self.chains: dict[FragKey, Chain] = {}
        self.per_nic: dict[int, int] = {}
        self.counts = {"opened": 0, "followed": 0, "completed": 0, "expired": 0,
                       "outOfOrder": 0, "outOfOrderForwarded": 0, "stateFull": 0}

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
        ch = self.chains[key] = Chain(nic, next_offset, now_ns + self.timeout_ns,
                                      covered=max(next_offset, 0))
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
        later fragment in order (reason ''), or out of order in the "forward" mode (reason in
        ORDER_REASONS), it takes chain.outcome (the chain ends once complete);
        OUT_OF_ORDER (reason in ORDER_REASONS): the chain is closed and stays until it
        expires, so the datagram's later fragments drop the same way (chain None: a later
        fragment before its first in the "forward" mode, no chain kept); STATE_FULL: it
        needed a new chain and its NIC has `chains_max`."""
        forward = self.out_of_order == "forward"
        ch = self._live(key, now_ns)
        if ch is None:
            if forward and not first:
                self.counts["outOfOrder"] += 1
                return OUT_OF_ORDER, "no-chain", None
            if not self._room(nic, now_ns):
                self.counts["stateFull"] += 1
                return STATE_FULL, "", None
            if first:
                return OPENS, "", self._open(key, nic, length // 8, now_ns)
            return OUT_OF_ORDER, "no-chain", self._open(key, nic, -1, now_ns)
        ch.expires_ns = now_ns + self.timeout_ns
        if ch.next_offset < 0:
            self.counts["outOfOrder"] += 1
            return OUT_OF_ORDER, "closed", ch
        reason = ""
        if first or offset != ch.next_offset:
            reason = "first-again" if first else "gap" if offset > ch.next_offset else "overlap"
            if not forward:
                ch.next_offset = -1
                self.counts["outOfOrder"] += 1
                return OUT_OF_ORDER, reason, ch
            self.counts["outOfOrderForwarded"] += 1
        end = offset + length // 8
        ch.next_offset = max(ch.next_offset, end)
        ch.covered += length // 8
        if not more:
            ch.total = end
        self.counts["followed"] += 1
        if 0 <= ch.total <= ch.covered:
            self._drop(key, "completed")
        return FOLLOWS, reason, ch


__all__ = ["BatchConnTrack", "CONNTRACK_ASSUMPTIONS", "Chain", "ConnTrack", "Entry",
           "FOLLOWS", "FRAGMENT_CHAINS_MAX", "FRAGMENT_TIMEOUT_NS", "FirewallSets",
           "FragmentChains", "OPENS", "ORDER_REASONS", "OUT_OF_ORDER", "OUT_OF_ORDER_MODES",
           "PASSING", "STATE_FULL",
           "UNSNAT", "fragment_key", "flow_key", "reverse"]
