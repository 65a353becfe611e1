"""Leg tables of node paths: public entry point (compiled kernel or twin).

`leg_tables(nodes int32[n, H], node_vm int32[nn], cost int64[nn, nn]) -> (leg_vm int32[n, L],
leg_cost int64[n, L])`: L = legs of the longest path (a path is a row's nodes up to its first
-1); leg k of a row is node k -> node k+1 with its sender's shaper slot max(node_vm[sender],
-1) and cost[sender, receiver]; cells past a row's path hold -2 (no leg) and 0. The caller
(engine/timing_stage.py) supplies the node x node cost table (latency + receiver cost).
Errors: ValueError when a node is outside 0..nn-1 or the tables disagree in size.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, legs_py
from dataplane.kernels.shaper_py import NO_LEG

_ext = compiled("legs")


def leg_tables(nodes: np.ndarray, node_vm: np.ndarray, cost: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    k = _ext if _ext is not None else legs_py
    nodes = np.ascontiguousarray(nodes, dtype=np.int32)
    nn = int(node_vm.size)
    if cost.shape != (nn, nn):
        raise ValueError("leg_tables: cost table is not nodes x nodes")
    legs = k.width(nodes)
    leg_vm = np.full((nodes.shape[0], legs), NO_LEG, dtype=np.int32)
    leg_cost = np.zeros(leg_vm.shape, dtype=np.int64)
    if k.fill(nodes, np.ascontiguousarray(node_vm, dtype=np.int32),
              np.ascontiguousarray(cost, dtype=np.int64).reshape(-1), nn, leg_vm,
              leg_cost) != 0:
        raise ValueError("leg_tables: a node outside the network")
    return leg_vm, leg_cost
