"""IP fragments through the engine: the edge step and the commit step, reference and batch forms.

Contract (docs/fragments.md section 3; both forms give the same answers, tests/engine/
test_fragments*.py). The stages stay fragment-blind; only this module knows fragments:
* Edge step (before the stages), every fragment in packet order through the fragment chains
  of the connection-tracking table (conntrack.FragmentChains.step, keyed by the datagram:
  conntrack.fragment_key): a first fragment (offset 0, more-fragments set) opens its chain
  and goes through the stages like any packet of its 5-tuple; a later fragment in order
  (its offset is the end of the last accepted one) follows its chain: the first fragment's
  disposition, deciding label, node path and translated addresses (its own ports stay 0:
  fragments carry none). A later fragment with no chain, a gap, a repeat or an overlap, and
  a first fragment meeting an open chain, end FRAGMENT_OUT_OF_ORDER ("TCP/IP performance
  tuning for Azure VMs", https://learn.microsoft.com/azure/virtual-network/
  virtual-network-tcpip-performance-tuning, "Azure and fragmentation": "Azure, by default,
  drops fragmented packets that arrive at the VM out of order"); the chain is closed and
  the datagram's later fragments drop the same way. In the lenient mode
  (FragmentChains(out_of_order="forward"), FORWARD_ASSUMPTION) a gap, a repeat, an overlap
  or a repeated first fragment follows the chain instead; a later fragment before its first
  still drops, keeping no chain, labelled as the emulator's limit (FORWARD_LIMIT: it does
  not hold fragments back), not Azure's drop. A fragment needing a new chain when its
  NIC's chains are at the bound ends FRAGMENT_STATE_FULL. Both are decided at the edge: no
  node path, deciding label `order_label(reason)` / STATE_FULL_LABEL.
* Commit step (after the stages): the first fragment's answer becomes its chain's outcome,
  after two documented exceptions that drop the whole datagram, first fragment included:
  - a first fragment balanced by a port-specific load-balancing rule (its deciding label
    is the rule): LB_FRAGMENT, label the rule ("Azure Load Balancer components",
    https://learn.microsoft.com/azure/load-balancer/components, "Limitations": "IP
    fragmentation of UDP and TCP packets isn't supported on load-balancing rules. High
    availability ports load-balancing rules can be used to forward existing IP
    fragments"); an HA ports rule: the chain follows the backend the first fragment's
    5-tuple chose ("High availability ports overview", https://learn.microsoft.com/azure/
    load-balancer/load-balancer-ha-ports-overview);
  - a first fragment leaving for the Internet from a NIC whose outbound method is default
    outbound access (control/outbound.py): FRAGMENT_DEFAULT_OUTBOUND ("Default outbound
    access in Azure", https://learn.microsoft.com/azure/virtual-network/ip-services/
    default-outbound-access, "Constraints": "Default outbound access IP doesn't support
    fragmented packets"); through a NAT gateway, a public IP or an outbound rule it follows.
  A dropped first fragment (NSG, route, ...) records the drop: its later fragments take the
  same disposition and label. A first fragment the engine does not emulate (UNSUPPORTED,
  UNPARSED) gives its later fragments UNSUPPORTED.
Forms: reference `walk` (one packet, a Walk, engine/reference.py) and batch `edge_np` /
`follow_np` / `commit_np` (engine/emulator.py runs them around BatchPipeline.run). The chain
state is one `FragmentChains` per pipeline (BatchPipeline.fragments); a chain opened in one
batch is followed in the next, so answers do not depend on the batch size.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from dataplane.control.outbound import DEFAULT_OUTBOUND, outbound_access
from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import Network
from dataplane.engine.conntrack import (
    FOLLOWS,
    FRAGMENT_CHAINS_MAX,
    FRAGMENT_TIMEOUT_NS,
    OPENS,
    ORDER_REASONS,
    OUT_OF_ORDER,
    Chain,
    FragmentChains,
    fragment_key,
)
from dataplane.engine.stages.loadbalancer import label_rule
from dataplane.kernels.headers_py import FRAG_FIRST, FRAG_NONE

FRAGMENT_ASSUMPTIONS = (
    "fragment-order: a fragment is in order when it starts exactly where its datagram's last "
    "accepted fragment ended; a later fragment before its first fragment, a gap, a repeat or "
    "an overlap, and a first fragment whose datagram already has a chain, end "
    "FRAGMENT_OUT_OF_ORDER and close the chain (Microsoft: Azure drops fragments that arrive "
    "out of order; how strictly it reads 'order' is not published).",
    "fragment-first-decides: later fragments follow the first fragment's decision, path, "
    "deciding label and translated addresses; a dropped first fragment drops its datagram at "
    "the same place; a first fragment the engine does not emulate gives UNSUPPORTED.",
    f"fragment-state: a chain ends with its last fragment or {FRAGMENT_TIMEOUT_NS // 10**9} s "
    f"after its latest fragment (capture time; Linux's ipfrag_time, Azure publishes none); at "
    f"most {FRAGMENT_CHAINS_MAX} chains per sending NIC (one bound for all sources outside "
    "the VNets); a fragment needing a new chain beyond it ends FRAGMENT_STATE_FULL.",
    "fragment-inbound-nat: a first fragment balanced by an inbound NAT rule is treated as on a "
    "port-specific rule (LB_FRAGMENT); Microsoft states only load-balancing rules.",
    "fragment-lb-next-hop: a fragmented datagram routed to an internal load balancer frontend "
    "as a UDR next hop follows the backend its first fragment chose, whatever the rule "
    "(only a frontend the packet is addressed to is checked for port-specific rules).",
    "fragment-timing: Azure processes fragments on the non-accelerated path; the timing model "
    "has no accelerated-networking parameter, so fragments are timed like other packets.",
    "fragment-shaper: a first fragment dropped by a shaper queue still opens its chain from "
    "the stages' decision; later fragments are shaped on their own.",
)
# The lenient mode (FragmentChains(out_of_order="forward"), --fragments-out-of-order forward):
# "TCP/IP performance tuning for Azure VMs", https://learn.microsoft.com/azure/virtual-network/
# virtual-network-tcpip-performance-tuning, "Azure and fragmentation": Azure drops
# out-of-order fragments "by default"; a Microsoft engineer names the support procedure that
# changes it per subscription, "Enable UDP Fragment Reordering on a Subscription"
# (MicrosoftDocs/azure-docs#69477, https://github.com/MicrosoftDocs/azure-docs/issues/69477).
FORWARD_ASSUMPTION = (
    "fragment-order-forward (--fragments-out-of-order forward, not Azure's default): out-of-order "
    "fragments are forwarded, as for a subscription where Microsoft support enabled fragment "
    "reordering (named 'UDP Fragment Reordering'; applied here to every protocol): a gap, a "
    "repeat, an overlap or a repeated first fragment follows its datagram's first fragment; a "
    "later fragment arriving before its first fragment still ends FRAGMENT_OUT_OF_ORDER, "
    "labelled as this emulator's limit, not Azure's drop (the emulator does not hold "
    "fragments back), and its first fragment, arriving later, opens the chain for the rest.")


def fragment_assumptions(out_of_order: str) -> tuple[str, ...]:
    """The fragment assumptions printed for a run in the mode `out_of_order`
    (conntrack.OUT_OF_ORDER_MODES)."""
    return (*FRAGMENT_ASSUMPTIONS, FORWARD_ASSUMPTION) if out_of_order == "forward" else \
        FRAGMENT_ASSUMPTIONS
FRAGMENT_DROPS = frozenset({D.FRAGMENT_OUT_OF_ORDER, D.LB_FRAGMENT, D.FRAGMENT_DEFAULT_OUTBOUND,
                            D.FRAGMENT_STATE_FULL})
FRAGMENT_EXPLAINED = ("decided by its datagram's fragment chain (engine/fragments.py): a later "
                      "fragment takes its first fragment's answer, path and deciding label")
HOST_FRAGMENT_BYTES = 1400
HOST_FRAGMENTATION_CAVEAT = (
    "host-fragmentation-not-modelled: frames over 1,400 bytes as captured (link-layer header "
    "included, so an IP packet of 1,387-1,400 bytes in an Ethernet frame counts too) keep the "
    "size the capture has; "
    "a 2019 revision of 'TCP/IP performance tuning for Azure VMs' (https://learn.microsoft.com/"
    "azure/virtual-network/virtual-network-tcpip-performance-tuning, 'Azure and VM MTU') said "
    "the Azure host fragments at 1,400 bytes; the current page no longer does.")
STATE_FULL_LABEL = "fragment-state: the sending NIC's fragment chains are at their bound"


FORWARD_LIMIT = ("fragment-order-forward: arrived before its first fragment; the emulator's "
                 "limit, not Azure's: it does not hold fragments back (an Azure subscription "
                 "with fragment reordering enabled may deliver it)")


def order_label(reason: str, out_of_order: str = "drop") -> str:
    """The deciding label of a FRAGMENT_OUT_OF_ORDER drop (reason: conntrack.ORDER_REASONS)
    in the mode `out_of_order` (conntrack.OUT_OF_ORDER_MODES): in the "forward" mode such a
    drop is only a later fragment before its first, the emulator's limit (FORWARD_LIMIT,
    assumption fragment-order-forward), not Azure's documented drop."""
    if out_of_order == "forward":
        return FORWARD_LIMIT
    return f"fragment-order: {ORDER_REASONS[reason]}"


