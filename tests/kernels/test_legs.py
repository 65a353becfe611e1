"""Leg tables: the compiled kernel equals its numpy twin on random node paths (hypothesis),
a worked example, and nodes outside the network refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, legs_py
from dataplane.kernels.legs import leg_tables

need_ext = pytest.mark.skipif(compiled("legs") is None, reason="compiled kernel not loaded")


@st.composite
def paths(draw):
    nn = draw(st.integers(1, 6))
    h = draw(st.integers(1, 6))
    rows = draw(st.lists(st.lists(st.integers(-1, nn - 1), min_size=h, max_size=h),
                         max_size=12))
    nodes = np.array(rows, dtype=np.int32).reshape(-1, h)  # -1 anywhere: holes included
    node_vm = np.array(draw(st.lists(st.integers(-3, 4), min_size=nn, max_size=nn)), np.int32)
    cost = np.array(draw(st.lists(st.integers(0, 10**9), min_size=nn * nn, max_size=nn * nn)),
                    np.int64).reshape(nn, nn)
    return nodes, node_vm, cost


@need_ext
@given(paths())
def test_kernel_equals_twin(case) -> None:
    nodes, node_vm, cost = case
    ext = compiled("legs")
    nn = node_vm.size
    assert ext.width(nodes) == legs_py.width(nodes)
    w = legs_py.width(nodes)
    got = (np.full((nodes.shape[0], w), -2, np.int32), np.zeros((nodes.shape[0], w), np.int64))
    want = (got[0].copy(), got[1].copy())
    assert ext.fill(nodes, node_vm, cost.reshape(-1), nn, *got) == 0
    assert legs_py.fill(nodes, node_vm, cost.reshape(-1), nn, *want) == 0
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_worked_example() -> None:
    """Path 0 -> 1 -> 2 (node 0 a VM in slot 5, node 1 unshaped -1, node 2 no slot -3), path
    2 -> 0, path 1 alone (no leg): two legs wide; cells past a path hold -2 and 0."""
    nodes = np.array([[0, 1, 2, -1], [2, 0, -1, -1], [1, -1, -1, -1]], np.int32)
    cost = np.arange(9, dtype=np.int64).reshape(3, 3) * 10
    leg_vm, leg_cost = leg_tables(nodes, np.array([5, -1, -3], np.int32), cost)
    assert leg_vm.tolist() == [[5, -1], [-1, -2], [-2, -2]]
    assert leg_cost.tolist() == [[10, 50], [60, 0], [0, 0]]


def test_node_outside_the_network() -> None:
    with pytest.raises(ValueError):
        leg_tables(np.array([[0, 3]], np.int32), np.zeros(2, np.int32),
                   np.zeros((2, 2), np.int64))
