"""Scenario YAML: a key no section reads is one clear error naming file, entry and key, with the
closest known key (new-user trial: `fqnds`, `aplication_collections`, a VM's `ipp` were ignored)."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from dataplane.cli import main
from dataplane.errors import InputError
from dataplane.load.scenario import load_scenario_text
from dataplane.load.scenario_keys import check_scenario_keys

NET = ("vnets: {hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: "
       "{AzureFirewallSubnet: 10.0.2.0/26, web: 10.0.1.0/24}}}\n")
FIREWALL = ("firewalls: {fw: {subnet: hub/AzureFirewallSubnet, application_collections: [{name: "
            "apps, priority: 100, action: Allow, rules: [{name: r, source: '*', protocols: "
            "['Https:443'], %s: [www.example.com]}]}]}}\n")


@pytest.mark.parametrize(("text", "resource", "prop", "suggestion"), [
    (NET + FIREWALL % "fqnds", "fw", "application_collections[0].rules[0].fqnds", "fqdns"),
    (NET + "firewalls: {fw: {subnet: hub/AzureFirewallSubnet, aplication_collections: []}}",
     "fw", "aplication_collections", "application_collections"),
    (NET + "vms: {vm1: {subnet: hub/web, ipp: 10.0.1.10}}", "vm1", "ipp", "ip"),
    (NET + "vms: {vm1: {nics: [{subnet: hub/web}, {subnet: hub/web, nsgg: x}]}}", "vm1",
     "nics[1].nsgg", "nsg"),
    (NET.replace("web: 10.0.1.0/24", "web: {prefix: 10.0.1.0/24, route_tabel: rt}"), "hub",
     "subnets.web.route_tabel", "route_table"),
    (NET + "peerings: [{between: [hub, hub], allow_forwarded_trafic: true}]", "peerings[0]",
     "allow_forwarded_trafic", "allow_forwarded_traffic"),
    (NET + "nsgs: {n: {rules: [{name: r, priority: 100, direction: Inbound, access: Allow, "
     "destination_port: 22}]}}", "n", "rules[0].destination_port", "destination_ports"),
    (NET + "load_balancers: {lb: {frontend: {subnet: hub/web, ipp: 10.0.1.9}}}", "lb",
     "frontend.ipp", "ip"),
])
def test_misspelt_key_names_file_entry_key_and_the_closest_known(text, resource, prop,
                                                                  suggestion):
    with pytest.raises(InputError) as info:
        load_scenario_text(text, "lab.yaml")
    error = info.value
    assert (error.file, error.resource, error.property) == ("lab.yaml", resource, prop)
    assert f"did you mean '{suggestion}'?" in error.message


def test_a_key_close_to_nothing_lists_the_known_keys():
    with pytest.raises(InputError) as info:
        load_scenario_text(NET + "public_ips: {pip: {zzzz: 1}}", "lab.yaml")
    assert "known: address, sku, version" in info.value.message


def test_misspelt_section_suggests_the_section():
    with pytest.raises(InputError, match=r"unknown section 'firewals' \(did you mean "
                                         r"'firewalls'\?\)"):
        load_scenario_text(NET + "firewals: {}", "lab.yaml")


def test_the_correct_spelling_loads():
    topo = load_scenario_text(NET + FIREWALL % "fqdns", "lab.yaml")
    (firewall,) = topo.azure_firewalls
    assert firewall.application_rule_collections[0].rules[0].target_fqdns == ("www.example.com",)


@pytest.mark.parametrize("name", ["demo.yaml", "demo-dual-stack.yaml"])
def test_shipped_scenarios_use_only_known_keys(name):
    text = resources.files("dataplane.data").joinpath(name).read_text(encoding="utf-8")
    check_scenario_keys(yaml.safe_load(text), name)  # raises on any unknown key


def test_check_cli_exit_2_one_line(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(NET + "vms: {vm1: {subnet: hub/web, ipp: 10.0.1.10}}\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line == (f"dataplane: error: {path}: resource 'vm1': property 'ipp': unknown key "
                    "'ipp' (did you mean 'ip'?)")
    assert "Traceback" not in captured.err


def test_bgp_sidecar_and_whatif_spec_suggest_the_closest_key(tmp_path):
    from dataplane.load.bgp_sidecar import scenario_bgp_routes
    from dataplane.whatif.spec import parse_spec

    with pytest.raises(InputError) as info:
        scenario_bgp_routes(NET + "bgp_routes: [{peer: x, prefixes: [10.9.0.0/16], aspath: [1]}]",
                            "lab.yaml")
    assert (info.value.resource, info.value.property) == ("bgpRoutes[0]", "aspath")
    assert "did you mean 'asPath'?" in info.value.message
    with pytest.raises(InputError, match=r"unknown key 'workloads' \(did you mean 'workload'\?\)"):
        parse_spec({"name": "s", "base": "demo", "workloads": {}}, "s.yaml",
                   check_topology=False)


def test_a_nic_key_beside_nics_is_refused():
    with pytest.raises(InputError) as info:
        load_scenario_text(NET + "vms: {vm1: {subnet: hub/web, nics: [{subnet: hub/web}]}}",
                           "lab.yaml")
    assert (info.value.resource, info.value.property) == ("vm1", "subnet")
    assert "beside 'nics' is not read" in info.value.message
