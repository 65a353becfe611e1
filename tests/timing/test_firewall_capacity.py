"""Azure Firewall throughput per SKU as data, read from the firewall or its policy, and applied
by the engine's shaper to packets leaving the firewall.

Microsoft: "Azure Firewall performance" (https://learn.microsoft.com/azure/firewall/
firewall-performance), sections "Performance data", "Throughput for single connections",
"Total throughput for initial firewall deployment" (ms.date 2026-03-28, read 2026-11-30)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.packet import Raw

import dataplane
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.errors import InputError
from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import _Where
from dataplane.timing.firewall_capacity import (
    capacity,
    firewall_cap_caveats,
    firewall_egress_caps,
    firewall_profile,
)

RG = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/"


def hub(sku: str | None) -> str:
    tier = f", sku: {sku}" if sku else ""
    return f"""
vnets:
  hub: {{region: westeurope, address_space: [10.0.0.0/16], subnets: {{AzureFirewallSubnet: 10.0.1.0/26}}}}
  spoke1: {{region: westeurope, address_space: [10.1.0.0/16], subnets: {{app: {{prefix: 10.1.1.0/24, route_table: to-fw}}}}}}
  spoke2: {{region: westeurope, address_space: [10.2.0.0/16], subnets: {{db: {{prefix: 10.2.1.0/24, route_table: to-fw}}}}}}
peerings:
  - {{between: [hub, spoke1], allow_forwarded_traffic: true}}
  - {{between: [hub, spoke2], allow_forwarded_traffic: true}}
route_tables:
  to-fw: {{routes: [{{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}}]}}
firewalls:
  fw: {{subnet: hub/AzureFirewallSubnet, ip: 10.0.1.4{tier}, collections: [{{name: all, priority: 100, action: Allow, rules: [{{name: any, protocols: Any, source: "*", destination: "*", ports: "*"}}]}}]}}
vms:
  app1: {{subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D64s_v3}}
  db1: {{subnet: spoke2/db, ip: 10.2.1.4, size: Standard_D64s_v3}}
