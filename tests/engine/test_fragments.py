"""IP fragments through the engine (engine/fragments.py, conntrack.FragmentChains): in-order and
out-of-order chains, a first fragment an NSG denies, HA ports vs a port-specific load-balancing
rule ("Azure Load Balancer components", https://learn.microsoft.com/azure/load-balancer/
components, "Limitations"), default outbound access vs a NAT gateway ("Default outbound access
in Azure", https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access,
"Constraints"), expiry and the state bound, IPv6 chain keys and the edge step, and the tcpdump
AFS capture replayed with an address map."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from test_lb import LB_TOPO
from test_snat import _topology as snat_topology

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.conntrack import (
    FOLLOWS,
    OPENS,
    OUT_OF_ORDER,
    STATE_FULL,
    FragmentChains,
    fragment_key,
)
from dataplane.engine.fragments import HOST_FRAGMENTATION_CAVEAT, STATE_FULL_LABEL, order_label


def datagram(src: str, dst: str, ident: int, dport: int = 7000, size: int = 3000,
             proto=UDP) -> list:
    """A datagram fragmented at 1480 bytes: 3 fragments for the default size."""
    return fragment(IP(src=src, dst=dst, id=ident) / proto(sport=40000, dport=dport)
                    / (b"x" * size), fragsize=1480)


def answers(result) -> list[tuple[str, str, str]]:
    return [(r["disposition"], r["deciding"], r["hops"]) for r in result.rows()]


@pytest.fixture
def lb_topo(make_topology):
    return make_topology(LB_TOPO)


# -- IPv4 chains in and out of order -----------------------------------------------------------
def test_in_order_chain_follows_its_first_fragment(demo):
    frags = datagram("10.0.2.4", "10.1.1.4", 77)
    out = demo.send(frags)
    got = answers(out)
    assert got[0][0] == "DELIVERED" and got[0][2] == "jumpbox > web1"
    assert got == [got[0]] * 3
    assert [r["status"] for r in out.rows()] == ["OK", "NON_FIRST_FRAGMENT",
                                                 "NON_FIRST_FRAGMENT"]
    assert demo.batch.fragments.counts["opened"] == 1
    assert demo.batch.fragments.counts["completed"] == 1
    assert len(demo.batch.fragments) == 0
    assert out.check_accounting()


def test_last_fragment_first_drops_the_whole_datagram(demo):
    out = demo.send(list(reversed(datagram("10.0.2.4", "10.1.1.4", 78))))
    assert [r["disposition"] for r in out.rows()] == ["FRAGMENT_OUT_OF_ORDER"] * 3
    assert [r["deciding"] for r in out.rows()] == [
        order_label("no-chain"), order_label("closed"), order_label("closed")]
    assert all(r["hops"] == "" for r in out.rows())
    # the first fragment met a closed chain: no flow was opened
    assert demo.batch.ct.count == 0


def test_a_gap_then_the_missing_fragment(demo):
    a, b, c = datagram("10.0.2.4", "10.1.1.4", 79)
    out = demo.send([a, c, b])
    assert [r["disposition"] for r in out.rows()] == [
        "DELIVERED", "FRAGMENT_OUT_OF_ORDER", "FRAGMENT_OUT_OF_ORDER"]
    assert [r["deciding"] for r in out.rows()][1:] == [order_label("gap"),
                                                       order_label("closed")]


def test_a_repeated_fragment_closes_the_chain(demo):
    a, b, c = datagram("10.0.2.4", "10.1.1.4", 80)
    out = demo.send([a, b, b, c])
    assert [r["disposition"] for r in out.rows()] == [
        "DELIVERED", "DELIVERED", "FRAGMENT_OUT_OF_ORDER", "FRAGMENT_OUT_OF_ORDER"]
    assert out.row(2)["deciding"] == order_label("overlap")
    # a repeated first fragment too
    a, b, _ = datagram("10.0.2.4", "10.1.1.4", 81)
    out = demo.send([a, a, b])
    assert [r["disposition"] for r in out.rows()] == [
        "DELIVERED", "FRAGMENT_OUT_OF_ORDER", "FRAGMENT_OUT_OF_ORDER"]
    assert out.row(1)["deciding"] == order_label("first-again")


def test_datagrams_are_told_apart_by_identification_and_protocol(demo):
    a1, b1, c1 = datagram("10.0.2.4", "10.1.1.4", 90)
    a2, b2, c2 = datagram("10.0.2.4", "10.1.1.4", 91)
    out = demo.send([a1, a2, b2, b1, c1, c2])
    assert {r["disposition"] for r in out.rows()} == {"DELIVERED"}
    # the same identification under another protocol is another datagram: no chain
    other = IP(bytes(b1))
    other.proto = 6
    del other.chksum
    assert demo.send(IP(bytes(other))).row(0)["disposition"] == "FRAGMENT_OUT_OF_ORDER"


def test_chain_across_sends_equals_one_send(demo_topology):
    frags = datagram("10.0.2.4", "10.1.1.4", 92)
    whole = answers(Emulator(demo_topology).send(frags))
    em = Emulator(demo_topology)
    parts = [answers(em.send([f])) for f in frags]
    assert [p[0] for p in parts] == whole


def test_a_first_fragment_denied_by_an_nsg_drops_its_datagram_there(lb_topo):
    em = Emulator(lb_topo)
    out = em.send(datagram("10.0.3.4", "10.0.4.4", 5))
    got = answers(out)
    assert got[0][0] == "DENIED_IN" and "deny-all-in" in got[0][1]
    assert got == [got[0]] * 3
    assert em.batch.ct.count == 0


# -- load balancers and outbound access -----------------------------------------------------------
def test_port_specific_rule_drops_fragments_ha_ports_forward_them(lb_topo):
    em = Emulator(lb_topo)
    out = em.send(datagram("10.0.3.4", "10.2.1.100", 6, dport=80, proto=TCP))
    assert [r["disposition"] for r in out.rows()] == ["LB_FRAGMENT"] * 3
    assert {r["deciding"] for r in out.rows()} == {"lb app-ilb/http"}
    assert em.batch.ct.count == 0  # the dropped first fragment opened no flow
    # the same datagram unfragmented is balanced and delivered
    whole = em.send(IP(src="10.0.3.4", dst="10.2.1.100") / TCP(sport=40000, dport=80))
    assert whole.row(0)["disposition"] == "DELIVERED"

    out = em.send(datagram("10.0.3.4", "10.0.2.100", 7, dport=5353))
    rows = out.rows()
    assert rows[0]["disposition"] == "DELIVERED" and rows[0]["deciding"] == "lb nva-ilb/ha-ports"
    assert answers(out) == [answers(out)[0]] * 3
    # every fragment reaches the backend the first fragment's 5-tuple chose (DNAT included)
    assert len({r["final_dst"] for r in rows}) == 1 and rows[0]["final_dst"] != "10.0.2.100"


def test_default_outbound_access_drops_fragments_a_nat_gateway_forwards_them():
    frags = datagram("10.0.1.4", "8.8.8.8", 8, dport=53)
    out = Emulator(snat_topology()).send(frags, source="app")
    assert [r["disposition"] for r in out.rows()] == ["FRAGMENT_DEFAULT_OUTBOUND"] * 3
    assert out.row(0)["deciding"].startswith("default outbound access from app")
    unfragmented = Emulator(snat_topology()).send(
        IP(src="10.0.1.4", dst="8.8.8.8") / UDP(sport=40000, dport=53), source="app")
    assert unfragmented.row(0)["disposition"] == "EXITS_INTERNET"

    out = Emulator(snat_topology(nat=True)).send(frags, source="app")
    rows = out.rows()
    assert [r["disposition"] for r in rows] == ["EXITS_INTERNET"] * 3
    assert {r["final_src"] for r in rows} == {"20.0.0.20"}  # the NAT gateway's address


# -- bounded state ---------------------------------------------------------------------------------
def test_a_chain_expires_after_its_timeout(demo):
    a, b, c = datagram("10.0.2.4", "10.1.1.4", 93)
    t = demo.batch.fragments.timeout_ns
    out = demo.send([a, b, c], times_ns=[0, t, 2 * t + 1])
    assert [r["disposition"] for r in out.rows()] == [
        "DELIVERED", "DELIVERED", "FRAGMENT_OUT_OF_ORDER"]
    assert demo.batch.fragments.counts["expired"] == 1


def test_the_state_bound_refuses_new_chains(demo):
    demo.batch.fragments.chains_max = 1
    a1, b1, _ = datagram("10.0.2.4", "10.1.1.4", 94)
    a2, b2, _ = datagram("10.0.2.4", "10.1.1.4", 95)
    out = demo.send([a1, a2, b2, b1])
    assert [r["disposition"] for r in out.rows()] == [
        "DELIVERED", "FRAGMENT_STATE_FULL", "FRAGMENT_STATE_FULL", "DELIVERED"]
    assert out.row(1)["deciding"] == STATE_FULL_LABEL
    assert demo.batch.fragments.counts["stateFull"] == 2


def test_chains_unit_verdicts_and_counts():
    ch = FragmentChains(chains_max=2, timeout_ns=10)
    k = fragment_key(4, 0, 1, 0, 2, 17, 5)
    assert ch.step(k, 0, True, 0, 16, True, 0)[0] == OPENS
    assert ch.step(k, 0, False, 2, 16, True, 5)[0] == FOLLOWS
    assert ch.step(k, 0, False, 4, 8, False, 15)[0] == FOLLOWS  # 10 ns after the latest
    assert len(ch) == 0 and ch.counts["completed"] == 1
    k2, k3, k4 = (fragment_key(4, 0, 1, 0, 2, 17, i) for i in (6, 7, 8))
    assert ch.step(k2, 0, True, 0, 8, True, 20)[0] == OPENS
    assert ch.step(k3, 0, False, 1, 8, True, 20)[:2] == (OUT_OF_ORDER, "no-chain")
    assert ch.step(k4, 0, True, 0, 8, True, 25)[0] == STATE_FULL
    assert ch.step(k4, 1, True, 0, 8, True, 25)[0] == OPENS  # another NIC has room
    assert ch.step(k4, 0, True, 0, 8, True, 31)[0] == OUT_OF_ORDER  # open chain: first again
    # past the timeout NIC 0 is full of expired chains: the sweep ends every expired chain
    # (NIC 1's too) and makes room
    k5 = fragment_key(4, 0, 1, 0, 2, 17, 9)
    assert ch.step(k5, 0, True, 0, 8, True, 100)[0] == OPENS
    assert ch.counts["expired"] == 3 and len(ch) == 1


# -- IPv6 ---------------------------------------------------------------------------------------------
def test_ipv6_chain_keys_leave_out_the_protocol():
    """RFC 8200 section 4.5: source, destination and identification name the datagram."""
    assert fragment_key(6, 1, 2, 3, 4, 17, 9) == fragment_key(6, 1, 2, 3, 4, 6, 9)
    assert fragment_key(4, 0, 2, 0, 4, 17, 9) != fragment_key(4, 0, 2, 0, 4, 6, 9)
    assert fragment_key(6, 1, 2, 3, 4, 17, 9) != fragment_key(6, 1, 2, 3, 4, 17, 10)


def _v6_fragments(ident: int) -> list:
    base = IPv6(src="2001:db8::1", dst="2001:db8::2")
    body = bytes(UDP(sport=53, dport=5353) / (b"d" * 40))
    return [base / IPv6ExtHdrFragment(offset=0, m=1, id=ident, nh=17) / body[:24],
            base / IPv6ExtHdrFragment(offset=3, m=1, id=ident, nh=17) / body[24:40],
            base / IPv6ExtHdrFragment(offset=5, m=0, id=ident, nh=17) / body[40:]]


def test_ipv6_fragments_follow_their_first_fragment_or_drop_out_of_order(demo):
    """The edge step runs for IPv6 too: later fragments take the first fragment's answer (the
    engine's answer for IPv6 until the IPv6 stages merge) and out-of-order ones drop."""
    first, second, last = _v6_fragments(0x10)
    out = demo.send([first, second, last])
    d0 = out.row(0)["disposition"]
    assert [r["disposition"] for r in out.rows()] == [d0] * 3
    assert demo.batch.fragments.counts["completed"] == 1
    out = demo.send(list(reversed(_v6_fragments(0x11))))
    assert [r["disposition"] for r in out.rows()] == ["FRAGMENT_OUT_OF_ORDER"] * 3
    first, second, last = _v6_fragments(0x12)
    out = demo.send([first, last, second])
    assert [r["deciding"] for r in out.rows()][1:] == [order_label("gap"),
                                                       order_label("closed")]
    assert out.check_accounting()


