"""Azure properties the model does not evaluate but that can change a verdict (load/unread.py): a
`check` warning and a named caveat `unread:RESOURCE:PATH` on the answers of the resource they
touch; the property at its default (or absent) stays silent. Two of them are modelled instead:
a load-balancing rule's plural `backendAddressPools` (the union of its pools) and a NAT
gateway's `publicIpAddressesV6` (IPv6 outbound through the NAT gateway: test_unread_nat6.py).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

import dataplane
from dataplane import watcher
from dataplane.cli import main
from dataplane.control.caveats import caveats_touching, topology_caveats
from dataplane.control.validate import validate
from dataplane.errors import PROPERTY_NEAR_MISS, PROPERTY_NOT_MODELLED, InputError
from dataplane.load import read_resources
from dataplane.load.resources import resources_to_topology
from dataplane.load.unread import UNREAD, unread_findings
from dataplane.model import id_key

SUB = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network"

# (resource type, properties, the unread property path, a value at its default or absent)
CASES = [
    ("virtualNetworks", {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
        {"name": "a", "properties": {"addressPrefix": "10.0.1.0/24",
                                     "serviceEndpointPolicies": [{"id": "p"}]}}]},
     "properties.subnets[0].properties.serviceEndpointPolicies", []),
    ("loadBalancers", {"inboundNatPools": [{"name": "ssh"}]}, "properties.inboundNatPools", []),
    ("loadBalancers", {"loadBalancingRules": [{"name": "r", "properties": {
        "loadDistribution": "SourceIP"}}]},
     "properties.loadBalancingRules[0].properties.loadDistribution", "Default"),
    ("loadBalancers", {"frontendIPConfigurations": [{"name": "fe", "properties": {
        "gatewayLoadBalancer": {"id": "g"}}}]},
     "properties.frontendIPConfigurations[0].properties.gatewayLoadBalancer", None),
    ("loadBalancers", {"loadBalancingRules": [{"name": "r", "properties": {
        "idleTimeoutInMinutes": 15}}]},
     "properties.loadBalancingRules[0].properties.idleTimeoutInMinutes", 4),
    ("loadBalancers", {"outboundRules": [{"name": "o", "properties": {
        "idleTimeoutInMinutes": 30}}]},
     "properties.outboundRules[0].properties.idleTimeoutInMinutes", 4),
    ("natGateways", {"idleTimeoutInMinutes": 10}, "properties.idleTimeoutInMinutes", 4),
    ("loadBalancers", {"inboundNatRules": [{"name": "n", "properties": {
        "idleTimeoutInMinutes": 30}}]},
     "properties.inboundNatRules[0].properties.idleTimeoutInMinutes", 4),
    ("publicIPAddresses", {"idleTimeoutInMinutes": 30}, "properties.idleTimeoutInMinutes", 4),
    ("virtualNetworks", {"virtualNetworkPeerings": [{"name": "p", "properties": {
        "enableOnlyIPv6Peering": True}}]},
     "properties.virtualNetworkPeerings[0].properties.enableOnlyIPv6Peering", False),
    ("networkInterfaces", {"disableTcpStateTracking": True},
     "properties.disableTcpStateTracking", False),
    ("networkInterfaces", {"ipConfigurations": [{"name": "c", "properties": {
        "gatewayLoadBalancer": {"id": "g"}}}]},
     "properties.ipConfigurations[0].properties.gatewayLoadBalancer", None),
    ("virtualNetworks", {"encryption": {"enabled": True, "enforcement": "DropUnencrypted"}},
     "properties.encryption", {"enabled": True, "enforcement": "AllowUnencrypted"}),
    ("virtualNetworks", {"flowTimeoutInMinutes": 10}, "properties.flowTimeoutInMinutes", None),
    ("virtualNetworks", {"virtualNetworkPeerings": [{"name": "p", "properties": {
        "peerCompleteVnets": False}}]},
     "properties.virtualNetworkPeerings[0].properties.peerCompleteVnets", True),
    ("virtualNetworkGateways", {"natRules": [{"name": "n"}]}, "properties.natRules", []),
    ("virtualNetworkGateways", {"gatewayDefaultSite": {"id": "site"}},
     "properties.gatewayDefaultSite", None),
    ("virtualNetworkGateways", {"vpnClientConfiguration": {"vpnClientAddressPool": {
        "addressPrefixes": ["172.16.201.0/24"]}}}, "properties.vpnClientConfiguration", None),
    ("azureFirewalls", {"virtualHub": {"id": "hub"}}, "properties.virtualHub", None),
    ("loadBalancers", {"loadBalancingRules": [{"name": "r", "properties": {
        "enableFloatingIP": True}}]},
     "properties.loadBalancingRules[0].properties.enableFloatingIP", False),
    ("connections", {"ingressNatRules": [{"id": "n"}]}, "properties.ingressNatRules", []),
    ("connections", {"egressNatRules": [{"id": "n"}]}, "properties.egressNatRules", []),
    ("connections", {"usePolicyBasedTrafficSelectors": True},
     "properties.usePolicyBasedTrafficSelectors", False),
    ("connections", {"trafficSelectorPolicies": [{"localAddressRanges": ["10.0.0.0/16"]}]},
     "properties.trafficSelectorPolicies", []),
    ("virtualNetworks", {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
        {"name": "a", "properties": {"addressPrefix": "10.0.1.0/24", "serviceEndpoints": [
            {"service": "Microsoft.Storage", "locations": ["westeurope", "northeurope"]}]}}]},
     "properties.subnets[0].properties.serviceEndpoints",
     [{"service": "Microsoft.Storage", "locations": ["*"]}]),
    ("virtualNetworks", {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
        {"name": "a", "properties": {"addressPrefix": "10.0.1.0/24", "delegations": [
            {"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]},
     "properties.subnets[0].properties.delegations", []),
    ("virtualNetworks", {"dhcpOptions": {"dnsServers": ["10.0.0.4"]}},
     "properties.dhcpOptions.dnsServers", ["168.63.129.16"]),
    ("azureFirewalls", {"threatIntelMode": "Deny"}, "properties.threatIntelMode", "Alert"),
    ("connections", {"connectionMode": "ResponderOnly"}, "properties.connectionMode",
     "Default"),
]


def _raw(kind: str, props: dict) -> dict:
    return {"type": f"Microsoft.Network/{kind}", "name": "r", "location": "westeurope",
            "id": f"{SUB}/{kind}/r", "properties": props}


def _set_last(props: dict, path: str, value: object) -> dict:
    """A copy of `props` with the property at `path` (below `properties`) set to `value`."""
    out = copy.deepcopy(props)
    obj: dict = out
    steps = path.split(".")[1:]
    for step in steps[:-1]:
        name, _, index = step.partition("[")
        obj = obj[name][int(index[:-1])] if index else obj[name]
    obj[steps[-1]] = value
    return out


# Entries that matter only with other resources (a private endpoint's ASGs, when an NSG rule
# names them): their tests are in test_unread_silent_properties.py.
WITH_OTHERS = {("microsoft.network/privateendpoints", "applicationSecurityGroups")}


def test_every_unread_entry_has_a_case():
    assert {(u.kind, u.name) for u in UNREAD} - WITH_OTHERS == {
        (f"microsoft.network/{kind.lower()}", path.rsplit(".", 1)[-1])
        for kind, _, path, _ in CASES}


@pytest.mark.parametrize(("kind", "props", "path", "default"), CASES,
                         ids=[c[2].rsplit(".", 1)[-1] + ":" + c[0] for c in CASES])
def test_a_set_property_is_a_warning_and_a_named_caveat(kind, props, path, default):
    (code, message, touched), = unread_findings([_raw(kind, props)], "t.json")
    assert code == PROPERTY_NOT_MODELLED
    assert message.startswith(f"t.json: resource 'r': property '{path}' (")
    assert "is not modelled: " in message and "https://learn.microsoft.com/" in message
    subnet = path.startswith("properties.subnets[")
    assert touched == f"{SUB}/{kind}/r" + ("/subnets/a" if subnet else "")
    # ... and silent at its default value or when absent
    assert unread_findings([_raw(kind, _set_last(props, path, default))], "t.json") == []


def _vnet_with_two_subnets(**subnet_a: object) -> list[dict]:
    """VNet v (a: 10.0.1.0/24 with `subnet_a` properties, b: 10.0.2.0/24), one NIC in each."""
    vnet = _raw("virtualNetworks", {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                    "subnets": [
        {"name": "a", "properties": {"addressPrefix": "10.0.1.0/24", **subnet_a}},
        {"name": "b", "properties": {"addressPrefix": "10.0.2.0/24"}}]})
    vnet["name"], vnet["id"] = "v", f"{SUB}/virtualNetworks/v"
    nics = [{"type": "Microsoft.Network/networkInterfaces", "name": f"nic-{s}",
             "location": "westeurope", "id": f"{SUB}/networkInterfaces/nic-{s}", "properties": {
                 "ipConfigurations": [{"name": "c", "properties": {
                     "subnet": {"id": f"{SUB}/virtualNetworks/v/subnets/{s}"},
                     "privateIPAddress": f"10.0.{i}.4"}}]}}
            for i, s in ((1, "a"), (2, "b"))]
    return [vnet, *nics]


def test_a_firewall_governed_by_a_policy_takes_its_threat_intel_mode_from_the_policy():
    """With a Firewall Policy the firewall's own threatIntelMode is not the one in force (the
    policy's Deny is named by control/firewall_rules.py): no second caveat for it."""
    props = {"threatIntelMode": "Deny",
             "firewallPolicy": {"id": f"{SUB}/firewallPolicies/p"}}
    assert unread_findings([_raw("azureFirewalls", props)], "t.json") == []


