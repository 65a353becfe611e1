"""Stage: network security groups at a NIC -- reference and batch forms side by side.

Contract. Takes a NIC index, a direction ("Inbound" | "Outbound") and packets with their
conntrack state (engine/conntrack.py). A packet that answers a tracked flow (`est`) skips the
NSGs ("Network security groups", https://learn.microsoft.com/azure/virtual-network/
network-security-groups-overview, "Security rules": return traffic of an allowed flow is
allowed). Others are evaluated NIC then subnet outbound, subnet then NIC inbound
(docs/azure-behaviour.md §2.4; "How network security groups filter network traffic",
https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works): the
reference form with the control plane's rule-by-rule evaluator (it returns the hop dict
`explain` renders, with each level's rule), the batch form with the compiled Program
(control/program.py); the two evaluators are kept equal by the control plane's tests.
Emits allow/deny and, on deny, the deciding label "nsg NSG/RULE"; the reference form's hop
carries the caveat `virtualnetwork-tag-route-prefix` when a rule's VirtualNetwork tag matched
an address only through a user-route prefix (control/vnet_tag_routes.py).
Dual-stack: IPv6 rows are classified on the Program's IPv6 rule tables (`evaluate6`: IPv6
prefixes, service tags with their IPv6 ranges, ASG members' IPv6 addresses; "Network security
groups", "Security rules": a rule's prefixes may be IPv4 or IPv6), the same rules in the same
order as IPv4 rows, so one rule label serves both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.control.nsg import Flow, evaluate
from dataplane.control.vnet_tag_routes import verdict_caveats


def nsg_label(verdict: Any) -> str:
    last = verdict.levels[-1] if verdict.levels else None
    for d in verdict.levels:
        if d.access == "Deny":
            last = d
    nsg = last.nsg.rsplit("/", 1)[-1] if last and last.nsg else "-"
    return f"nsg {nsg}/{verdict.rule_name}"


# -- reference form --------------------------------------------------------------------------
def decide(security: Any, at: str, direction: str, flow: Flow
           ) -> tuple[bool, dict[str, Any] | None, str | None]:
    """(allowed, hop or None when the NIC has no security context, deny label or None)."""
    if security is None:
        return True, None, None
    verdict = evaluate(security, direction, flow)
    hop = {"step": f"nsg-{direction.lower()}", "at": at, "access": verdict.access,
           "rule": verdict.rule_name,
           "levels": [{"level": d.level, "nsg": d.nsg.rsplit("/", 1)[-1] if d.nsg else None,
                       "access": d.access, "rule": d.rule} for d in verdict.levels]}
    caveats = verdict_caveats(security, direction, flow, verdict)  # control/vnet_tag_routes.py
    if caveats:
        hop["caveats"] = caveats
    if verdict.access != "Allow":
        return False, hop, nsg_label(verdict)
    return True, hop, None


# -- batch form ------------------------------------------------------------------------------
def decide_np(program: Any, rule_label: np.ndarray, c: Any, est: np.ndarray, mask: np.ndarray,
              at_nic: np.ndarray, direction: str, deny: int, dec: np.ndarray,
              disp: np.ndarray) -> None:
    """Rows in `mask` and not `est` are evaluated at `at_nic` (per row); denied rows get
    `deny` and their rule's label and leave `mask` (in place)."""
    todo = np.flatnonzero(mask & ~est)
    if todo.size == 0:
        return
    nics = at_nic[todo]
    six = c.family[todo] == 6
    low = int(nics.min())
    for nic in (np.flatnonzero(np.bincount(nics - low)) + low).tolist():  # NICs present
        at = nics == nic
        for sel, v6 in ((todo[at & ~six], False), (todo[at & six], True)):
            if sel.size:
                _apply(program, rule_label, c, sel, nic, direction, v6, deny, dec, disp, mask)


def _apply(program: Any, rule_label: np.ndarray, c: Any, sel: np.ndarray, nic: int,
           direction: str, v6: bool, deny: int, dec: np.ndarray, disp: np.ndarray,
           mask: np.ndarray) -> None:
    if v6:
        allow, rule = program.evaluate6(
            nic, direction, c.proto[sel], np.stack([c.src_hi[sel], c.src_lo[sel]], axis=1),
            c.sport[sel], np.stack([c.dst_hi[sel], c.dst_lo[sel]], axis=1), c.dport[sel])
    else:
        allow, rule = program.evaluate(nic, direction, c.proto[sel], c.src[sel], c.sport[sel],
                                       c.dst[sel], c.dport[sel])
    denied = sel[~allow]
    disp[denied] = deny
    dec[denied] = rule_label[np.maximum(rule[~allow], 0)]
    mask[denied] = False


__all__ = ["decide", "decide_np", "nsg_label"]