# -- a real capture ------------------------------------------------------------------------------
def _real(real_dir: Path, name: str) -> Path:
    return real_dir / "pcap" / name


AFS_MAP = {"131.151.1.146": "jumpbox", "131.151.32.21": "web1", "131.151.1.59": "web2"}


@pytest.mark.parametrize("batch", [65536, 7])
def test_afs_capture_fragments_are_decided_by_real_stages(demo_topology, real_dir: Path, batch):
    """tcpdump__afs: 200 IPv4 fragments of 51 AFS datagrams (UDP 131.151.1.146 ->
    131.151.32.21), in order: every first fragment goes through the stages and its later
    fragments take its answer, whatever the batch size."""
    em = Emulator(demo_topology)
    out = em.replay(_real(real_dir, "tcpdump__afs.pcap"), mapping=AFS_MAP, batch=batch)
    assert out.check_accounting()
    c = out.columns
    rows = out.rows()
    later = [r for r in rows if r["status"] == "NON_FIRST_FRAGMENT"]
    assert len(later) == 149
    assert em.batch.fragments.counts == {"opened": 51, "followed": 149, "completed": 51,
                                         "expired": 0, "outOfOrder": 0,
                                         "outOfOrderForwarded": 0, "stateFull": 0}
    decided = Counter(r["disposition"] for r in later)
    assert set(decided) <= {d.name for d in D if d not in (D.UNSUPPORTED, D.UNMAPPED,
                                                            D.UNPARSED,
                                                            D.FRAGMENT_OUT_OF_ORDER)}
    # each later fragment has its first fragment's answer and path
    first_of: dict[tuple, dict] = {}
    checked = 0
    for i, r in enumerate(rows):
        if int(c["proto"][i]) != 17 or r["src"] != "10.0.2.4":
            continue
        if r["status"] == "OK":
            first_of[(r["src"], r["dst"])] = r
        elif r["status"] == "NON_FIRST_FRAGMENT":
            f = first_of[(r["src"], r["dst"])]
            assert (r["disposition"], r["deciding"], r["hops"]) == (
                f["disposition"], f["deciding"], f["hops"])
            checked += 1
    assert checked == 149


