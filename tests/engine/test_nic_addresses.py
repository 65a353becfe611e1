"""The dual-stack address -> NIC map (engine/addresses.py): the dict (reference) form == the
kernel (batch) form on random NICs holding IPv4 and IPv6 addresses in several VNets; an IPv4
address never answers for an IPv6 one with the same bits; the first NIC in order owns a
duplicate."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.engine.addresses import LOW64, NicAddresses
from dataplane.net import IPAddress

values = st.sampled_from([0x0A000104, 0x0A000105, 0xFD000000000000000000000A000104,
                          0xFD000000000000010000000000000001, (1 << 128) - 1, 0])
address = st.tuples(st.sampled_from([4, 6]), values).filter(
    lambda a: a[0] == 6 or a[1] < (1 << 32)).map(lambda a: IPAddress(*a))


def _nic(addresses: list[IPAddress]) -> SimpleNamespace:
    return SimpleNamespace(ip_configurations=[SimpleNamespace(private_ip_address=a)
                                              for a in addresses])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 2), st.lists(address, max_size=3)), max_size=8),
       st.lists(st.tuples(st.integers(-1, 3), address), min_size=1, max_size=20))
def test_reference_equals_batch(nics, probes):
    table = NicAddresses([_nic(a) for _, a in nics], np.array([v for v, _ in nics], np.int32))
    got = table.owner_np(np.array([v for v, _ in probes], np.int64),
                         np.array([a.version for _, a in probes], np.uint8),
                         np.array([a.value >> 64 for _, a in probes], np.uint64),
                         np.array([a.value & LOW64 for _, a in probes], np.uint64))
    expected = []
    for vnet, a in probes:  # the first NIC in order holding the address in that VNet
        expected.append(next((i for i, (v, held) in enumerate(nics) if v == vnet and a in held),
                             -1))
    assert got.tolist() == expected == [table.owner(v, a) for v, a in probes]


def test_ipv4_never_answers_for_ipv6_with_the_same_bits():
    table = NicAddresses([_nic([IPAddress(4, 0x0A000104)]), _nic([IPAddress(6, 0x0A000104)])],
                         np.array([0, 0], np.int32))
    assert table.owner(0, IPAddress(4, 0x0A000104)) == 0
    assert table.owner(0, IPAddress(6, 0x0A000104)) == 1
    assert table.owner(1, IPAddress(4, 0x0A000104)) == -1
