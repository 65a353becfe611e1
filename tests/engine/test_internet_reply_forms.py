"""Issues 11/12 (inet): the reference walk and the batch form agree on Internet replies
captured at the VM or addressed to the firewall's public address -- replies of flows the
application rules allowed (through their session), denied or left undecided (a pending
record: through its firewall, the flow's verdict), after the record or the flow idled out
(a new flow; an expired flow's reply labelled, stages/gateway.py expired-reply-at-vm) -- on
drawn traffic, at any batch split, table size and id compaction, with a short idle timeout
so expiry happens."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from inet_topo import APP, SERVER, internet_topology
from ipv6_harness import columns
from test_app_pending import NAMES

from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.pending import public_reply_key
from dataplane.engine.reference import Packet, ReferencePipeline, flow_key
from dataplane.engine.stages.firewall_nat import address_owners

IDLE_NS = 5
CLIENT, SERVERS = int(ipaddress.IPv4Address(APP)), [
    int(ipaddress.IPv4Address(a)) for a in (SERVER, "198.51.100.9")]


@st.composite
def traffic(draw) -> tuple[list[tuple], int, int | None, int]:
    """Packets (server, sport, dport, name index, direction, time step ns) of a few TCP flows
    from app1 to the Internet (direction 0: app1's packet, 1: the server's reply captured at
    app1, 2: the same reply to the firewall's public address and SNAT port), a batch size,
    maybe a small table, the flow-id count past which the batch form compacts its ids."""
    flows = draw(st.lists(st.tuples(st.sampled_from(SERVERS), st.sampled_from([40000, 40001]),
                                    st.sampled_from([443, 80, 22])), min_size=1, max_size=3))
    packets = [(*draw(st.sampled_from(flows)), draw(st.integers(0, len(NAMES) - 1)),
                draw(st.sampled_from([0, 0, 1, 2])), draw(st.sampled_from([0, 1, 2, 6])))
               for _ in range(draw(st.integers(1, 30)))]
    return (packets, draw(st.integers(1, 8)), draw(st.sampled_from([None, None, 1, 2])),
            draw(st.sampled_from([1 << 30, 2, 4])))


ALLOWED, DENIED, NONE = 0, 1, 2  # test_app_pending.NAMES: contoso, evil.example, no name
EXAMPLE = ([(SERVERS[0], 40000, 443, NONE, 0, 0), (SERVERS[0], 40000, 443, NONE, 1, 1),
            (SERVERS[0], 40001, 443, ALLOWED, 0, 1), (SERVERS[0], 40001, 443, ALLOWED, 1, 1),
            (SERVERS[0], 40001, 443, ALLOWED, 1, 6), (SERVERS[0], 40000, 443, NONE, 1, 0),
            (SERVERS[0], 40000, 443, DENIED, 0, 0), (SERVERS[0], 40000, 443, DENIED, 2, 1)],
           1, None, 1 << 30)  # unknown + its reply; allowed + reply; expired; record expired;
# denied + its reply to the public address


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(traffic())
@example(EXAMPLE)
def test_batch_and_reference_agree_on_internet_replies(make_topology, drawn) -> None:
    packets, split, capacity, flow_limit = drawn
    net = build_network(internet_topology(make_topology), caps=False)
    app = net.ip_nic[CLIENT]
    public = address_owners(net)[0]
    pkts, names, now = [], [], 0
    for server, sport, dport, name, direction, step in packets:
        now += step
        to, port = CLIENT, sport
        if direction == 2:  # the SNAT the firewall gives the flow (stages/firewall_nat.py)
            _, to, _, _, port = public_reply_key(net, len(net.nics), public,
                                                 (CLIENT, server, 6, sport, dport))
        pkts.append(Packet(-1, server, to, 6, dport, port, 100, now) if direction else
                    Packet(app, CLIENT, server, 6, sport, dport, 100, now))
        names.append(NAMES[name])
    ref = ReferencePipeline(net, capacity=capacity, idle_timeout_ns=IDLE_NS)
    want = []
    for p, name in zip(pkts, names, strict=True):
        ref.server_names[flow_key(p)] = name
        w = ref.walk(p)
        ref.commit(p, w)
        want.append((int(w.disposition), w.deciding, w.nodes))
    if drawn == EXAMPLE:  # the pending verdict, the session, the expired flow, no record
        assert [d for d, _, _ in want] == [30, 30, 1, 0, 15, 14, 15, 15]
        assert want[1][2] == want[4][2] == want[7][2] == [net.internet_node, len(net.nics)]
        assert want[7][1] == want[6][1] != want[4][1]
        assert "idled out" in want[4][1] and "idled out" not in want[5][1]
    bp = BatchPipeline(net, flow_capacity=capacity or 1 << 20, idle_timeout_ns=IDLE_NS)
    bp.flow_limit = flow_limit
    got = []
    for lo in range(0, len(pkts), split):
        cols = columns(pkts[lo:lo + split])
        cols.server_name[:] = [bp.flow_names.table.intern(n) for n in names[lo:lo + split]]
        disp, dec, nodes = bp.run(cols)
        got += [(int(a), bp.labels.names[b] if b >= 0 else "", [int(x) for x in row if x >= 0])
                for a, b, row in zip(disp.tolist(), dec.tolist(), nodes, strict=True)]
    assert got == want