"""


@pytest.fixture
def load(tmp_path):
    def build(text: str):
        path = tmp_path / "t.yaml"
        path.write_text(text)
        return dataplane.load(str(path))
    return build


def test_the_table_holds_microsofts_figures():
    # Performance data / single connections / initial deployment, per SKU
    basic, standard, premium = capacity("basic"), capacity("Standard"), capacity("PREMIUM")
    assert (basic.aggregate_max_bps, basic.single_connection_bps, basic.aggregate_bps) == (
        250_000_000, 250_000_000, 250_000_000)
    assert (standard.aggregate_max_bps, standard.single_connection_bps,
            standard.aggregate_bps) == (30_000_000_000, 1_500_000_000, 3_000_000_000)
    assert (premium.aggregate_max_bps, premium.single_connection_bps, premium.aggregate_bps) == (
        100_000_000_000, 9_000_000_000, 18_000_000_000)
    deny = capacity("Premium", tls_inspection=True, idps_mode="Deny")
    assert (deny.aggregate_max_bps, deny.single_connection_bps) == (22_000_000_000, 600_000_000)
    # TLS inspection alone: TCP/UDP not published ('-'), HTTP/S 100 Gbps
    tls = capacity("Premium", tls_inspection=True)
    assert tls.tcp_udp_bps is None and tls.aggregate_max_bps == 100_000_000_000
    # IDPS without TLS inspection takes the TLS-enabled row (stated assumption)
    assert capacity("Premium", False, "alert") == capacity("Premium", True, "Alert")
    # Basic and Standard have no TLS inspection or IDPS: the settings do not apply
    assert capacity("Standard", True, "Deny") == standard
    with pytest.raises(KeyError):
        capacity("Gold")


def test_tier_from_the_firewall_then_the_policy_then_assumed(load):
    topo = load(hub("Premium"))
    (fw,) = topo.azure_firewalls
    assert fw.sku_tier == "Premium"
    assert firewall_profile(topo, fw).tier_from == "the firewall's sku.tier"
    assert firewall_egress_caps(topo) == {dataplane.model.id_key(fw.id): 18_000_000_000}

    bare = load(hub(None))
    (fw,) = bare.azure_firewalls
    assert fw.sku_tier is None
    caveats = firewall_cap_caveats(bare)
    assert any(c.startswith("firewall-sku-default: Azure Firewall fw") for c in caveats)
    assert firewall_profile(bare, fw).sku_tier == "Standard"

    raw = {"type": "Microsoft.Network/firewallPolicies", "name": "pol",
           "id": RG + "firewallPolicies/pol", "location": "westeurope",
           "properties": {"sku": {"tier": "Basic"}}}
    policy = firewall_policy(raw, _Where(raw, "test"))
    assert policy.sku_tier_given
    with_policy = replace(bare, firewall_policies=(policy,), azure_firewalls=(
        replace(fw, firewall_policy=policy.id),))
    prof = firewall_profile(with_policy, with_policy.azure_firewalls[0])
    assert (prof.sku_tier, prof.tier_from) == ("Basic", "the policy's sku.tier")
    assert not any(c.startswith("firewall-sku-default") for c in firewall_cap_caveats(with_policy))


def test_premium_policy_idps_deny_and_tls_inspection(load):
    bare = load(hub("Premium"))
    raw = {"type": "Microsoft.Network/firewallPolicies", "name": "pol",
           "id": RG + "firewallPolicies/pol", "location": "westeurope",
           "properties": {"sku": {"tier": "Premium"}, "intrusionDetection": {"mode": "Deny"},
                          "transportSecurity": {"certificateAuthority": {
                              "name": "ca", "keyVaultSecretId": "https://kv/secret"}}}}
    policy = firewall_policy(raw, _Where(raw, "test"))
    assert (policy.intrusion_detection_mode, policy.tls_inspection) == ("Deny", True)
    (fw,) = bare.azure_firewalls
    topo = replace(bare, firewall_policies=(policy,), azure_firewalls=(
        replace(fw, firewall_policy=policy.id),))
    cap = firewall_profile(topo, topo.azure_firewalls[0]).capacity
    assert (cap.idps_mode, cap.tls_inspection, cap.single_connection_bps) == (
        "Deny", True, 600_000_000)
    assert "IDPS Deny" in " ".join(firewall_cap_caveats(topo))


def test_unknown_tier_names_firewall_and_property(load):
    topo = load(hub("Gold"))
    with pytest.raises(InputError) as e:
        build_network(topo)
    text = str(e.value)
    assert "fw" in text and "properties.sku.tier" in text and "Gold" in text


def test_the_firewall_is_a_shaper_slot_at_its_cap(load):
    for tier, bps in (("Basic", 250_000_000), ("Premium", 18_000_000_000)):
        net = build_network(load(hub(tier)))
        node = net.node_kind.index("firewall")
        slot = int(net.node_vm[node])
        assert slot == len(net.topology.virtual_machines)
        assert net.vm_names[slot] == "fw" and int(net.vm_cap_bps[slot]) == bps


def _burst_arrivals(topo, packets: int) -> np.ndarray:
    """A burst of 1500-byte packets app1 -> db1 sent at once; arrival times at db1."""
    em = Emulator(topo)
    pkt = bytes(IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000, dport=443, flags="A")
                / Raw(b"\0" * 1460))
    res = em.send([pkt] * packets, source=["app1"] * packets,
                  times_ns=[i for i in range(packets)])
    c = res.columns
    assert (res.rows()[0]["hops"]).count("fw") == 1  # through the firewall
    return c["time_out"] - c["time_in"]


def test_a_basic_firewall_paces_a_burst_slower_than_premium(load):
    n = 50
    basic = _burst_arrivals(load(hub("Basic")), n)
    premium = _burst_arrivals(load(hub("Premium")), n)
    assert (basic >= 0).all() and (premium >= 0).all()
    # the last packet leaves a Basic firewall after the 49 before it: 1500 B at 250 Mbit/s is
    # 48 µs each; the sender VM (30 Gbit/s) and a Premium firewall (18 Gbit/s) take < 1 µs
    spacing_ns = 1500 * 8 * 1_000_000_000 // 250_000_000
    assert basic[-1] - basic[0] >= (n - 1) * spacing_ns - n
    assert premium[-1] - premium[0] < (n - 1) * spacing_ns // 10
    assert any("firewall-throughput" in a for a in Emulator(load(hub("Basic"))).assumptions())


def test_real_templates_tiers(real_dir):
    """Public templates: a Premium firewall whose Premium policy has TLS inspection and IDPS in
    Alert mode (600 Mbit/s per connection), and a firewall that names no tier anywhere."""
    workshop = dataplane.load(str(real_dir / "arm" / "ans_netsec-workshop.labdeployment.json"))
    (fw,) = workshop.azure_firewalls
    prof = firewall_profile(workshop, fw)
    assert (prof.sku_tier, prof.tier_from) == ("Premium", "the firewall's sku.tier")
    assert (prof.capacity.tls_inspection, prof.capacity.idps_mode) == (True, "Alert")
    assert prof.capacity.single_connection_bps == 600_000_000
    dns = dataplane.load(str(real_dir / "arm" / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json"))
    (fw,) = dns.azure_firewalls
    assert firewall_profile(dns, fw).tier_from == "assumed"
    assert any(c.startswith("firewall-sku-default: Azure Firewall HubFirewall")
               for c in firewall_cap_caveats(dns))