def default_outbound_label(node_name: str) -> str:
    return f"default outbound access from {node_name}: no fragments"


# -- the first fragment's exceptions (shared by both forms) -------------------------------
@dataclass(frozen=True)
class FragmentRules:
    """Per compiled network: the deciding labels of port-specific load-balancing rules and,
    per node, whether a packet leaving it for the Internet uses default outbound access."""

    port_rule_labels: frozenset[str]
    default_outbound: np.ndarray  # bool per node


_RULES: weakref.WeakKeyDictionary[Any, FragmentRules] = weakref.WeakKeyDictionary()


def rules(net: Network) -> FragmentRules:
    """The fragment rules of a compiled network, built once."""
    found = _RULES.get(net)
    if found is None:
        labels = frozenset(label_rule(fe, r) for fe in net.lb.frontends for r in fe.rules
                           if not r.ha_ports)
        dflt = np.zeros(len(net.node_names), dtype=bool)
        for i, nic in enumerate(net.nics):
            if net.node_subnet[i] >= 0:
                dflt[i] = outbound_access(net.topology, nic).method == DEFAULT_OUTBOUND
        found = _RULES[net] = FragmentRules(labels, dflt)
    return found


def first_fragment(fr: FragmentRules, net: Network, disposition: D, label: str,
                   nodes: list[int], family: int = 4) -> tuple[D, str] | None:
    """The drop a first fragment's answer turns into (LB_FRAGMENT, FRAGMENT_DEFAULT_OUTBOUND;
    module docstring), or None when its datagram follows it. Default outbound access is IPv4
    only ("Default outbound access in Azure", https://learn.microsoft.com/azure/virtual-network/
    ip-services/default-outbound-access, "How is default outbound access provided?"): an IPv6
    datagram reaches the Internet by a public IPv6 or an LB frontend (stages/public_edge6.py),
    so FRAGMENT_DEFAULT_OUTBOUND never applies to family 6."""
    if disposition == D.DELIVERED and label in fr.port_rule_labels:
        return D.LB_FRAGMENT, label
    if (family == 4 and disposition == D.EXITS_INTERNET and len(nodes) >= 2
            and fr.default_outbound[nodes[-2]]):
        return D.FRAGMENT_DEFAULT_OUTBOUND, default_outbound_label(net.node_names[nodes[-2]])
    return None


