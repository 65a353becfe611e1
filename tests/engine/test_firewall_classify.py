"""The firewall's network rules classified in one call (engine/stages/firewall.py
`network_rule_classifier`, the NSGs' bit-vector classifier) equal the reference's rule-by-rule
first match (`FirewallRule.matches`), on drawn rule sets: protocol sets with Any, ICMP, TCP,
UDP; empty and overlapping address and port sets; rows with sessions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.control.nsg import ANY_PROTOCOL
from dataplane.engine.stages.firewall import CompiledFirewall, FirewallRule

ADDRESSES = [0, 10, 11, 12, 20, 21, (1 << 32) - 1]  # interval edges and values around them
PORTS = [0, 22, 80, 81, 443, 65535]

intervals = st.lists(st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES))
                     .map(sorted), max_size=3)
port_ranges = st.lists(st.tuples(st.sampled_from(PORTS), st.sampled_from(PORTS)).map(sorted),
                       max_size=3)
rules = st.lists(st.tuples(st.booleans(), st.frozensets(st.sampled_from([ANY_PROTOCOL, 1, 6,
                                                                            17]), max_size=3),
                           intervals, intervals, port_ranges), max_size=12)
packets = st.lists(st.tuples(st.sampled_from([1, 6, 17, 47]), st.sampled_from(ADDRESSES),
                             st.sampled_from(ADDRESSES), st.sampled_from(PORTS), st.booleans()),
                   min_size=1, max_size=40)


def _array(pairs: list, i: int, dtype: type) -> np.ndarray:
    return np.array([p[i] for p in pairs], dtype=dtype)


def _firewall(drawn: list) -> CompiledFirewall:
    return CompiledFirewall("fw", tuple(
        FirewallRule(f"firewall fw/c/r{i}", allow, protocols, _array(src, 0, np.int64),
                     _array(src, 1, np.int64), _array(dst, 0, np.int64), _array(dst, 1, np.int64),
                     _array(ports, 0, np.int32), _array(ports, 1, np.int32))
        for i, (allow, protocols, src, dst, ports) in enumerate(drawn)), ())


@settings(max_examples=150, deadline=None)
@given(rules.filter(bool), packets)
def test_classifier_equals_first_matching_rule(drawn_rules, drawn_packets):
    fw = _firewall(drawn_rules)
    a = np.array([p[:4] for p in drawn_packets], np.int64)
    first = fw.classify(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
    for i, (proto, src, dst, dport, _) in enumerate(drawn_packets):
        expect = next((k for k, r in enumerate(fw.rules) if r.matches(proto, src, dst, dport)),
                      -1)
        assert first[i] == expect


@settings(max_examples=150, deadline=None)
@given(rules, packets)
def test_decide_np_equals_decide_on_drawn_rules(drawn_rules, drawn_packets):
    fw = _firewall(drawn_rules)
    a = np.array([p[:4] for p in drawn_packets], np.int64)
    session = np.array([p[4] for p in drawn_packets])
    allow, labels, which, unknown = fw.decide_np(a[:, 0], a[:, 1], a[:, 2], a[:, 3], session)
    for i, (proto, src, dst, dport, sess) in enumerate(drawn_packets):
        verdict = fw.decide(proto, src, dst, dport, sess)
        assert verdict.allowed == bool(allow[i]) and not unknown[i]
        assert verdict.label == (labels[which[i]] if which[i] >= 0 else None)


def test_any_protocol_checks_ports_on_tcp_and_udp_only():
    fw = _firewall([(True, frozenset({ANY_PROTOCOL}), [(10, 10)], [(20, 20)], [(80, 80)])])
    proto = np.array([6, 17, 6, 1, 47])
    dport = np.array([80, 80, 443, 443, 0])
    got = fw.classify(proto, np.full(5, 10), np.full(5, 20), dport)
    assert got.tolist() == [0, 0, -1, 0, 0]
