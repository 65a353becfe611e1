"""Batch == reference on drawn topologies with an Azure Firewall hub, an internal load balancer
with DNAT and backends whose outbound NSG denies new flows: flows, their plain replies and
their backends' replies (un-DNAT), split into random batch sizes. Dispositions, deciding
labels, hops and final (translated) addresses must agree row by row (no shaper here: exact
time order under saturation is the time-order issue's)."""

from __future__ import annotations

import ipaddress

from batch_harness import assert_batch_matches_reference, flows_over, traffic
from hypothesis import given, settings
from hypothesis import strategies as st

import dataplane
from dataplane.engine.compile import build_network

TOPO = """
vnets:
  hub: {{region: westeurope, address_space: [10.0.0.0/16],
        subnets: {{AzureFirewallSubnet: 10.0.255.0/26}}}}
  spoke1: {{region: westeurope, address_space: [10.1.0.0/16],
           subnets: {{app: {{prefix: 10.1.1.0/24, route_table: rt1}}}}}}
  spoke2: {{region: {region2}, address_space: [10.2.0.0/16],
           subnets: {{db: {{prefix: 10.2.1.0/24, route_table: rt2, nsg: be}}}}}}
peerings:
  - {{between: [hub, spoke1], allow_forwarded_traffic: true}}
  - {{between: [hub, spoke2], allow_forwarded_traffic: {fwd}}}
nsgs:
  be:
    rules:
      - {{name: in-8080, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "8080"}}
      - {{name: out-deny, priority: 200, direction: Outbound, access: {out}, protocol: "*",
         source: "*", destination: "*"}}
route_tables:
  rt1: {{routes: [{{name: d, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.255.4}}]}}
  rt2: {{routes: [{{name: d, prefix: {p2}, next_hop: VirtualAppliance, next_hop_ip: 10.0.255.4}}]}}
firewalls:
  fw: {{subnet: hub/AzureFirewallSubnet, ip: 10.0.255.4, collections: [
        {{name: c, priority: 100, action: Allow, rules: [
          {{name: r, protocols: [{proto}], source: [10.1.0.0/16], destination: [10.2.0.0/16],
           ports: ["{ports}"]}}]}}]}}
vms:
  a1: {{subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D2s_v3}}
  a2: {{subnet: spoke1/app, ip: 10.1.1.5, size: Standard_D2s_v3}}
  b1: {{subnet: spoke2/db, ip: 10.2.1.4, size: Standard_D2s_v3}}
  b2: {{subnet: spoke2/db, ip: 10.2.1.5, size: Standard_D2s_v3}}
load_balancers:
  ilb: {{sku: {sku}, frontend: {{subnet: spoke2/db, ip: 10.2.1.100}}, backends: [b1, b2],
        rules: [{{name: web, protocol: Tcp, frontend_port: 80, backend_port: {bport}}}]}}
"""


