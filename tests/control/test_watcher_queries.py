"""Network Watcher-style queries and CLI: shapes from docs/azure-behaviour.md §7, quickstart examples."""

from __future__ import annotations

import json

import pytest
from topo_factory import Builder

from dataplane import watcher
from dataplane.cli import main
from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.scenario import load_scenario_text

SCENARIO = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {GatewaySubnet: 10.0.255.0/27, nva: {prefix: 10.0.1.0/24, nsg: nva-nsg}}, gateway: {type: Vpn, sku: VpnGw1}}
  spoke1: {region: northeurope, address_space: [10.1.0.0/16], subnets: {web: {prefix: 10.1.1.0/24, nsg: web-nsg, route_table: spoke-rt}}}
  spoke2: {region: westeurope, address_space: [10.2.0.0/16], subnets: {app: {prefix: 10.2.1.0/24, route_table: spoke-rt}}}
peerings:
  - {vnet: hub, remote: spoke1, allow_forwarded_traffic: true, allow_gateway_transit: true}
  - {vnet: spoke1, remote: hub, allow_forwarded_traffic: true, use_remote_gateways: true}
  - {vnet: hub, remote: spoke2, allow_forwarded_traffic: true}
  - {vnet: spoke2, remote: hub, allow_forwarded_traffic: true}
nsgs:
  web-nsg: {rules: [{name: allow-http, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source: Internet, destination: "*", destination_ports: "80,443"},
                    {name: allow-spokes, priority: 200, direction: Inbound, access: Allow, protocol: "*", source: 10.0.0.0/8, destination: "*", destination_ports: "*"},
                    {name: allow-spokes-out, priority: 200, direction: Outbound, access: Allow, protocol: "*", source: "*", destination: 10.0.0.0/8, destination_ports: "*"}]}
  nva-nsg: {rules: [{name: allow-all-in, priority: 100, direction: Inbound, access: Allow, protocol: "*", source: "*", destination: "*", destination_ports: "*"}]}
route_tables:
  spoke-rt: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4},
                      {name: spokes, prefix: 10.0.0.0/8, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}]}
vms:
  web1: {subnet: spoke1/web, ip: 10.1.1.4, size: Standard_D2s_v3}
  app1: {subnet: spoke2/app, ip: 10.2.1.4, size: Standard_D2s_v3}
  nva1: {subnet: hub/nva, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}
