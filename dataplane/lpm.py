"""Longest-prefix match tables (IPv4 `LpmTable`, IPv6 `Lpm6Table`); see dataplane/kernels/lpm.py."""

from dataplane.kernels.lpm import Lpm6Table, LpmTable, split128

__all__ = ["Lpm6Table", "LpmTable", "split128"]
