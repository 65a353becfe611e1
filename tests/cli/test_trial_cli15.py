"""Findings of the new-user trial (task cli15): the command line agrees with itself -- explain
reads --to as trace does (a VM name too), tsv output is lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataplane.cli import main
from dataplane.cli.options import tsv

HUB = str(Path(__file__).parents[2] / "examples" / "inputs" / "firewall-hub.yaml")


def _json(capsys, *argv: str) -> object:
    assert main([*argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_explain_takes_a_vm_name_as_destination_as_trace_does(capsys):
    """--to db1:1433 names the VM db1: both commands send to db1's address, port 1433."""
    explained = _json(capsys, "explain", HUB, "--vm", "app1", "--to", "db1:1433")
    traced = _json(capsys, "trace", HUB, "--vm", "app1", "--to", "db1:1433")
    by_ip = _json(capsys, "explain", HUB, "--vm", "app1", "--to", "10.2.1.4:1433")
    assert explained["flow"]["destinationIp"] == traced[0]["destinationIp"] == "10.2.1.4"
    assert explained["flow"]["destinationPort"] == traced[0]["destinationPort"] == 1433
    assert explained["disposition"] == by_ip["disposition"]
    assert explained["hops"] == by_ip["hops"]


def test_explain_rejects_an_unknown_destination_name_in_one_line(capsys):
    assert main(["explain", HUB, "--vm", "app1", "--to", "nosuch:1433"]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and len(err.strip().splitlines()) == 1


def test_tsv_lines_end_in_a_newline(capsys):
    assert tsv(["a", "b"]) == "a\nb\n"
    assert tsv([]) == ""
    assert main(["check", HUB, "--query", "virtualNetworks[].name", "-o", "tsv"]) == 0
    out = capsys.readouterr().out
    assert out == "hub\nspoke1\nspoke2\n"
    assert main(["check", HUB, "--query", "warnings", "-o", "tsv"]) == 0
    assert capsys.readouterr().out == ""


def test_outbound_line_follows_the_effective_default_route(capsys):
    """app1's subnet sends 0.0.0.0/0 to the firewall (the system Internet route is Invalid):
    its way out is the firewall, never default outbound access; db1's too; the hub, whose
    default route is Internet's, keeps its outbound method."""
    assert main(["routes", HUB, "--nic", "app1-nic"]) == 0
    out = capsys.readouterr().out
    line = " ".join(out[out.index("Outbound to the Internet"):].split("\n\n")[0].split())
    assert "DefaultOutboundAccess" not in line
    assert "through the appliance 10.0.1.4 (Azure Firewall fw)" in line
    answer = _json(capsys, "routes", HUB, "--nic", "app1-nic")
    assert answer["outbound"]["method"] == "VirtualAppliance"
    assert answer["outbound"]["appliances"] == ["Azure Firewall fw"]


def test_outbound_line_says_none_for_a_none_default_route(tmp_path, capsys):
    text = Path(HUB).read_text().replace(
        "next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4", "next_hop: None")
    (tmp_path / "t.yaml").write_text(text)
    answer = _json(capsys, "routes", str(tmp_path / "t.yaml"), "--nic", "app1-nic")
    assert answer["outbound"]["method"] == "None"
    assert main(["routes", str(tmp_path / "t.yaml"), "--nic", "app1-nic"]) == 0
    assert "Outbound to the Internet: none (User route 0.0.0.0/0 -> None" in (
        capsys.readouterr().out)


DYNAMIC = """
vnets:
  v: {region: westeurope, address_space: 10.5.0.0/16, subnets: {s: 10.5.1.0/24}}
vms:
  a: {subnet: v/s}
  b: {subnet: v/s, ip: 10.5.1.9}
"""


def test_a_vm_without_ip_is_listed_as_an_assumption(tmp_path, capsys):
    """docs/scenario.md: a VM without `ip` gets the first free address, "listed as an
    assumption" -- by check, by explain and trace for a flow that shows it, in replay's
    summary.json; a VM given its ip is not."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    topo = tmp_path / "dyn.yaml"
    topo.write_text(DYNAMIC)

    def chosen(notes: list[str]) -> list[str]:
        return [n for n in notes if "assumed" in n and "10.5.1." in n]

    checked = _json(capsys, "check", str(topo))["assumptions"]
    assert len(chosen(checked)) == 1 and "10.5.1.4" in chosen(checked)[0]
    assert "a (dyn.yaml) gives no ip" in chosen(checked)[0]
    explained = _json(capsys, "explain", str(topo), "--vm", "a", "--to", "10.5.1.9:22")
    assert explained["flow"]["sourceIp"] == "10.5.1.4"
    assert len(chosen(explained["assumptions"])) == 1
    traced = _json(capsys, "trace", str(topo), "--vm", "b", "--to", "a:22")
    assert all(len(chosen(t["assumptions"])) == 1 for t in traced)
    frame = Ether() / IP(src="10.5.1.4", dst="10.5.1.9") / TCP(sport=40000, dport=22)
    frame.time = 1.0
    wrpcap(str(tmp_path / "c.pcap"), [frame])
    assert main(["replay", str(topo), str(tmp_path / "c.pcap"), "--out",
                 str(tmp_path / "out"), "--no-pcaps", "--no-parquet", "--no-dropped"]) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(chosen(summary["assumptions"])) == 1


def test_a_flow_between_given_addresses_carries_no_chosen_address_note(capsys):
    explained = _json(capsys, "explain", HUB, "--vm", "app1", "--to", "10.2.1.4:1433")
    assert not [n for n in explained["assumptions"] if "assumed (lowest free" in n]


EDGE = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
  spoke: {region: westeurope, address_space: [10.1.0.0/16],
          subnets: {app: {prefix: 10.1.1.0/24, route_table: to-fw}}}
peerings:
  - {between: [hub, spoke], allow_forwarded_traffic: true}
route_tables:
  to-fw: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance,
                    next_hop_ip: 10.0.1.4}]}
public_ips:
  fw-pip: {address: 20.50.1.10}
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.1.4
    public_ips: [fw-pip]
    collections:
      - {name: out, priority: 100, action: Allow,
         rules: [{name: web, protocols: [TCP], source: ["*"], destination: ["*"], ports: ["*"]}]}
    nat_collections:
      - {name: inbound, priority: 100,
         rules: [{name: web-dnat, protocols: [TCP], source: ["*"], destination: [20.50.1.10],
                  ports: ["8443"], translated_address: 10.1.1.4, translated_port: "443"}]}
vms:
  app1: {subnet: spoke/app, ip: 10.1.1.4}
  app2: {subnet: spoke/app, ip: 10.1.1.5}
"""


def test_latency_histogram_of_a_one_region_network_is_regional(tmp_path, capsys):
    """Packets from the Internet through the firewall's DNAT to a VM of a one-region network
    cross no region: summary.json
    counts them regional, as the timing legs do (no leg global), never global; the
    latency-histogram caveat counts the packets the histogram holds (delivered), not the
    ones that left for the Internet."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    topo = tmp_path / "edge.yaml"
    topo.write_text(EDGE)
    frames = [Ether() / IP(src="203.0.113.50", dst="20.50.1.10") / TCP(sport=51000 + i,
                                                                        dport=8443)
              for i in range(2)]
    frames += [Ether() / IP(src="10.1.1.5", dst="10.1.1.4") / TCP(sport=40000, dport=80)]
    frames += [Ether() / IP(src="10.1.1.5", dst="8.8.8.8") / TCP(sport=41000 + i, dport=443)
               for i in range(3)]
    for i, frame in enumerate(frames):
        frame.time = 1.0 + i / 1000
    wrpcap(str(tmp_path / "c.pcap"), frames)
    assert main(["replay", str(topo), str(tmp_path / "c.pcap"), "--out", str(tmp_path / "out"),
                 "--no-pcaps", "--no-parquet", "--no-dropped"]) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    delivered = summary["dispositions"]["DELIVERED"]
    assert delivered == 3 and summary["dispositions"].get("EXITS_INTERNET") == 3, summary
    latency = summary["latencyNs"]
    assert "global" not in latency and latency["regional"]["count"] == delivered
    assert latency["all"]["count"] == delivered
    caveat = next(c for c in summary["caveats"] if c["key"] == "latency-histogram")
    assert caveat["packets"] == latency["all"]["count"]


def _dnat_scenario(destination: str, address: str = "") -> str:
    pip = f"{{address: {address}}}" if address else "{sku: Standard}"
    return EDGE.replace("fw-pip: {address: 20.50.1.10}", f"fw-pip: {pip}").replace(
        "destination: [20.50.1.10]", f"destination: [{destination}]")


@pytest.mark.parametrize("address", ["20.50.1.10", ""])
def test_dnat_destination_names_a_public_ip(tmp_path, capsys, address):
    """`destination: [fw-pip]` is the public IP fw-pip (docs/scenario.md): its address, given or
    chosen offline; check and explain both read it, and a packet from the Internet to that
    address is translated to app1:443."""
    from scapy.layers.inet import IP, TCP

    from dataplane import load
    from dataplane.engine import Emulator

    topo = tmp_path / "dnat.yaml"
    topo.write_text(_dnat_scenario("fw-pip", address))
    report = _json(capsys, "check", str(topo))
    assert report["valid"]
    pip = next(p["ipAddress"] for p in report["publicIpAddresses"] if p["name"] == "fw-pip")
    assert not address or pip == address
    _json(capsys, "explain", str(topo), "--vm", "app2", "--to", "8.8.8.8:443")
    em = Emulator(load(str(topo)))
    sent = em.send(IP(src="203.0.113.5", dst=pip) / TCP(sport=5000, dport=8443))
    row = sent.row(0)
    assert sent.dispositions()[0].name == "DELIVERED"
    assert (row["final_dst"], row["final_dport"]) == ("10.1.1.4", 443)


@pytest.mark.parametrize("command", ["check", "explain"])
def test_an_unreadable_dnat_address_fails_at_load_naming_file_and_property(tmp_path, capsys,
                                                                          command):
    topo = tmp_path / "dnat.yaml"
    topo.write_text(_dnat_scenario("no-such-pip"))
    extra = ["--vm", "app2", "--to", "8.8.8.8:443"] if command == "explain" else []
    assert main([command, str(topo), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(topo) in err and "resource 'fw'" in err and "'no-such-pip'" in err
    assert ("properties.natRuleCollections[0].properties.rules[0].destinationAddresses[0]"
            in err)


def test_check_lists_the_azure_firewalls(tmp_path, capsys):
    """check's Azure Firewall section (table and JSON, az's keys): name, SKU tier, private IP,
    public IPs with their addresses, classic collection counts, DNS proxy."""
    topo = tmp_path / "dnat.yaml"
    topo.write_text(_dnat_scenario("fw-pip", "20.50.1.10").replace(
        "public_ips: [fw-pip]", "public_ips: [fw-pip]\n    dns_proxy: true\n    sku: Premium"))
    (fw,) = _json(capsys, "check", str(topo))["azureFirewalls"]
    assert fw["name"] == "fw" and fw["privateIPAddress"] == "10.0.1.4"
    assert fw["sku"] == {"tier": "Premium"}
    assert fw["publicIPAddresses"] == [{"name": "fw-pip", "ipAddress": "20.50.1.10"}]
    assert fw["firewallPolicy"] is None
    assert (fw["networkRuleCollections"], fw["applicationRuleCollections"],
            fw["natRuleCollections"]) == (1, 0, 1)
    assert fw["additionalProperties"] == {"Network.DNS.EnableProxy": "true"}
    assert main(["check", str(topo)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    section = out[out.index("Azure Firewalls:"):].split("\n\n")[0].splitlines()
    first = section[3].split()  # title, header, rule, then the row (its cells may wrap)
    assert first[:6] == ["fw", "Premium", "10.0.1.4", "fw-pip", "20.50.1.10", "-"]
    assert first[-1] == "yes" and "classic: network 1," in section[3]


def test_check_names_a_firewall_policy_and_its_base(capsys):
    """A policy-governed firewall: the policy, its base policy, its rule collection groups."""
    from dataclasses import replace

    from dataplane import load
    from dataplane.cli.check import check_report, render_text
    from dataplane.model import FirewallPolicy

    rg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/"
    topology = load(HUB)
    child = FirewallPolicy(rg + "child", "child", "westeurope", base_policy=rg + "parent",
                           dns_proxy_enabled=True)
    (fw,) = topology.azure_firewalls
    topology = replace(topology, firewall_policies=(child,),
                       azure_firewalls=(replace(fw, firewall_policy=child.id),))
    report = check_report(topology)
    (row,) = report["azureFirewalls"]
    assert row["firewallPolicy"] == {
        "id": child.id, "name": "child", "inInput": True, "basePolicy": {"id": rg + "parent"},
        "ruleCollectionGroups": 0, "dnsSettings": {"enableProxy": True}}
    text = render_text(topology, report)
    row = text[text.index("Azure Firewalls:"):].splitlines()[3]
    assert "child (base parent)" in row and row.split()[-1] == "yes"
    assert "policy: 0 rule" in row


LOCATION = ("/home/me/templates/arm/ans_netsec-demo-lab-standard.AzNetSecdeploy.json#resources[0]."
            "properties.template.resources[0]:")
RESOURCE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vnet-dataplane-rg"
               "/providers/Microsoft.Network/virtualHubs/Hub-01")


def _cuts(wrapped: str, word: str) -> list[str]:
    """The characters `word` (no spaces) was cut after by the line breaks inside it."""
    parts = [line.strip() for line in wrapped.splitlines()]
    flat = "".join(parts)
    start, ends, at = flat.index(word), [], 0
    for part in parts[:-1]:
        at += len(part)
        ends.append(at)
    return [flat[end - 1] for end in ends if start < end < start + len(word)]


def test_a_warning_label_never_stands_alone_and_paths_break_after_a_slash():
    """check's '  Code: /long/path#json.path: ...' at 100 columns: the label keeps the start of
    the location on its line; the location is cut only after '/' or '#' (never inside the
    file name or after a '.' of a property path); a resource id only after '/'."""
    from dataplane.textable import fit

    text = fit(f"  PropertyNotModelled: {LOCATION} resource 'VN-HUB': property "
               f"'properties.virtualHub' ({{'id': '{RESOURCE_ID}'}}) is not modelled", 100)
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith("  PropertyNotModelled: /home/")
    assert "AzNetSecdeploy.json#" in text and "ans_netsec-demo-lab-standard.AzNetSecdeploy" in text
    assert "resources[0].properties.template.resources[0]:" in text
    assert _cuts(text, LOCATION) and set(_cuts(text, LOCATION)) <= {"/", "#"}
    assert set(_cuts(text, RESOURCE_ID)) <= {"/"}
    assert "Microsoft.Network/" in text
    bullet = fit("  ! " + RESOURCE_ID + " is a hub", 100).splitlines()
    assert bullet[0].startswith("  ! /subscriptions/") and bullet[0] != "  !"


def test_help_descriptions_are_reflowed_paragraphs(capsys):
    """trace --help: a docstring's hard-wrapped paragraph is re-flowed, not wrapped line by line
    ("Both packets" / "go" / "through" on lines of their own)."""
    with pytest.raises(SystemExit):
        main(["trace", "--help"])
    out = capsys.readouterr().out
    description = out[out.index("\n\n") + 2:out.index("positional arguments")]
    for paragraph in description.strip().split("\n\n"):
        lines = paragraph.splitlines()
        assert all(len(line) <= 100 for line in lines)
        assert all(len(line) > 60 for line in lines[:-1]), paragraph
    assert "Both packets go through the engine" in " ".join(description.split())
