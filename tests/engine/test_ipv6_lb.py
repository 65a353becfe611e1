"""Internal load balancers with IPv6 frontends (dual-stack ILB, issue 17), both engine forms:
the reference walk is the oracle, every case also runs through the batch pipeline
(ipv6_harness.compare: disposition, label, path and the final addresses as IPv6 halves).

Microsoft's pages behind the expectations:
* "Overview of IPv6 for Azure Virtual Network", https://learn.microsoft.com/azure/
  virtual-network/ip-services/ipv6-overview, "Capabilities": Standard Load Balancer (public
  and internal) balances IPv6;
* "Deploy an IPv6 dual-stack application using Standard Internal Load Balancer in Azure",
  https://learn.microsoft.com/azure/load-balancer/ipv6-dual-stack-standard-internal-load-
  balancer-powershell: an IPv6 frontend, an IPv6 backend pool fed by the NICs' IPv6 ip
  configurations, a load-balancing rule per family;
* "High availability ports overview", https://learn.microsoft.com/azure/load-balancer/
  load-balancer-ha-ports-overview: protocol All, port 0 balances every flow;
* "Azure Load Balancer components", https://learn.microsoft.com/azure/load-balancer/
  components, "Frontend IP configuration": replies are mapped back to the frontend.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import compare
from ipv6_topo import A1, A1_4, A1N, B1, B1N, ICMPV6, NVAN, TCP, UDP, topo, v6

from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages.loadbalancer import flow_hash_of

B2, B2N = v6("fd00:db8:1:1::5"), 4
FE, FE_HA, FE_4 = v6("fd00:db8:1:1::100"), v6("fd00:db8:1:1::101"), 0x0A010164

LBS = """  b2: {{subnet: spoke/s, ip: 10.1.1.5, ip6: "fd00:db8:1:1::5", size: Standard_D2s_v3}}
load_balancers:
  ilb6: {{sku: Standard, frontend: {{subnet: spoke/s, ip: "fd00:db8:1:1::100"}},
         backends: {backends}, rules: [{{name: https, protocol: Tcp, frontend_port: 443,
         backend_port: 8443}}, {{name: dns, protocol: Udp, frontend_port: 53}}]}}
  ilb6ha: {{sku: Standard, frontend: {{subnet: spoke/s, ip: "fd00:db8:1:1::101"}},
           backends: [b1, b2]}}
  ilb4: {{sku: Standard, frontend: {{subnet: spoke/s, ip: 10.1.1.100}}, backends: [b1, b2],
         rules: [{{name: https, protocol: Tcp, frontend_port: 443}}]}}