on_premises: {branch: {prefixes: [192.168.0.0/16], connect_to: hub}}
"""


@pytest.fixture(scope="module")
def hub_spoke():
    return load_scenario_text(SCENARIO)


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "hub-spoke.yaml"
    path.write_text(SCENARIO)
    return str(path)


def quickstart():
    """Network Watcher quickstart (diagnose a VM network traffic filter problem): one VM
    with an NSG of default rules only."""
    return (Builder().nsg("myVM-nsg", [])
            .vnet("myVNet", "10.0.0.0/16", subnets={"mySubnet": "10.0.0.0/24"})
            .vm("myVM", "myVNet/mySubnet", "10.0.0.4", nsg="myVM-nsg").build())


def test_ip_flow_verify_quickstart():
    topo = quickstart()
    out = watcher.ip_flow_verify(topo, "myVM", "Outbound", "TCP", "10.0.0.4:60000",
                                 "13.107.21.200:80")
    assert (out["access"], out["ruleName"]) == ("Allow", "defaultSecurityRules/AllowInternetOutBound")
    out = watcher.ip_flow_verify(topo, "myVM", "Outbound", "TCP", "10.0.0.4:60000",
                                 "10.10.10.10:80")
    assert (out["access"], out["ruleName"]) == ("Deny", "defaultSecurityRules/DenyAllOutBound")
    out = watcher.ip_flow_verify(topo, "myVM", "Inbound", "TCP", "10.0.0.4:80",
                                 "10.10.10.10:60000")
    assert (out["access"], out["ruleName"]) == ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert out["assumptions"]


def test_ip_flow_verify_without_nsg_omits_rule_name():
    topo = (Builder().vnet("v", "10.0.0.0/16", subnets={"s": "10.0.0.0/24"})
            .vm("vm", "v/s", "10.0.0.4").build())
    out = watcher.ip_flow_verify(topo, "vm", "Inbound", "UDP", "10.0.0.4:53", "8.8.8.8:1000")
    assert out["access"] == "Allow" and "ruleName" not in out


def test_next_hop_sdk_oracle_and_udr():
    """Fluent SDK test: next hop to 8.8.8.8 is Internet, System Route, no IP."""
    out = watcher.next_hop(quickstart(), "myVM", "10.0.0.4", "8.8.8.8")
    assert {k: out[k] for k in ("nextHopType", "nextHopIpAddress", "routeTableId")} == \
        {"nextHopType": "Internet", "nextHopIpAddress": None, "routeTableId": "System Route"}
    # quickstart (diagnose a VM routing problem): a private address outside the VNet -> None
    out = watcher.next_hop(quickstart(), "myVM", "10.0.0.4", "172.31.0.100")
    assert (out["nextHopType"], out["routeTableId"]) == ("None", "System Route")


def test_next_hop_user_route_and_peering(hub_spoke):
    out = watcher.next_hop(hub_spoke, "web1", "10.1.1.4", "10.2.1.4")
    assert out["nextHopType"] == "VirtualAppliance" and out["nextHopIpAddress"] == "10.0.1.4"
    assert out["routeTableId"].lower().endswith("/routetables/spoke-rt")
    out = watcher.next_hop(hub_spoke, "nva1", "10.0.1.4", "10.1.1.4")
    assert out["nextHopType"] == "VNetGlobalPeering" and out["routeTableId"] == "System Route"


def test_next_hop_prints_the_gateway_assumption_only_for_gateway_next_hops(hub_spoke):
    def keys(out):
        return [a.split(":")[0] for a in out["assumptions"]]
    to_gateway = watcher.next_hop(hub_spoke, "web1", "10.1.1.4", "192.168.1.9")
    assert to_gateway["nextHopType"] == "VirtualNetworkGateway"
    assert "gateway-next-hop-ip" in keys(to_gateway)
    to_nva = watcher.next_hop(hub_spoke, "web1", "10.1.1.4", "10.2.1.4")
    assert "gateway-next-hop-ip" not in keys(to_nva)


def test_names_or_ids_and_errors(hub_spoke):
    nic = hub_spoke.find("network_interfaces", "web1-nic")
    by_name = watcher.effective_route_table(hub_spoke, "web1-nic")
    assert by_name == watcher.effective_route_table(hub_spoke, nic.id)
    assert all(set(r) == {"source", "state", "addressPrefix", "nextHopType", "nextHopIpAddress",
                          "disableBgpRoutePropagation"} for r in by_name["value"])
    with pytest.raises(InputError, match="unknown network interface 'nope'"):
        watcher.effective_route_table(hub_spoke, "nope")
    with pytest.raises(InputError, match="unknown virtual machine"):
        watcher.next_hop(hub_spoke, "ghost", "10.1.1.4", "8.8.8.8")
    with pytest.raises(InputError, match="not an address"):
        watcher.next_hop(hub_spoke, "web1", "10.9.9.9", "8.8.8.8")


def test_effective_security_rules_shape(hub_spoke):
    out = watcher.effective_security_rules(hub_spoke, "web1-nic")
    (group,) = out["value"]
    assert list(group["association"]) == ["subnet"]
    names = [r["name"] for r in group["effectiveSecurityRules"]]
    assert names[0] == "securityRules/allow-http"
    assert "defaultSecurityRules/DenyAllOutBound" in names
    # own space + hub + on-premises via transit + the host's virtual IP + the prefixes of the
    # subnet's route table, whose 0.0.0.0/0 route makes the tag everything (assumption
    # virtualnetwork-udr-prefixes; MicrosoftDocs/azure-docs#22178)
    assert group["tagMap"]["VirtualNetwork"] == ["0.0.0.0/0"]


def test_explain_spoke_to_spoke_through_hub_nva(hub_spoke):
    out = watcher.explain(hub_spoke, "web1", "10.2.1.4:443")
    steps = [h["step"] for h in out["hops"]]
    assert steps == ["nsg-outbound", "route", "peering", "nsg-inbound", "appliance",
                     "nsg-outbound", "route", "peering", "nsg-inbound", "deliver"]
    assert out["disposition"] == "Delivered"
    second_peering = [h for h in out["hops"] if h["step"] == "peering"][1]
    assert second_peering["forwarded"] is True and second_peering["result"] == "Allowed"


def test_explain_forwarded_traffic_refused(hub_spoke):
    from dataclasses import replace

    spoke2 = hub_spoke.vnet("spoke2")
    link = replace(spoke2.virtual_network_peerings[0], allow_forwarded_traffic=False)
    topo = hub_spoke.with_vnet(replace(spoke2, virtual_network_peerings=(link,)))
    out = watcher.explain(topo, "web1", "10.2.1.4:443")
    assert (out["disposition"], out["reason"]) == ("Dropped", "ForwardedTrafficNotAllowed")


def test_explain_gateway_transit_and_loop():
    b = (Builder().vnet("hub", "10.0.0.0/16", subnets={"nva": {"prefix": "10.0.1.0/24",
                                                              "route_table": "loop"}})
         .vnet("spoke", "10.1.0.0/16", subnets={"web": "10.1.1.0/24"})
         .link("spoke", "hub", use_remote_gateways=True).link("hub", "spoke",
                                                              allow_gateway_transit=True)
         .gateway("hub").onprem("branch", ["192.168.0.0/16"], connect_to="hub")
         .route_table("loop", [("self", "8.8.0.0/16", "VirtualAppliance", "10.0.1.4")])
         .vm("web", "spoke/web", "10.1.1.4").vm("nva", "hub/nva", "10.0.1.4", ip_forwarding=True))
    topo = b.build()
    out = watcher.explain(topo, "web", "192.168.1.1")
    assert out["disposition"] == "LeftNetwork" and "branch" in out["reason"]
    assert [h for h in out["hops"] if h["step"] == "gateway"][0]["transit"] is True
    out = watcher.explain(topo, "nva", "8.8.8.8")
    assert (out["disposition"], out["reason"]) == ("Dropped", "RoutingLoop")


def test_explain_nva_without_ip_forwarding():
    topo = (Builder().vnet("v", "10.0.0.0/16", subnets={
        "a": {"prefix": "10.0.1.0/24", "route_table": "rt"}, "b": "10.0.2.0/24"})
        .route_table("rt", [("all", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4")])
        .vm("src", "v/a", "10.0.1.4").vm("nva", "v/b", "10.0.2.4").build())
    out = watcher.explain(topo, "src", "8.8.8.8", protocol="Icmp")
    assert (out["disposition"], out["reason"]) == ("Dropped", "IpForwardingDisabled")


def test_cli_commands(scenario_file, capsys):
    assert main(["routes", scenario_file, "--nic", "web1-nic", "--json"]) == 0
    routes = json.loads(capsys.readouterr().out)
    assert routes["value"][0]["nextHopType"] == "VnetLocal" and routes["assumptions"]
    assert main(["next-hop", scenario_file, "--vm", "web1", "--source-ip", "10.1.1.4",
                 "--dest-ip", "192.168.1.1", "--json"]) == 0
    # the transit gateway route (/16) is more specific than the UDR 0.0.0.0/0
    assert json.loads(capsys.readouterr().out)["nextHopType"] == "VirtualNetworkGateway"
    assert main(["ip-flow-verify", scenario_file, "--vm", "web1", "--direction", "Inbound",
                 "--protocol", "TCP", "--local", "10.1.1.4:80", "--remote", "8.8.8.8:5000",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ruleName"] == "securityRules/allow-http"
    for argv in (["routes", scenario_file, "--nic", "web1-nic"],
                 ["rules", scenario_file, "--nic", "web1-nic"],
                 ["explain", scenario_file, "--vm", "web1", "--to", "10.2.1.4:443"]):
        assert main(argv) == 0
        assert "Assumptions:" in capsys.readouterr().out
    assert main(["rules", scenario_file, "--nic", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown network interface" in err


def test_real_templates_give_routes_for_every_nic(real_dir):
    loaded = 0
    for template in sorted((real_dir / "arm").glob("*.json")):
        if template.name.endswith(".parameters.json") or template.name.startswith("restapispec"):
            continue
        params = template.with_name(template.name.replace(".json", ".parameters.json"))
        try:
            topo = load(str(template), str(params) if params.exists() else None)
        except InputError:
            continue
        loaded += 1
        for nic in topo.network_interfaces:
            out = watcher.effective_route_table(topo, nic.id)
            assert any(r["nextHopType"] == "VnetLocal" for r in out["value"]), nic.id
            watcher.effective_security_rules(topo, nic.id)
    assert loaded
