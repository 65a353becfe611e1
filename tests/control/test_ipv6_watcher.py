"""IPv6 through the control plane and the watcher commands (issue 17, parts 2 and 3).

Microsoft's dual-stack tutorials reach the IPv6 Internet from a VM whose NSG has no outbound
rule: the default AllowInternetOutBound allows it ("Create an Azure Virtual Machine with a
dual-stack network using the Azure portal",
https://learn.microsoft.com/azure/virtual-network/ip-services/create-vm-dual-stack-ipv6-portal),
so the Internet tag carries IPv6 (assumption internet-tag-ipv6); AzureLoadBalancer carries the
IPv6 probe source (azureloadbalancer-ipv6); a loaded service-tag file's IPv6 prefixes count.
Azure's IP flow verify takes IPv4 only ("IP flow verify overview",
https://learn.microsoft.com/azure/network-watcher/ip-flow-verify-overview): ours answers IPv6
and says it goes beyond it. explain/trace walk IPv6 flows through the engine's stages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataplane import watcher
from dataplane.cli import main
from dataplane.control.servicetags import with_service_tags
from dataplane.control.tags import TagResolver
from dataplane.errors import InputError
from dataplane.load import load
from dataplane.net import parse_ip, parse_prefix

DUAL = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_minimal.json"
DUAL_PUBLIC6 = DUAL.with_name("dual_stack_public_ipv6.json")  # the tutorial VM's public IPv6
VM0_V6 = "ace:cab:deca:deed::4"


@pytest.fixture(scope="module")
def dual():
    return load(DUAL)


def _verify(topology, direction: str, local: str, remote: str, protocol: str = "TCP") -> dict:
    return watcher.ip_flow_verify(topology, "VM0", direction, protocol, local, remote)


def test_ipv6_internet_egress_allowed_by_default_rule(dual) -> None:
    got = _verify(dual, "Outbound", f"[{VM0_V6}]:50000", "[2001:4860:4860::8888]:443")
    assert (got["access"], got["ruleName"]) == ("Allow",
                                                "defaultSecurityRules/AllowInternetOutBound")
    assert any(a.startswith("ip-flow-verify-ipv6:") for a in got["assumptions"])
    ipv4 = _verify(dual, "Outbound", "10.0.0.4:50000", "8.8.8.8:443")
    assert ipv4["ruleName"] == "defaultSecurityRules/AllowInternetOutBound"
    assert not any(a.startswith("ip-flow-verify-ipv6:") for a in ipv4["assumptions"])


@pytest.mark.parametrize("direction, remote, rule", [
    # unique-local space outside the VNet is neither Internet nor VirtualNetwork
    ("Outbound", "[fd00:9::1]:443", "defaultSecurityRules/DenyAllOutBound"),
    ("Outbound", "[ace:cab:deca:deed::5]:443", "defaultSecurityRules/AllowVnetOutBound"),
    ("Inbound", "[2001:4860:4860::8888]:50000", "defaultSecurityRules/DenyAllInBound"),
    ("Inbound", "[fe80::1234:5678:9abc]:50000",
     "defaultSecurityRules/AllowAzureLoadBalancerInBound"),
    ("Inbound", "[ace:cab:deca:deed::5]:50000", "defaultSecurityRules/AllowVnetInBound"),
])
def test_ipv6_default_rules_by_tag(dual, direction: str, remote: str, rule: str) -> None:
    local = f"[{VM0_V6}]:80" if direction == "Inbound" else f"[{VM0_V6}]:50000"
    got = _verify(dual, direction, local, remote)
    assert got["ruleName"] == rule
    assert got["access"] == ("Deny" if rule.endswith(("DenyAllOutBound", "DenyAllInBound"))
                             else "Allow")


def test_ipv6_inbound_ssh_rule_matches_ipv6_too(dual) -> None:
    got = _verify(dual, "Inbound", f"[{VM0_V6}]:22", "[2001:4860:4860::8888]:50000")
    assert (got["access"], got["ruleName"]) == ("Allow", "securityRules/allow-SSH")


def test_internet_tag_ipv6_excludes_the_vnet_space(tmp_path: Path) -> None:
    doc = json.loads(DUAL.read_text())
    doc["variables"]["vnetv6AddressRange"] = "2001:db8:dec::/48"
    doc["variables"]["subnetv6AddressRange"] = "2001:db8:dec:1::/64"
    path = tmp_path / "global.json"
    path.write_text(json.dumps(doc))
    topology = load(path)
    internet = TagResolver(topology).resolve(topology.virtual_networks[0], "Internet")
    assert internet is not None
    six = [p for p in internet if p.version == 6]
    inside = parse_ip("2001:db8:dec:1::4")
    assert not any(p.contains_address(inside) for p in six)
    assert any(p.contains_address(parse_ip("2001:db8:ded::1")) for p in six)
    assert all(parse_prefix("2000::/3").contains(p) for p in six)
    assert sum(p.size for p in six) == parse_prefix("2000::/3").size - 2**80
    got = watcher.ip_flow_verify(topology, "VM0", "Outbound", "TCP", "[2001:db8:dec:1::4]:5000",
                                 "[2001:db8:dec:1::5]:443")
    assert got["ruleName"] == "defaultSecurityRules/AllowVnetOutBound"


def test_file_based_service_tag_ipv6_ranges(tmp_path: Path) -> None:
    doc = json.loads(DUAL.read_text())
    doc["resources"][0]["properties"]["securityRules"].append({
        "name": "deny-storage", "properties": {
            "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "Storage",
            "access": "Deny", "priority": 100, "direction": "Outbound"}})
    path = tmp_path / "storage.json"
    path.write_text(json.dumps(doc))
    tags = tmp_path / "ServiceTags_Public.json"
    tags.write_text(json.dumps({"changeNumber": 9, "cloud": "Public", "values": [
        {"name": "Storage", "id": "Storage", "properties": {
            "addressPrefixes": ["52.239.216.0/23", "2603:1000::/40"]}}]}))
    topology = with_service_tags(load(path), tags)
    denied = _verify(topology, "Outbound", f"[{VM0_V6}]:5000", "[2603:1000::10]:443")
    assert (denied["access"], denied["ruleName"]) == ("Deny", "securityRules/deny-storage")
    other = _verify(topology, "Outbound", f"[{VM0_V6}]:5000", "[2603:1001::10]:443")
    assert other["ruleName"] == "defaultSecurityRules/AllowInternetOutBound"
    rules = watcher.effective_security_rules(topology, "nic0")
    assert "2603:1000::/40" in rules["value"][0]["tagMap"]["Storage"]


def test_next_hop_ipv6(dual) -> None:
    internet = watcher.next_hop(dual, "VM0", VM0_V6, "2001:4860:4860::8888")
    local = watcher.next_hop(dual, "VM0", VM0_V6, "ace:cab:deca:deed::5")
    outside = watcher.next_hop(dual, "VM0", VM0_V6, "fd00:9::1")
    assert [r["nextHopType"] for r in (internet, local, outside)] == [
        "Internet", "VnetLocal", "Internet"]
    assert internet["routeTableId"] == "System Route"
    assert any(a.startswith("next-hop-ipv6:") for a in internet["assumptions"])
    ipv4 = watcher.next_hop(dual, "VM0", "10.0.0.4", "8.8.8.8")
    assert not any(a.startswith("next-hop-ipv6:") for a in ipv4["assumptions"])
    # the outbound method shown is the IPv6 one (control/outbound6.py): the fixture's IPv6 ip
    # configuration has no public IPv6 and no load balancer, so none ("What is IPv6 for Azure
    # Virtual Network?", ipv6-overview: only when explicitly requested), while IPv4 has default
    # outbound access
    assert internet["outbound"]["method"] == "None"
    assert ipv4["outbound"]["method"] == "DefaultOutboundAccess"
    assert not any(c.startswith("IPv6 outbound") for c in internet["caveats"] + ipv4["caveats"])
    # no gateway on the path: the gateway next-hop assumption does not apply, so is not printed
    assert not any(a.startswith("gateway-next-hop-ip") for a in ipv4["assumptions"])


def test_next_hop_ipv6_user_route(tmp_path: Path) -> None:
    """An IPv6 user route to an NVA decides IPv6 next hops (the route table id is returned, as
    Microsoft's next-hop overview says for user-defined routes)."""
    doc = json.loads(DUAL.read_text())
    doc["resources"].insert(0, {
        "type": "Microsoft.Network/routeTables", "apiVersion": "2023-09-01", "name": "rt6",
        "location": "eastus2", "properties": {"routes": [{"name": "v6-default", "properties": {
            "addressPrefix": "::/0", "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "ace:cab:deca:deed::5"}}]}})
    vnet = next(r for r in doc["resources"] if r["type"].endswith("virtualNetworks"))
    vnet["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": "[resourceId('Microsoft.Network/routeTables', 'rt6')]"}
    path = tmp_path / "udr6.json"
    path.write_text(json.dumps(doc))
    topology = load(path)
    hop = watcher.next_hop(topology, "VM0", VM0_V6, "2001:4860:4860::8888")
    assert (hop["nextHopType"], hop["nextHopIpAddress"]) == ("VirtualAppliance",
                                                            "ace:cab:deca:deed::5")
    assert hop["routeTableId"].endswith("/routeTables/rt6")
    assert watcher.next_hop(topology, "VM0", "10.0.0.4", "8.8.8.8")["nextHopType"] == "Internet"


@pytest.mark.parametrize("text, port_required, expected", [
    ("10.0.0.4:80", True, ("10.0.0.4", 80)),
    ("[2001:db8::1]:443", True, ("2001:db8::1", 443)),
    ("[2001:db8::1]", False, ("2001:db8::1", None)),
    ("2001:db8::1:443", False, ("2001:db8::1:443", None)),  # a bare IPv6 address takes no port
    ("10.0.0.4", False, ("10.0.0.4", None)),
])
def test_parse_endpoint(text: str, port_required: bool, expected: tuple) -> None:
    address, port = watcher.parse_endpoint(text, "x", port_required=port_required)
    assert (str(address), port) == expected


@pytest.mark.parametrize("text", ["2001:db8::1:443", "[10.0.0.4]:80", "[2001:db8::1]:70000",
                                  "[2001:db8::1]x", "10.0.0.4"])
def test_parse_endpoint_refuses(text: str) -> None:
    with pytest.raises(InputError):
        watcher.parse_endpoint(text, "x", port_required=True)


def test_mixed_families_are_refused(dual) -> None:
    with pytest.raises(InputError, match="different IP versions"):
        _verify(dual, "Outbound", f"[{VM0_V6}]:5000", "8.8.8.8:443")
    with pytest.raises(InputError, match="different IP versions"):
        watcher.next_hop(dual, "VM0", "10.0.0.4", "2001:4860:4860::8888")


def test_explain_ipv6_walks_the_engine_to_the_ipv6_internet(capsys) -> None:
    # the dual-stack tutorial's VM (its public IPv6: DUAL_PUBLIC6) reaches the IPv6 Internet:
    # route ::/0 Internet, allowed by the default AllowInternetOutBound (issue 17: the engine
    # decides IPv6 packets); its source is translated to the public IPv6 address
    got = watcher.explain(load(DUAL_PUBLIC6), "VM0", "[2001:4860:4860::8888]:443")
    assert (got["engineDisposition"], got["disposition"], got["deciding"]) == (
        "EXITS_INTERNET", "LeftNetwork", "route System ::/0 Internet")
    assert [h["step"] for h in got["hops"]] == ["nsg-outbound", "route", "nat", "exit"]
    assert (got["flow"]["sourceIp"], got["flow"]["destinationPort"]) == (VM0_V6, 443)
    assert any(a.startswith("engine-ipv6:") for a in got["assumptions"])
    assert any(a.startswith("ipv6-internet-egress:") for a in got["assumptions"])
    # without a public IPv6 (the fixture DUAL) there is no IPv6 Internet (ipv6-overview)
    none = watcher.explain(load(DUAL), "VM0", "[2001:4860:4860::8888]:443")
    assert (none["engineDisposition"], none["disposition"]) == ("NO_IPV6_INTERNET", "Dropped")
    assert main(["explain", str(DUAL), "--vm", "VM0", "--to", "2001:4860:4860::8888"]) == 0
    text = capsys.readouterr().out
    assert "no IPv6 Internet access (no public IPv6, no load balancer IPv6 frontend)" in text
    assert "=> Dropped: NoIpv6InternetAccess" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert main(["explain", str(DUAL_PUBLIC6), "--vm", "VM0", "--to",
                 "2001:4860:4860::8888"]) == 0
    out = capsys.readouterr().out
    assert "=> LeftNetwork: to the Internet  [decided by route System ::/0 Internet]" in out
    assert "SNAT at VM0: source [ace:cab:deca:deed::4]:" in out  # IPv6 endpoints bracketed
    assert "=> UNSUPPORTED" not in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_trace_ipv6_decides_the_forward_packet(capsys) -> None:
    assert main(["trace", str(DUAL_PUBLIC6), "--vm", "VM0", "--to", "[2001:4860:4860::8888]:443",
                 "-o", "json"]) == 0
    answer, back = json.loads(capsys.readouterr().out)
    assert (answer["disposition"], answer["destinationPort"], answer["sourceIp"],
            answer["deciding"]) == ("EXITS_INTERNET", 443, VM0_V6, "route System ::/0 Internet")
    assert answer["hops"]
    # it left through the VM's public IPv6 (SNAT): the reply comes back to that address and is
    # un-SNATed to the VM (trace sends the reply of a source-translated Internet flow)
    snat = next(h for h in answer["hops"] if h["step"] == "nat")
    assert (back["sourceVm"], back["destinationIp"], back["disposition"]) == (
        None, snat["translated"]["sourceIp"], "DELIVERED")
    assert back["hops"][0]["translated"]["destinationIp"] == VM0_V6
    assert main(["trace", str(DUAL_PUBLIC6), "--vm", "VM0", "--to", "2001:4860:4860::8888"]) == 0
    text = capsys.readouterr().out
    # the IPv4 trace's format (issue 17: IPv6 trace sends both ways like IPv4)
    assert text.startswith(f"forward: {VM0_V6} -> 2001:4860:4860::8888 TCP 80: EXITS_INTERNET "
                           "(route System ::/0")
    assert f"return: 2001:4860:4860::8888 -> {snat['translated']['sourceIp']} TCP 49152: " \
        "DELIVERED" in text  # the header gives the destination port: the client's


def test_ipv6_flow_from_ipv4_only_nic_is_a_usage_error(tmp_path: Path, capsys) -> None:
    doc = json.loads(DUAL.read_text())
    nic = next(r for r in doc["resources"] if r["type"].endswith("networkInterfaces"))
    nic["properties"]["ipConfigurations"].pop()
    path = tmp_path / "v4.json"
    path.write_text(json.dumps(doc))
    assert main(["explain", str(path), "--vm", "VM0", "--to", "2001:4860:4860::8888"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no IPv6 ip configuration" in err and "\n" not in err


def test_ip_flow_verify_cli_help_says_azure_takes_ipv4_only(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["ip-flow-verify", "--help"])
    assert "Azure's IP flow verify takes IPv4 only" in " ".join(capsys.readouterr().out.split())


def test_explain_names_a_public_address_chosen_offline_only_where_the_walk_shows_one() -> None:
    # New-user trial: explain printed "SNAT ... -> [2001:db8:e0:...]" (an address the input does
    # not carry, chosen by control/public_addresses.py) without the public-address-allocation
    # assumption that replay and check print.
    from importlib import resources

    dual = load(resources.files("dataplane.data").joinpath("demo-dual-stack.yaml"))
    out = watcher.explain(dual, "web1", "[2001:4860:4860::8888]:443")
    assert any("SNAT" in str(h) for h in out["hops"])
    assert any(a.startswith("public-address-allocation:") for a in out["assumptions"])
    inside = watcher.explain(dual, "web1", "[fd00:db8:2:1::4]:1433")
    assert not any(a.startswith("public-address-allocation:") for a in inside["assumptions"])
