"""Azure Firewall DNAT and SNAT (issue 11; issue 12 item 6), from Microsoft's pages:
"Azure Firewall rule processing logic" (https://learn.microsoft.com/azure/firewall/
rule-processing: DNAT rules first; a DNAT rule implicitly allows the translated traffic) and
"Azure Firewall SNAT private IP address ranges" (https://learn.microsoft.com/azure/firewall/
snat-private-range: network rules SNAT outside IANA RFC 1918 / RFC 6598; 0.0.0.0/0 never,
255.255.255.255/32 always; application rules always). Assumptions exercised: firewall-dnat-snat,
firewall-instance-address, firewall-reply-return (engine/stages/firewall_nat.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from batch_harness import assert_batch_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP

from dataplane.control.firewall_snat import snat_ranges
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.errors import InputError
from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import _Where

RG = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/"
FW_PUBLIC, CLIENT = "203.0.113.10", "198.51.100.7"
INSTANCES = ("10.0.1.5", "10.0.1.6")  # the firewall is 10.0.1.4 (firewall-instance-address)

HUB = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
  spoke1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {app: {prefix: 10.1.1.0/24, route_table: to-fw}}}
  spoke2: {region: westeurope, address_space: [10.2.0.0/16], subnets: {db: {prefix: 10.2.1.0/24, route_table: all-to-fw, nsg: db-nsg}}}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
  - {between: [hub, spoke2], allow_forwarded_traffic: true}
route_tables:
  to-fw: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}]}
  all-to-fw:
    routes:
      - {name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}
      - {name: fw-itself, prefix: 10.0.1.4/32, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}
nsgs:
  db-nsg:
    rules:
      - {name: rdp-from-firewall, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source: 10.0.1.0/26, destination: "*", destination_ports: 3389}
public_ips:
  fw-ip: {address: 203.0.113.10}
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.1.4
    public_ips: [fw-ip]
    collections:
      - {name: out, priority: 100, rules: [{name: tls-sql, protocols: [TCP, UDP], source: 10.1.0.0/16, destination: "*", ports: [443, 1433]}]}
    nat_collections:
      - {name: in, priority: 100, rules: [{name: rdp, protocols: TCP, source: "*", destination: 203.0.113.10, ports: 53389, translated_address: 10.2.1.4, translated_port: 3389}]}
      - name: private
        priority: 200
        rules:
          - {name: sql-from-app, protocols: TCP, source: 10.1.0.0/16, destination: 10.0.1.4, ports: 11433, translated_address: 10.2.1.4, translated_port: 1433}
          - {name: sql-from-db, protocols: TCP, source: 10.2.0.0/16, destination: 10.0.1.4, ports: 11434, translated_address: 10.1.1.4, translated_port: 1433}
    SNAT
vms:
  app1: {subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D2s_v3}
  db1: {subnet: spoke2/db, ip: 10.2.1.4, size: Standard_D2s_v3}
"""


def _hub(make_topology, snat: str = "", spoke2_forwarded: bool = True):
    """HUB; `spoke2_forwarded` False: the hub <-> spoke2 peering allows no forwarded traffic."""
    text = HUB if spoke2_forwarded else HUB.replace(
        "{between: [hub, spoke2], allow_forwarded_traffic: true}", "{between: [hub, spoke2]}")
    return make_topology(text.replace("    SNAT\n", f"    snat_private_ranges: {snat}\n"
                                      if snat else ""))


def _rows(topology, *packets, source=None):
    result = Emulator(topology).send(list(packets), source=source)
    return [result.row(i) for i in range(len(packets))]


def test_dnat_then_network_rules_translation_and_reply(make_topology) -> None:
    """Internet -> firewall public IP:53389 is DNATed to db1:3389 although no network rule
    allows 3389 (DNAT first; its implicit network rule); db1's NSG, which allows RDP only from
    AzureFirewallSubnet, sees the firewall instance address (DNAT source translation); the
    reply leaves from the public IP:port to the client (un-translated through conntrack)."""
    topology = _hub(make_topology)
    inbound = IP(src=CLIENT, dst=FW_PUBLIC) / TCP(sport=50000, dport=53389)
    (first,) = _rows(topology, inbound)
    assert (first["disposition"], first["hops"]) == ("DELIVERED", "internet > fw > db1")
    assert first["final_dst"] == "10.2.1.4" and first["final_sport"] != 50000
    assert first["final_src"] in INSTANCES and first["final_dport"] == 3389
    em = Emulator(topology)
    em.send(inbound)
    reply = IP(src="10.2.1.4", dst=first["final_src"]) / TCP(sport=3389,
                                                              dport=first["final_sport"])
    back = em.send(reply, source="db1").row(0)
    assert (back["disposition"], back["hops"]) == ("EXITS_INTERNET", "db1 > fw > internet")
    assert (back["final_src"], back["final_sport"], back["final_dst"], back["final_dport"]) == (
        FW_PUBLIC, 53389, CLIENT, 50000)