def test_service_endpoint_policies_touch_only_their_subnets_answers():
    topology = resources_to_topology(_vnet_with_two_subnets(
        serviceEndpoints=[{"service": "Microsoft.Storage"}],
        serviceEndpointPolicies=[{"id": f"{SUB}/serviceEndpointPolicies/sep"}]), "v.json")
    # (the endpoint, in the VNet's region only, is a finding of its own: test_unread_silent_...)
    (finding,) = [f for f in validate(topology) if f.code == PROPERTY_NOT_MODELLED
                  and "serviceEndpointPolicies" in f.message]
    assert finding.severity == "warning"
    (caveat,) = [c for c in topology_caveats(topology)
                 if c.key.startswith("unread:") and "serviceEndpointPolicies" in c.key]
    assert caveat.key == "unread:v:properties.subnets[0].properties.serviceEndpointPolicies"
    assert "Azure Storage" in caveat.text and "service-endpoint-policies-overview" in caveat.text
    a = f"{SUB}/virtualNetworks/v/subnets/a"
    b = f"{SUB}/virtualNetworks/v/subnets/b"
    assert caveats_touching([caveat], [f"{SUB}/networkInterfaces/nic-a", a]) == [caveat]
    assert caveats_touching([caveat], [f"{SUB}/networkInterfaces/nic-b", b]) == []


