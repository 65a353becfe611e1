"""The BGP sidecar (load/bgp_sidecar.py, docs/bgp-sidecar.md): file, API and scenario key."""

from __future__ import annotations

import json

import pytest
from bgp_topo import rs_hub_resources

from dataplane.control.routes import effective_routes, lookup
from dataplane.control.validate import validate
from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.bgp_sidecar import read_bgp_sidecar
from dataplane.net import parse_ip


def test_entries_parse_with_defaults_and_as_path_string():
    (a, b) = read_bgp_sidecar({"bgpRoutes": [
        {"peer": "nva1", "prefixes": ["10.50.0.0/16"]},
        {"peer": "10.0.2.5", "prefixes": ["10.60.0.0/16", "10.61.0.0/16"],
         "asPath": "65001 65002", "nextHop": "10.0.2.100"}]})
    assert (a.peer, [str(p) for p in a.prefixes], a.as_path, a.next_hop) == \
        ("nva1", ["10.50.0.0/16"], (), None)
    assert b.as_path == (65001, 65002) and str(b.next_hop) == "10.0.2.100"
    assert len(b.prefixes) == 2


@pytest.mark.parametrize(("entry", "prop"), [
    ({"peer": "x", "prefixes": ["10.0.0.0/33"]}, "prefixes[0]"),
    ({"peer": "x", "prefixes": []}, "prefixes"),
    ({"prefixes": ["10.0.0.0/8"]}, "peer"),
    ({"peer": "x", "prefixes": ["10.0.0.0/8"], "asPath": [70000000000]}, "asPath"),
    ({"peer": "x", "prefixes": ["10.0.0.0/8"], "nextHop": "nowhere"}, "nextHop"),
    ({"peer": "x", "prefixes": ["10.0.0.0/8"], "weight": 3}, "weight"),
])
def test_bad_entries_name_file_entry_and_property(tmp_path, entry, prop):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"bgpRoutes": [{"peer": "ok", "prefixes": ["1.0.0.0/8"]},
                                              entry]}))
    with pytest.raises(InputError) as caught:
        read_bgp_sidecar(path)
    error = caught.value
    assert (error.file, error.resource, error.property) == (str(path), "bgpRoutes[1]", prop)


def test_load_api_and_unknown_peer_warning(tmp_path):
    topo_file = tmp_path / "hub.json"
    topo_file.write_text(json.dumps(rs_hub_resources()))
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps([{"peer": "nva1", "prefixes": ["192.0.2.0/24"]},
                                  {"peer": "nobody", "prefixes": ["198.51.100.0/24"]}]))
    topo = load(topo_file, bgp_routes=routes)
    route = lookup(effective_routes(topo, topo.vnet("hub").subnet("s")), parse_ip("192.0.2.1"))
    assert route.next_hop_type == "VirtualNetworkGateway"
    assert [str(i) for i in route.next_hop_ip] == ["10.0.2.4"]
    missing = [f for f in validate(topo) if f.code == "BgpPeerNotFound"]
    assert [f.resource for f in missing] == ["nobody"]


def test_scenario_key(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "vnets:\n"
        "  hub:\n"
        "    region: westeurope\n"
        "    address_space: [10.0.0.0/16]\n"
        "    subnets: {s: 10.0.1.0/24, GatewaySubnet: 10.0.255.0/27}\n"
        "    gateway: {bgp: true, asn: 65010}\n"
        "on_premises:\n"
        "  branch: {prefixes: [192.168.0.0/16], connect_to: hub, asn: 65050,\n"
        "           bgp_ip: 172.31.0.1}\n"
        "bgp_routes:\n"
        "  - {peer: branch, prefixes: [172.20.0.0/16]}\n")
    topo = load(scenario)
    assert [a.peer for a in topo.bgp_advertisements] == ["branch"]
    assert [str(p) for p in topo.bgp_advertisements[0].prefixes] == ["172.20.0.0/16"]
    route = lookup(effective_routes(topo, topo.vnet("hub").subnet("s")),
                   parse_ip("172.20.1.1"))
    assert route.as_path == (65050,) and route.next_hop_type == "VirtualNetworkGateway"
    assert lookup(effective_routes(topo, topo.vnet("hub").subnet("s")),
                  parse_ip("172.31.0.1")).address_prefix.length == 32  # the peer's host route