def test_no_dnat_rule_is_the_default_deny_and_the_nsg_would_deny_the_client(make_topology) -> None:
    topology = _hub(make_topology)
    other_port, = _rows(topology, IP(src=CLIENT, dst=FW_PUBLIC) / TCP(sport=50000, dport=22))
    assert (other_port["disposition"], other_port["deciding"]) == (
        "FIREWALL_DENIED", "firewall fw/default-deny (no DNAT rule matches)")
    # Without the source translation db1's NSG would deny the client: the rule is what passes
    direct = Emulator(topology).send(IP(src=CLIENT, dst="10.2.1.4") / TCP(sport=1, dport=3389))
    assert direct.row(0)["disposition"] != "DELIVERED"


def test_explain_prints_the_translation_at_the_firewall_hop(make_topology) -> None:
    topology = _hub(make_topology)
    net = build_network(topology, caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    (walk,) = ReferencePipeline(net).run([Packet(-1, ip(CLIENT), ip(FW_PUBLIC), 6, 50000, 53389)])
    (hop,) = [h for h in walk.hops if h.get("kind") == "DNAT (firewall)"]
    assert hop["rule"] == "firewall fw/in/rdp" and hop["at"] == "fw"
    assert hop["original"]["destinationIp"] == FW_PUBLIC
    assert hop["translated"]["destinationIp"] == "10.2.1.4"
    assert hop["translated"]["sourceIp"] in INSTANCES


def test_private_ip_dnat_by_peering_route_and_through_a_route(make_topology) -> None:
    """DNAT to the firewall's private address (Standard/Premium): reached directly (the hub's
    peering route) or as a UDR's next hop; a source no rule names is denied."""
    topology = _hub(make_topology)
    direct, other, routed = _rows(
        topology, IP(src="10.1.1.4", dst="10.0.1.4") / TCP(sport=40000, dport=11433),
        IP(src="10.1.1.4", dst="10.0.1.4") / TCP(sport=40001, dport=11434),
        IP(src="10.2.1.4", dst="10.0.1.4") / TCP(sport=40002, dport=11434),
        source=["app1", "app1", "db1"])
    assert (direct["disposition"], direct["hops"], direct["final_dst"], direct["final_dport"]) \
        == ("DELIVERED", "app1 > fw > db1", "10.2.1.4", 1433)
    assert (other["disposition"], other["deciding"]) == (
        "FIREWALL_DENIED", "firewall fw/default-deny (no DNAT rule matches)")
    assert (routed["disposition"], routed["hops"], routed["final_dst"]) == (
        "DELIVERED", "db1 > fw > app1", "10.1.1.4")


def _snat_of(topology, dst: str, dport: int, proto=TCP) -> tuple[str, str]:
    (row,) = _rows(topology, IP(src="10.1.1.4", dst=dst) / proto(sport=40000, dport=dport),
                   source="app1")
    return row["disposition"], row["final_src"]


def test_snat_default_private_ranges(make_topology) -> None:
    """Internet-bound: the firewall's public IP; RFC 1918: the client's own address."""
    topology = _hub(make_topology)
    assert _snat_of(topology, "8.8.8.8", 443) == ("EXITS_INTERNET", FW_PUBLIC)
    assert _snat_of(topology, "10.2.1.4", 1433) == ("DELIVERED", "10.1.1.4")


def test_snat_always_and_the_reply_returns_through_the_firewall(make_topology) -> None:
    """Classic additionalProperties Network.SNAT.PrivateRanges = 255.255.255.255/32: always
    SNAT, so db1 sees an instance address; its reply goes to that firewall, which restores
    app1's address and port (assumption firewall-reply-return)."""
    topology = _hub(make_topology, "255.255.255.255/32")
    assert topology.azure_firewalls[0].snat_private_ranges == ("255.255.255.255/32",)
    em = Emulator(topology)
    out = em.send(IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000, dport=1433),
                  source="app1").row(0)
    assert out["disposition"] == "DELIVERED" and out["final_src"] in INSTANCES
    back = em.send(IP(src="10.2.1.4", dst=out["final_src"]) / TCP(
        sport=1433, dport=out["final_sport"]), source="db1").row(0)
    assert (back["disposition"], back["final_dst"], back["final_dport"]) == (
        "DELIVERED", "10.1.1.4", 40000)
    assert back["hops"] == "db1 > fw > app1"


