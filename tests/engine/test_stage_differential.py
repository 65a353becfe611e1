"""Per-stage differential: each stage's reference form (one packet) == its batch form (rows) on
random rows, stage by stage, outside the dispatchers: load balancer frontends and next hops
(stages/loadbalancer.py), appliances (stages/appliance.py), delivery (stages/deliver.py),
Azure Firewall (stages/firewall.py), peering (stages/peering.py), source and platform
(stages/source.py, stages/platform.py). The whole-path property is test_stateful_differential.py."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from test_lb import LB_IPS, LB_TOPO
from test_stateful_differential import TOPO as FW_TOPO

import dataplane
from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import UNDECIDED, Columns, Labels
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages import appliance, deliver, peering, platform, source
from dataplane.engine.stages import loadbalancer as lb


def ip(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


@pytest.fixture(scope="module")
def lb_net(tmp_path_factory):
    path = tmp_path_factory.mktemp("lbs") / "lb.yaml"
    path.write_text(LB_TOPO)
    return build_network(dataplane.load(str(path)))


@pytest.fixture(scope="module")
def fw_net(tmp_path_factory):
    path = tmp_path_factory.mktemp("fws") / "fw.yaml"
    path.write_text(FW_TOPO.format(region2="northeurope", fwd="true", out="Deny", p2="0.0.0.0/0",
                                   proto="TCP", ports="80,8080", sku="Standard", bport=8080))
    return build_network(dataplane.load(str(path)))


rows = st.lists(st.tuples(st.integers(-1, 6), st.sampled_from(LB_IPS), st.sampled_from(LB_IPS),
                          st.sampled_from([1, 6, 17]), st.sampled_from([80, 443, 40000]),
                          st.sampled_from([22, 80, 443, 8080, 40000]), st.integers(0, 2)),
                min_size=1, max_size=30)


def _columns(packets: list[Packet]) -> Columns:
    return columns(packets)  # ipv6_harness.py: dual-stack columns of Packets


def _blank(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.full(n, UNDECIDED, np.uint8), np.full(n, -1, np.int32), np.ones(n, bool))


@settings(max_examples=80, deadline=None)
@given(rows)
def test_load_balancer_frontend_reference_equals_batch(lb_net, drawn):
    net = lb_net
    packets = [Packet(n, s, d, p, sp, dp) for n, s, d, p, sp, dp, _ in drawn]
    fe = np.array([k % len(net.lb.frontends) for *_, k in drawn], np.int64)
    vnet = np.array([int(net.node_vnet[max(n, 0)]) for n, *_ in drawn], np.int32)
    c = _columns(packets)
    disp, dec, active = _blank(len(c))
    labels = Labels()
    sel = np.arange(len(c))
    got_rows, backend, to_ip, to_port, label, _, _ = lb.frontends_np(
        net, labels, c, sel, fe, vnet, disp, dec, active)  # (+ IPv6 halves of the DNAT)
    balanced = {int(r): j for j, r in enumerate(got_rows.tolist())}
    for i, p in enumerate(packets):
        choice = lb.decide_frontend(net, net.lb.frontends[int(fe[i])], int(vnet[i]), p)
        if choice.drop is not None:
            assert i not in balanced and not active[i]
            assert (D(disp[i]), labels.names[dec[i]]) == choice.drop
        else:
            j = balanced[i]
            assert disp[i] == UNDECIDED  # balanced rows go on to DNAT and delivery
            assert (int(backend[j]), (int(to_ip[j]), int(to_port[j])),
                    labels.names[label[j]]) == (choice.backend, choice.to, choice.label)


@settings(max_examples=80, deadline=None)
@given(rows)
def test_load_balancer_next_hop_reference_equals_batch(lb_net, drawn):
    net = lb_net
    rids = np.flatnonzero(net.route_fe >= 0)
    rids = rids[[k not in net.lb_synth.values() for k in rids.tolist()]]
    packets = [Packet(n, s, d, p, sp, dp) for n, s, d, p, sp, dp, _ in drawn]
    rid = rids[[k % rids.size for *_, k in drawn]].astype(np.int32)
    vnet = np.array([int(net.node_vnet[max(n, 0)]) for n, *_ in drawn], np.int32)
    c = _columns(packets)
    disp, dec, active = _blank(len(c))
    labels = Labels()
    idx = np.arange(len(c))
    new_rid = rid.copy()
    ok = lb.next_hop_np(net, labels, c, idx, new_rid, vnet, np.ones(idx.size, bool), disp, dec,
                        active)
    for i, p in enumerate(packets):
        choice = lb.decide_next_hop(net, net.lb.frontends[int(net.route_fe[rid[i]])],
                                    int(vnet[i]), p)
        if choice.drop is not None:
            assert not ok[i] and (D(disp[i]), labels.names[dec[i]]) == choice.drop
        else:  # the synthetic route names the chosen backend as its appliance
            assert ok[i] and int(net.route_appliance[new_rid[i]]) == choice.backend


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.lists(st.integers(0, 6), max_size=3)),
                min_size=1, max_size=20))
def test_appliance_reference_equals_batch(lb_net, drawn):
    net = lb_net
    nics = len(net.nics)
    forwarding = np.array([n.enable_ip_forwarding for n in net.nics] + [False])
    app = np.array([a % nics for a, _ in drawn], np.int32)
    width = 6
    nodes = np.full((len(drawn), width), -1, np.int32)
    pos = np.ones(len(drawn), np.int64)
    for i, (_, path) in enumerate(drawn):  # column 0: the source; then appliances visited
        nodes[i, 0] = 0
        nodes[i, 1:1 + len(path)] = [x % nics for x in path]
        pos[i] = 1 + len(path)
    loops = appliance.loop_np(nodes, pos, np.arange(len(drawn)), app)
    fwd = appliance.forwards_np(forwarding, app)
    subnets = appliance.next_subnet_np(net, app)
    for i, (_, path) in enumerate(drawn):
        a = int(app[i])
        looped, hop = appliance.enter(net, a, "10.0.0.1", {x % nics for x in path})
        assert (looped is not None) == bool(loops[i])
        assert hop["at"] == net.node_names[a] and (hop.get("result") == "RoutingLoop") == loops[i]
        assert appliance.forwards(net, a) == bool(fwd[i])
        assert appliance.next_subnet(net, a) == int(subnets[i])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=20))
def test_deliver_reference_equals_batch(lb_net, drawn):
    net = lb_net
    n = len(drawn)
    target = np.array([t for t, _ in drawn], np.int32)
    allowed = np.array([k > 0 for _, k in drawn])
    label = np.array([k for _, k in drawn], np.int32)
    nodes = np.full((n, 4), -1, np.int32)
    pos = np.full(n, 2, np.int64)
    disp, dec, active = _blank(n)
    sel = np.arange(n)
    deliver.arrive_np(sel, target, nodes, pos)
    deliver.decide_np(sel, allowed, label, disp, dec, active)
    assert not active.any() and nodes[:, 2].tolist() == target.tolist()
    for i, (t, k) in enumerate(drawn):
        done, hop = deliver.decide(net, t)
        assert hop["at"] == net.node_names[t] and hop["nic"] == net.nics[t].name
        if k > 0:
            assert (D(disp[i]), int(dec[i])) == (done, k)
        else:  # the inbound NSG denied it: the deliver stage leaves its verdict alone
            assert disp[i] == UNDECIDED


FW_IPS = [ip(a) for a in ("10.1.1.4", "10.1.1.5", "10.2.1.4", "10.2.1.100", "8.8.8.8",
                          "10.0.255.4")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 6, 17]), st.sampled_from(FW_IPS),
                          st.sampled_from(FW_IPS), st.sampled_from([22, 80, 443, 8080]),
                          st.booleans()), min_size=1, max_size=30))
def test_firewall_reference_equals_batch(fw_net, drawn):
    fw = fw_net.firewall_rules[0]
    a = np.array([r[:4] for r in drawn], np.int64)
    session = np.array([r[4] for r in drawn])
    allow, names, which, unknown = fw.decide_np(a[:, 0], a[:, 1], a[:, 2], a[:, 3], session)
    for i, (proto, src, dst, dport, sess) in enumerate(drawn):
        verdict = fw.decide(proto, src, dst, dport, sess)
        assert verdict.allowed == bool(allow[i]) and verdict.unknown == bool(unknown[i])
        assert verdict.label == (names[which[i]] if which[i] >= 0 else None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(LB_IPS)),
                min_size=1, max_size=30))
def test_peering_reference_equals_batch(lb_net, drawn):
    net = lb_net
    a = np.array([x for x, _, _ in drawn], np.int32)
    b = np.array([y for _, y, _ in drawn], np.int32)
    src = np.array([s for *_, s in drawn], np.int64)
    disp, dec, active = _blank(len(drawn))
    labels = Labels()
    peer_label = np.array([[labels(peering.label_peering(net, i, j)) for j in range(3)]
                           for i in range(3)], np.int32)
    idx = np.arange(len(drawn))
    ok = peering.decide_np(net, labels, peer_label, src, idx, a, b, np.full(idx.size, -1),
                           np.zeros(idx.size, bool), disp, dec, active)
    for i, (x, y, s) in enumerate(drawn):
        drop, _ = peering.decide(net, x, y, s)
        assert (drop is None) == bool(ok[i])
        if drop is not None:
            assert (D(disp[i]), labels.names[dec[i]]) == drop


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(LB_IPS + [
    ip("169.254.169.254"), ip("168.63.129.16"), ip("224.0.0.5"), ip("255.255.255.255")]),
    st.sampled_from([1, 4, 6, 17, 47]), st.sampled_from([53, 67, 80, 443, 32526])),
    min_size=1, max_size=30))
def test_source_and_platform_reference_equals_batch(lb_net, drawn):
    net = lb_net
    nic = np.array([n for n, *_ in drawn], np.int64)
    addr = np.array([a for _, a, *_ in drawn], np.int64)
    proto = np.array([p for *_, p, _ in drawn], np.int16)
    port = np.array([d for *_, d in drawn], np.int32)
    forwarding = np.array([x.enable_ip_forwarding for x in net.nics] + [False])
    spoofed = source.decide_np(source.nic_address_keys(net.nics), forwarding, nic, addr)
    kinds = source.blocked_np(addr, proto)
    tags = platform.tags_per_nic(net)
    which = platform.decide_np(addr, proto, port, nic.astype(np.int32),
                               platform.exempt_table(tags))
    for i, (n, a, p, d) in enumerate(drawn):
        ok, _ = source.decide(net, n, a, False)  # the address as a source
        assert ok == (not spoofed[i])
        kind = source.blocked(a, p)  # the address as a destination
        assert kind == (source.BLOCKED_KINDS[kinds[i]] if kinds[i] >= 0 else None)
        service = platform.decide(a, p, d, tags[n])
        assert service == (platform.OUTBOUND[which[i]] if which[i] >= 0 else None)
