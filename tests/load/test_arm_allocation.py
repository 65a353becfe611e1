"""AddressAllocator: Azure's reserved addresses, lowest-free dynamics, statics, separate pools."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load.allocation import AddressAllocator


def test_first_dynamic_is_dot_four_then_next() -> None:
    pool = AddressAllocator()
    assert [pool.allocate("10.0.1.0/24") for _ in range(3)] == ["10.0.1.4", "10.0.1.5", "10.0.1.6"]


def test_static_is_reserved_and_skipped() -> None:
    pool = AddressAllocator()
    assert pool.allocate("10.0.0.0/24", "10.0.0.5") == "10.0.0.5"
    assert [pool.allocate("10.0.0.0/24") for _ in range(2)] == ["10.0.0.4", "10.0.0.6"]
    assert pool.taken("10.0.0.0/24") == ("10.0.0.4", "10.0.0.5", "10.0.0.6")


def test_smallest_subnet_and_exhaustion() -> None:
    pool = AddressAllocator()
    # A /29 has 8 addresses: 5 reserved by Azure, 3 usable.
    assert [pool.allocate("10.0.0.0/29") for _ in range(3)] == ["10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(InputError, match="no free address"):
        pool.allocate("10.0.0.0/29")


def test_keys_separate_equal_prefixes() -> None:
    pool = AddressAllocator()
    assert pool.allocate("192.168.0.0/24", key="spoke1") == "192.168.0.4"
    assert pool.allocate("192.168.0.0/24", key="spoke2") == "192.168.0.4"
    assert pool.allocate("192.168.0.0/24", key="spoke1") == "192.168.0.5"


def test_bad_input() -> None:
    with pytest.raises(InputError):
        AddressAllocator().allocate("10.0.0.0/33")
    with pytest.raises(InputError):
        AddressAllocator().allocate("10.0.0.0/24", "10.0.0.999")


@given(st.integers(24, 28), st.sets(st.integers(0, 15), max_size=8), st.integers(1, 6))
def test_dynamic_is_lowest_free_host(length: int, statics: set[int], dynamics: int) -> None:
    net = ipaddress.ip_network(f"10.1.2.0/{length}")
    pool = AddressAllocator()
    taken = set()
    for offset in statics:
        if offset < net.num_addresses:
            pool.allocate(str(net), str(net[offset]))
            taken.add(offset)
    for _ in range(dynamics):
        free = [o for o in range(4, net.num_addresses - 1) if o not in taken]
        if not free:
            with pytest.raises(InputError):
                pool.allocate(str(net))
            return
        assert pool.allocate(str(net)) == str(net[free[0]])
        taken.add(free[0])