def test_snat_never(make_topology) -> None:
    """0.0.0.0/0 never SNATs; "Azure Firewall can never route traffic directly to the Internet"
    then (snat-private-range): the answer carries caveat firewall-snat-never (new-user trial:
    it left with its private source in silence); the default ranges carry none."""
    topology = _hub(make_topology, "0.0.0.0/0")
    assert _snat_of(topology, "8.8.8.8", 443) == ("EXITS_INTERNET", "10.1.1.4")
    row = Emulator(topology).send(IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443),
                                  source="app1").row(0)
    assert [c for c in row["caveats"] if c.startswith("firewall-snat-never: firewall fw")]
    plain = Emulator(_hub(make_topology)).send(
        IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443), source="app1").row(0)
    assert not [c for c in plain["caveats"] if c.startswith("firewall-snat-never")]


def test_udp_snat_takes_a_port_too(make_topology) -> None:
    disposition, source = _snat_of(_hub(make_topology), "8.8.8.8", 443, UDP)
    assert (disposition, source) == ("EXITS_INTERNET", FW_PUBLIC)


def _policy(snat: dict | None) -> dict:
    props = {"ruleCollectionGroups": [], **({"snat": snat} if snat is not None else {})}
    return {"type": "Microsoft.Network/firewallPolicies", "name": "p", "location": "westeurope",
            "id": RG + "firewallPolicies/p", "properties": props}


@pytest.mark.parametrize(("snat", "private", "public"), [
    (None, ["10.9.9.9", "172.31.0.1", "192.168.5.5", "100.64.0.1"], ["20.1.1.1", "172.32.0.1"]),
    ({"privateRanges": ["IANAPrivateRanges", "20.0.0.0/8"]}, ["20.1.1.1", "10.1.1.1"],
     ["21.1.1.1"]),
    ({"privateRanges": ["20.0.0.0/8"]}, ["20.1.1.1"], ["10.1.1.1"]),  # replaces the default
    ({"privateRanges": ["0.0.0.0/0"]}, ["8.8.8.8", "10.1.1.1"], []),
    ({"privateRanges": ["255.255.255.255/32"]}, [], ["10.1.1.1", "8.8.8.8"]),
    ({"privateRanges": ["20.1.2.3"]}, ["20.1.2.3"], ["20.1.2.4"]),  # a single address
])
def test_policy_private_ranges(make_topology, snat, private, public) -> None:
    topology = _hub(make_topology)
    policy = firewall_policy(_policy(snat), _Where({}, "t"))
    (fw,) = topology.azure_firewalls
    fw = replace(fw, firewall_policy=policy.id)
    ranges = snat_ranges(replace(topology, firewall_policies=(policy,)), fw)
    assert ranges.source == ("default" if snat is None else
                             "policy p properties.snat.privateRanges")
    for a in private:
        assert ranges.private(int(ipaddress.IPv4Address(a))), a
    for a in public:
        assert not ranges.private(int(ipaddress.IPv4Address(a))), a


def test_policy_ranges_win_over_classic_and_a_bad_range_names_its_property(make_topology) -> None:
    topology = _hub(make_topology, "255.255.255.255/32")
    policy = firewall_policy(_policy({"privateRanges": ["IANAPrivateRanges"]}), _Where({}, "t"))
    (fw,) = topology.azure_firewalls
    both = snat_ranges(replace(topology, firewall_policies=(policy,)),
                       replace(fw, firewall_policy=policy.id))
    assert both.private(int(ipaddress.IPv4Address("10.2.1.4")))
    with pytest.raises(InputError, match="Network.SNAT.PrivateRanges"):
        snat_ranges(topology, replace(fw, snat_private_ranges=("10.0.0.0/33",)))


