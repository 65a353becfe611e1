"""The fast compile (deduplicated rule rows, numpy-gathered columns, memoised routes and tag
sides, integer prefix summaries, marshal-based version) equals the straightforward one."""

from __future__ import annotations

import dataclasses
import gc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_program_vs_reference import topologies
from topo_factory import Builder

from dataplane.control.program import _compile_reference, compile_program, topology_version
from dataplane.control.tags import summarize_prefixes
from dataplane.model import PortRange
from dataplane.net import Prefix, parse_prefix, summarize


def assert_same_program(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, f.name
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


@settings(max_examples=40, deadline=None)
@given(topologies())
def test_fast_compile_equals_straightforward(topo):
    assert_same_program(compile_program(topo), _compile_reference(topo))


def small_topology():
    b = Builder()
    b.vnet("v0", ["10.0.0.0/16"], subnets={"s0": {"prefix": "10.0.1.0/24", "nsg": "n0"}})
    b.nsg("n0", [{"name": "web", "priority": 100, "direction": "Inbound", "access": "Allow",
                  "protocol": "Tcp", "source": "Internet", "destination": "*",
                  "source_ports": "*", "destination_ports": "80"}])
    b.vm("vm0", "v0/s0", "10.0.1.4")
    return b.build()


def test_compile_leaves_gc_as_it_was():
    topo = small_topology()
    assert gc.isenabled()
    compile_program(topo)
    assert gc.isenabled()
    gc.disable()
    try:
        compile_program(topo)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _prefix(version: int, value: int, length: int) -> Prefix:
    bits = 32 if version == 4 else 128
    return Prefix(version, value & ~((1 << (bits - length)) - 1) & ((1 << bits) - 1), length)


v4_prefixes = st.builds(lambda v, n: _prefix(4, v, n), st.integers(0, 2**32 - 1),
                        st.integers(0, 32))
# net.summarize builds ipaddress networks from integers, which reads an IPv6 value below
# 2**32 as IPv4; keep IPv6 samples above that (summarize_prefixes has no such limit).
v6_prefixes = st.builds(lambda v, n: _prefix(6, v, n), st.integers(2**100, 2**128 - 1),
                        st.integers(1, 128)).filter(lambda p: p.network >= 2**32)


@given(st.lists(st.one_of(v4_prefixes, v6_prefixes, v4_prefixes.map(
    lambda p: _prefix(4, p.network ^ (1 << (32 - p.length)) if p.length else 0, p.length))),
    max_size=12))
def test_summarize_prefixes_equals_net_summarize(prefixes):
    assert summarize_prefixes(prefixes) == summarize(prefixes)


def test_version_is_by_value_and_sees_every_field():
    topo = small_topology()
    assert topology_version(small_topology()) == topology_version(topo)  # new objects
    nsg = topo.network_security_groups[0]
    rule = nsg.security_rules[0]
    variants = [topo] + [dataclasses.replace(topo, network_security_groups=(
        dataclasses.replace(nsg, security_rules=(dataclasses.replace(rule, **change),)),))
        for change in ({"priority": 101}, {"destination_port_ranges": (PortRange(81, 81),)},
                       {"source_address_prefixes": (parse_prefix("10.0.0.0/8"),)},
                       {"description": "x"})]
    variants.append(dataclasses.replace(topo, sources=("a.json",)))
    assert len({topology_version(t) for t in variants}) == len(variants)
