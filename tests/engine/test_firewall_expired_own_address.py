"""A reply to an Azure Firewall's own translated address after its flow idled out (issue 11,
finding d; assumption expired-reply-at-firewall, engine/stages/gateway.py).

Azure Firewall is stateful ("Azure Firewall features",
https://learn.microsoft.com/azure/firewall/features, "Stateful firewall as a service"); its TCP
idle timeout is four minutes ("Azure Firewall FAQ",
https://learn.microsoft.com/azure/firewall/firewall-faq, "What is the TCP Idle Timeout for
Azure Firewall?"; engine/conntrack.py conntrack-idle). Once a flow the firewall translated has
idled out, the firewall holds no session: the "reply" addressed to the address:port it chose
(an instance address for private SNAT and DNAT's source translation, its public address for
Internet SNAT) is a new flow to the firewall's own address that no DNAT rule matches, so the
firewall's default deny drops it. The answer names the firewall (hops end there), and the
label says why. Reference (explain) and batch (any split) agree."""

from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import IP, TCP
from test_conntrack_expiry import _compare
from test_firewall_nat import CLIENT, FW_PUBLIC, HUB, INSTANCES, _hub

from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS as T
from dataplane.engine.reference import Packet, ReferencePipeline

ALWAYS = "255.255.255.255/32"  # private ranges: SNAT every network-rule flow (snat-private-range)
OUT_DB = IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000, dport=443)
OUT_NET = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443)
IN_RDP = IP(src=CLIENT, dst=FW_PUBLIC) / TCP(sport=50000, dport=53389)


def _label(address: str, port: int) -> str:
    return (f"firewall fw/default-deny (the reply of the flow fw translated to {address}:{port}, "
            f"after the flow idled out (conntrack-idle: no state after 4 idle minutes): a new "
            f"flow no DNAT rule matches)")


def _first(topology, packet, source=None) -> dict:
    return Emulator(topology).send(packet, source=source).row(0)


def _reply_to(row: dict, src: str, sport: int) -> IP:
    """The reply of `row`'s flow, addressed to its translated source."""
    return IP(src=src, dst=row["final_src"]) / TCP(sport=sport, dport=row["final_sport"])


def _agree(result, i: int) -> dict:
    row, said = result.row(i), result.explain(i)
    assert said["decision"] == row["disposition"], i
    assert said["deciding"] == row["deciding"], i
    return said


def test_private_snat_reply_after_idle_is_the_firewalls_default_deny(make_topology) -> None:
    """app1 -> db1:443 SNATed to an instance address (private ranges: always SNAT). db1's
    reply at exactly the timeout returns through the firewall; the next, idle one ns more than
    the timeout after that touch, reaches the firewall (db1 > fw) and is denied there, the
    label naming the translation. Its explanation decides the same."""
    topology = _hub(make_topology, ALWAYS)
    first = _first(topology, OUT_DB, "app1")
    assert first["final_src"] in INSTANCES and first["hops"] == "app1 > fw > db1"
    back = _reply_to(first, "10.2.1.4", 443)
    result = Emulator(topology).send([OUT_DB, back, back], source=["app1", "db1", "db1"],
                                     times_ns=[0, T, 2 * T + 1])
    rows = result.rows()
    assert [(r["disposition"], r["hops"]) for r in rows] == [
        ("DELIVERED", "app1 > fw > db1"), ("DELIVERED", "db1 > fw > app1"),
        ("FIREWALL_DENIED", "db1 > fw")]
    assert rows[2]["deciding"] == _label(first["final_src"], first["final_sport"])
    said = _agree(result, 2)
    (hop,) = [h for h in said["hops"] if h["step"] == "appliance"]
    assert (hop["at"], hop["ip"], hop["result"], hop["expired"]) == (
        "fw", first["final_src"], "FirewallDenied", True)
    assert result.explain(1)["decision"] == "DELIVERED"