def _flows(net) -> list[tuple]:
    """Forward flows of the hub, the replies to their translated tuples (as the reference
    translates them, each flow on its own) and to their original tuples (captured at the VM), as (src, dst, proto, sport, dport, nic choice)."""
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    forward = [(ip(CLIENT), ip(FW_PUBLIC), 6, 50000, 53389), (ip(CLIENT), ip(FW_PUBLIC), 6, 50001, 22),
               (ip("10.1.1.4"), ip("8.8.8.8"), 6, 40000, 443),
               (ip("10.1.1.4"), ip("8.8.8.8"), 17, 40001, 1433),
               (ip("10.1.1.4"), ip("10.2.1.4"), 6, 40002, 1433),
               (ip("10.1.1.4"), ip("10.2.1.4"), 6, 40003, 22),
               (ip("10.1.1.4"), ip("10.0.1.4"), 6, 40004, 11433),  # private DNAT, peering route
               (ip("10.1.1.4"), ip("10.0.1.4"), 6, 40005, 11434),  # no rule for this source
               (ip("10.2.1.4"), ip("10.0.1.4"), 6, 40006, 11434)]  # private DNAT through a UDR
    out = [(*f, 0) for f in forward]
    for f in forward:
        (w,) = ReferencePipeline(net).run([Packet(net.ip_nic.get(f[0], -1), *f)])
        if w.out is not None:
            s, d, sp, dp = w.out
            out.append((d, s, f[2], dp, sp, 0))
        out.append((f[1], f[0], f[2], f[4], f[3], 0))  # a reply captured at the VM
    return out


@pytest.mark.parametrize(("snat", "forwarded"), [("", True), ("255.255.255.255/32", True),
                                                 ("", False)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_with_firewall_translations(make_topology, snat, forwarded,
                                                           data) -> None:
    """Random sequences of DNAT, SNAT and reply packets, any batch split: the batch pipeline
    gives the reference's disposition, deciding label, path and translated addresses."""
    net = build_network(_hub(make_topology, snat, forwarded), caps=False)
    flows = _flows(net)
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=30))
    split = data.draw(st.integers(1, 30))
    assert_batch_matches_reference(net, pkts, split)


def test_replay_outputs_show_the_translated_addresses(make_topology, tmp_path) -> None:
    """packets.csv and the per-VM pcaps carry what the next hop sees: the DNATed packet reaches
    db1 from a firewall instance address; db1's reply leaves from the public address."""
    import csv

    from scapy.utils import rdpcap, wrpcap

    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    net = build_network(_hub(make_topology), caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    (walk,) = ReferencePipeline(net).run([Packet(-1, ip(CLIENT), ip(FW_PUBLIC), 6, 50000, 53389)])
    src, _, sport, _ = walk.out
    packets = [IP(src=CLIENT, dst=FW_PUBLIC) / TCP(sport=50000, dport=53389, flags="S"),
               IP(src="10.2.1.4", dst=str(ipaddress.IPv4Address(src))) / TCP(
                   sport=3389, dport=sport, flags="SA")]
    for i, p in enumerate(packets):
        p.time = 1 + i / 1000
    wrpcap(str(tmp_path / "in.pcap"), packets)
    out = tmp_path / "out"
    assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out", str(out), "--csv",
                 "--no-auto-map"]) == 0
    rows = list(csv.DictReader((out / "packets.csv").open()))
    assert [r["disposition"] for r in rows] == ["DELIVERED", "EXITS_INTERNET"]
    assert (rows[0]["finalSourceIp"], rows[0]["finalDestinationIp"]) == (
        str(ipaddress.IPv4Address(src)), "10.2.1.4")
    assert (rows[1]["finalSourceIp"], rows[1]["finalDestinationIp"]) == (FW_PUBLIC, CLIENT)
    (at_db,) = [p for p in rdpcap(str(out / "db1.pcap")) if p[IP].dst == "10.2.1.4"]
    assert (at_db[IP].src, at_db[TCP].sport, at_db[TCP].dport) == (
        str(ipaddress.IPv4Address(src)), sport, 3389)


