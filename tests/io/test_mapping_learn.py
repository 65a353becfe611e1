"""Automatic endpoint mapping (io/mapping.py) == the straightforward learner it replaced (kept
here as the oracle): same hosts, names and order over several batches, with explicit host and
subnet maps and emulated addresses in the capture."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.io.mapping import AddressMap

NICS = [("a", 100), ("b", 101), ("c", 102), ("d", 103)]


class _Oracle(AddressMap):
    def _learn(self, src, dst):
        both = np.empty(src.size * 2, dtype=np.int64)
        both[0::2], both[1::2] = src, dst
        uniq, first = np.unique(both, return_index=True)
        new = ~np.isin(uniq, self.seen)
        self.seen = np.union1d(self.seen, uniq)
        free = [ip for _, ip in self.nic_ips if ip not in self.hosts.values()]
        used_targets = set(self.hosts.values())
        for addr in uniq[new][np.argsort(first[new], kind="stable")].tolist():
            if addr in self.hosts or any(a <= addr <= b for a, b, _, _ in self.nets):
                continue
            if any(ip == addr for _, ip in self.nic_ips) and addr not in used_targets:
                continue
            free = [ip for ip in free if ip not in used_targets]
            if not free:
                break
            target = free.pop(0)
            used_targets.add(target)
            self.hosts[addr] = target
            self.names[addr] = next(n for n, ip in self.nic_ips if ip == target)
            self.order.append(addr)


addr = st.sampled_from([100, 101, 102, 103, 5, 6, 7, 8, 9, 200, 201])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(addr, addr), max_size=8), max_size=5), st.booleans(),
       st.booleans())
def test_learn_matches_oracle(batches, host_map, subnet_map) -> None:
    maps = []
    for cls in (AddressMap, _Oracle):
        m = cls(NICS)
        if host_map:
            m.add_host("0.0.0.6", "b")
        if subnet_map:
            m.nets.append((200, 201, 100, "v/s"))
        outs = []
        for b in batches:
            src = np.array([x for x, _ in b], dtype=np.int64)
            dst = np.array([y for _, y in b], dtype=np.int64)
            outs.append([c.tolist() for c in m.apply(src, dst)])
        maps.append((outs, m.order, m.hosts, m.names, m.printable()))
    assert maps[0] == maps[1]