def ip(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


CLIENTS = [ip("10.1.1.4"), ip("10.1.1.5"), ip("10.1.1.4"), ip("10.2.1.4")]
BACKENDS = [ip("10.2.1.4"), ip("10.2.1.5")]
TARGETS = [ip("10.2.1.100"), ip("10.2.1.4"), ip("10.2.1.5"), ip("10.1.1.4"), ip("8.8.8.8")]


@st.composite
def case(draw):
    params = draw(st.fixed_dictionaries({
        "region2": st.sampled_from(["westeurope", "northeurope"]),
        "fwd": st.sampled_from([True, True, False]),
        "out": st.sampled_from(["Deny", "Deny", "Allow"]),
        "p2": st.sampled_from(["0.0.0.0/0", "10.1.0.0/16"]),
        "proto": st.sampled_from(["TCP", "Any"]),
        "ports": st.sampled_from(["80,8080", "1-65535", "80"]),
        "sku": st.sampled_from(["Standard", "Basic"]), "bport": st.sampled_from([8080, 80])}))
    flows = draw(st.lists(st.tuples(st.sampled_from(CLIENTS), st.sampled_from(TARGETS),
                                    st.sampled_from([6, 6, 17, 1]),
                                    st.sampled_from([40000, 40001]), st.sampled_from([80, 8080])),
                          min_size=1, max_size=5))
    pkts = []
    for _ in range(draw(st.integers(1, 40))):
        s, d, p, sp, dp = draw(st.sampled_from(flows))
        kind = draw(st.sampled_from(["forward", "reply", "backend-reply"]))
        if kind == "reply":
            s, d, sp, dp = d, s, dp, sp
        elif kind == "backend-reply":  # what a backend sends back to a frontend flow
            s, d, sp, dp = draw(st.sampled_from(BACKENDS)), s, params["bport"], sp
        pkts.append((s, d, p, sp, dp, 0))
    return params, pkts, draw(st.integers(1, 41))


@settings(max_examples=40, deadline=None)
@given(case())
def test_firewall_ilb_translations_batch_equals_reference(tmp_path_factory, case):
    params, pkts, split = case
    path = tmp_path_factory.mktemp("sd") / "t.yaml"
    path.write_text(TOPO.format(**params))
    net = build_network(dataplane.load(str(path)))
    assert_batch_matches_reference(net, pkts, split)


# Every stage of the hop loop in one drawn topology: an HA-ports ILB as the UDR next hop in
# front of two NVAs (stages/loadbalancer.py next hop, stages/appliance.py: NVA NSG, IP
# forwarding drawn, an unreachable next hop, a loop between the NVAs), an app ILB with DNAT
# and backends whose outbound NSG may deny (un-DNAT of replies), on-premises ingress through
# the hub's gateway with gateway transit drawn, the probe source and the Internet (delivery:
# stages/deliver.py), global peering with forwarded traffic drawn.
ALL_STAGES = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {{GatewaySubnet: 10.0.255.0/27, nva: {{prefix: 10.0.1.0/24, nsg: nva-nsg,
              route_table: rtn}}, lb: 10.0.2.0/24}}
    gateway: {{type: Vpn, sku: VpnGw1}}
  spoke1:
    region: westeurope
    address_space: [10.1.0.0/16]
    subnets: {{web: {{prefix: 10.1.1.0/24, route_table: rt1}}}}
  spoke2:
    region: {region2}
    address_space: [10.2.0.0/16]
    subnets: {{app: {{prefix: 10.2.1.0/24, route_table: rt2, nsg: app-nsg}}}}
peerings:
  - {{vnet: hub, remote: spoke1, allow_gateway_transit: true, allow_forwarded_traffic: true}}
  - {{vnet: spoke1, remote: hub, use_remote_gateways: true, allow_forwarded_traffic: true}}
  - {{vnet: hub, remote: spoke2, allow_gateway_transit: {transit}, allow_forwarded_traffic: {fwd}}}
  - {{vnet: spoke2, remote: hub, use_remote_gateways: {transit}, allow_forwarded_traffic: true}}
nsgs:
  nva-nsg:
    rules:
      - {{name: nva-udp, priority: 100, direction: Inbound, access: {nva_udp}, protocol: Udp,
         source: "*", destination: "*"}}
  app-nsg:
    rules:
      - {{name: allow-8080, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "8080"}}
      - {{name: deny-80, priority: 110, direction: Inbound, access: Deny, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "80"}}
      - {{name: out, priority: 200, direction: Outbound, access: {out}, protocol: "*",
         source: "*", destination: "*"}}
route_tables:
  rt1: {{routes: [{{name: to-spoke2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance,
                  next_hop_ip: {nh1}}}]}}
  rt2: {{routes: [{{name: to-spoke1, prefix: 10.1.0.0/16, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.2.100}}]}}
  rtn: {{routes: [{{name: loop, prefix: 10.9.0.0/16, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.1.5}}]}}
vms:
  nva1: {{subnet: hub/nva, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}}
  nva2: {{subnet: hub/nva, ip: 10.0.1.5, size: Standard_D2s_v3, ip_forwarding: {ipf2}}}
  web1: {{subnet: spoke1/web, ip: 10.1.1.4, size: Standard_D2s_v3}}
  app1: {{subnet: spoke2/app, ip: 10.2.1.4, size: Standard_D2s_v3}}
  app2: {{subnet: spoke2/app, ip: 10.2.1.5, size: Standard_D2s_v3}}
on_premises:
  branch: {{prefixes: [192.168.0.0/16], connect_to: hub}}
load_balancers:
  nva-ilb: {{sku: {sku}, frontend: {{subnet: hub/lb, ip: 10.0.2.100}}, backends: [nva1, nva2],
            rules: [{{name: ha-ports, protocol: All, frontend_port: 0, backend_port: 0}}]}}
  app-ilb: {{sku: Standard, frontend: {{subnet: spoke2/app, ip: 10.2.1.100}},
            backends: [app1, app2],
            rules: [{{name: http, protocol: Tcp, frontend_port: 80, backend_port: 8080}}]}}
"""
ALL_IPS = [ip(a) for a in ("10.0.1.4", "10.0.1.5", "10.1.1.4", "10.2.1.4", "10.2.1.5",
                           "10.2.1.100", "10.0.2.100", "10.9.0.9", "192.168.3.3",
                           "168.63.129.16", "8.8.8.8")]


@settings(max_examples=40, deadline=None)
@given(st.fixed_dictionaries({
    "region2": st.sampled_from(["westeurope", "eastus"]),
    "transit": st.booleans(), "fwd": st.booleans(), "ipf2": st.booleans(),
    "nva_udp": st.sampled_from(["Allow", "Deny"]), "out": st.sampled_from(["Allow", "Deny"]),
    "nh1": st.sampled_from(["10.0.2.100", "10.0.1.4", "10.0.1.5", "10.0.1.99"]),
    "sku": st.sampled_from(["Standard", "Basic"])}),
    traffic(max_packets=40, max_split=41, flow=flows_over(ALL_IPS, (
        [80, 8080, 40000], [80, 443, 8080, 40000]))))
def test_every_stage_batch_equals_reference(tmp_path_factory, params, case):
    pkts, split = case
    path = tmp_path_factory.mktemp("all") / "t.yaml"
    path.write_text(ALL_STAGES.format(**params))
    net = build_network(dataplane.load(str(path)))
    assert_batch_matches_reference(net, pkts, split)
