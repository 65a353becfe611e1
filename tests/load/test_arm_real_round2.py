"""The two real templates added in round 2: what they deploy, evaluated and loaded.

- `aqt_vnet-transitive-bgp` (Azure quickstart "VNet-to-VNet connection with transitive BGP"): three
  VNets, each with a route-based VPN gateway with BGP and its own ASN, and VNet-to-VNet connections
  A<->B and B<->C only, so A reaches C only through what B's gateway re-advertises.
- `aqt_fwm-docs-qs` (Azure Firewall Manager quickstart "secured virtual hub"): a Virtual WAN, a hub
  with an Azure Firewall (AZFW_Hub) governed by a Firewall Policy with one application rule, and a
  spoke VNet connected to the hub whose traffic the hub route table sends to the firewall.

Both the evaluator's output (what ARM would deploy) and the loaded Topology (what we model) are
checked; every resource either becomes part of the model or is reported as unknown, never dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dataplane
from dataplane.control.validate import validate
from dataplane.load.arm.template import TemplateResult, evaluate_template
from dataplane.model import Topology
from dataplane.net import parse_prefix

TRANSITIVE = "aqt_vnet-transitive-bgp.azuredeploy"
SECURED_HUB = "aqt_fwm-docs-qs.azuredeploy"


def _paths(real_dir: Path, stem: str) -> tuple[Path, Path]:
    return real_dir / "arm" / f"{stem}.json", real_dir / "arm" / f"{stem}.parameters.json"


def _of_type(result: TemplateResult, kind: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result.resources if r["type"] == kind}


def _last(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[1]


def _modelled_ids(topology: Topology) -> set[str]:
    ids: set[str] = set()
    for field in ("virtual_networks", "network_security_groups", "route_tables",
                  "network_interfaces", "virtual_machines", "virtual_network_gateways",
                  "local_network_gateways", "connections", "load_balancers", "azure_firewalls",
                  "firewall_policies", "ip_groups", "virtual_hubs", "public_ip_addresses",
                  "nat_gateways", "private_endpoints"):
        ids |= {item.id.lower() for item in getattr(topology, field)}
    for vnet in topology.virtual_networks:
        ids |= {subnet.id.lower() for subnet in vnet.subnets}
    return ids


def _assert_nothing_vanishes(result: TemplateResult, topology: Topology) -> None:
    """Each deployed resource is modelled (a child folded into its modelled parent counts) or
    listed as unknown (reported by `check`)."""
    modelled = _modelled_ids(topology)
    unknown = {u.id.lower() for u in topology.unknown_resources}

    def kept(rid: str) -> bool:
        return rid in unknown or any(rid == m or rid.startswith(m + "/") for m in modelled)

    lost = [r["id"] for r in result.resources if not kept(r["id"].lower())]
    assert lost == []


# --- VNet-to-VNet with transitive BGP ----------------------------------------------------------

def _evaluated_and_loaded(real_dir: Path, stem: str) -> tuple[TemplateResult, Topology]:
    """What ARM would deploy (the evaluator) and what we model (the front door)."""
    template, parameters = _paths(real_dir, stem)
    return (evaluate_template(template, parameters),
            dataplane.load(template, parameters=parameters))


@pytest.fixture
def transitive(real_dir: Path) -> tuple[TemplateResult, Topology]:
    return _evaluated_and_loaded(real_dir, TRANSITIVE)


def test_transitive_bgp_deploys_three_vnets_with_bgp_gateways(transitive) -> None:
    result, _ = transitive
    vnets = _of_type(result, "Microsoft.Network/virtualNetworks")
    assert {name: v["properties"]["addressSpace"]["addressPrefixes"] for name, v in vnets.items()} == {
        "vNet1-westeurope": ["10.0.0.0/23"], "vNet2-westeurope": ["10.0.2.0/23"],
        "vNet3-westeurope": ["10.0.4.0/23"]}
    for vnet in vnets.values():
        subnets = {s["name"]: s["properties"]["addressPrefix"] for s in vnet["properties"]["subnets"]}
        space = parse_prefix(vnet["properties"]["addressSpace"]["addressPrefixes"][0])
        assert set(subnets) == {"subnet1", "GatewaySubnet"}
        assert all(space.contains(parse_prefix(p)) for p in subnets.values())
    gateways = _of_type(result, "Microsoft.Network/virtualNetworkGateways")
    asns = {name: g["properties"]["bgpSettings"]["asn"] for name, g in gateways.items()}
    assert len(set(asns.values())) == 3, "each gateway has its own ASN"
    for gateway in gateways.values():
        props = gateway["properties"]
        assert (props["gatewayType"], props["vpnType"], props["enableBgp"]) == ("Vpn", "RouteBased", True)


def test_transitive_bgp_connects_a_b_and_b_c_but_never_a_c(transitive) -> None:
    result, topology = transitive
    connections = _of_type(result, "Microsoft.Network/connections")
    pairs = {(_last(c["properties"]["virtualNetworkGateway1"]["id"]),
              _last(c["properties"]["virtualNetworkGateway2"]["id"])) for c in connections.values()}
    assert pairs == {("vNet1-Gateway", "vNet2-Gateway"), ("vNet2-Gateway", "vNet1-Gateway"),
                     ("vNet2-Gateway", "vNet3-Gateway"), ("vNet3-Gateway", "vNet2-Gateway")}
    # The parameters file's sharedKey reaches every connection (parameters are applied).
    assert {c["properties"]["sharedKey"] for c in connections.values()} == {"GEN-UNIQUE"}
    # ARM spells it enableBGP here: property names are case-insensitive, the model reads it.
    assert len(topology.connections) == 4
    assert all(c.connection_type == "Vnet2Vnet" and c.enable_bgp for c in topology.connections)
    assert all(g.enable_bgp and g.vpn_type == "RouteBased" for g in topology.virtual_network_gateways)


def test_transitive_bgp_loads_valid_and_keeps_public_ips_aside(transitive) -> None:
    result, topology = transitive
    assert [f.code for f in validate(topology) if f.severity == "error"] == []
    assert not any(vnet.virtual_network_peerings for vnet in topology.virtual_networks)
    # the gateways' public IPs: no modelled use yet (load/resources.py PUBLIC_IP_USERS)
    assert sorted(u.type for u in topology.unknown_resources) == [
        "Microsoft.Network/publicIPAddresses"] * 3
    _assert_nothing_vanishes(result, topology)


# --- Firewall Manager secured virtual hub --------------------------------------------------------

@pytest.fixture
def secured_hub(real_dir: Path) -> tuple[TemplateResult, Topology]:
    return _evaluated_and_loaded(real_dir, SECURED_HUB)


def test_secured_hub_deploys_a_policy_governed_firewall_in_a_virtual_wan_hub(secured_hub) -> None:
    result, _ = secured_hub
    hub = _of_type(result, "Microsoft.Network/virtualHubs")["Hub-01"]["properties"]
    assert hub["addressPrefix"] == "10.1.0.0/16"
    assert _last(hub["virtualWan"]["id"]) == "VWan-01"
    firewall = _of_type(result, "Microsoft.Network/azureFirewalls")["AzfwTest"]["properties"]
    assert firewall["sku"] == {"name": "AZFW_Hub", "tier": "Standard"}
    assert _last(firewall["virtualHub"]["id"]) == "Hub-01"
    assert _last(firewall["firewallPolicy"]["id"]) == "Policy-01"
    group = _of_type(result, "Microsoft.Network/firewallPolicies/ruleCollectionGroups")[
        "DefaultApplicationRuleCollectionGroup"]
    assert group["id"].endswith("/firewallPolicies/Policy-01/ruleCollectionGroups/"
                                "DefaultApplicationRuleCollectionGroup")
    (collection,) = group["properties"]["ruleCollections"]
    assert (collection["ruleCollectionType"], collection["priority"], collection["action"]["type"]) == (
        "FirewallPolicyFilterRuleCollection", 100, "Allow")
    (rule,) = collection["rules"]
    assert rule["ruleType"] == "ApplicationRule" and rule["targetFqdns"] == ["*.microsoft.com"]
    assert {(p["protocolType"], p["port"]) for p in rule["protocols"]} == {("http", "80"),
                                                                         ("https", "443")}


def test_secured_hub_routes_the_spoke_through_the_hub_firewall(secured_hub) -> None:
    result, _ = secured_hub
    table = _of_type(result, "Microsoft.Network/virtualHubs/hubRouteTables")["RT_VNet"]["properties"]
    assert {(tuple(r["destinations"]), _last(r["nextHop"])) for r in table["routes"]} == {
        (("10.0.1.0/24",), "AzfwTest"), (("0.0.0.0/0",), "AzfwTest")}
    connection = _of_type(result, "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections")[
        "hub-spoke"]["properties"]
    assert _last(connection["remoteVirtualNetwork"]["id"]) == "Spoke-01"
    assert connection["enableInternetSecurity"] is True
    assert _last(connection["routingConfiguration"]["associatedRouteTable"]["id"]) == "RT_VNet"


def test_secured_hub_loads_the_spoke_its_vms_and_the_jump_route(secured_hub) -> None:
    result, topology = secured_hub
    (spoke,) = topology.virtual_networks
    assert spoke.name == "Spoke-01"
    assert {s.name: [str(p) for p in s.address_prefixes] for s in spoke.subnets} == {
        "Workload-SN": ["10.0.1.0/24"], "Jump-SN": ["10.0.2.0/24"]}
    assert {n.name: str(n.primary_ip) for n in topology.network_interfaces} == {
        "netInterface-workload-srv": "10.0.1.4", "netInterface-jump-srv": "10.0.2.4"}
    assert {vm.name: vm.vm_size for vm in topology.virtual_machines} == {
        "Workload-Srv": "Standard_D2_v3", "Jump-Srv": "Standard_D2_v3"}
    (table,) = topology.route_tables
    assert [(str(r.address_prefix), r.next_hop_type) for r in table.routes] == [
        ("0.0.0.0/0", "Internet")]
    (firewall,) = topology.azure_firewalls
    assert firewall.name == "AzfwTest" and firewall.subnet is None  # it lives in the vWAN hub
    assert [f.code for f in validate(topology) if f.severity == "error"] == []
    _assert_nothing_vanishes(result, topology)



def test_the_resource_group_location_is_an_assumption(real_dir: Path) -> None:
    """Templates default `location` to resourceGroup().location: the region we pick is printed."""
    template, parameters = _paths(real_dir, "aqt_vnet-to-vnet-peering.azuredeploy")
    topology = dataplane.load(template, parameters=parameters)
    assert any("resourceGroup() is the resource group 'vnet-dataplane-rg' in 'westeurope'" in a.text
               for a in topology.assumptions)
    assert {v.location for v in topology.virtual_networks} == {"westeurope"}
