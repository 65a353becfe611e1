"""Leg tables of node paths: the plain-Python (numpy) twin of ext/legs.pyx.

`width(nodes int32[n, H]) -> int`: legs of the longest path (a path is a row's nodes up to its
first -1). `fill(nodes, node_vm int32[nn], cost int64[nn * nn], nn, leg_vm int32[n, L],
leg_cost int64[n, L]) -> int`: leg k of a row (node k -> node k+1) gets max(node_vm[sender],
-1) and cost[sender * nn + receiver]; cells without a leg are left as given; -1 when a node
is outside 0..nn-1, else 0. Inputs as the wrapper (kernels/legs.py) checks them.
"""

from __future__ import annotations

import numpy as np


def _on_path(nodes: np.ndarray) -> np.ndarray:
    return np.logical_and.accumulate(nodes >= 0, axis=1)


def width(nodes: np.ndarray) -> int:
    if nodes.size == 0:
        return 0
    return max(int(_on_path(nodes).sum(axis=1).max()) - 1, 0)


def fill(nodes: np.ndarray, node_vm: np.ndarray, cost: np.ndarray, nn: int,
         leg_vm: np.ndarray, leg_cost: np.ndarray) -> int:
    legs = leg_vm.shape[1]
    if legs == 0:
        return 0
    part = nodes[:, :legs + 1]
    leg = _on_path(part)[:, 1:]
    send, recv = part[:, :-1][leg].astype(np.int64), part[:, 1:][leg].astype(np.int64)
    if send.size and max(int(send.max()), int(recv.max())) >= nn:
        return -1
    leg_vm[leg] = np.maximum(node_vm[send], -1)
    leg_cost[leg] = cost[send * nn + recv]
    return 0
