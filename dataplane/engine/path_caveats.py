"""The named caveats a replay's packets can carry, each tied to the engine nodes that bring it.

Takes a compiled Network (engine/compile.py). Emits `path_caveats(net)` -> (PathCaveat, ...)
(io/caveat_counts.py), in this order:
* every topology caveat (control/caveats.py `topology_caveats`: unmodelled resources that can
  change a verdict, properties a spelling away from one the loader reads, the public edge the
  engine does not translate), on the nodes whose resources it touches (`caveats_touching`);
* every caveat of a firewall's rules (control/firewall_rules.py, the same texts `explain` puts
  on the firewall's hop), on that firewall's node; key `PREFIX:FIREWALL` from the text's
  `PREFIX: ...` (`#2`, `#3` appended when one firewall has several with the same prefix); a
  caveat about one DNAT rule's translation (`DNAT_RULE_CAVEATS`) only on packets addressed (as sent) to a
  firewall's address (`firewall_addresses`): DNAT translates nothing else ("Azure Firewall
  rule processing logic", https://learn.microsoft.com/azure/firewall/rule-processing);
* `virtualnetwork-tag-route-prefix:TABLE` on the NICs whose VirtualNetwork tag a user route
  with a next hop other than VirtualAppliance widens (control/vnet_tag_routes.py; per path:
  the verdict may rest on it);
* `host-fragmentation-not-modelled` on every packet longer than HOST_FRAGMENT_BYTES
  (engine/fragments.py, as Result.caveats counts it).
Per row: `caveat_lines(caveats, node_count, nodes, length_bytes)` -> each packet's caveats
as its answer prints them (PathCaveat.line: a firewall's own text, else "key: text"), the
caveats packets.csv's `caveats` cell names (io/caveat_counts.py), in the same order, and each
line's packet count (engine/results.py Result.row / Result.caveats).
A node's resources (`node_resource_ids`): a NIC node its NIC, VM, subnets, their NSGs, route
tables and NAT gateways, the NIC's NSG, public IPs and load-balancer backend pools; a firewall
node the firewall and its subnet (with that subnet's route table); a gateway node the gateway,
its GatewaySubnet, its connections and their local network gateways. A VNet touched covers its
subnets (control/caveats.py). The Internet node has none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataplane.control.caveats import (
    caveats_touching,
    firewall_resource_ids,
    gateway_resource_ids,
    nic_resource_ids,
    topology_caveats,
)
from dataplane.control.routes import nic_subnet
from dataplane.control.tags import TagResolver, scope_of
from dataplane.control.vnet_tag_routes import KEY as VNET_TAG_ROUTE_KEY
from dataplane.control.vnet_tag_routes import widening_caveats
from dataplane.engine.compile import Network
from dataplane.engine.fragments import HOST_FRAGMENT_BYTES, HOST_FRAGMENTATION_CAVEAT
from dataplane.io.caveat_counts import CaveatCounter, PathCaveat
from dataplane.io.paths import PathIndex


def node_resource_ids(net: Network) -> list[list[str]]:
    """Per engine node, the ids of the resources a packet crossing it involves."""
    out = [nic_resource_ids(net.topology, nic) for nic in net.nics]  # as the watcher's
    for fw in net.firewalls:
        out.append(firewall_resource_ids(net.topology, fw))
    for gw in net.topology.virtual_network_gateways:
        out.append(gateway_resource_ids(net.topology, gw))
    while len(out) < len(net.node_names):  # the Internet exit
        out.append([])
    return out


# caveats about one DNAT rule's translation (control/firewall_rules.py, stages/firewall_nat.py):
# only a packet addressed to a firewall's address can meet them (`firewall-dnat-no-public-ip`,
# about the firewall's whole DNAT configuration, stays on every answer crossing it)
DNAT_RULE_CAVEATS = ("firewall-dnat-runtime-address", "firewall-dnat-target",
                     "firewall-dnat-chain", "firewall-dnat-fqdn")


def firewall_addresses(net: Network) -> frozenset[int]:
    """The IPv4 addresses a DNAT rule can translate a packet to or from: every firewall's
    private, instance and public addresses and the destinations its DNAT rules name."""
    out: set[int] = set()
    for fw in net.firewall_rules:
        nat = fw.nat
        if nat is None:
            continue
        out.update(int(a) for a in nat.public.tolist())
        out.update(int(a) for a in nat.instances.tolist())
        if nat.private >= 0:
            out.add(int(nat.private))
        out.update(int(a) for r in nat.rules for a in r.destinations)
    return frozenset(out)


def hop_caveats(caveats: Sequence[str], addressed: bool) -> list[str]:
    """A firewall hop's caveats (explain, engine/reference.py): its DNAT ones only when the
    packet is addressed to a firewall's address (`addressed`, `firewall_addresses`), as the
    replay counts them."""
    return [c for c in caveats if addressed or not c.startswith(DNAT_RULE_CAVEATS)]


def path_caveats(net: Network) -> tuple[PathCaveat, ...]:
    """Topology caveats and firewall-rule caveats with the nodes that carry each (module doc)."""
    ids = node_resource_ids(net)
    out = []
    for caveat in topology_caveats(net.topology):
        nodes = frozenset(n for n, node_ids in enumerate(ids)
                          if caveats_touching([caveat], node_ids))
        names = tuple(sorted(getattr(net.topology.get(r), "name", r.rsplit("/", 1)[-1])
                             for r in caveat.resources))
        out.append(PathCaveat(caveat.key, caveat.text, names, nodes))
    first = len(net.nics)
    addresses = firewall_addresses(net)
    for k, rules in enumerate(net.firewall_rules):
        name = net.firewalls[k].name
        seen: dict[str, int] = {}
        for text in dict.fromkeys(rules.caveats):
            prefix, sep, rest = text.partition(": ")
            prefix = prefix if sep and " " not in prefix else "firewall"
            seen[prefix] = seen.get(prefix, 0) + 1
            key = f"{prefix}:{name}" + (f"#{seen[prefix]}" if seen[prefix] > 1 else "")
            out.append(PathCaveat(key, rest if sep and prefix != "firewall" else text,
                                  (name,), frozenset({first + k}), shown=text,
                                  to_addresses=addresses if prefix in DNAT_RULE_CAVEATS
                                  else None))
    out += _vnet_tag_route_caveats(net)
    key, _, text = HOST_FRAGMENTATION_CAVEAT.partition(": ")
    out.append(PathCaveat(key, text, (), None, HOST_FRAGMENT_BYTES))
    return tuple(out)


def caveat_lines(caveats: Sequence[PathCaveat], node_count: int, nodes: np.ndarray,
                 length_bytes: np.ndarray, dst: np.ndarray | None = None
                 ) -> tuple[list[list[str]], dict[str, int]]:
    """Per row of `nodes` (int node paths, -1 padded; shape (packets, hops)),
    `length_bytes` (as captured) and `dst` (IPv4 destination as sent, -1 for IPv6), the
    lines (PathCaveat.line) of every caveat of `caveats`
    (path_caveats) the packet carries, and line -> packets for those carried by at least one:
    the same answer as packets.csv's `caveats` column (io/caveat_counts.py CaveatCounter.add)."""
    counter = CaveatCounter(caveats, node_count)
    cells = counter.add(PathIndex.of(nodes), length_bytes, dst).to_pylist()
    line = {c.key: c.line() for c in caveats}
    rows = [[line[k] for k in cell.split(";")] if cell else [] for cell in cells]
    return rows, {line[c["key"]]: c["packets"] for c in counter.as_list() if c["packets"]}


