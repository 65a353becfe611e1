"""Automatic endpoint mapping (io/mapping.py) == the straightforward learner it replaced (kept
here as the oracle): same hosts, names and order over several batches, with explicit host and
subnet maps, spoken ranges and emulated addresses in the capture; plus the rule that decides
auto-mapping once (a capture that uses the topology's NIC addresses is never auto-mapped)."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.io.mapping import AddressMap

NICS = [("a", 100), ("b", 101), ("c", 102), ("d", 103)]


class _Oracle(AddressMap):
    def _learn(self, src, dst):
        if not self.decided:
            self.decided = True
            nics = {ip for _, ip in self.nic_ips}
            if any(int(a) in nics for a in [*src.tolist(), *dst.tolist()]):
                self.auto = False
                self.notes.append("off")
                return
            self.auto_on_at = len(self.notes)  # printable() writes what auto-map did
        if not [ip for _, ip in self.nic_ips if ip not in self.hosts.values()]:
            return  # every NIC taken: learning (and listing reserved addresses) has ended
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
            if not any(a <= addr <= b for a, b in self.mappable) or any(
                    a <= addr <= b for a, b in self.spoken):
                continue
            if any(ip == addr for _, ip in self.nic_ips) and addr not in used_targets:
                continue
            if addr % 256 in (0, 1, 2, 3, 255):  # Azure-reserved offsets of the /24
                self.reserved_kept.append(addr)
                continue
            free = [ip for ip in free if ip not in used_targets]
            if not free:
                break
            target = free.pop(0)
            used_targets.add(target)
            self.hosts[addr] = target
            self.names[addr] = next(n for n, ip in self.nic_ips if ip == target)
            self.order.append(addr)


addr = st.sampled_from([100, 101, 102, 103, 5, 6, 7, 8, 9, 200, 201, 300, 301, 2, 255, 256])
SPOKEN = [(7, 7, "VNet x"), (300, 310, "on-premises y")]
MAPPABLE = ((0, 9), (100, 299))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(addr, addr), max_size=8), max_size=5), st.booleans(),
       st.booleans())
def test_learn_matches_oracle(batches, host_map, subnet_map) -> None:
    maps = []
    for cls in (AddressMap, _Oracle):
        m = cls(NICS, spoken=SPOKEN, mappable=MAPPABLE)
        if host_map:
            m.add_host("0.0.0.6", "b")
        if subnet_map:
            m.nets.append((200, 201, 100, "v/s"))
        outs = []
        for b in batches:
            src = np.array([x for x, _ in b], dtype=np.int64)
            dst = np.array([y for _, y in b], dtype=np.int64)
            outs.append([c.tolist() for c in m.apply(src, dst)])
        maps.append((outs, m.order, m.hosts, m.names, m.printable()[len(m.notes):], m.auto))
    assert maps[0] == maps[1]


def test_capture_speaking_nic_addresses_is_not_auto_mapped() -> None:
    m = AddressMap(NICS, spoken=SPOKEN, mappable=MAPPABLE)
    src, dst = m.apply(np.array([5, 100]), np.array([6, 8]))
    assert (src.tolist(), dst.tolist()) == ([5, 100], [6, 8])
    assert not m.auto and m.printable()[0].startswith("auto-map off")


def test_foreign_capture_maps_private_outside_spoken_only() -> None:
    m = AddressMap(NICS, spoken=SPOKEN, mappable=MAPPABLE)
    src, dst = m.apply(np.array([5, 7, 300, 400]), np.array([6, 6, 5, 9]))
    # 5 -> a, 6 -> b, 9 -> c; 7 (spoken), 300 (spoken) and 400 (not mappable) stay
    assert src.tolist() == [100, 7, 300, 400] and dst.tolist() == [101, 101, 100, 102]
    assert m.printable()[0].startswith("auto-map on")


def test_azure_reserved_positions_are_not_auto_mapped() -> None:
    """New-user trial: a capture's 192.168.1.255 (a directed broadcast) was mapped onto a VM.
    Offsets 0-3 and 255 of a /24 stay as captured and are listed (auto-map-reserved)."""
    ip = [int(ipaddress.IPv4Address(a)) for a in (
        "192.168.1.10", "192.168.1.255", "192.168.1.1", "192.168.1.11", "10.9.0.0")]
    nics = [("a", ip[0] + 1000), ("b", ip[0] + 1001), ("c", ip[0] + 1002)]
    m = AddressMap(nics, mappable=((ip[4], ip[1]),))
    src, dst = m.apply(np.array([ip[0], ip[2], ip[4]]), np.array([ip[1], ip[3], ip[3]]))
    assert src.tolist() == [nics[0][1], ip[2], ip[4]]  # .10 -> a; .1 and 10.9.0.0 stay
    assert dst.tolist() == [ip[1], nics[1][1], nics[1][1]]  # .255 stays; .11 -> b
    last = m.printable()[-1]
    assert last.startswith("not auto-mapped: 10.9.0.0, 192.168.1.1, 192.168.1.255 (")
    assert "auto-map-reserved" in last


def test_moves_no_ipv4_address_until_an_entry_exists() -> None:
    """What io/writers.py asks the replay's map (Emulator.replay_map), not its private state."""
    m = AddressMap(NICS, auto=False)
    assert m.moves_no_ipv4_address()
    m.add_subnet("0.0.0.0/30", 100, 4, "v/s")
    assert not m.moves_no_ipv4_address()
    learned = AddressMap(NICS, spoken=SPOKEN, mappable=MAPPABLE)
    learned.apply(np.array([5]), np.array([6]))
    assert not learned.moves_no_ipv4_address() and learned.hosts == {5: 100, 6: 101}