def test_next_hop_and_ip_flow_verify_answers_carry_the_caveat():
    """Network Watcher answers about a NIC (watcher.py) name the caveats touching its subnet:
    nic-a's (subnet a, with a service endpoint policy) carry it, nic-b's do not."""
    resources = _vnet_with_two_subnets(
        serviceEndpoints=[{"service": "Microsoft.Storage"}],
        serviceEndpointPolicies=[{"id": f"{SUB}/serviceEndpointPolicies/sep"}])
    for nic in resources[1:]:  # a VM for each NIC (watcher answers name VMs)
        nic["properties"]["virtualMachine"] = {"id": nic["id"].replace(
            "Microsoft.Network/networkInterfaces/nic-", "Microsoft.Compute/virtualMachines/vm-")}
    resources += [{"type": "Microsoft.Compute/virtualMachines", "name": f"vm-{s}",
                   "location": "westeurope", "id": f"{SUB.rsplit('/', 1)[0]}/Microsoft.Compute/"
                   f"virtualMachines/vm-{s}", "properties": {"networkProfile": {
                       "networkInterfaces": [{"id": f"{SUB}/networkInterfaces/nic-{s}"}]}}}
                  for s in "ab"]
    topology = resources_to_topology(resources, "v.json")
    a = watcher.next_hop(topology, "vm-a", "10.0.1.4", "10.0.2.4")
    b = watcher.next_hop(topology, "vm-b", "10.0.2.4", "10.0.1.4")
    assert any("serviceEndpointPolicies" in c for c in a["caveats"])
    assert not any("serviceEndpointPolicies" in c for c in b["caveats"])
    verdict = watcher.ip_flow_verify(topology, "vm-a", "Outbound", "TCP", "10.0.1.4:40000",
                                     "10.0.2.4:443")
    assert any("serviceEndpointPolicies" in c for c in verdict["caveats"])


def test_inbound_nat_pools_are_a_real_property_never_a_near_miss():
    lb = _raw("loadBalancers", {"inboundNatPools": [{"name": "ssh", "properties": {
        "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22,
        "protocol": "Tcp"}}]})
    topology = resources_to_topology([lb], "lb.json")
    codes = [f.code for f in validate(topology)]
    assert PROPERTY_NOT_MODELLED in codes and PROPERTY_NEAR_MISS not in codes
    keys = [c.key for c in topology_caveats(topology)]
    assert "unread:r:properties.inboundNatPools" in keys


def test_check_prints_the_warning_and_stays_valid(tmp_path, capsys):
    path = tmp_path / "v.json"
    path.write_text(json.dumps(_vnet_with_two_subnets(
        serviceEndpointPolicies=[{"id": f"{SUB}/serviceEndpointPolicies/sep"}])))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())
    assert (f"{PROPERTY_NOT_MODELLED}: {path}: resource 'v': property 'properties.subnets[0]."
            "properties.serviceEndpointPolicies' (a list of 1) is not modelled") in words
    assert "VALID" in out.splitlines()[-1]


