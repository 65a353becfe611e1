"""Properties that were silent and can change a verdict (load/unread.py, never silently wrong):
each set so that it matters is a `check` warning and a named caveat `unread:RESOURCE:PATH` on
the watcher answers it touches, and only on those:

* a subnet's `serviceEndpoints` covering some regions only (`locations` absent or not '*');
* a subnet's `delegations` (the service's network intent policies);
* a VNet's `dhcpOptions.dnsServers` naming a custom DNS server: on the answers whose packet the
  DNS host service (168.63.129.16:53) answers, not on the VNet's other answers;
* a classic Azure Firewall's `threatIntelMode: Deny`;
* a private endpoint's `applicationSecurityGroups`, when an NSG rule names one of them;
* a connection's `connectionMode` other than Default (explain's gateway hop names its
  connections, as the engine's gateway node does).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dataplane import watcher
from dataplane.cli import main
from dataplane.control.caveats import topology_caveats
from dataplane.control.validate import validate
from dataplane.errors import PROPERTY_NOT_MODELLED
from dataplane.load import read_resources
from dataplane.load.resources import resources_to_topology
from dataplane.model import Topology

HUB = """
vnets:
  v:
    region: westeurope
    address_space: [10.1.0.0/16]
    subnets:
      app: {prefix: 10.1.1.0/24, service_endpoints: [Microsoft.Storage], route_table: rt}
      db: 10.1.2.0/24
      pe: 10.1.3.0/24
      AzureFirewallSubnet: 10.1.255.0/26
      GatewaySubnet: 10.1.254.0/27
    gateway: {name: vpngw, type: Vpn, sku: VpnGw1}
asgs: [pe-asg, web-asg]
nsgs:
  app-nsg:
    rules:
      - {name: deny-pe, priority: 100, direction: Outbound, access: Deny, protocol: Tcp,
         source: "*", destination_asgs: [pe-asg], destination_ports: "443"}
route_tables:
  rt: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance,
                 next_hop_ip: 10.1.255.4}]}
firewalls:
  fw: {subnet: v/AzureFirewallSubnet, ip: 10.1.255.4, collections: [
        {name: web, priority: 100, action: Allow, rules: [
          {name: any, protocols: [TCP], source: ["*"], destination: ["*"], ports: ["443"]}]}]}
on_premises:
  site: {prefixes: [192.168.0.0/16], gateway_ip: 203.0.113.10, connect_to: v}
private_endpoints:
  pe1: {subnet: v/pe, ip: 10.1.3.4, group_ids: [blob],
        target: /subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/st}
vms:
  app1: {subnet: v/app, ip: 10.1.1.4, nsg: app-nsg, size: Standard_D2s_v3}
  db1: {subnet: v/db, ip: 10.1.2.4, size: Standard_D2s_v3}
"""


def _resources(tmp: Path, change: Callable[[dict[str, dict]], None] | None = None
               ) -> list[dict]:
    """HUB's resources (by name), changed in place by `change`."""
    (tmp / "hub.yaml").write_text(HUB)
    resources = copy.deepcopy(read_resources(tmp / "hub.yaml")[0])
    for r in resources:
        r.pop("source", None)
    if change is not None:
        change({r["name"]: r for r in resources})
    return resources


def _topology(tmp: Path, change: Callable[[dict[str, dict]], None] | None = None) -> Topology:
    return resources_to_topology(_resources(tmp, change), "hub.json")


def _subnet(by_name: dict[str, dict], name: str) -> dict:
    return next(s for s in by_name["v"]["properties"]["subnets"] if s["name"] == name)


def _unread(topology: Topology) -> list[str]:
    return [c.key for c in topology_caveats(topology) if c.key.startswith("unread:")]


def _named(answer: dict, key_part: str) -> bool:
    return any(key_part in c for c in answer["caveats"])


def _check(tmp: Path, resources: list[dict], capsys) -> str:
    path = tmp / "hub.json"
    path.write_text(json.dumps(resources))
    main(["check", str(path)])
    return " ".join(capsys.readouterr().out.split())


