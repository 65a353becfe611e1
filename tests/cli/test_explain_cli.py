"""`dataplane explain` / `trace` as a network engineer reads them at 100 columns (findings of the
new-user trial): a bare IPv6 address is one address and the output says how to give a port;
resource ids break only after '/'; no doubled words; assumptions only where the answer used
them; --sni defaults to HTTPS's port."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
DUAL = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_minimal.json"


def _explain(capsys, *argv: str) -> str:
    assert main(["explain", *argv]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100, out
    return out


def test_bare_ipv6_with_a_trailing_group_is_the_address(capsys):
    """fd00:db8:50:1::5:22 is one IPv6 address (never address fd00:db8:50:1::5, port 22)."""
    out = _explain(capsys, str(DUAL), "--vm", "VM0", "--to", "fd00:db8:50:1::5:22")
    flat = " ".join(out.split())
    assert "-> [fd00:db8:50:1::5:22]:80 " in flat
    assert ("'fd00:db8:50:1::5:22' is read as the IPv6 address fd00:db8:50:1::5:22; port 80 "
            "assumed, HTTP without --sni: --to gives none; give one as --to "
            "[fd00:db8:50:1::5:22]:PORT") in flat
    assert main(["explain", str(DUAL), "--vm", "VM0", "--to", "[fd00:db8:50:1::5]:22",
                 "-o", "json"]) == 0
    flow = json.loads(capsys.readouterr().out)["flow"]
    assert (flow["destinationIp"], flow["destinationPort"], flow["portsAssumed"]) == (
        "fd00:db8:50:1::5", 22, False)


def test_trace_says_the_same_for_a_bare_ipv6_address(capsys):
    assert main(["trace", str(DUAL), "--vm", "VM0", "--to", "fd00:db8:50:1::5:22"]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "-> fd00:db8:50:1::5:22 TCP 80:" in flat  # the IPv4 trace's format (issue 17)
    assert ("port 80 assumed, HTTP without --sni: --to gives none; give one as --to "
            "[fd00:db8:50:1::5:22]:PORT") in flat


def test_ipv4_without_a_port_says_which_port_was_assumed(capsys):
    out = _explain(capsys, DEMO, "--vm", "web1", "--to", "10.2.1.4")
    assert ("\n  (port 80 assumed, HTTP without --sni: --to gives none; give one as --to "
            "10.2.1.4:PORT)\n") in out  # one line: which port and why
    out = _explain(capsys, DEMO, "--vm", "web1", "--to", "8.8.8.8", "--sni", "example.com")
    assert ("\n  (port 443 assumed, HTTPS for --sni: --to gives none; give one as --to "
            "8.8.8.8:PORT)\n") in out
    assert "assumed" not in _explain(capsys, DEMO, "--vm", "web1", "--to", "10.2.1.4:1433")


def test_sni_defaults_to_the_https_port(capsys):
    assert main(["explain", DEMO, "--vm", "web1", "--to", "8.8.8.8", "--sni", "example.com",
                 "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["flow"]["destinationPort"] == 443
    assert main(["explain", DEMO, "--vm", "web1", "--to", "8.8.8.8", "--host", "example.com",
                 "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["flow"]["destinationPort"] == 80
    assert main(["trace", DEMO, "--vm", "web1", "--to", "8.8.8.8", "--sni", "example.com",
                 "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["destinationPort"] == 443


def test_sni_and_host_are_only_on_explain_and_trace(capsys):
    from dataplane.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    having = {name for name, sub in commands.items() if "--sni" in sub.format_help()}
    assert having == {"explain", "trace"}


def test_gateway_hop_reads_once(capsys):
    """web2 -> the branch office crosses the hub's VPN gateway: 'gateway hub-gw', once."""
    out = _explain(capsys, DEMO, "--vm", "web2", "--to", "192.168.10.20:443")
    assert re.search(r"^\s+\d+\. gateway hub-gw \(instance", out, re.M), out
    assert not re.search(r"\b(\w+) \1\b", out), out  # no doubled word anywhere


def test_resource_ids_break_only_after_a_slash(capsys):
    """web1 -> 8.8.8.8 follows two user routes, printed with their route tables' ids (longer
    than a line): each id is whole once the line breaks are taken out after its '/'."""
    out = _explain(capsys, DEMO, "--vm", "web1", "--to", "8.8.8.8:443")
    lines = out.splitlines()
    broken = [i for i, line in enumerate(lines) if "/subscriptions/" in line
              and "routeTables/" not in line]
    assert broken, out  # the ids do need breaking at 100 columns
    for i in broken:
        assert lines[i].endswith("/"), lines[i]
        joined = lines[i].lstrip() + "".join(part.strip() for part in lines[i + 1:i + 3])
        assert re.search(r"/subscriptions/[0-9a-f-]{36}/resourceGroups/vnet-dataplane-rg/"
                         r"providers/Microsoft\.Network/routeTables/(spoke-rt|hub-nva-rt)",
                         joined), joined