def test_trace_answers_the_translated_request_and_prints_the_translation(tmp_path, capsys) -> None:
    """`dataplane trace` sends the reply to the request as it arrived (from db1 to the firewall
    instance address:port) and prints each translation in the hop table."""
    import json

    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    assert main(["trace", str(topo), "--vm", "app1", "--to", "10.0.1.4:11433", "-o", "json"]) == 0
    forward, back = json.loads(capsys.readouterr().out)
    assert forward["disposition"] == "DELIVERED" and back["disposition"] == "DELIVERED"
    assert back["sourceIp"] == "10.2.1.4" and back["destinationIp"] in INSTANCES and back["hops"][-1]["at"] == "app1"
    assert main(["trace", str(topo), "--vm", "app1", "--to", "10.0.1.4:11433"]) == 0
    text = capsys.readouterr().out
    assert "DNAT (firewall) 10.0.1.4:11433 -> 10.2.1.4:1433, 10.1.1.4:49152 ->" in " ".join(
        text.split())
    assert max(len(line) for line in text.splitlines()) <= 100


def test_forced_tunnelling_snats_to_an_instance_address(make_topology) -> None:
    """"If you've enabled forced tunneling, Internet-bound traffic is SNATed to one of the
    firewall's private IP addresses in AzureFirewallSubnet" (snat-private-range): the
    firewall's subnet sends 0.0.0.0/0 to an NVA, so the SNAT source is an instance address,
    not the public IP."""
    text = HUB.replace("    SNAT\n", "").replace(
        "subnets: {AzureFirewallSubnet: 10.0.1.0/26}",
        "subnets: {AzureFirewallSubnet: {prefix: 10.0.1.0/26, route_table: tunnel}, "
        "nva: 10.0.2.0/24}").replace(
        "route_tables:\n", "route_tables:\n  tunnel: {routes: [{name: onprem, prefix: 0.0.0.0/0, "
        "next_hop: VirtualAppliance, next_hop_ip: 10.0.2.4}]}\n").replace(
        "vms:\n", "vms:\n  nva1: {subnet: hub/nva, ip: 10.0.2.4, size: Standard_D2s_v3, "
        "ip_forwarding: true}\n")
    topology = make_topology(text)
    (row,) = _rows(topology, IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443),
                   source="app1")
    assert (row["disposition"], row["hops"]) == ("EXITS_INTERNET", "app1 > fw > nva1 > internet")
    assert row["final_src"] in INSTANCES


def test_internet_reply_captured_at_the_vm_returns_through_the_firewall(make_topology) -> None:
    """Trial finding (issue 11): the reply of an Internet flow the firewall SNATed, captured at
    the VM (addressed to app1's own address, assumption snat-capture-at-vm), crosses the
    firewall like the same reply captured on the Internet side (addressed to the public IP):
    same path, same latency, not delivered straight to app1."""
    topology = _hub(make_topology)
    out = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443)
    answers = []
    for reply in (IP(src="8.8.8.8", dst="10.1.1.4") / TCP(sport=443, dport=40000), None):
        em = Emulator(topology)
        first = em.send(out, source="app1").row(0)
        if reply is None:  # on the Internet side: to the firewall's public address:port
            reply = IP(src="8.8.8.8", dst=FW_PUBLIC) / TCP(sport=443, dport=first["final_sport"])
        answers.append(em.send(reply).row(0))
    at_vm, at_edge = answers
    assert (at_vm["disposition"], at_vm["hops"]) == ("DELIVERED", "internet > fw > app1")
    assert (at_vm["hops"], at_vm["latency_ns"]) == (at_edge["hops"], at_edge["latency_ns"])
    assert at_vm["latency_ns"] > 0
    assert (at_vm["final_dst"], at_vm["final_dport"]) == ("10.1.1.4", 40000)


@pytest.mark.parametrize(("setting", "named"), [("Enabled", True), ("disabled", False),
                                                (None, False)])
