"""Variant transformations on the demo topology (dataplane/whatif/variants.py)."""

from __future__ import annotations

import pytest

from dataplane.control.routes import effective_routes
from dataplane.errors import AzureError, InputError
from dataplane.timing.bandwidth import vm_egress_caps
from dataplane.whatif.spec import Setting, demo_path, parse_spec
from dataplane.whatif.variants import (
    apply,
    flow_params,
    load_base,
    move_vnet,
    route_direct,
    route_via,
    set_gateway_sku,
    set_peering,
    set_vm_size,
)


@pytest.fixture(scope="module")
def demo():
    return load_base(demo_path())


def peering_hops(topo, vnet_name: str) -> dict[str, str]:
    vnet = topo.vnet(vnet_name)
    out = {}
    for subnet in vnet.subnets:
        for r in effective_routes(topo, subnet):
            if r.next_hop_type in ("VNetPeering", "VNetGlobalPeering") and r.active:
                out[str(r.address_prefix)] = r.next_hop_type
    return out


def test_moving_a_vnet_changes_the_peering_to_global_and_back(demo):
    assert peering_hops(demo, "hub")["10.2.0.0/16"] == "VNetGlobalPeering"
    assert peering_hops(demo, "hub")["10.1.0.0/16"] == "VNetPeering"
    moved = move_vnet(demo, "spoke2", "westeurope")
    assert peering_hops(moved, "hub")["10.2.0.0/16"] == "VNetPeering"
    assert moved.vnet("spoke2").location == "westeurope"
    assert moved.find("virtual_machines", "db1").location == "westeurope"
    away = move_vnet(demo, "spoke1", "northeurope")
    assert peering_hops(away, "hub")["10.1.0.0/16"] == "VNetGlobalPeering"
    assert demo.vnet("spoke2").location == "eastus"  # the base is untouched


def test_vm_size_changes_the_cap(demo):
    caps = vm_egress_caps(set_vm_size(demo, "nva1", "Standard_D16s_v3"))
    nva = demo.find("virtual_machines", "nva1").id.lower()
    assert caps[nva] == 8_000_000_000
    assert vm_egress_caps(demo)[nva] == 2_000_000_000


def test_direct_routing_removes_the_nva_and_via_restores_it(demo):
    from scapy.layers.inet import IP, TCP

    from dataplane.engine import Emulator

    syn = IP(src="10.1.1.4", dst="10.2.1.4") / TCP(dport=1433, flags="S")
    assert Emulator(demo).send(syn).rows()[0]["hops"] == "web1 > nva1 > db1"
    direct = route_direct(demo, "spoke1,spoke2")
    assert peering_hops(direct, "spoke1")["10.2.0.0/16"] == "VNetGlobalPeering"
    row = Emulator(direct).send(syn).rows()[0]
    assert (row["hops"], row["disposition"]) == ("web1 > db1", "DELIVERED")
    # traffic inside spoke1 still goes through the NVA (its own UDR is kept)
    inside = IP(src="10.1.1.4", dst="10.1.1.5") / TCP(dport=443, flags="S")
    assert Emulator(direct).send(inside).rows()[0]["hops"] == "web1 > nva1 > web2"
    back = route_via(direct, "spoke1,spoke2", "nva1")
    assert Emulator(back).send(syn).rows()[0]["hops"] == "web1 > nva1 > db1"
    assert not any(p.remote_virtual_network.lower().endswith("/spoke2")
                   for p in back.vnet("spoke1").virtual_network_peerings)


def test_peering_options_change_both_links(demo):
    changed = set_peering(demo, "hub,spoke1", {"allow_forwarded_traffic": False})
    for a, b in (("hub", "spoke1"), ("spoke1", "hub")):
        link = next(x for x in changed.vnet(a).virtual_network_peerings
                    if x.remote_virtual_network.lower().endswith("/" + b))
        assert link.allow_forwarded_traffic is False
    with pytest.raises(InputError, match="no peering"):
        set_peering(demo, "spoke1,spoke2", {"allow_forwarded_traffic": True})
    with pytest.raises(AzureError):  # spoke1 has no gateway to offer
        set_peering(demo, "hub,spoke1", {"use_remote_gateways": True})


def test_gateway_sku(demo):
    assert set_gateway_sku(demo, "hub", "VpnGw3").virtual_network_gateways[0].sku == "VpnGw3"


def test_apply_and_flow_params(demo):
    spec = parse_spec({"name": "t", "base": "demo", "tcp": {"loss": 0.001},
                       "workload": {"flows": [{"name": "a", "from": "web1", "to": "db1",
                                               "parallel": 2}]},
                       "vary": {"parallel": {"a": [1, 8]}, "tcp": {"buffers": ["16MiB"]},
                                "region": {"spoke2": ["westeurope"]}}})
    v = spec.variants()[1]
    parallel, tcp = flow_params(spec, v, spec.flows[0])
    assert parallel == 8
    assert (tcp.rmem_max, tcp.wmem_max, tcp.loss) == (16 << 20, 16 << 20, 0.001)
    topo = apply(demo, v.settings)
    assert topo.vnet("spoke2").location == "westeurope"
    assert apply(demo, (Setting("parallel", "*", 3),)) is demo