FOLLOWER_OF = np.arange(256, dtype=np.uint8)  # first fragment's disposition -> a follower's
FOLLOWER_OF[D.UNPARSED] = D.UNSUPPORTED  # parsed, but its first fragment could not be decided


def follower(disposition: D) -> D:
    """What a later fragment takes from its first fragment's disposition (FOLLOWER_OF)."""
    return D(int(FOLLOWER_OF[disposition]))


# -- reference form ------------------------------------------------------------------------
class Fragment(NamedTuple):
    """A packet's fragment fields (header kernel columns): kind FRAG_FIRST / FRAG_LATER,
    identification, offset (8-byte units), more-fragments flag, bytes carried; IPv6 packets
    give their family and address high halves (the low halves are the packet's src/dst)."""

    kind: int
    frag_id: int
    offset: int
    length: int
    more: bool
    family: int = 4
    src_hi: int = 0
    dst_hi: int = 0


def walk(ref: Any, chains: FragmentChains, p: Any, frag: Fragment | None) -> Any:
    """Reference form: one packet (engine/reference.Packet) through the edge step, the
    stages (ref.walk, a first fragment or a packet that is no fragment) and the commit step;
    returns the Walk and commits the flow like ReferencePipeline.run does for a packet that
    survived its path."""
    from dataplane.engine.reference import Walk

    if frag is None or frag.kind == FRAG_NONE:
        w = ref.walk(p)
        ref.commit(p, w)
        return w
    key = fragment_key(frag.family, frag.src_hi, p.src, frag.dst_hi, p.dst, p.proto,
                       frag.frag_id)
    verdict, reason, chain = chains.step(key, p.nic, frag.kind == FRAG_FIRST, frag.offset,
                                         frag.length, frag.more, p.time_ns)
    if verdict == OPENS:
        assert chain is not None
        w = ref.walk(p)
        drop = first_fragment(rules(ref.net), ref.net, w.disposition, w.deciding, w.nodes,
                              frag.family)
        if drop is None:
            ref.commit(p, w)
        else:
            w = Walk(drop[0], drop[1], w.nodes, [*w.hops, {"fragment": drop[0].name}],
                     w.reply_of, w.out)
        chain.outcome = w
        return w
    if verdict == FOLLOWS:
        assert chain is not None
        first = chain.outcome
        out = first.out or (p.src, p.dst, 0, 0)
        note = "follows its first fragment" + (
            f" (out of order, forwarded: {ORDER_REASONS[reason]})" if reason else "")
        return Walk(follower(first.disposition), first.deciding, list(first.nodes),
                    [{"fragment": note, "offset": frag.offset}],
                    None, (out[0], out[1], p.sport, p.dport))
    if verdict == OUT_OF_ORDER:
        return Walk(D.FRAGMENT_OUT_OF_ORDER, order_label(reason, chains.out_of_order), [],
                    [{"fragment": reason, "offset": frag.offset}])
    return Walk(D.FRAGMENT_STATE_FULL, STATE_FULL_LABEL, [], [{"fragment": "state full"}])