HUB = """
vnets:
  v: {region: westeurope, address_space: [10.1.0.0/16],
      subnets: {app: 10.1.1.0/24, db: 10.1.2.0/24}}
vms:
  app1: {subnet: v/app, ip: 10.1.1.4, size: Standard_D2s_v3}
  db1: {subnet: v/db, ip: 10.1.2.4, size: Standard_D2s_v3}
"""


def test_replay_summary_counts_the_caveat_on_the_packets_from_that_subnet(tmp_path):
    (tmp_path / "t.yaml").write_text(HUB)
    resources = copy.deepcopy(read_resources(tmp_path / "t.yaml")[0])
    vnet = next(r for r in resources if r["type"] == "Microsoft.Network/virtualNetworks")
    app = next(s for s in vnet["properties"]["subnets"] if s["name"] == "app")
    app["properties"]["serviceEndpointPolicies"] = [{"id": f"{SUB}/serviceEndpointPolicies/s"}]
    for r in resources:
        r.pop("source", None)
    topo = tmp_path / "t.json"
    topo.write_text(json.dumps(resources))
    frames = [Ether() / IP(src="10.1.1.4", dst="10.1.2.4") / TCP(sport=40000 + i, dport=1433)
              for i in range(3)]
    frames += [Ether() / IP(src="10.1.2.4", dst="10.1.2.5") / TCP(sport=41000, dport=22)]
    for i, frame in enumerate(frames):
        frame.time = 1.0 + i / 1000
    wrpcap(str(tmp_path / "c.pcap"), frames)
    out = tmp_path / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["replay", str(topo), str(tmp_path / "c.pcap"), "--out", str(out),
                     "--no-auto-map"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    caveats = {c["key"]: c for c in summary["caveats"]}
    found = caveats["unread:v:properties.subnets[0].properties.serviceEndpointPolicies"]
    assert found["resources"] == ["app"]
    assert found["packets"] == 3  # app1's packets (their path crosses subnet app); db1's not


def test_real_templates_unread_findings(real_dir: Path):
    """The public templates (ARM path: dataplane.load evaluates each one): the Firewall Manager
    quickstart's secured-hub firewall (`virtualHub`), the DNS-proxy hub's spokes pointing their
    VMs at the firewall's DNS proxy (`dhcpOptions.dnsServers`) and the demo lab's service
    endpoints without
    `locations` (the VNet's region only) are the unread properties that matter; the others
    raise no false warning."""
    loaded, found = 0, {}
    for path in sorted((real_dir / "arm").glob("*.json")):
        if path.name.endswith(".parameters.json") or path.name.startswith("restapispec"):
            continue
        params = path.with_name(path.name.removesuffix(".json") + ".parameters.json")
        try:
            topology = dataplane.load(path, parameters=params if params.exists() else None)
        except InputError:  # needs a linked template or a parameter value
            continue
        loaded += 1
        keys = [c.key for c in topology_caveats(topology) if c.key.startswith("unread:")]
        if keys:
            found[path.name] = keys
    assert loaded >= 8
    endpoints = [f"unread:{vnet}:properties.subnets[{i}].properties.serviceEndpoints"
                 for vnet in ("VN-HUB", "VN-SPOKE1", "VN-SPOKE2") for i in (0, 1)]
    assert found == {
        "aqt_fwm-docs-qs.azuredeploy.json": ["unread:AzfwTest:properties.virtualHub"],
        "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json": [
            f"unread:{v}VNet:properties.dhcpOptions.dnsServers"
            for v in ("Development", "Production")],
        # its firewall's Firewall Policy sets Deny itself (firewall-threat-intel names that):
        # the firewall's own threatIntelMode is not in force, so not named a second time
        "ans_netsec-demo-lab-standard.AzNetSecdeploy.json": endpoints}  # the workshop's too


def test_a_real_templates_peering_made_a_subnet_peering_is_caveated(real_dir: Path, tmp_path):
    """The VNet-to-VNet peering quickstart with `peerCompleteVnets: false` on its peerings
    (subnet peering, 'How to configure subnet peering'): each link's VNet carries the caveat."""
    name = "aqt_vnet-to-vnet-peering.azuredeploy"
    text = (real_dir / "arm" / f"{name}.json").read_text()
    assert text.count('"allowVirtualNetworkAccess"') == 2
    path = tmp_path / "peering.json"
    path.write_text(text.replace('"allowVirtualNetworkAccess"',
                                 '"peerCompleteVnets": false, "allowVirtualNetworkAccess"'))
    topology = dataplane.load(path, parameters=real_dir / "arm" / f"{name}.parameters.json")
    caveats = [c for c in topology_caveats(topology) if c.key.startswith("unread:")]
    assert len(caveats) == 2
    assert all(c.key.endswith(".properties.peerCompleteVnets") for c in caveats)
    vnets = {id_key(v.id) for v in topology.virtual_networks}
    assert {r for c in caveats for r in c.resources} == vnets