def test_dnat_source_translation_reply_after_idle_is_denied_at_the_firewall(
        make_topology) -> None:
    """Internet -> the public IP:53389, DNATed to db1:3389 with its source translated to an
    instance address (firewall-dnat-snat); db1's reply after the flow idled out goes to that
    instance address: denied by the firewall, not 'no NIC at the destination'."""
    topology = _hub(make_topology)
    first = _first(topology, IN_RDP)
    assert first["final_src"] in INSTANCES
    back = _reply_to(first, "10.2.1.4", 3389)
    result = Emulator(topology).send([IN_RDP, back, back], source=[None, "db1", "db1"],
                                     times_ns=[0, T // 2, T // 2 + T + 1])
    rows = result.rows()
    assert [r["disposition"] for r in rows] == ["DELIVERED", "EXITS_INTERNET",
                                                "FIREWALL_DENIED"]
    assert rows[2]["hops"] == "db1 > fw"
    assert rows[2]["deciding"] == _label(first["final_src"], first["final_sport"])
    _agree(result, 2)


def test_public_snat_reply_after_idle_names_why(make_topology) -> None:
    """An Internet flow SNATed to the firewall's public IP; the reply after the idle timeout
    enters at the firewall (internet > fw) and is its default deny, the label saying it is the
    reply of a flow the firewall translated to that address:port; the explain line says so."""
    topology = _hub(make_topology)
    first = _first(topology, OUT_NET, "app1")
    assert first["final_src"] == FW_PUBLIC
    back = IP(src="8.8.8.8", dst=FW_PUBLIC) / TCP(sport=443, dport=first["final_sport"])
    result = Emulator(topology).send([OUT_NET, back], source=["app1", None],
                                     times_ns=[0, T + 1])
    row = result.row(1)
    assert (row["disposition"], row["hops"]) == ("FIREWALL_DENIED", "internet > fw")
    assert row["deciding"] == _label(FW_PUBLIC, first["final_sport"])
    said = _agree(result, 1)
    (hop,) = [h for h in said["hops"] if h.get("kind") == "DNAT (firewall)"]
    assert hop["expired"] is True


def test_only_the_translated_address_and_port_of_an_expired_flow(make_topology) -> None:
    """The same instance address at another port answers no flow: it is not labelled as an
    expired reply (nothing there; NO_DESTINATION as before). Before the timeout the reply
    passes (alive), so the label cannot come from the address alone."""
    topology = _hub(make_topology, ALWAYS)
    first = _first(topology, OUT_DB, "app1")
    other = IP(src="10.2.1.4", dst=first["final_src"]) / TCP(
        sport=443, dport=first["final_sport"] + 1)
    result = Emulator(topology).send([OUT_DB, other], source=["app1", "db1"],
                                     times_ns=[0, T + 1])
    assert result.row(1)["disposition"] == "NO_DESTINATION"
    assert "idled out" not in result.row(1)["deciding"]


def test_outbound_nsg_decides_first(make_topology) -> None:
    """A new flow leaves its VM through the outbound NSG: an NSG denying db1 -> the
    AzureFirewallSubnet decides before the firewall is reached (DENIED_OUT)."""
    text = HUB.replace("    SNAT\n", f"    snat_private_ranges: {ALWAYS}\n").replace(
        "      - {name: rdp-from-firewall,",
        "      - {name: no-fw, priority: 100, direction: Outbound, access: Deny, protocol: Tcp,"
        " source: '*', destination: 10.0.1.0/26, destination_ports: '*'}\n"
        "      - {name: rdp-from-firewall,")
    topology = make_topology(text)
    first = _first(topology, OUT_DB, "app1")
    back = _reply_to(first, "10.2.1.4", 443)
    result = Emulator(topology).send([OUT_DB, back, back], source=["app1", "db1", "db1"],
                                     times_ns=[0, 1, T + 2])
    assert [r["disposition"] for r in result.rows()] == ["DELIVERED", "DELIVERED",
                                                         "DENIED_OUT"]


@pytest.mark.parametrize("snat", ["", ALWAYS])
def test_reference_equals_batch_for_expired_replies_to_firewall_addresses(make_topology,
                                                                          snat) -> None:
    """Flows the firewall translates (SNAT to the public IP, to an instance address, DNAT's
    source translation) and replies to their translated tuples, alive and idle past a 5 ns
    timeout: the batch pipeline, in every split, gives the reference's answers (disposition,
    label, path, translation), and expired replies to the firewall's own addresses occur."""
    net = build_network(_hub(make_topology, snat), caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    forward = [(ip(CLIENT), ip(FW_PUBLIC), 6, 50000, 53389),
               (ip("10.1.1.4"), ip("8.8.8.8"), 6, 40000, 443),
               (ip("10.1.1.4"), ip("10.2.1.4"), 6, 40002, 1433)]
    pkts, gaps = [], []
    for f in forward:
        (w,) = ReferencePipeline(net).run([Packet(net.ip_nic.get(f[0], -1), *f)])
        s, d, sp, dp = w.out
        back = (d, s, f[2], dp, sp)
        for key, gap in ((f, 1), (back, 2), (back, 10), (back, 1), (f, 1), (back, 3)):
            pkts.append((*key, 0))
            gaps.append(gap)
    t, packets = 0, []
    for key, gap in zip(pkts, gaps, strict=True):
        t += gap
        packets.append(Packet(net.ip_nic.get(key[0], -1), *key[:5], 100, t))
    walks = ReferencePipeline(net, idle_timeout_ns=5).run(packets)
    assert sum("idled out" in w.deciding for w in walks) >= 2
    for split in (1, 2, 3, 7, len(packets)):  # test_conntrack_expiry's comparison
        _compare(net, pkts, gaps, split, timeout_ns=5)