"""


def lb_topo(backends: str = "[b1, b2]") -> str:
    return topo() + LBS.format(backends=backends)


@pytest.fixture(scope="module")
def net(make_topology):
    return build_network(make_topology(lb_topo()))


def _flow_to(net, fe: int, proto: int, dport: int, backend_nic: int) -> int:
    """A source port whose flow from a1 to `fe` hashes to `backend_nic`."""
    front = net.lb.frontends[net.lb.at6(1, fe)]
    rule = front.rule_for(proto, dport)
    for sport in range(40000, 40100):
        k = flow_hash_of(6, A1, fe, proto, sport, dport) % rule.backends.size
        if int(rule.backends[k]) == backend_nic:
            return sport
    raise AssertionError("no flow hashes there")


def test_ipv6_frontend_dnats_to_the_backends_ipv6_address_and_port(net) -> None:
    for nic, addr in ((B1N, B1), (B2N, B2)):
        sport = _flow_to(net, FE, TCP, 443, nic)
        (w,) = compare(net, [Packet(A1N, A1, FE, TCP, sport, 443, family=6)])
        assert (w.disposition, w.deciding, w.nodes) == (D.DELIVERED, "lb ilb6/https",
                                                        [A1N, NVAN, nic])
        assert w.out == (A1, addr, sport, 8443)  # DNAT: the backend's IPv6 address, port
        hop = next(h for h in w.hops if h["step"] == "loadbalancer")
        assert (hop["frontend"], hop["translated"]["destinationIp"]) == (
            "fd00:db8:1:1::100", str(__import__("ipaddress").IPv6Address(addr)))


def test_reply_is_un_dnatted_to_the_frontend_in_both_forms(net) -> None:
    sport = _flow_to(net, FE, TCP, 443, B2N)
    first = Packet(A1N, A1, FE, TCP, sport, 443, family=6)
    reply = Packet(B2N, B2, A1, TCP, 8443, sport, family=6)
    walks = compare(net, [first, reply])
    assert walks[1].disposition == D.DELIVERED
    assert walks[1].out == (FE, A1, 443, sport)  # leaves from the frontend address and port
    assert any(h.get("kind") == "un-DNAT" for h in walks[1].hops)
    walks = compare(net, [first, reply], split=1)  # the entry read across batches
    assert walks[1].out == (FE, A1, 443, sport)
    # without the opener the backend's packet is a new flow: its own address stays
    (alone,) = compare(net, [reply])
    assert alone.out in (None, (B2, A1, 8443, sport))


def test_rule_match_and_ha_ports(net) -> None:
    # no rule for TCP 80 on ilb6; UDP 53 keeps its port (backendPort defaults to 53)
    (w,) = compare(net, [Packet(A1N, A1, FE, TCP, 40000, 80, family=6)])
    assert (w.disposition, w.deciding) == (D.LB_NO_RULE, "lb ilb6: no load-balancing rule matches")
    (w,) = compare(net, [Packet(A1N, A1, FE, UDP, 40000, 53, family=6)])
    assert w.disposition == D.DENIED_OUT  # n1 denies UDP to the spoke's IPv6 subnet outbound
    # HA ports: every protocol and port, the port kept; ICMPv6 too
    for proto, dport in ((TCP, 5432), (ICMPV6, 0)):
        (w,) = compare(net, [Packet(A1N, A1, FE_HA, proto, 40000, dport, family=6)])
        assert (w.disposition, w.deciding) == (D.DELIVERED, "lb ilb6ha/ha-ports")
        assert w.out[1] in (B1, B2) and w.out[3] == dport


def test_families_do_not_cross(net, make_topology) -> None:
    # the IPv4 frontend's address is no IPv6 frontend, and an IPv6 packet to the IPv6 frontend
    # never lands on an IPv4 backend address
    (w,) = compare(net, [Packet(A1N, A1_4, FE_4, TCP, 40000, 443)])
    assert w.deciding == "lb ilb4/https" and w.out[1] in (0x0A010104, 0x0A010105)
    assert net.lb.at6(1, FE_4) == -1 and net.lb.at(1, FE & 0xFFFFFFFF) == -1
    front = net.lb.frontends[net.lb.at6(1, FE)]
    assert front.family == 6 and sorted(int(x) for x in front.rules[0].backend_ips) == [B1, B2]


def test_hash_is_symmetric_and_spreads_ipv6_flows() -> None:
    hs = {flow_hash_of(6, A1, FE, TCP, sp, 443) for sp in range(40000, 40064)}
    assert len(hs) == 64
    assert all(flow_hash_of(6, A1, FE, TCP, sp, 443) == flow_hash_of(6, FE, A1, TCP, 443, sp)
               for sp in range(40000, 40016))
    # IPv6 flows with the same low 32 bits do not collide (the whole address is folded)
    assert flow_hash_of(6, A1, FE, TCP, 1, 2) != flow_hash_of(6, A1 ^ (1 << 100), FE, TCP, 1, 2)


def test_hairpin_and_empty_pool(make_topology) -> None:
    net = build_network(make_topology(lb_topo("[b1]")))
    (w,) = compare(net, [Packet(B1N, B1, FE, TCP, 40000, 443, family=6)])
    assert w.disposition == D.LB_HAIRPIN  # b1 is the only backend: mapped back to itself
    empty = build_network(make_topology(lb_topo("[]")))
    (w,) = compare(empty, [Packet(A1N, A1, FE, TCP, 40000, 443, family=6)])
    assert (w.disposition, w.deciding) == (D.LB_NO_BACKEND, "lb ilb6/https: empty backend pool")


def test_ipv6_frontend_needs_ipv6_backends(make_topology) -> None:
    from dataplane.errors import InputError
    text = lb_topo().replace('  b2: {subnet: spoke/s, ip: 10.1.1.5, ip6: "fd00:db8:1:1::5", ',
                             '  b2: {subnet: spoke/s, ip: 10.1.1.5, ')
    with pytest.raises(InputError, match="b2.*no IPv6 ip configuration"):
        make_topology(text)


def test_batch_final6_columns_carry_the_translation(net) -> None:
    from ipv6_harness import columns
    sport = _flow_to(net, FE, TCP, 443, B1N)
    bp = BatchPipeline(net)
    bp.run(columns([Packet(A1N, A1, FE, TCP, sport, 443, family=6)]))
    shi, slo, dhi, dlo = (int(f[0]) for f in bp.final6)
    assert (shi << 64 | slo, dhi << 64 | dlo) == (A1, B1)
    assert (int(bp.final[2][0]), int(bp.final[3][0])) == (sport, 8443)


ADDRS6 = [A1, B1, B2, FE, FE_HA, v6("fd00:db8:1:1::102")]
packet6 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=6),
                    st.sampled_from([A1N, B1N, B2N, -1]), st.sampled_from(ADDRS6),
                    st.sampled_from(ADDRS6), st.sampled_from([TCP, UDP, ICMPV6]),
                    st.sampled_from([53, 443, 8443, 40000, 40001]),
                    st.sampled_from([0, 53, 443, 8443, 40000, 40001]))
packet4 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=4),
                    st.sampled_from([A1N, B1N, B2N]), st.sampled_from([A1_4, 0x0A010104]),
                    st.sampled_from([FE_4, A1_4, 0x0A010105]), st.sampled_from([TCP, UDP]),
                    st.sampled_from([443, 40000]), st.sampled_from([443, 40000]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(packet6, packet6, packet4), min_size=1, max_size=30),
       st.integers(1, 7))
def test_ipv6_ilb_batch_equals_reference(net, packets, split) -> None:
    """Reference == batch on IPv6 ILB traffic: new flows, replies from backends (sent from
    the NIC holding the source half the time), hairpins, both families, split batches."""
    owner = {A1: A1N, B1: B1N, B2: B2N, A1_4: A1N, 0x0A010104: B1N}
    packets = [p._replace(nic=owner.get(p.src, p.nic)) if i % 2 else p
               for i, p in enumerate(packets)]
    # each new flow to an IPv6 frontend is followed by the replies of both backends (the one
    # the hash chose answers the flow: un-DNAT; the other is a new flow)
    flows = []
    for p in packets:
        flows.append(p)
        if p.family == 6 and p.dst in (FE, FE_HA) and p.src == A1:
            port = 8443 if p.dst == FE and p.proto == TCP and p.dport == 443 else p.dport
            flows += [Packet(n, a, A1, p.proto, port, p.sport, family=6)
                      for n, a in ((B1N, B1), (B2N, B2))]
    compare(net, [p._replace(time_ns=i) for i, p in enumerate(flows)], split)


def test_emulator_rows_and_packet_table_show_the_ipv6_translation(make_topology) -> None:
    """Emulator.send (scapy packets): the result row's final addresses and packets.csv's
    finalDestinationIp / finalSourceIp carry the backend's and the frontend's IPv6 address;
    explain walks the reply un-DNATed."""
    from scapy.layers.inet import TCP as TCP_
    from scapy.layers.inet6 import IPv6

    from dataplane.engine import Emulator
    from dataplane.io.packet_table import Batch, record_batch
    from dataplane.io.paths import PathIndex

    em = Emulator(make_topology(lb_topo()))
    sport = _flow_to(em.net, FE, TCP, 443, B2N)
    out = em.send([IPv6(src="fd00:db8:0:1::4", dst="fd00:db8:1:1::100") / TCP_(
        sport=sport, dport=443), IPv6(src="fd00:db8:1:1::5", dst="fd00:db8:0:1::4") / TCP_(
        sport=8443, dport=sport)])
    assert out.dispositions() == [D.DELIVERED, D.DELIVERED]
    first, reply = out.row(0), out.row(1)
    assert (first["dst"], first["final_dst"], first["final_dport"]) == (
        "fd00:db8:1:1::100", "fd00:db8:1:1::5", 8443)
    assert (reply["src"], reply["final_src"], reply["final_sport"]) == (
        "fd00:db8:1:1::5", "fd00:db8:1:1::100", 443)
    cols = out.columns
    table = record_batch(Batch(cols, PathIndex.of(out.nodes), 0, em.net.node_names,
                               em.batch.labels.names)).to_pydict()
    assert table["finalDestinationIp"] == ["fd00:db8:1:1::5", "fd00:db8:0:1::4"]
    assert table["finalSourceIp"] == ["fd00:db8:0:1::4", "fd00:db8:1:1::100"]
    assert table["sourceIp"] == ["fd00:db8:0:1::4", "fd00:db8:1:1::5"]
    hops = em.explain_row(out, 1)["hops"]
    assert any(h.get("kind") == "un-DNAT" for h in hops)


def test_ipv6_frontend_as_udr_next_hop_picks_the_backend_nva(make_topology) -> None:
    """An IPv6 UDR whose VirtualAppliance next hop is an IPv6 ILB frontend (HA ports in front
    of NVAs, the hub design): the backend NVA receives the packet unchanged (no DNAT)."""
    text = topo().replace('next_hop_ip: "fd00:db8:0:2::4"', 'next_hop_ip: "fd00:db8:0:2::100"')
    text += """load_balancers:
  nvalb6: {sku: Standard, frontend: {subnet: hub/nva, ip: "fd00:db8:0:2::100"}, backends: [nva]}
