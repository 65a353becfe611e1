"""Stage: delivery at the destination NIC -- reference and batch forms side by side.

Contract. A packet that reached its destination NIC (a VNet-local or peered address, a load
balancer's backend after DNAT, an on-premises/probe/Internet ingress target) becomes the last
node of its path. The dispatcher runs the destination's inbound NSG right before this stage
(stages/nsg.py at the target, subnet then NIC on the possibly translated 5-tuple, skipped for
a packet answering a tracked flow; "How network security groups filter network traffic",
https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works,
"Inbound traffic"): a denied packet ends DENIED_IN with the NSG rule's label; a packet it
allows ends DELIVERED, deciding label the one of what brought it there (the route, the load
balancer rule, the ingress kind).
Reference form `decide`: the deliver hop explain renders (node, NIC and VM names). Batch
form `arrive_np` (the path's last node) and `decide_np` (DELIVERED with its label for the
rows the NSG allowed; every row given leaves the active set).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.dispositions import Disposition as D


# -- reference form --------------------------------------------------------------------------
def decide(net: Any, target: int) -> tuple[D, dict[str, Any]]:
    """(DELIVERED, the deliver hop) for a packet the target's inbound NSG allowed."""
    vm = net.topology.vm_of_nic(net.nics[target])
    return D.DELIVERED, {"step": "deliver", "at": net.node_names[target],
                         "nic": net.nics[target].name, "vm": vm.name if vm else None}


# -- batch form ------------------------------------------------------------------------------
def arrive_np(sel: np.ndarray, target: np.ndarray, nodes: np.ndarray, pos: np.ndarray) -> None:
    """Rows `sel` (indices) reach NIC `target` (aligned): the next path column."""
    nodes[sel, pos[sel]] = target


def decide_np(sel: np.ndarray, allowed: np.ndarray, label: np.ndarray | int,
              disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> None:
    """Rows `sel` whose inbound NSG allowed them (`allowed`, a mask over sel) are DELIVERED
    with `label` (int32 per row, aligned with sel, or one index); all rows leave `active`."""
    lab = np.broadcast_to(np.asarray(label, dtype=np.int32), sel.shape)
    ok = sel[allowed]
    disp[ok] = D.DELIVERED
    dec[ok] = lab[allowed]
    active[sel] = False


__all__ = ["arrive_np", "decide", "decide_np"]
