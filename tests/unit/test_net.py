"""Integer prefixes: parsing, containment, summarising and subtraction in both families,
checked against the ipaddress module on random prefixes."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.net import Prefix, parse_ip, parse_prefix, subtract, summarize


def v4(draw_len, draw_val):
    return ipaddress.IPv4Network((draw_val & ~((1 << (32 - draw_len)) - 1) & 0xFFFFFFFF, draw_len))


nets4 = st.builds(lambda n, v: v4(n, v), st.integers(0, 32), st.integers(0, 2**32 - 1))
nets6 = st.builds(lambda n, v: ipaddress.IPv6Network(
    (v & ~((1 << (128 - n)) - 1) & (2**128 - 1), n)), st.integers(0, 128),
    st.one_of(st.integers(0, 2**40), st.integers(0, 2**128 - 1)))  # small values: ::/64 & co


def ours(net) -> Prefix:
    return parse_prefix(str(net))


@given(st.lists(st.one_of(nets4, nets6), max_size=8))
def test_summarize_matches_collapse_addresses(nets):
    got = {str(p) for p in summarize([ours(n) for n in nets])}
    want = {str(n) for version in (4, 6)
            for n in ipaddress.collapse_addresses([x for x in nets if x.version == version])}
    assert got == want


def test_small_ipv6_values_stay_ipv6():
    assert [str(p) for p in summarize([parse_prefix("::/64"), parse_prefix("::1:0:0:0:0/64")])] \
        == ["::/63"]
    assert str(parse_ip("::5")) == "::5"


@given(nets4, st.lists(nets4, max_size=4))
def test_subtract_covers_exactly_the_rest(universe, holes):
    rest = subtract(ours(universe), [ours(h) for h in holes])
    for probe in [universe.network_address, universe.broadcast_address,
                  *[h.network_address for h in holes]]:
        inside_rest = any(p.contains_address(parse_ip(str(probe))) for p in rest)
        in_hole = any(probe in h for h in holes)
        assert inside_rest == (probe in universe and not in_hole)


def test_host_bits_are_invalid_cidr():
    with pytest.raises(InputError, match="InvalidCIDRNotation.*10.10.0.0/16"):
        parse_prefix("10.10.10.0/16")
    assert str(parse_prefix("10.10.10.0/16", strict=False)) == "10.10.0.0/16"