def test_auto_learn_private_ranges_is_a_named_caveat_on_answers_crossing_the_firewall(
        make_topology, setting, named) -> None:
    """snat.autoLearnPrivateRanges (preview; snat-private-range: ranges learned from Azure
    Route Server are not SNATed) is not modelled: Enabled names caveat
    firewall-snat-autolearn on every answer crossing the firewall; Disabled or absent names
    nothing; another value is one clear input error naming the property."""
    topology = _hub(make_topology)
    snat = {"privateRanges": ["IANAPrivateRanges"],
            **({"autoLearnPrivateRanges": setting} if setting else {})}
    policy = firewall_policy(_policy(snat), _Where({}, "t"))
    (fw,) = topology.azure_firewalls
    with_policy = replace(topology, firewall_policies=(policy,),
                          azure_firewalls=(replace(fw, firewall_policy=policy.id),))
    net = build_network(with_policy, caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    (walk,) = ReferencePipeline(net).run([Packet(net.ip_nic[ip("10.1.1.4")], ip("10.1.1.4"),
                                                 ip("8.8.8.8"), 6, 40000, 443)])
    assert walk.nodes[:2] == [net.ip_nic[ip("10.1.1.4")], len(net.nics)]  # app1 > fw
    learned = [c for c in net.caveats_of(walk.nodes) if c.startswith("firewall-snat-autolearn")]
    assert bool(learned) is named
    if named:
        assert "policy p" in learned[0] and "snat-private-range" in learned[0]
    with pytest.raises(InputError, match="autoLearnPrivateRanges"):
        firewall_policy(_policy({"autoLearnPrivateRanges": "Sometimes"}), _Where({}, "t"))


def test_replay_maps_a_captured_public_address_onto_the_firewall_public_ip(make_topology,
                                                                          tmp_path) -> None:
    """A capture of DNAT traffic carries the firewall's real public address (20.50.60.70 here),
    not the one in the input: `--map 20.50.60.70=fw-ip` replays it as the public IP resource
    fw-ip's address, so the DNAT rule applies (new-user trial: the map took only VM names, and
    issue 11 item 4 promises mapping onto firewall public IPs). Without the map the packet
    reaches no DNAT rule; an unknown name exits 2."""
    import csv

    from scapy.utils import wrpcap

    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    packets = [IP(src=CLIENT, dst="20.50.60.70") / TCP(sport=50000, dport=53389, flags="S")]
    packets[0].time = 1
    wrpcap(str(tmp_path / "in.pcap"), packets)
    out = tmp_path / "out"
    assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out", str(out), "--csv",
                 "--no-auto-map", "--map", "20.50.60.70=fw-ip"]) == 0
    (row,) = list(csv.DictReader((out / "packets.csv").open()))
    assert (row["disposition"], row["finalDestinationIp"], row["finalDestinationPort"]) == (
        "DELIVERED", "10.2.1.4", "3389")
    unmapped = tmp_path / "plain"
    assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out", str(unmapped), "--csv",
                 "--no-auto-map"]) == 0
    (row,) = list(csv.DictReader((unmapped / "packets.csv").open()))
    assert row["disposition"] != "DELIVERED"
    assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out", str(tmp_path / "x"),
                 "--map", "20.50.60.70=no-such-ip"]) == 2