# -- batch form ----------------------------------------------------------------------------
class Outcome(NamedTuple):
    """Batch form of a chain's outcome: disposition code, label index, node path row, final
    source and destination: IPv4 columns (`final`) and IPv6 halves (`final6`: src_hi, src_lo,
    dst_hi, dst_lo; an IPv6 ILB's DNAT, BatchPipeline.final6)."""

    disposition: int
    label: int
    nodes: np.ndarray
    src: int
    dst: int
    final6: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class EdgePlan:
    """What the edge step decided for one batch (rows are batch row indices, ascending).
    `decided` rows end at the edge with `decided_disp` / `decided_label` (label index);
    `follow_rows` take the answer of `follow_from` (a row of this batch, -1 none) or of
    `follow_outcome` (a chain committed in an earlier batch); `first_rows` opened the chains
    `first_chains` (their outcome is set by commit_np)."""

    decided: np.ndarray
    decided_disp: np.ndarray
    decided_label: np.ndarray
    follow_rows: np.ndarray
    follow_from: np.ndarray
    follow_outcome: list[Outcome | None]
    first_rows: np.ndarray
    first_chains: list[Chain]
    first_drop: np.ndarray  # bool per first_rows: the commit step dropped it (follow_np)
    first_family: np.ndarray  # 4 or 6 per first_rows

    @classmethod
    def empty(cls) -> EdgePlan:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, np.zeros(0, np.uint8), np.zeros(0, np.int32), z, z, [], z, [],
                   np.zeros(0, bool), z)


