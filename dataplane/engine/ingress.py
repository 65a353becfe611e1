"""Delivery at an edge-reached destination (the engine's deliver step, shared by the gateway
stage, stages/gateway.py, and the load balancers, loadbalancer.py).

`deliver_np`: inbound NSG (subnet, NIC) at the target on the (possibly translated) 5-tuple
unless the flow is established, then DELIVERED with the label; the target is the path's last
node. The gateway/Internet-edge/transit stage code moved to engine/stages/gateway.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.dispositions import Disposition as D


def deliver_np(bp: Any, c: Any, est: np.ndarray, sel: np.ndarray, target: np.ndarray,
               dst: np.ndarray, dport: np.ndarray, label: int, nodes: np.ndarray,
               pos: np.ndarray, disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> None:
    """Inbound NSG (subnet, NIC) at `target` on the (possibly translated) 5-tuple unless the
    flow is established, then DELIVERED with `label`; the target is the path's last node."""
    program = bp.net.program
    nodes[sel, pos[sel]] = target
    disp[sel] = D.DELIVERED
    dec[sel] = label
    active[sel] = False
    new = ~est[sel]
    for nic in np.unique(target[new]).tolist():
        m = new & (target == nic)
        q = sel[m]
        allow, rule = program.evaluate(nic, "Inbound", c.proto[q], c.src[q], c.sport[q],
                                       dst[m], dport[m])
        disp[q[~allow]] = D.DENIED_IN
        dec[q[~allow]] = bp.rule_label[np.maximum(rule[~allow], 0)]