def test_a_reply_to_an_instance_address_crosses_the_peering_as_sent(make_topology) -> None:
    """db1's reply to the private-DNAT flow is addressed to a firewall instance address: it
    crosses spoke2 -> hub as db1 sent it (source db1, which spoke2 holds: no forwarded traffic,
    "Virtual network peering", https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview:
    allowForwardedTraffic is about traffic that did not originate in the peered network) and is
    restored at the firewall, so a hub <-> spoke2 peering without allowForwardedTraffic carries it
    (both forms; before, the restored source 10.0.1.4 was checked and the reply dropped)."""
    topology = _hub(make_topology, spoke2_forwarded=False)
    em = Emulator(topology)
    (forward,) = [em.send(IP(src="10.1.1.4", dst="10.0.1.4") / TCP(sport=40000, dport=11433),
                          source="app1").row(0)]
    assert forward["disposition"] == "DELIVERED"
    reply = IP(src="10.2.1.4", dst=forward["final_src"]) / TCP(sport=1433,
                                                               dport=forward["final_sport"])
    back = em.send(reply, source="db1").row(0)
    assert (back["disposition"], back["hops"]) == ("DELIVERED", "db1 > fw > app1")
    net = build_network(topology, caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    ref = ReferencePipeline(net)
    (w,) = ref.run([Packet(net.ip_nic[ip("10.1.1.4")], ip("10.1.1.4"), ip("10.0.1.4"), 6,
                           40000, 11433)])
    s, d, sp, dp = w.out
    (r,) = ref.run([Packet(net.ip_nic[ip("10.2.1.4")], d, s, 6, dp, sp)])
    steps = [h["step"] for h in r.hops]
    assert r.disposition.name == "DELIVERED"
    assert steps[:4] == ["source", "peering", "nat", "nat"], steps  # translated at fw



def tunnel_text(internet_behind: bool = True, user_route: bool = False) -> str:
    """HUB with forced tunnelling through the hub's VPN gateway ("Azure Firewall forced
    tunneling", https://learn.microsoft.com/azure/firewall/forced-tunneling): with
    `internet_behind` the branch announces 0.0.0.0/1 and 128.0.0.0/1 (the Internet, as BGP
    would) besides 192.168.0.0/16, so the firewall's subnet sends Internet-bound flows
    on-premises; with `user_route` the AzureFirewallSubnet's route table sends 0.0.0.0/0 to the
    gateway (route tunnel/onprem)."""
    subnet = ("{prefix: 10.0.1.0/26, route_table: tunnel}" if user_route else "10.0.1.0/26")
    prefixes = "192.168.0.0/16, 0.0.0.0/1, 128.0.0.0/1" if internet_behind else "192.168.0.0/16"
    text = HUB.replace("    SNAT\n", "").replace(
        "subnets: {AzureFirewallSubnet: 10.0.1.0/26}",
        f"subnets: {{AzureFirewallSubnet: {subnet}, GatewaySubnet: 10.0.255.0/27}}, "
        "gateway: {type: Vpn, sku: VpnGw1}").replace(
        "vms:\n", f"on_premises:\n  branch: {{prefixes: [{prefixes}], "
        "gateway_ip: 198.51.100.10, connect_to: hub}\nvms:\n")
    if user_route:
        text = text.replace("route_tables:\n", "route_tables:\n  tunnel: {routes: [{name: onprem, "
                            "prefix: 0.0.0.0/0, next_hop: VirtualNetworkGateway}]}\n")
    return text


def _tunnelled_through_the_gateway(make_topology):
    return make_topology(tunnel_text())


def test_a_tunnelled_flows_reply_from_on_premises_returns_through_the_firewall(
        make_topology) -> None:
    """"If you've enabled forced tunneling, Internet-bound traffic is SNATed to one of the
    firewall's private IP addresses in AzureFirewallSubnet" (snat-private-range): the reply
    comes back through the gateway to that instance address, so it reaches the firewall, is
    restored there and routed on to app1 (before: restored at the gateway and judged as on-premises
    traffic to spoke1, TRANSIT_BLOCKED). Both forms, hop by hop in the reference."""
    topology = _tunnelled_through_the_gateway(make_topology)
    em = Emulator(topology)
    out = em.send(IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443),
                  source="app1").row(0)
    assert (out["disposition"], out["hops"]) == ("EXITS_ON_PREMISES", "app1 > fw > gateway hub-gw")
    assert out["final_src"] in INSTANCES
    back = em.send(IP(src="8.8.8.8", dst=out["final_src"]) / TCP(
        sport=443, dport=out["final_sport"])).row(0)
    assert (back["disposition"], back["hops"]) == ("DELIVERED", "gateway hub-gw > fw > app1")
    assert (back["final_dst"], back["final_dport"]) == ("10.1.1.4", 40000)
    net = build_network(topology, caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    forward = (ip("10.1.1.4"), ip("8.8.8.8"), 6, 40000, 443)
    ref = ReferencePipeline(net)
    (w,) = ref.run([Packet(net.ip_nic[forward[0]], *forward)])
    s, d, sp, dp = w.out
    (r,) = ref.run([Packet(-1, d, s, 6, dp, sp)])
    assert [h["step"] for h in r.hops][:2] == ["ingress", "nat"] and r.hops[1]["at"] == "fw"
    stray = (ip("192.168.1.9"), s, 6, dp, sp)  # the same address:port from another site host
    assert_batch_matches_reference(net, [(*forward, 0), (d, s, 6, dp, sp, 0), (*stray, 0),
                                         (d, s, 6, dp, sp, 0)], 1)
    assert_batch_matches_reference(net, [(*forward, 0), (d, s, 6, dp, sp, 0), (*stray, 0)], 3)


@pytest.mark.parametrize(("internet_behind", "user_route"), [(True, False), (False, True)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_with_forced_tunnelling(make_topology, internet_behind,
                                                       user_route, data) -> None:
    """The hub's flows and replies with the Internet behind the VPN gateway, or sent there by
    a user route no site covers, any batch split."""
    net = build_network(make_topology(tunnel_text(internet_behind, user_route)), caps=False)
    flows = _flows(net)
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=30))
    assert_batch_matches_reference(net, pkts, data.draw(st.integers(1, 30)))


def test_trace_sends_the_internet_reply_to_the_firewall_snat_address(tmp_path, capsys) -> None:
    """`dataplane trace` to the Internet through the firewall: the reply comes from the server
    to the public address:port the flow was SNATed to, enters at the firewall, is un-SNATed
    there and delivered to app1 (new-user trial: the return was 'not sent', so the un-SNAT
    could not be seen); its legs are regional (one region: the Internet leg takes the
    firewall's)."""
    import json

    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    assert main(["trace", str(topo), "--vm", "app1", "--to", "8.8.8.8:443", "-o", "json"]) == 0
    forward, back = json.loads(capsys.readouterr().out)
    assert forward["disposition"] == "EXITS_INTERNET" and back["disposition"] == "DELIVERED"
    snat = next(h for h in forward["hops"] if h["step"] == "nat")
    assert back["sourceVm"] is None and back["sourceIp"] == "8.8.8.8"
    assert (back["destinationIp"], back["destinationPort"]) == (
        FW_PUBLIC, snat["translated"]["sourcePort"])
    steps = [(h["step"], h.get("at")) for h in back["hops"]]
    assert steps[:2] == [("ingress", "fw"), ("nat", "fw")] and steps[-1] == ("deliver", "app1")
    assert [g["global"] for g in back["legs"]] == [False, False]


def test_trace_to_the_topologys_own_public_address_sends_no_invented_reply(tmp_path, capsys):
    """A VM with its own public IP and no route to the firewall sends to the firewall's public
    address: the flow leaves for the Internet edge and would come back in to the DNAT rule,
    which is not modelled -- the answer names it (caveat public-hairpin) and trace sends no
    reply from that address as if it were an outside server (second trial)."""
    import json

    from dataplane.cli import main

    text = HUB.replace("    SNAT\n", "").replace(
        "subnets: {AzureFirewallSubnet: 10.0.1.0/26}",
        "subnets: {AzureFirewallSubnet: 10.0.1.0/26, mgmt: 10.0.3.0/24}").replace(
        "public_ips:\n", "public_ips:\n  jump-ip: {address: 203.0.113.20}\n").replace(
        "vms:\n", "vms:\n  jump: {subnet: hub/mgmt, ip: 10.0.3.4, public_ip: jump-ip}\n")
    topo = tmp_path / "hub.yaml"
    topo.write_text(text)
    assert main(["trace", str(topo), "--vm", "jump", "--to", f"{FW_PUBLIC}:53389", "-o",
                 "json"]) == 0
    (forward,) = json.loads(capsys.readouterr().out)
    assert forward["disposition"] == "EXITS_INTERNET"
    assert any(c.startswith(f"public-hairpin: {FW_PUBLIC} is one of this topology's own")
               for c in forward["caveats"])
    assert main(["trace", str(topo), "--vm", "jump", "--to", "8.8.8.8:443", "-o", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2  # an outside server does reply
    assert main(["trace", str(topo), "--vm", "jump", "--to", f"{FW_PUBLIC}:53389"]) == 0
    assert "return: not sent (its destination is one of the topology's own public addresses" \
        in capsys.readouterr().out


def test_forced_tunnelling_with_no_site_covering_the_destination_says_so(make_topology) -> None:
    """The firewall's subnet sends 0.0.0.0/0 to the VPN gateway, but the branch announces only
    192.168.0.0/16 and no Default Site or BGP default route is given: the packet still leaves
    for on-premises here, and its deciding label says what Azure needs to tunnel it ("About
    forced tunneling for site-to-site") -- both forms (second trial: it said nothing)."""
    topology = make_topology(tunnel_text(internet_behind=False, user_route=True))
    row = Emulator(topology).send(IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=1, dport=443),
                                  source="app1").row(0)
    assert (row["disposition"], row["hops"]) == ("EXITS_ON_PREMISES", "app1 > fw > gateway hub-gw")
    assert row["deciding"].startswith("route tunnel/onprem (gateway hub-gw: no local network "
                                      "gateway prefix or learned route covers the destination")
    net = build_network(topology, caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    assert_batch_matches_reference(net, [(ip("10.1.1.4"), ip("8.8.8.8"), 6, 1, 443, 0),
                                         (ip("10.1.1.4"), ip("192.168.1.9"), 6, 2, 443, 0)], 2)