def test_dns_edns_ecs_ipv4_fragments_follow_their_first_fragments(demo_topology,
                                                                  real_dir: Path):
    """zeek__dns-edns-ecs: 4 IPv4 datagrams of 2 fragments each (193.24.227.238 to Internet
    resolvers), mapped onto web1: each second fragment has its first fragment's answer."""
    em = Emulator(demo_topology)
    out = em.replay(_real(real_dir, "zeek__dns-edns-ecs.pcap"),
                    mapping={"193.24.227.238": "web1"})
    assert out.check_accounting()
    rows = out.rows()
    later = [i for i, r in enumerate(rows) if r["status"] == "NON_FIRST_FRAGMENT"]
    assert len(later) == 4
    for i in later:
        first = max(j for j in range(i) if rows[j]["dst"] == rows[i]["dst"]
                    and rows[j]["status"] == "OK")
        assert rows[i]["disposition"] not in ("UNSUPPORTED", "UNMAPPED",
                                              "FRAGMENT_OUT_OF_ORDER")
        assert (rows[i]["disposition"], rows[i]["deciding"]) == (
            rows[first]["disposition"], rows[first]["deciding"])
    assert em.batch.fragments.counts["completed"] == 4


def test_ipv6_fragmented_dns_lone_last_fragment_is_out_of_order(demo_topology, real_dir: Path):
    """zeek__ipv6-fragmented-dns: datagram 0x1 has only its last fragment in the capture
    (FRAGMENT_OUT_OF_ORDER, no chain); datagram 0x2's later fragments follow its first (the
    IPv6 first fragment's answer is the engine's IPv6 answer until the IPv6 stages merge:
    tests/engine/test_fragments_ipv6_captures.py checks the end-to-end answer)."""
    em = Emulator(demo_topology)
    out = em.replay(_real(real_dir, "zeek__ipv6-fragmented-dns.pcap"))
    rows = out.rows()
    assert out.check_accounting()
    assert [r["disposition"] == "FRAGMENT_OUT_OF_ORDER" for r in rows] == [
        False, False, False, True, False, False, False, False]
    assert rows[3]["deciding"] == order_label("no-chain")
    assert rows[6]["disposition"] == rows[7]["disposition"] == rows[5]["disposition"]
    assert em.batch.fragments.counts == {"opened": 1, "followed": 2, "completed": 1,
                                         "expired": 0, "outOfOrder": 1,
                                         "outOfOrderForwarded": 0, "stateFull": 0}