# -- service endpoints: regions -------------------------------------------------------------------
def test_an_endpoint_in_its_vnets_region_only_is_caveated_on_its_subnets_answers(tmp_path,
                                                                               capsys):
    """HUB's app subnet has a Storage endpoint without `locations` (Azure: the VNet's region
    and its pair): app1's next hop carries the caveat, db1's does not."""
    topology = _topology(tmp_path)
    assert _unread(topology) == ["unread:v:properties.subnets[0].properties.serviceEndpoints"]
    (finding,) = [f for f in validate(topology) if f.code == PROPERTY_NOT_MODELLED]
    assert "(a list of 1; Microsoft.Storage in the VNet's region)" in finding.message
    assert "virtual-network-service-endpoints-overview" in finding.message
    app = watcher.next_hop(topology, "app1", "10.1.1.4", "20.60.0.1")
    db = watcher.next_hop(topology, "db1", "10.1.2.4", "20.60.0.1")
    assert _named(app, "serviceEndpoints") and not _named(db, "serviceEndpoints")
    out = _check(tmp_path, _resources(tmp_path), capsys)
    assert ("resource 'v': property 'properties.subnets[0].properties.serviceEndpoints' (a list "
            "of 1; Microsoft.Storage in the VNet's region) is not modelled") in out


def test_listed_regions_are_named_and_every_region_is_silent(tmp_path):
    def regions(locations):
        def change(by_name):
            _subnet(by_name, "app")["properties"]["serviceEndpoints"] = [
                {"service": "Microsoft.Storage", "locations": locations},
                {"service": "Microsoft.Sql"}, {"service": "Microsoft.KeyVault"},
                {"service": "Microsoft.EventHub", "locations": ["*"]}]
        return change

    (finding,) = [f for f in validate(_topology(tmp_path, regions(["westeurope"])))
                  if f.code == PROPERTY_NOT_MODELLED]
    assert ("(a list of 4; Microsoft.Storage in westeurope; Microsoft.Sql, Microsoft.KeyVault "
            "in the VNet's region)") in finding.message
    assert "EventHub" not in finding.message

    def every_region(by_name):
        _subnet(by_name, "app")["properties"]["serviceEndpoints"] = [
            {"service": "Microsoft.Storage", "locations": ["*"]}]

    assert _unread(_topology(tmp_path, every_region)) == []


# -- subnet delegation ----------------------------------------------------------------------------
def test_a_delegated_subnet_is_caveated_on_its_answers_only(tmp_path, capsys):
    def delegate(by_name):
        _subnet(by_name, "db")["properties"]["delegations"] = [
            {"name": "sql", "properties": {"serviceName": "Microsoft.Sql/managedInstances"}}]

    topology = _topology(tmp_path, delegate)
    assert "unread:v:properties.subnets[1].properties.delegations" in _unread(topology)
    db = watcher.ip_flow_verify(topology, "db1", "Inbound", "TCP", "10.1.2.4:1433",
                                "10.1.1.4:40000")
    app = watcher.ip_flow_verify(topology, "app1", "Outbound", "TCP", "10.1.1.4:40000",
                                 "10.1.2.4:1433")
    assert _named(db, "delegations") and not _named(app, "delegations")
    out = _check(tmp_path, _resources(tmp_path, delegate), capsys)
    assert ("PropertyNotModelled: " + str(tmp_path / "hub.json") + ": resource 'v': property "
            "'properties.subnets[1].properties.delegations' (a list of 1) is not modelled") in out


# -- custom DNS servers ---------------------------------------------------------------------------
def _custom_dns(by_name):
    by_name["v"]["properties"]["dhcpOptions"] = {"dnsServers": ["10.1.2.4"]}


def test_custom_dns_servers_touch_the_answers_the_dns_host_service_gives(tmp_path, capsys):
    topology = _topology(tmp_path, _custom_dns)
    assert "unread:v:properties.dhcpOptions.dnsServers" in _unread(topology)
    dns = watcher.explain(topology, "db1", "168.63.129.16:53", "Udp")
    assert dns["engineDisposition"] == "EXITS_PLATFORM"
    assert _named(dns, "dhcpOptions.dnsServers")
    # the VNet's other answers do not carry it: a flow to the custom server itself is modelled
    # (NSGs, routes), and next-hop / ip-flow-verify read no DNS setting
    other = watcher.explain(topology, "app1", "10.1.2.4:53", "Udp")
    assert not _named(other, "dhcpOptions.dnsServers")
    assert not _named(watcher.next_hop(topology, "db1", "10.1.2.4", "168.63.129.16"),
                      "dhcpOptions.dnsServers")
    out = _check(tmp_path, _resources(tmp_path, _custom_dns), capsys)
    assert "property 'properties.dhcpOptions.dnsServers' (a list of 1) is not modelled" in out


def test_azure_dns_itself_as_the_dns_server_is_silent(tmp_path):
    def azure_dns(by_name):
        by_name["v"]["properties"]["dhcpOptions"] = {"dnsServers": ["168.63.129.16"]}

    topology = _topology(tmp_path, azure_dns)
    assert not any("dnsServers" in k for k in _unread(topology))


