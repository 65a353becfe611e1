"""Watcher answers name the caveats of the resources they read (dataplane/watcher.py,
control/caveats.py nic_resource_ids): a property a spelling away from one the loader reads
(load/near_misses.py PROPERTY_NEAR_MISS) on a NIC's own NSG, its subnet's NSG or its subnet's
route table reaches `ip-flow-verify` and `rules` (the NSGs) and `next-hop` and `routes` (the
route table), `explain` reads them all; a misspelling on another subnet's NSG or route table
reaches none of app1's answers. Text at 100 columns and -o json (Network Watcher's keys kept,
"caveats" an extra key)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest

import dataplane
from dataplane import watcher
from dataplane.cli import main
from dataplane.load import read_resources

# app1 sits in spoke/app (subnet NSG app-nsg, route table app-rt) with its own NIC NSG nic-nsg;
# db1 in spoke/db (db-nsg, db-rt) is another subnet of the same VNet.
SPOKE = """
vnets:
  spoke: {region: westeurope, address_space: [10.1.0.0/16],
          subnets: {app: {prefix: 10.1.1.0/24, nsg: app-nsg, route_table: app-rt},
                    db: {prefix: 10.1.2.0/24, nsg: db-nsg, route_table: db-rt}}}
nsgs:
  app-nsg: {rules: [{name: deny-telnet, priority: 100, direction: Inbound, access: Deny,
                     protocol: Tcp, source: "*", destination: "*", destination_ports: "23"}]}
  nic-nsg: {rules: [{name: allow-https, priority: 100, direction: Inbound, access: Allow,
                     protocol: Tcp, source: "*", destination: "*", destination_ports: "443"}]}
  db-nsg: {rules: [{name: allow-sql, priority: 100, direction: Inbound, access: Allow,
                    protocol: Tcp, source: "*", destination: "*", destination_ports: "1433"}]}
route_tables:
  app-rt: {routes: [{name: blackhole, prefix: 172.16.0.0/12, next_hop: None}]}
  db-rt: {routes: [{name: blackhole, prefix: 172.16.0.0/12, next_hop: None}]}
vms:
  app1: {subnet: spoke/app, ip: 10.1.1.4, size: Standard_D2s_v3, nsg: nic-nsg}
  db1: {subnet: spoke/db, ip: 10.1.2.4, size: Standard_D2s_v3}
