"""Packets to a private endpoint (engine/stages/public_edge.py) end PRIVATE_ENDPOINT naming the
private link resource, in both engine forms: from the endpoint's VNet and a directly peered VNet;
a peer's peer has no /32 route (its packets go where its other routes say); with route-table
network policies on the endpoint's subnet, a user route sends them to the appliance instead
("Manage network policies for private endpoints", https://learn.microsoft.com/azure/private-link/
disable-private-endpoint-network-policy). Reference == batch over random splits (hypothesis)."""

from __future__ import annotations

import ipaddress

from batch_harness import assert_batch_matches_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.load.scenario import load_scenario_text

TARGET = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/st"


def _topology(policies: str = "Disabled"):
    return load_scenario_text(f"""
vnets:
  spoke: {{region: westeurope, address_space: 10.2.0.0/16,
          subnets: {{pe: {{prefix: 10.2.9.0/24, private_endpoint_network_policies: {policies}}},
                    work: 10.2.1.0/24}}}}
  hub: {{region: westeurope, address_space: 10.1.0.0/16,
        subnets: {{app: {{prefix: 10.1.1.0/24, route_table: rt}}, nva: 10.1.2.0/24}}}}
  far: {{region: westeurope, address_space: 10.3.0.0/16, subnets: {{app: 10.3.1.0/24}}}}
peerings:
  - {{between: [spoke, hub], allow_forwarded_traffic: true}}
  - {{between: [hub, far]}}
route_tables:
  rt: {{routes: [{{name: to-spoke, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.1.2.4}}]}}
vms:
  worker: {{subnet: spoke/work, ip: 10.2.1.4}}
  client: {{subnet: hub/app, ip: 10.1.1.4}}
  nva: {{subnet: hub/nva, ip: 10.1.2.4, ip_forwarding: true}}
  remote: {{subnet: far/app, ip: 10.3.1.4}}
private_endpoints:
  blob: {{subnet: spoke/pe, ip: 10.2.9.5, target: {TARGET}, group_ids: [blob]}}
""")


def _send(emulator: Emulator, source: str, src: str):
    return emulator.send(IP(src=src, dst="10.2.9.5") / TCP(sport=40000, dport=443), source=source)


def test_from_its_vnet_and_a_peer_the_packet_reaches_the_private_link_service() -> None:
    emulator = Emulator(_topology())
    for vm, ip in (("worker", "10.2.1.4"), ("client", "10.1.1.4")):
        out = _send(emulator, vm, ip)
        assert out.dispositions() == [D.PRIVATE_ENDPOINT]
        assert out.row(0)["deciding"] == f"private endpoint blob -> {TARGET} (blob)"


def test_a_peers_peer_has_no_route_to_it() -> None:
    out = _send(Emulator(_topology()), "remote", "10.3.1.4")
    assert out.dispositions() == [D.NULL_ROUTED]  # 10.0.0.0/8 None route: no peering to spoke


def test_route_table_policies_send_it_through_the_appliance() -> None:
    out = _send(Emulator(_topology("RouteTableEnabled")), "client", "10.1.1.4")
    # the appliance forwards it and, from the hub, the /32 (its own table has none) delivers it
    assert out.dispositions() == [D.PRIVATE_ENDPOINT]
    explained = Emulator(_topology("RouteTableEnabled")).explain_row(out, 0)
    assert any(h.get("step") == "appliance" for h in explained["hops"])


def test_explain_names_the_endpoint_hop() -> None:
    emulator = Emulator(_topology())
    out = _send(emulator, "client", "10.1.1.4")
    hops = emulator.explain_row(out, 0)["hops"]
    assert hops[-1]["step"] == "private-endpoint" and "(blob)" in hops[-1]["privateLinkService"]


IPS = [int(ipaddress.IPv4Address(a)) for a in
       ("10.2.1.4", "10.1.1.4", "10.1.2.4", "10.3.1.4", "10.2.9.5", "10.2.9.6", "8.8.8.8")]
flows = st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from([6, 17]),
                  st.sampled_from([443, 40000]), st.sampled_from([443, 40000]),
                  st.sampled_from([0, 0, 1]))


@settings(max_examples=40, deadline=None)
@given(policies=st.sampled_from(["Disabled", "RouteTableEnabled"]),
       pkts=st.lists(flows, min_size=1, max_size=30), split=st.integers(1, 30))
def test_reference_equals_batch_with_private_endpoints(policies, pkts, split) -> None:
    net = Emulator(_topology(policies)).net
    assert_batch_matches_reference(net, pkts, split)
