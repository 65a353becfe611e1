"""`dataplane demo --dual-stack` (issue 17): the shipped dual-stack demo replays its capture
through an explicit address map (IPv4 and IPv6 capture addresses onto the VMs) and every
packet is decided by a stage, none UNSUPPORTED; the accounting invariant holds."""

from __future__ import annotations

from collections import Counter

from dataplane.cli import demo_dual_stack as demo
from dataplane.cli import main
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator


def test_dual_stack_demo_answers(tmp_path) -> None:
    from scapy.utils import wrpcap

    frames, labels = demo.packets()
    capture = tmp_path / "d.pcap"
    wrpcap(str(capture), frames)
    result = Emulator(demo.demo_topology()).replay(capture, mapping=demo.CAPTURE_MAP,
                                                   auto_map=False)
    rows = result.rows()
    per: dict[str, Counter] = {}
    for label, row in zip(labels, rows, strict=True):
        per.setdefault(label, Counter())[(row["disposition"], row["deciding"]
                                          if row["disposition"] != "DELIVERED" else row["hops"])] += 1
    assert per["sql over IPv6: web1 -> db1:1433 via hub NVA"] == Counter(
        {("DELIVERED", "web1 > nva > db1"): 12})
    assert per["its replies: db1 -> web1"] == Counter({("DELIVERED", "db1 > nva > web1"): 12})
    assert per["blocked: web1 -> db1:22 over IPv6 (db-nsg)"] == Counter(
        {("DENIED_IN", "nsg db-nsg/securityRules/deny-ssh"): 6})
    assert set(per["neighbour solicitation from web1"]) == {
        ("EXITS_PLATFORM", "host service IPv6 neighbour discovery (neighbour solicitation)")}
    assert set(per["MLD report from web1 (multicast)"]) == {
        ("BLOCKED_IN_VNET", "blocked in VNet: multicast")}
    assert set(per["internet over IPv6: web1 -> Google DNS:443"]) == {
        ("EXITS_INTERNET", "route System ::/0 Internet")}
    # web1's IPv6 ip configuration has a public IPv6 (demo YAML): the capture, taken at the
    # VM, shows its private address (taken as translated); web-nsg allows 443 in
    assert per["from the IPv6 Internet: -> web1:443"] == Counter({("DELIVERED", "web1"): 6})
    assert not any(r["disposition"] == "UNSUPPORTED" for r in rows)
    assert result.read == len(frames) == sum(result.counts().values())
    assert result.check_accounting()


def test_dual_stack_demo_command(tmp_path, capsys) -> None:
    assert main(["demo", "--dual-stack", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2001:db8:cafe::10  web1" in out and "read 60 = sum of dispositions: True" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert main(["demo", "--dual-stack", "--show-yaml"]) == 0
    assert "prefix6" in capsys.readouterr().out


def test_explain_row_of_ipv6_replay_rows(tmp_path) -> None:
    """Result.explain on IPv6 rows rebuilds the IPv6 packet and the flow table before it: the
    reply over IPv6 is explained as answering its tracked flow (NSGs skipped)."""
    from scapy.utils import wrpcap

    frames, labels = demo.packets()
    capture = tmp_path / "d.pcap"
    wrpcap(str(capture), frames)
    result = Emulator(demo.demo_topology()).replay(capture, mapping=demo.CAPTURE_MAP,
                                                   auto_map=False)
    first = labels.index("sql over IPv6: web1 -> db1:1433 via hub NVA")
    reply = labels.index("its replies: db1 -> web1")
    forward = result.explain(first)
    assert forward["decision"] == "DELIVERED"
    assert [h["step"] for h in forward["hops"]][:2] == ["source", "nsg-outbound"]
    back = result.explain(reply)
    assert back["decision"] == "DELIVERED"
    assert not any(h["step"].startswith("nsg") for h in back["hops"])  # stateful reply


def test_ipv6_flow_state_carries_across_results_and_explains() -> None:
    """An IPv6 flow opened by one send is exported by the batch table (entries(): IPv6
    addresses tagged, reference.V6_TAG) and a later result's reply is explained as its reply."""
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6

    from dataplane.engine.reference import V6_TAG

    em = Emulator(demo.demo_topology())
    web, db = "fd00:db8:1:1::4", "fd00:db8:2:1::4"
    first = em.send(IPv6(src=web, dst=db) / TCP(sport=41000, dport=1433))
    back = em.send(IPv6(src=db, dst=web) / TCP(sport=1433, dport=41000))
    assert first.dispositions() == back.dispositions() == [D.DELIVERED]
    (entry,) = em.batch.entries()
    assert entry[0][0] & V6_TAG and entry[0][2:] == (6, 41000, 1433)
    hops = back.explain(0)["hops"]
    assert not any(h["step"].startswith("nsg") for h in hops)  # a reply: no NSG evaluated
    unsolicited = em.send(IPv6(src=db, dst=web) / TCP(sport=1433, dport=41001))
    steps = [h["step"] for h in unsolicited.explain(0)["hops"]]
    assert "nsg-outbound" in steps and "nsg-inbound" in steps  # a new flow: NSGs evaluated