def test_gateway_assumptions_only_when_used(capsys):
    """No Route Server and no active-active gateway in the demo: route-server-nva-egress and
    gateway-ecmp do not apply to web2 -> branch; vnet-to-vnet-entry neither."""
    assert main(["explain", DEMO, "--vm", "web2", "--to", "192.168.10.20:443", "-o",
                 "json"]) == 0
    keys = {a.split(":", 1)[0] for a in json.loads(capsys.readouterr().out)["assumptions"]}
    assert not keys & {"route-server-nva-egress", "gateway-ecmp", "remote-route-server-nva",
                       "vnet-to-vnet-entry"}, keys


@pytest.mark.parametrize(("nic", "expected"), [("web1-nic", True), ("jumpbox-nic", False)])
def test_udr_default_assumption_only_with_a_default_user_route(capsys, nic, expected):
    """routes prints udr-default-removes-none-routes only where a user route 0.0.0.0/0 to an
    appliance or gateway exists (spoke1's via-nva table; the hub's jumpbox subnet has none)."""
    assert main(["routes", DEMO, "--nic", nic, "-o", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    has_default = any(r["source"] == "User" and "0.0.0.0/0" in r["addressPrefix"]
                      for r in answer["value"])
    assert has_default is expected
    assert ("udr-default-removes-none-routes" in " ".join(answer["assumptions"])) is expected


@pytest.mark.parametrize(("to", "expected"), [("8.8.8.8:443", True), ("10.2.1.4:1433", False)])
def test_internet_non_routable_only_after_an_internet_route(capsys, to, expected):
    """web1 -> 8.8.8.8 leaves by the hub's Internet route (the edge decides whether the
    destination is routable); web1 -> db1 meets no Internet route."""
    assert main(["explain", DEMO, "--vm", "web1", "--to", to, "-o", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert any(h.get("nextHopType") == "Internet" for h in answer["hops"]) is expected
    keys = {a.split(":", 1)[0] for a in answer["assumptions"]}
    assert ("internet-non-routable" in keys) is expected


def test_ipv4_trace_says_which_port_was_assumed(capsys):
    """New-user trial: an IPv4 trace without a port used 80 silently."""
    assert main(["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("(port 80 assumed, HTTP without --sni: --to gives none; give "
                                 "one as --to 10.2.1.4:PORT)")
    assert main(["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433"]) == 0
    assert "assumed" not in capsys.readouterr().out


def test_a_user_route_is_named_by_its_own_id(capsys):
    """New-user trial: '[.../routeTables/to-fw' then ' / default]' on the next line; the route
    is now one id, TABLE_ID/routes/NAME, that breaks only after a '/'."""
    out = _explain(capsys, DEMO, "--vm", "web1", "--to", "8.8.8.8:443")
    flat = "".join(line.strip() if line.startswith("      ") else "\n" + line
                   for line in out.splitlines())
    assert re.search(r"\[/subscriptions/[0-9a-f-]{36}/resourceGroups/vnet-dataplane-rg/providers/"
                     r"Microsoft\.Network/routeTables/spoke-rt/routes/\S+\]", flat), flat
    assert " / " not in out


APP_RULE = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
  spoke1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {app: {prefix: 10.1.1.0/24,
           route_table: to-fw}}}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
route_tables:
  to-fw: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance,
          next_hop_ip: 10.0.1.4}]}
public_ips:
  fw-pip: {address: 20.1.2.3}
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.1.4
    public_ips: [fw-pip]
    application_collections:
      - {name: web, priority: 100, action: Allow, rules: [{name: ex, source: 10.1.0.0/16,
         protocols: ["Https:443"], fqdns: [www.example.com]}]}
vms:
  app1: {subnet: spoke1/app, ip: 10.1.1.4}
"""


@pytest.mark.parametrize(("sni", "snat"), [("www.example.com", True), (None, False)])
def test_application_rule_answers_carry_the_application_rule_assumptions(tmp_path, capsys, sni,
                                                                         snat):
    """New-user trial: an application rule's SNAT listed firewall-dnat-snat (a DNAT
    assumption) and none of the firewall-app-* ones it rests on."""
    path = tmp_path / "app.yaml"
    path.write_text(APP_RULE, encoding="utf-8")
    argv = ["explain", str(path), "--vm", "app1", "--to", "93.184.216.34:443", "-o", "json"]
    assert main(argv + (["--sni", sni] if sni else [])) == 0
    answer = json.loads(capsys.readouterr().out)
    kinds = [h.get("kind", "") for h in answer["hops"] if h["step"] == "nat"]
    assert (kinds == ["SNAT (firewall, application rule)"]) is snat, kinds
    keys = {a.split(":", 1)[0] for a in answer["assumptions"]}
    assert {"firewall-classic", "firewall-app-handshake", "firewall-app-no-name"} <= keys
    assert "firewall-dnat-snat" not in keys
    assert ({"firewall-instance-address", "firewall-snat-port"} <= keys) is snat
