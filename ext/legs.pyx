# cython: language_level=3
"""Leg tables of node paths (twin: dataplane/kernels/legs_py.py; wrapper: kernels/legs.py).

`width(nodes) -> int`: the number of legs of the longest path (a path is a row's nodes up to
its first -1), 0 for no legs.
`fill(nodes, node_vm, cost, nn, leg_vm, leg_cost) -> int`: for each row i and leg k of its
path (node k -> node k+1, k < leg_vm's width): leg_vm[i, k] = max(node_vm[sender], -1),
leg_cost[i, k] = cost[sender * nn + receiver]; other cells are left as given (the wrapper
fills -2 and 0). Returns -1 when a node is outside 0..nn-1 (nothing trusted then), else 0.
"""

from libc.stdint cimport int32_t, int64_t


def width(const int32_t[:, ::1] nodes) -> int:
    cdef Py_ssize_t n = nodes.shape[0], h = nodes.shape[1], i, k, best = 0
    with nogil:
        for i in range(n):
            k = 0
            while k < h and nodes[i, k] >= 0:
                k += 1
            if k > best:
                best = k
    return best - 1 if best > 1 else 0


def fill(const int32_t[:, ::1] nodes, const int32_t[::1] node_vm, const int64_t[::1] cost,
         Py_ssize_t nn, int32_t[:, ::1] leg_vm, int64_t[:, ::1] leg_cost) -> int:
    cdef Py_ssize_t n = nodes.shape[0], h = nodes.shape[1], legs = leg_vm.shape[1], i, k
    cdef int32_t s, r, v
    cdef int bad = 0
    if leg_vm.shape[0] != n or leg_cost.shape[0] != n or leg_cost.shape[1] != legs:
        raise ValueError("leg tables differ in shape from the paths")
    if legs > h - 1 or node_vm.shape[0] != nn or cost.shape[0] != nn * nn:
        raise ValueError("leg tables wider than the paths, or tables of another size")
    with nogil:
        for i in range(n):
            for k in range(legs):
                s = nodes[i, k]
                r = nodes[i, k + 1]
                if s < 0 or r < 0:
                    break
                if s >= nn or r >= nn:
                    bad = 1
                    break
                v = node_vm[s]
                leg_vm[i, k] = v if v >= -1 else -1
                leg_cost[i, k] = cost[s * nn + r]
            if bad:
                break
    return -1 if bad else 0
