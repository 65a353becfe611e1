"""Every real template of the shared real inputs (arm/) either evaluates (and we check what it
deploys) or fails with an InputError that names the resource, the property and the feature."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dataplane.errors import InputError
from dataplane.load.arm.template import TemplateResult, evaluate_template

PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
VNET = "Microsoft.Network/virtualNetworks"
NAME_SETS = {
    "nsg1": "nsg1", "nsg2": "nsg2", "routeTable": "rt", "ddosProtectionPlan": "ddos",
    "vnet1": "hub", "vnet2": "spoke1", "vnet3": "spoke2", "vnet1subnet1": "s11",
    "vnet1subnet2": "s12", "vnet2subnet1": "s21", "vnet2subnet2": "s22", "vnet3subnet1": "s31",
    "vnet3subnet2": "s32",
}


def arm(real_dir: Path, name: str) -> Path:
    return real_dir / "arm" / name


def of_type(result: TemplateResult, kind: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result.resources if r["type"] == kind}


def peerings(result: TemplateResult) -> dict[str, dict[str, Any]]:
    """'vnet/peering' -> properties."""
    return {r["id"].split("/virtualNetworks/")[1].replace("/virtualNetworkPeerings/", "/"):
            r["properties"] for r in result.resources if r["type"] == PEERING}


def remote(props: dict[str, Any]) -> str:
    return props["remoteVirtualNetwork"]["id"].rsplit("/", 1)[1]


def test_every_real_template_is_covered(real_dir: Path) -> None:
    tested = {
        "aqt_vnet-to-vnet-peering.azuredeploy.json", "aqt_demos_hub-and-spoke-sandbox.azuredeploy.json",
        "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json",
        "ans_azfw-forced-tunnel.0-main.azfwForceTunnelTemplate.json",
        "ans_azfw-forced-tunnel.1-azureLinkedTemplate.json",
        "ans_azfw-forced-tunnel.2-onPremLinkedTemplate.json",
        "ans_azfw-forced-tunnel.3-azfwConnectionsLinkedTemplate.json",
        "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json",
        "ans_netsec-demo-lab-standard.AzNetSecdeploy.json", "ans_netsec-demo-lab.Networking.vNets.json",
        "ans_netsec-workshop.labdeployment.json",
        # round 2: tests/load/test_arm_real_round2.py
        "aqt_vnet-transitive-bgp.azuredeploy.json", "aqt_fwm-docs-qs.azuredeploy.json",
    }
    present = {p.name for p in (real_dir / "arm").glob("*.json")
               if not p.name.endswith(".parameters.json") and not p.name.startswith("restapispec")}
    assert present <= tested, f"untested real templates: {sorted(present - tested)}"


def test_vnet_to_vnet_peering(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "aqt_vnet-to-vnet-peering.azuredeploy.json"),
                               arm(real_dir, "aqt_vnet-to-vnet-peering.azuredeploy.parameters.json"))
    vnets = of_type(result, VNET)
    # The parameters file spells vNet1Name: parameter names are case-insensitive.
    assert set(vnets) == {"vNet1peeringtest", "vNet2peeringtest"}
    assert vnets["vNet1peeringtest"]["properties"]["addressSpace"]["addressPrefixes"] == ["10.0.0.0/24"]
    assert vnets["vNet2peeringtest"]["properties"]["subnets"][0]["properties"]["addressPrefix"] == "192.168.0.0/24"
    links = peerings(result)
    assert set(links) == {"vNet1peeringtest/vNet1peeringtest-vNet2peeringtest",
                          "vNet2peeringtest/vNet2peeringtest-vNet1peeringtest"}
    one = links["vNet1peeringtest/vNet1peeringtest-vNet2peeringtest"]
    assert remote(one) == "vNet2peeringtest"
    assert one["allowVirtualNetworkAccess"] is True and one["allowForwardedTraffic"] is False
    assert result.skipped == ()


@pytest.mark.parametrize(("gateway", "prefix", "skipped"), [("No", "peering_", 6), ("Yes", "gwPeering_", 4)])
def test_hub_and_spoke_sandbox(real_dir: Path, gateway: str, prefix: str, skipped: int) -> None:
    result = evaluate_template(arm(real_dir, "aqt_demos_hub-and-spoke-sandbox.azuredeploy.json"),
                               {"winVmUser": "azureuser", "winVmDnsPrefix": "Jump",
                                "deployVpnGateway": gateway})
    assert set(of_type(result, VNET)) == {"hubVnet", "spokeDevVnet", "spokeProdVnet"}
    links = peerings(result)
    assert len(links) == 4 and all(name.split("/")[1].startswith(prefix) for name in links)
    spoke = links[f"spokeDevVnet/{prefix}spokeDevVnet_hubVnet"]
    assert spoke["useRemoteGateways"] is (gateway == "Yes")
    assert links[f"hubVnet/{prefix}hubVnet_spokeDevVnet"]["allowGatewayTransit"] is (gateway == "Yes")
    assert len(result.skipped) == skipped
    subnets = of_type(result, "Microsoft.Network/virtualNetworks/subnets")
    assert subnets["ManagementSubnet"]["properties"]["addressPrefix"] == "192.168.1.0/24"
    assert ("GatewaySubnet" in subnets) is (gateway == "Yes")
    nic = of_type(result, "Microsoft.Network/networkInterfaces")["winJmphostVmNIC"]
    assert nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "192.168.1.4"
    vm = of_type(result, "Microsoft.Compute/virtualMachines")["winJmphostVm"]
    assert vm["properties"]["hardwareProfile"]["vmSize"] == "Standard_D4_v3"
    assert any("primaryEndpoints.blob" in a for a in result.assumptions)


def test_hub_and_spoke_sandbox_needs_its_required_parameters(real_dir: Path) -> None:
    with pytest.raises(InputError, match="required parameter 'winVmUser'") as err:
        evaluate_template(arm(real_dir, "aqt_demos_hub-and-spoke-sandbox.azuredeploy.json"))
    assert err.value.property == "parameters.winVmUser"


def test_dns_proxy_listkeys_is_named(real_dir: Path) -> None:
    with pytest.raises(InputError) as err:
        evaluate_template(arm(real_dir, "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json"),
                          arm(real_dir, "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json"))
    assert err.value.resource == "DevVm/LogAnalytics"
    assert err.value.property == "properties.protectedSettings.workspaceKey"
    assert "unsupported template function 'listKeys'" in str(err.value)


def test_dns_proxy_hub_spoke(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json"),
                               arm(real_dir, "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json"),
                               unsupported="skip")
    vnets = of_type(result, VNET)
    assert set(vnets) == {"HubVnet", "DevelopmentVNet", "ProductionVNet"}
    assert len(peerings(result)) == 4
    firewall = of_type(result, "Microsoft.Network/azureFirewalls")["HubFirewall"]
    assert firewall["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "192.168.0.4"
    for table in of_type(result, "Microsoft.Network/routeTables").values():
        route = table["properties"]["routes"][0]["properties"]
        assert (route["addressPrefix"], route["nextHopType"], route["nextHopIpAddress"]) == (
            "0.0.0.0/0", "VirtualAppliance", "192.168.0.4")
    assert vnets["DevelopmentVNet"]["properties"]["dhcpOptions"]["dnsServers"] == ["192.168.0.4"]
    left_out = {s["name"] for s in result.skipped if "listKeys" in s["reason"]}
    assert left_out == {"DevVm/LogAnalytics", "ProdVm/LogAnalytics"}
    assert "DnsVm" in {s["name"] for s in result.skipped if s["reason"] == "condition is false"}


FORCED = "https://raw.githubusercontent.com/Azure/Azure-Network-Security/master/Lab%20Templates/Lab%20Template%20-%20Azure%20Firewall%20Forced%20Tunnel%20Lab/Templates/Linked%20Templates/"


def test_forced_tunnel_main_names_the_remote_link(real_dir: Path) -> None:
    with pytest.raises(InputError) as err:
        evaluate_template(arm(real_dir, "ans_azfw-forced-tunnel.0-main.azfwForceTunnelTemplate.json"))
    assert err.value.resource == "azureLinkedTemplate"
    assert err.value.property == "properties.templateLink.uri"
    assert "linked template URL" in str(err.value)


def test_forced_tunnel_main_with_local_copies(real_dir: Path) -> None:
    links = {FORCED + "azureLinkedTemplate.json": arm(real_dir, "ans_azfw-forced-tunnel.1-azureLinkedTemplate.json"),
             FORCED + "onPremLinkedTemplate.json": arm(real_dir, "ans_azfw-forced-tunnel.2-onPremLinkedTemplate.json"),
             FORCED + "azfwConnectionsLinkedTemplate.json":
                 arm(real_dir, "ans_azfw-forced-tunnel.3-azfwConnectionsLinkedTemplate.json")}
    # The fourth linked template (diagnostics) is not in the shared copies: named precisely.
    with pytest.raises(InputError) as err:
        evaluate_template(arm(real_dir, "ans_azfw-forced-tunnel.0-main.azfwForceTunnelTemplate.json"),
                          {"adminPassword": "x", "sharedKey": "k"}, linked_templates=links)
    assert err.value.resource == "diagnosticLinkedTemplate"
    assert err.value.property == "properties.templateLink.uri"


def test_forced_tunnel_azure_side(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "ans_azfw-forced-tunnel.1-azureLinkedTemplate.json"))
    vnets = of_type(result, VNET)
    assert vnets["vnet-hub-secured"]["properties"]["addressSpace"]["addressPrefixes"] == ["192.168.0.0/23"]
    links = peerings(result)
    hub = links["vnet-hub-secured/vnet-hub-secured-vnet-spoke-workers"]
    spoke = links["vnet-spoke-workers/vnet-spoke-workers-vnet-hub-secured"]
    assert hub["allowGatewayTransit"] is True and spoke["useRemoteGateways"] is True
    routes = of_type(result, "Microsoft.Network/routeTables")["route-spoke-snets"]["properties"]["routes"]
    # The firewall takes .4 of AzureFirewallSubnet 192.168.0.64/26.
    assert routes[0]["properties"]["nextHopIpAddress"] == "192.168.0.68"
    assert any("secure parameter 'adminPassword'" in a for a in result.assumptions)


def test_forced_tunnel_onprem_side(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "ans_azfw-forced-tunnel.2-onPremLinkedTemplate.json"))
    vnet = of_type(result, VNET)["vnet-onprem"]
    assert [s["name"] for s in vnet["properties"]["subnets"]] == [
        "GatewaySubnet", "snet-onprem-workers", "AzureFirewallSubnet"]
    hops = {r["properties"]["nextHopIpAddress"] for t in of_type(result, "Microsoft.Network/routeTables").values()
            for r in t["properties"]["routes"]}
    assert hops == {"10.100.0.132"}
    assert "Microsoft.Network/localNetworkGateways" in {r["type"] for r in result.resources}


def test_forced_tunnel_connections_raw_multiline_string(real_dir: Path) -> None:
    ids = {"azureVNG": "/vng/a", "azureLNG": "/lng/a", "onPremVNG": "/vng/o", "onPremLNG": "/lng/o",
           "userMI": "/mi/u"}
    result = evaluate_template(arm(real_dir, "ans_azfw-forced-tunnel.3-azfwConnectionsLinkedTemplate.json"), ids)
    connections = of_type(result, "Microsoft.Network/connections")
    assert connections["cn-lgw-onprem-network-to-vgw-vnet-hub-secured"]["properties"][
        "virtualNetworkGateway1"]["id"] == "/vng/a"
    script = of_type(result, "Microsoft.Resources/deploymentScripts")["PowerShellDefaultSite"]
    assert "\n" in script["properties"]["scriptContent"]
    assert "/mi/u" in script["identity"]["userAssignedIdentities"]  # an expression as a key


def test_private_ip_dnat_overlapped(real_dir: Path) -> None:
    result = evaluate_template(
        arm(real_dir, "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json"),
        {"adminPassword": "x"})
    vnets = of_type(result, VNET)
    assert len(vnets) == 5
    assert (vnets["spoke-vnet-1"]["properties"]["addressSpace"]["addressPrefixes"]
            == vnets["spoke-vnet-2"]["properties"]["addressSpace"]["addressPrefixes"] == ["192.168.0.0/24"])
    links = peerings(result)
    assert len(links) == 8
    assert {remote(p) for n, p in links.items() if n.startswith("spoke-vnet-1/")} == {"hub-vnet-1"}
    assert {remote(p) for n, p in links.items() if n.startswith("spoke-vnet-2/")} == {"hub-vnet-2"}
    nics = of_type(result, "Microsoft.Network/networkInterfaces")
    ip = {n: nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] for n, nic in nics.items()}
    # Same prefix in two VNets: each subnet has its own pool.
    assert ip["win-vm-1-nic"] == ip["win-vm-2-nic"] == "192.168.0.4"


def test_netsec_demo_lab_standard(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "ans_netsec-demo-lab-standard.AzNetSecdeploy.json"))
    vnets = of_type(result, VNET)
    assert set(vnets) == {"VN-HUB", "VN-SPOKE1", "VN-SPOKE2"}
    # The nested enableDDoS deployment redeploys VN-HUB with a DDoS plan: the later one is kept.
    assert vnets["VN-HUB"]["properties"]["ddosProtectionPlan"]["id"].endswith("/SOCNSDDOSPLAN")
    assert sum(1 for r in result.resources if r["id"] == vnets["VN-HUB"]["id"]) == 1
    assert any("declared twice" in a for a in result.assumptions)
    links = peerings(result)
    assert len(links) == 4 and all(p["allowForwardedTraffic"] for p in links.values())
    nics = of_type(result, "Microsoft.Network/networkInterfaces")
    assert {n["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] for n in nics.values()} == {
        "10.0.27.4", "10.0.27.68", "10.0.28.4"}
    diag = [r for r in result.resources if r["type"] == "microsoft.insights/diagnosticSettings"]
    assert diag and all("/providers/microsoft.insights/diagnosticSettings/" in r["id"] for r in diag)


@pytest.mark.parametrize("ddos", [False, True])
def test_netsec_demo_lab_old_schema(real_dir: Path, ddos: bool) -> None:
    result = evaluate_template(arm(real_dir, "ans_netsec-demo-lab.Networking.vNets.json"),
                               {"resourceNames": NAME_SETS, "enableDdosProtection": ddos})
    vnets = of_type(result, VNET)
    assert set(vnets) == {"hub", "spoke1", "spoke2"}
    assert [s["name"] for s in vnets["spoke1"]["properties"]["subnets"]] == ["s21", "s22"]
    assert (vnets["hub"]["properties"]["ddosProtectionPlan"] is None) is not ddos
    assert len(peerings(result)) == 4
    assert ("ddos" in {s["name"] for s in result.skipped}) is not ddos


def test_netsec_workshop(real_dir: Path) -> None:
    result = evaluate_template(arm(real_dir, "ans_netsec-workshop.labdeployment.json"),
                               {"adminPassword": "x", "appGwAfdName": "demo"})
    vnets = of_type(result, VNET)
    assert set(vnets) == {"vnet-hub-alpineSkiHouse", "vnet-spoke-workload-1", "vnet-spoke-workload-2"}
    assert len(peerings(result)) == 4
    routes = of_type(result, "Microsoft.Network/routeTables/routes")
    assert routes["DefaultRoute"]["id"].endswith("/routeTables/rt-spokes-to-hub/routes/DefaultRoute")
    assert routes["DefaultRoute"]["properties"]["nextHopIpAddress"] == "10.0.0.4"
    counts = Counter(r["type"] for r in result.resources)
    assert counts["Microsoft.Network/networkInterfaces"] == 4