def edge_np(chains: FragmentChains, labels: Any, c: Any, hc: Any, time_ns: np.ndarray,
            undecided: int) -> EdgePlan:
    """Batch edge step over `Columns` c (addresses as mapped) and the header columns hc
    (kernels/headers: frag, frag_id, frag_offset, frag_more, frag_len): every fragment row
    whose preset is `undecided`, UNSUPPORTED or UNPARSED (a first fragment only) steps its
    chain in row order; rows decided here, and later fragments, get a preset (c.preset is
    written) so the stages skip them. Returns the plan follow_np / commit_np apply."""
    kind = hc.frag
    preset = c.preset
    cand = (kind != FRAG_NONE) & ((preset == undecided) | (preset == D.UNSUPPORTED)
                                  | ((preset == D.UNPARSED) & (kind == FRAG_FIRST)))
    rows = np.flatnonzero(cand)
    if rows.size == 0:
        return EdgePlan.empty()
    decided, ddisp, dlab = [], [], []
    frows, ffrom, fout = [], [], []
    first_rows, first_chains, first_family = [], [], []
    pending: dict[int, int] = {}  # id(chain) -> its first fragment's row in this batch
    cols = [a[rows].tolist() for a in (c.family, c.src_hi, c.src_lo, c.dst_hi, c.dst_lo,
                                       c.proto, hc.frag_id, c.nic, kind, hc.frag_offset,
                                       hc.frag_len, hc.frag_more, time_ns)]
    for r, fam, sh, sl, dh, dl, pr, fid, nic, k, off, ln, more, t in zip(rows.tolist(), *cols,
                                                                        strict=True):
        key = fragment_key(fam, sh, sl, dh, dl, pr, fid)
        verdict, reason, chain = chains.step(key, nic, k == FRAG_FIRST, off, ln, bool(more), t)
        if verdict == OPENS:
            assert chain is not None
            first_rows.append(r)
            first_chains.append(chain)
            first_family.append(fam)
            pending[id(chain)] = r
        elif verdict == FOLLOWS:
            assert chain is not None
            frows.append(r)
            ffrom.append(pending.get(id(chain), -1))
            fout.append(chain.outcome if id(chain) not in pending else None)
        else:
            decided.append(r)
            if verdict == OUT_OF_ORDER:
                ddisp.append(D.FRAGMENT_OUT_OF_ORDER)
                dlab.append(labels(order_label(reason, chains.out_of_order)))
            else:
                ddisp.append(D.FRAGMENT_STATE_FULL)
                dlab.append(labels(STATE_FULL_LABEL))
    plan = EdgePlan(np.array(decided, np.int64), np.array(ddisp, np.uint8),
                    np.array(dlab, np.int32), np.array(frows, np.int64),
                    np.array(ffrom, np.int64), fout, np.array(first_rows, np.int64),
                    first_chains, np.zeros(len(first_rows), bool),
                    np.array(first_family, np.int64))
    preset[plan.decided] = plan.decided_disp
    preset[plan.follow_rows] = D.FRAGMENT_OUT_OF_ORDER  # placeholder until follow_np
    return plan