def _vnet_tag_route_caveats(net: Network) -> list[PathCaveat]:
    """`virtualnetwork-tag-route-prefix` on the NIC nodes whose VirtualNetwork tag a user
    route widens beyond the VNet, peers and on-premises space (control/vnet_tag_routes.py):
    per path, as the engine's batch form does not record which rule allowed a row; key
    `virtualnetwork-tag-route-prefix:TABLE` (`#2`, ... when one table gives several texts)."""
    tags = TagResolver(net.topology)
    nodes: dict[tuple[str, str], set[int]] = {}
    for n, nic in enumerate(net.nics):
        if net.node_subnet[n] < 0:  # no subnet: no NSG evaluated there
            continue
        subnet = nic_subnet(net.topology, nic)
        vnet = net.topology.vnet_of_subnet(subnet.id)
        if vnet is None or not subnet.route_table:
            continue
        table = net.topology.get(subnet.route_table)
        for text in widening_caveats(tags, scope_of(net.topology, vnet, subnet.id),
                                     "the NICs whose subnet uses that route table",
                                     unconfirmed_only=True):
            text += ("; an NSG verdict at such a NIC by a rule naming VirtualNetwork may rest "
                     "on it (per packet path: the replay does not record which rule decided)")
            nodes.setdefault((getattr(table, "name", ""), text), set()).add(n)
    out: list[PathCaveat] = []
    seen: dict[str, int] = {}
    for (table_name, text), members in nodes.items():
        key = f"{VNET_TAG_ROUTE_KEY}:{table_name}"
        seen[key] = seen.get(key, 0) + 1
        key += f"#{seen[key]}" if seen[key] > 1 else ""
        out.append(PathCaveat(key, text.partition(": ")[2],
                              tuple(sorted(net.nics[m].name for m in members)),
                              frozenset(members), shown=text))
    return out