"""
    hub = build_network(make_topology(text))
    (w,) = compare(hub, [Packet(A1N, A1, B1, TCP, 40000, 443, family=6)])
    assert (w.disposition, w.nodes) == (D.DELIVERED, [A1N, NVAN, B1N])
    assert w.out in (None, (A1, B1, 40000, 443))
    hop = next(h for h in w.hops if h["step"] == "loadbalancer")
    assert (hop["at"], hop["result"], hop["backend"]) == ("nvalb6", "NextHopBackend", "nva")


def test_replay_writes_ipv6_translations_into_pcaps_and_csv(make_topology, tmp_path) -> None:
    """A replayed IPv6 flow through the ILB: the backend's pcap holds the request with the
    backend's IPv6 address and port (checksums still valid), a1's pcap the reply from the
    frontend; packets.csv names them (io/rewrite.py rewrite_frames6)."""
    import csv

    from scapy.layers.inet import TCP as TCP_
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap, wrpcap

    from dataplane.engine import Emulator
    from dataplane.io.writers import Outputs, ReplayWriter

    em = Emulator(make_topology(lb_topo()))
    sport = _flow_to(em.net, FE, TCP, 443, B2N)
    req = Ether() / IPv6(src="fd00:db8:0:1::4", dst="fd00:db8:1:1::100") / TCP_(
        sport=sport, dport=443, flags="S")
    rep = Ether() / IPv6(src="fd00:db8:1:1::5", dst="fd00:db8:0:1::4") / TCP_(
        sport=8443, dport=sport, flags="SA")
    req.time, rep.time = 1.0, 1.5
    cap = tmp_path / "in.pcap"
    wrpcap(str(cap), [req, rep])
    out = tmp_path / "out"
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        result = em.replay(cap, sink=writer)
    finally:
        writer.close()
    summary = writer.write_summary(result)
    assert result.dispositions() == [D.DELIVERED, D.DELIVERED]
    (got,) = rdpcap(str(out / summary["pcapFiles"]["b2"]))
    assert (got[IPv6].dst, got[TCP_].dport) == ("fd00:db8:1:1::5", 8443)
    fresh = Ether(bytes(got))  # recompute the checksum: the rewritten one must equal it
    del fresh[TCP_].chksum
    assert Ether(bytes(fresh))[TCP_].chksum == got[TCP_].chksum
    (back,) = rdpcap(str(out / summary["pcapFiles"]["a1"]))
    assert (back[IPv6].src, back[TCP_].sport) == ("fd00:db8:1:1::100", 443)
    rows = list(csv.DictReader((out / "packets.csv").open()))
    assert [(r["destinationIp"], r["finalDestinationIp"]) for r in rows] == [
        ("fd00:db8:1:1::100", "fd00:db8:1:1::5"), ("fd00:db8:0:1::4", "fd00:db8:0:1::4")]
    assert rows[1]["finalSourceIp"] == "fd00:db8:1:1::100"


def test_ipv6_fragments_follow_the_first_fragments_translation(make_topology) -> None:
    """An IPv6 datagram fragmented in three through the HA-ports frontend: the followers
    take their first fragment's decision and its DNAT (final destination = the backend)."""
    from scapy.layers.inet import TCP as TCP_
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

    from dataplane.engine import Emulator

    em = Emulator(make_topology(lb_topo()))
    datagram = IPv6(src="fd00:db8:0:1::4", dst="fd00:db8:1:1::101") / IPv6ExtHdrFragment() / \
        TCP_(sport=5000, dport=9999) / (b"x" * 3000)
    frags = fragment6(datagram, 1280)
    assert len(frags) == 3
    out = em.send(frags)
    rows = [out.row(i) for i in range(3)]
    assert {r["deciding"] for r in rows} == {"lb ilb6ha/ha-ports"}
    backend = rows[0]["final_dst"]
    assert backend in ("fd00:db8:1:1::4", "fd00:db8:1:1::5")
    assert [r["final_dst"] for r in rows] == [backend] * 3
    assert all(r["hops"].endswith("b1" if backend.endswith("::4") else "b2") for r in rows)