# -- Azure Firewall threat intelligence -----------------------------------------------------------
@pytest.mark.parametrize(("mode", "caveated"), [("Deny", True), ("Alert", False), ("Off", False)])
def test_threat_intel_deny_is_caveated_on_flows_through_the_firewall(tmp_path, mode, caveated,
                                                                     capsys):
    def threat_intel(by_name):
        by_name["fw"]["properties"]["threatIntelMode"] = mode

    topology = _topology(tmp_path, threat_intel)
    through = watcher.explain(topology, "app1", "8.8.8.8:443")  # app's 0/0 route: the firewall
    assert any(h.get("at") == "fw" for h in through["hops"])
    assert _named(through, "'properties.threatIntelMode' ('Deny')") is caveated
    beside = watcher.explain(topology, "db1", "10.1.1.4:443")  # never crosses the firewall
    assert not _named(beside, "threat intelligence")
    out = _check(tmp_path, _resources(tmp_path, threat_intel), capsys)
    assert ("resource 'fw': property 'properties.threatIntelMode' ('Deny') is not modelled"
            in out) is caveated


# -- private endpoint ASGs ------------------------------------------------------------------------
def _endpoint_in(asg: str):
    def change(by_name):
        asg_id = by_name["app-nsg"]["id"].replace("networkSecurityGroups/app-nsg",
                                                  f"applicationSecurityGroups/{asg}")
        by_name["pe1"]["properties"]["applicationSecurityGroups"] = [{"id": asg_id}]
    return change


def test_an_endpoint_asg_named_by_an_nsg_rule_is_caveated(tmp_path, capsys):
    """pe1 in pe-asg, which app-nsg's deny-pe rule names: app1's verdict towards the endpoint
    (the rule does not match it in the model) carries the caveat."""
    topology = _topology(tmp_path, _endpoint_in("pe-asg"))
    assert "unread:pe1:properties.applicationSecurityGroups" in _unread(topology)
    verdict = watcher.ip_flow_verify(topology, "app1", "Outbound", "TCP", "10.1.1.4:40000",
                                     "10.1.3.4:443")
    assert verdict["access"] == "Allow"  # what the caveat warns of: Azure's rule denies it
    assert _named(verdict, "applicationSecurityGroups")
    out = _check(tmp_path, _resources(tmp_path, _endpoint_in("pe-asg")), capsys)
    assert ("resource 'pe1': property 'properties.applicationSecurityGroups' (a list of 1; "
            "named by NSG rules app-nsg/deny-pe) is not modelled") in out


def test_an_endpoint_asg_no_rule_names_is_silent(tmp_path):
    assert _unread(_topology(tmp_path, _endpoint_in("web-asg"))) == [
        "unread:v:properties.subnets[0].properties.serviceEndpoints"]


# -- connection mode ------------------------------------------------------------------------------
def test_a_gateways_nat_rules_reach_explain_through_the_gateway(tmp_path):
    """The gateway hop names the gateway as the engine's node does ('gateway vpngw'): a
    caveat on the gateway (natRules) reaches explain's answer through it, as it reaches the
    replayed packets crossing the gateway node (engine/path_caveats.py)."""
    def nat_rules(by_name):
        by_name["vpngw"]["properties"]["natRules"] = [{"name": "n"}]

    topology = _topology(tmp_path, nat_rules)
    assert _named(watcher.explain(topology, "db1", "192.168.1.10:443"), "natRules")
    assert not _named(watcher.explain(topology, "db1", "10.1.1.4:443"), "natRules")


def test_a_responder_only_connection_is_caveated_on_flows_through_its_gateway(tmp_path, capsys):
    def responder(by_name):
        (connection,) = [r for r in by_name.values()
                         if r["type"] == "Microsoft.Network/connections"]
        connection["properties"]["connectionMode"] = "ResponderOnly"

    topology = _topology(tmp_path, responder)
    assert [k for k in _unread(topology) if k.endswith("connectionMode")] == [
        "unread:v-to-site:properties.connectionMode"]
    onprem = watcher.explain(topology, "db1", "192.168.1.10:443")
    assert any(h.get("connection") == "v-to-site" for h in onprem["hops"])
    assert _named(onprem, "ResponderOnly")
    assert not _named(watcher.explain(topology, "db1", "10.1.1.4:443"), "ResponderOnly")
    out = _check(tmp_path, _resources(tmp_path, responder), capsys)
    assert "property 'properties.connectionMode' ('ResponderOnly') is not modelled" in out
