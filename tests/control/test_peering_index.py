"""control/peering_index.py against the definitions it replaces (a scan of every VNet and
every link): peered VNets, back links, third-party overlaps in link_findings; and Azure's
500-peerings limit reported once for each link past the 500th."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.control import peering
from dataplane.control.validate import validate
from dataplane.model import id_key

sys.path.insert(0, str(Path(__file__).parent))
from topo_factory import Builder  # noqa: E402

SPACES = ["10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.1.0.0/16", "10.0.0.0/8",
          "192.168.0.0/24", "10.0.0.128/25"]
STATES = ["Connected", "Initiated", "Disconnected"]


def _naive_peered(topology, vnet):
    out = {}
    for other in topology.virtual_networks:
        if id_key(other.id) == id_key(vnet.id):
            continue
        if any(id_key(x.remote_virtual_network) == id_key(other.id)
               for x in vnet.virtual_network_peerings) or any(
                id_key(x.remote_virtual_network) == id_key(vnet.id)
                and x.peering_state != "Disconnected" for x in other.virtual_network_peerings):
            out[id_key(other.id)] = other
    return list(out.values())


def _naive_back(topology, link):
    remote = topology.get(link.remote_virtual_network)
    if remote is None or not hasattr(remote, "virtual_network_peerings"):
        return None
    return next((b for b in remote.virtual_network_peerings
                 if id_key(b.remote_virtual_network) == id_key(link.virtual_network)), None)


def _naive_third_overlaps(topology, vnet, link):
    remote = topology.get(link.remote_virtual_network)
    if remote is None or not hasattr(remote, "virtual_network_peerings"):
        return []
    spaces = {id_key(t.id): (t.id, tuple(t.address_space))
              for t in _naive_peered(topology, remote)}
    for x in remote.virtual_network_peerings:
        key = id_key(x.remote_virtual_network)
        known = spaces.get(key, (x.remote_virtual_network, ()))
        spaces[key] = (known[0], tuple(dict.fromkeys((*known[1], *x.remote_address_space))))
    return [third for key, (third, space) in spaces.items() if key != id_key(vnet.id)
            and any(a.overlaps(b) for a in vnet.address_space for b in space)]


@settings(max_examples=60, deadline=None)
@given(spaces=st.lists(st.sampled_from(SPACES), min_size=2, max_size=6),
       links=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.sampled_from(STATES),
                                st.lists(st.sampled_from(SPACES), max_size=2)), max_size=14))
def test_index_answers_as_the_scans_did(spaces, links):
    b = Builder()
    for i, space in enumerate(spaces):
        b.vnet(f"v{i}", space)
    for a, r, state, remote_space in links:
        if a < len(spaces) and r < len(spaces + ["ghost"]):
            ghost = r >= len(spaces)  # a remote VNet not in the input
            b.link(f"v{a}", "ghost" if ghost else f"v{r}", state=state,
                   remote_space=remote_space or (["172.16.0.0/24"] if ghost else None))
    topo = b.build()
    for vnet in topo.virtual_networks:
        assert [v.id for v in peering.peered_vnets(topo, vnet)] == \
            [v.id for v in _naive_peered(topo, vnet)]
        for link in vnet.virtual_network_peerings:
            assert peering.back_link(topo, link) is _naive_back(topo, link)
            third = [f.message.split("third virtual network ")[1].split(" already")[0]
                     for f in peering.link_findings(topo, vnet, link)
                     if f.code == "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"]
            assert third == _naive_third_overlaps(topo, vnet, link)


def test_peering_limit_reported_for_each_link_past_500():
    b = Builder().vnet("hub", "10.0.0.0/16")
    for s in range(503):
        b.vnet(f"s{s}", f"10.{128 + s // 256}.{s % 256}.0/24").peer("hub", f"s{s}")
    findings = [f for f in validate(b.build()) if f.code == "PeeringLimitReached"]
    assert len(findings) == 3
    assert [f.resource.rsplit("/", 1)[-1] for f in findings] == \
        [x.name for x in b.build().vnet("hub").virtual_network_peerings[500:]]
    assert all("limit is 500" in f.message for f in findings)