def follow_np(plan: EdgePlan, net: Network, labels: Any, disp: np.ndarray, dec: np.ndarray,
              nodes: np.ndarray, final: tuple[np.ndarray, ...],
              final6: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Batch: after BatchPipeline.run, write the plan into its answers in place (disp, dec,
    nodes, final src/dst; `final6` the IPv6 halves, BatchPipeline.final6: a follower in the
    same batch takes its first fragment's, an IPv6 ILB's translation): first fragments turned into drops (LB_FRAGMENT,
    FRAGMENT_DEFAULT_OUTBOUND), edge drops with their labels and empty paths, followers with
    their first fragment's answer. Returns the first-fragment rows it dropped (their flows
    must not open: the emulator withdraws them like shaper drops)."""
    fr = rules(net)
    first = plan.first_rows
    if first.size:  # candidates by columns; first_fragment (shared with walk) decides them
        path = nodes[first]
        length = (path >= 0).sum(axis=1)
        exit_node = path[np.arange(first.size), np.maximum(length - 2, 0)]
        port_rules = np.array([labels(x) for x in sorted(fr.port_rule_labels)], np.int32)
        maybe = (((disp[first] == D.DELIVERED) & np.isin(dec[first], port_rules))
                 | ((disp[first] == D.EXITS_INTERNET) & (length >= 2)
                    & fr.default_outbound[exit_node] & (plan.first_family == 4)))
        names = labels.names
        for i in np.flatnonzero(maybe).tolist():
            r = int(first[i])
            drop = first_fragment(fr, net, D(int(disp[r])), names[int(dec[r])],
                                  [int(x) for x in nodes[r] if x >= 0],
                                  int(plan.first_family[i]))
            plan.first_drop[i] = drop is not None
            if drop is not None:
                disp[r], dec[r] = drop[0], labels(drop[1])
    if plan.decided.size:
        disp[plan.decided] = plan.decided_disp
        dec[plan.decided] = plan.decided_label
        nodes[plan.decided] = -1
    fsrc, fdst = final[0], final[1]
    here = plan.follow_from >= 0  # first fragment in this batch: copy its row
    r, j = plan.follow_rows[here], plan.follow_from[here]
    disp[r], dec[r], nodes[r], fsrc[r], fdst[r] = disp[j], dec[j], nodes[j], fsrc[j], fdst[j]
    for half in final6:
        half[r] = half[j]
    before = [o for o, h in zip(plan.follow_outcome, here.tolist(), strict=True) if not h]
    if before:  # first fragment in an earlier batch: its chain's committed outcome
        r = plan.follow_rows[~here]
        disp[r] = [o.disposition for o in before]  # type: ignore[union-attr]
        dec[r] = [o.label for o in before]  # type: ignore[union-attr]
        nodes[r] = np.stack([o.nodes for o in before])  # type: ignore[union-attr]
        fsrc[r] = [o.src for o in before]  # type: ignore[union-attr]
        fdst[r] = [o.dst for o in before]  # type: ignore[union-attr]
        for k, half in enumerate(final6):  # IPv6 translations (an ILB's DNAT) too
            half[r] = [o.final6[k] for o in before]  # type: ignore[union-attr]
    disp[plan.follow_rows] = FOLLOWER_OF[disp[plan.follow_rows]]
    return plan.first_rows[plan.first_drop]


def commit_np(plan: EdgePlan, disp: np.ndarray, dec: np.ndarray, nodes: np.ndarray,
              final: tuple[np.ndarray, ...], final6: tuple[np.ndarray, ...] = ()) -> None:
    """Batch commit step: the chains opened by this batch's first fragments record their
    answers (after follow_np) as their outcome, for later fragments in later batches; `final6`
    the IPv6 halves (BatchPipeline.final6), recorded when given."""
    r = plan.first_rows
    paths = nodes[r]  # one copy for the batch; each outcome holds a row of it
    halves = list(zip(*(h[r].tolist() for h in final6), strict=True)) if final6 else \
        [(0, 0, 0, 0)] * r.size
    for chain, d, lab, path, src, dst, six in zip(
            plan.first_chains, disp[r].tolist(), dec[r].tolist(), paths, final[0][r].tolist(),
            final[1][r].tolist(), halves, strict=True):
        chain.outcome = Outcome(d, lab, path, src, dst, six)


__all__ = ["FORWARD_ASSUMPTION", "FRAGMENT_ASSUMPTIONS", "FRAGMENT_DROPS", "FRAGMENT_EXPLAINED",
           "HOST_FRAGMENTATION_CAVEAT", "HOST_FRAGMENT_BYTES", "STATE_FULL_LABEL", "EdgePlan", "Fragment", "FragmentRules",
           "FOLLOWER_OF", "Outcome", "commit_np", "default_outbound_label", "edge_np", "first_fragment",
           "FORWARD_LIMIT", "follow_np", "follower", "fragment_assumptions", "order_label", "rules", "walk"]