"""
# resource -> (where its misspelt property goes, the misspelt name)
MISSPELT = {
    "app-nsg": ("securityRules", "destinationPortRnage"),
    "nic-nsg": ("securityRules", "sourceAddressPrefx"),
    "app-rt": ("routes", "nextHopIpAdress"),
    "db-nsg": ("securityRules", "destinationPortRnage"),
    "db-rt": ("routes", "nextHopIpAdress"),
}


def _key(resource: str) -> str:
    where, name = MISSPELT[resource]
    return f"near-miss:{resource}:properties.{where}[0].properties.{name}"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """SPOKE as ARM-shaped JSON with one misspelt property per NSG and route table (beside the
    right ones, so every resource still means what it did)."""
    tmp = tmp_path_factory.mktemp("nic-path")
    (tmp / "spoke.yaml").write_text(SPOKE)
    resources = copy.deepcopy(read_resources(tmp / "spoke.yaml")[0])
    for raw in resources:
        raw.pop("source", None)
        if raw["name"] in MISSPELT:
            where, name = MISSPELT[raw["name"]]
            raw["properties"][where][0]["properties"][name] = "x"
    path = tmp / "spoke.json"
    path.write_text(json.dumps(resources))
    return path


@pytest.fixture(scope="module")
def topology(template):
    return dataplane.load(template)


def _texts(topology, *resources: str) -> set[str]:
    """The near-miss caveat texts of `resources` (control/caveats.py topology_caveats)."""
    from dataplane.control.caveats import topology_caveats
    found = {c.key: c.text for c in topology_caveats(topology)}
    return {found[_key(r)] for r in resources}


def test_every_misspelling_is_a_named_caveat_of_the_topology(topology):
    from dataplane.control.caveats import topology_caveats
    keys = {c.key for c in topology_caveats(topology)}
    assert {_key(r) for r in MISSPELT} <= keys


def test_ip_flow_verify_names_the_nic_nsg_and_the_subnet_nsg(topology):
    answer = watcher.ip_flow_verify(topology, "app1", "Inbound", "TCP", "10.1.1.4:23",
                                    "10.9.9.9:40000")
    assert answer["access"] == "Deny" and answer["ruleName"] == "securityRules/deny-telnet"
    caveats = set(answer["caveats"])
    assert _texts(topology, "app-nsg", "nic-nsg") <= caveats
    assert not _texts(topology, "app-rt", "db-nsg", "db-rt") & caveats  # not read


def test_rules_name_the_nsgs_they_list(topology):
    caveats = set(watcher.effective_security_rules(topology, "app1-nic")["caveats"])
    assert _texts(topology, "app-nsg", "nic-nsg") <= caveats
    assert not _texts(topology, "app-rt", "db-nsg", "db-rt") & caveats


def test_next_hop_names_the_route_table_not_the_nsgs(topology):
    answer = watcher.next_hop(topology, "app1", "10.1.1.4", "172.16.0.1")
    assert answer["nextHopType"] == "None"
    assert answer["routeTableId"].endswith("/routeTables/app-rt")
    caveats = set(answer["caveats"])
    assert _texts(topology, "app-rt") <= caveats
    assert not _texts(topology, "app-nsg", "nic-nsg", "db-nsg", "db-rt") & caveats


def test_routes_name_the_route_table(topology):
    caveats = set(watcher.effective_route_table(topology, "app1-nic")["caveats"])
    assert _texts(topology, "app-rt") <= caveats
    assert not _texts(topology, "app-nsg", "nic-nsg", "db-nsg", "db-rt") & caveats


def test_the_other_subnet_gets_its_own(topology):
    hop = set(watcher.next_hop(topology, "db1", "10.1.2.4", "172.16.0.1")["caveats"])
    flow = set(watcher.ip_flow_verify(topology, "db1", "Inbound", "TCP", "10.1.2.4:1433",
                                      "10.9.9.9:40000")["caveats"])
    assert _texts(topology, "db-rt") <= hop and _texts(topology, "db-nsg") <= flow
    assert not _texts(topology, "app-nsg", "nic-nsg", "app-rt") & (hop | flow)


def test_explain_reads_both_ends_nic_paths(topology):
    answer = watcher.explain(topology, "app1", "10.1.2.4:1433")
    assert answer["disposition"] == "Delivered"  # db-nsg's inbound rule read on the way in
    assert _texts(topology, "app-nsg", "nic-nsg", "app-rt", "db-nsg", "db-rt") <= set(
        answer["caveats"])


def test_explain_of_a_flow_that_stays_home_names_only_its_nic_path(topology):
    answer = watcher.explain(topology, "app1", "172.16.0.1:443")  # app-rt's None route
    assert answer["disposition"] != "Delivered"
    caveats = set(answer["caveats"])
    assert _texts(topology, "app-nsg", "nic-nsg", "app-rt") <= caveats
    assert not _texts(topology, "db-nsg", "db-rt") & caveats


def _run(*args: str) -> str:
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buffer):
        mp.setenv("COLUMNS", "100")
        assert main(list(args)) == 0
    return buffer.getvalue()


def test_cli_ip_flow_verify_prints_the_caveats_at_100_columns(template, topology):
    text = _run("ip-flow-verify", str(template), "--vm", "app1", "--direction", "Inbound",
                "--protocol", "Tcp", "--local", "10.1.1.4:23", "--remote", "10.9.9.9:40000")
    assert max(len(line) for line in text.splitlines()) <= 100
    words = " ".join(text.split())
    block = words[words.index("Caveats (what the model leaves out"):words.index("Assumptions:")]
    for caveat in _texts(topology, "app-nsg", "nic-nsg"):
        assert f"! {' '.join(caveat.split())}" in block
    assert "app-rt" not in block and "db-nsg" not in block


def test_cli_next_hop_json_keeps_network_watcher_keys_and_adds_caveats(template, topology):
    answer = json.loads(_run("next-hop", str(template), "--vm", "app1", "--source-ip",
                             "10.1.1.4", "--dest-ip", "172.16.0.1", "-o", "json"))
    assert {"nextHopType", "nextHopIpAddress", "routeTableId", "caveats"} <= set(answer)
    assert _texts(topology, "app-rt") <= set(answer["caveats"])