def test_explain_names_the_fragment_chain(demo):
    out = demo.send(datagram("10.0.2.4", "10.1.1.4", 96))
    first, later = demo.explain_row(out, 0), demo.explain_row(out, 1)
    assert first["hops"] and "fragment" not in first
    assert later["hops"] == [] and "fragment chain" in later["fragment"]
    assert later["disposition"] == first["disposition"] == "DELIVERED"
    assert any(a.startswith("fragment-order:") for a in demo.assumptions())


def test_expiry_does_not_depend_on_the_batch_split(demo_topology):
    a, b, c = datagram("10.0.2.4", "10.1.1.4", 97)
    t = FragmentChains().timeout_ns
    times = [0, t + 1, t + 2]
    whole = Emulator(demo_topology).send([a, b, c], times_ns=times)
    em = Emulator(demo_topology)
    parts = [em.send([f], times_ns=[x]).row(0) for f, x in zip([a, b, c], times, strict=True)]
    assert [r["disposition"] for r in whole.rows()] == [r["disposition"] for r in parts] == [
        "DELIVERED", "FRAGMENT_OUT_OF_ORDER", "FRAGMENT_OUT_OF_ORDER"]


def test_a_truncated_first_fragment_leaves_its_datagram_unsupported(demo):
    """A first fragment whose transport header was not captured is UNPARSED; its later
    fragments are parsed but cannot be decided: UNSUPPORTED, not out of order."""
    a, b, c = datagram("10.0.2.4", "10.1.1.4", 98)
    cut = IP(bytes(a)[:22])
    out = demo.send([cut, b, c])
    assert [r["disposition"] for r in out.rows()] == ["UNPARSED", "UNSUPPORTED", "UNSUPPORTED"]
    assert out.check_accounting()


def test_packets_over_1400_bytes_carry_the_host_fragmentation_caveat(demo):
    out = demo.send(datagram("10.0.2.4", "10.1.1.4", 99))  # 1500, 1500, 68 bytes
    assert [HOST_FRAGMENTATION_CAVEAT in r["caveats"] for r in out.rows()] == [True, True, False]
    assert out.caveats()[HOST_FRAGMENTATION_CAVEAT] == 2
