"""Batch pipeline == reference pipeline with gateway routes: random VNet-to-VNet chains (BGP on
or off per connection, ASNs that may repeat so AS-path loop prevention cuts paths, active-active
gateways), an on-premises site announcing prefixes over BGP, and a Route Server with two NVAs
announcing one prefix (ECMP). Reuses the batch-state tests' comparison (batch_harness.py) over
any batch split."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from batch_harness import assert_batch_matches_reference
from gateway_topo import RG, Arm, deny_inbound_from, nic, peering
from hypothesis import given
from hypothesis import strategies as st

from dataplane.engine.compile import build_network
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_prefix

ADDRS = ["10.0.1.4", "10.1.1.4", "10.2.1.4", "10.2.2.4", "10.2.2.5", "10.1.255.30", "10.3.1.4",
         "10.2.255.4", "172.20.1.1", "172.21.1.1", "192.0.2.9", "198.51.100.9", "10.9.0.1"]
IPS = [int(ipaddress.IPv4Address(a)) for a in ADDRS]
flow = st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from([6, 17, 1]),
                 st.sampled_from([22, 443, 40000]), st.sampled_from([22, 80, 40000]))


@st.composite
def traffic(draw):
    flows = draw(st.lists(flow, min_size=1, max_size=6))
    out = []
    for _ in range(draw(st.integers(1, 40))):
        s, d, p, sp, dp = draw(st.sampled_from(flows))
        if draw(st.booleans()):  # the reply direction
            s, d, sp, dp = d, s, dp, sp
        out.append((s, d, p, sp, dp, draw(st.sampled_from([0, 0, 0, 1, 4]))))
    return out, draw(st.integers(1, 40))


def topology(bgp_ab: bool, bgp_bc: bool, asns: tuple[int, int, int], active: tuple[bool, ...],
             forwarding: bool, c_nsg: bool, spoke_transit: bool = True,
             udr_to_gateway: bool = False):
    """A <-> B <-> C over VNet-to-VNet connections; A has a site 'branch' announcing
    172.20.0.0/16 over BGP; C hosts a Route Server whose NVAs (10.2.2.4/.5) announce
    192.0.2.0/24; spoke D (10.3.0.0/16) peers with C and uses C's gateway when
    `spoke_transit`; with `udr_to_gateway` A's subnet 's' sends 10.2.1.0/24 and 172.20.0.0/16
    to its gateway by a user route."""
    arm = Arm()
    for i, name in enumerate("ABC"):
        subnets = {"s": f"10.{i}.1.0/24", "GatewaySubnet": f"10.{i}.255.0/27"}
        if name == "C":
            subnets |= {"nva": "10.2.2.0/24", "RouteServerSubnet": "10.2.3.0/27"}
        arm.vnet(name, f"10.{i}.0.0/16", subnets,
                 [peering("C", "D", allowGatewayTransit=True)] if name == "C" else [])
        arm.gateway(f"gw{name}", name, asns[i], active_active=active[i])
    arm.vnet("D", "10.3.0.0/16", {"s": "10.3.1.0/24"},
             [peering("D", "C", useRemoteGateways=spoke_transit)])
    arm.vnet2vnet("gwA", "gwB", bgp=bgp_ab).vnet2vnet("gwB", "gwC", bgp=bgp_bc)
    arm.site("branch", "gwA", ["192.168.0.0/16"], asn=65050, bgp_ip="192.168.255.1")
    arm.route_server("rs", "C", {"nva1": ("10.2.2.4", 65001), "nva2": ("10.2.2.5", 65001)})
    if c_nsg:
        deny_inbound_from(arm, "c-nsg", "10.0.0.0/16")
    if udr_to_gateway:
        arm.add("routeTables", "rt", {"routes": [{"name": f"to-gw{k}", "properties": {
            "addressPrefix": prefix, "nextHopType": "VirtualNetworkGateway"}}
            for k, prefix in enumerate(("10.2.1.0/24", "172.20.0.0/16"))]})
        a = next(r for r in arm.resources if r["name"] == "A")
        a["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": f"{RG}/routeTables/rt"}
    for i, name in enumerate("abcd"):
        nic(arm, name, name.upper(), "s", f"10.{i}.1.4",
            nsg="c-nsg" if c_nsg and name == "c" else None)
    nic(arm, "nva1", "C", "nva", "10.2.2.4", forwarding=forwarding)
    nic(arm, "nva2", "C", "nva", "10.2.2.5", forwarding=forwarding)
    anycast = (parse_prefix("192.0.2.0/24"),)
    return replace(arm.build(), bgp_advertisements=(
        BgpAdvertisement("branch", (parse_prefix("172.20.0.0/16"),)),
        BgpAdvertisement("nva1", anycast), BgpAdvertisement("nva2", anycast)))


@given(st.fixed_dictionaries({
    "bgp_ab": st.booleans(), "bgp_bc": st.booleans(),
    "asns": st.tuples(*[st.sampled_from([65010, 65020]) for _ in range(3)]),
    "active": st.tuples(st.booleans(), st.booleans(), st.booleans()),
    "forwarding": st.booleans(), "c_nsg": st.booleans(), "spoke_transit": st.booleans(),
    "udr_to_gateway": st.booleans()}),
    traffic())
def test_gateway_routes_batch_equals_reference(params, data):
    pkts, split = data
    assert_batch_matches_reference(build_network(topology(**params)), pkts, split)
