"""Service tags, resolved from the topology for one VNet.

Takes: a Topology, the VNet whose NSG is being evaluated, a tag name as written.
Emits: a tuple of Prefix (summarized), or None for a tag this emulator does not know.
Follows azure-semantics.md 2.3 (service-tags-overview, virtual-network-manage-peering).

Supported tags:
* VirtualNetwork: the VNet's address space, the synced space of every Connected peer whose
  local link allows virtual network access, the on-premises prefixes reachable through its
  own gateway or the hub's (transit), and the prefixes of user-defined routes in route tables
  of its subnets except default routes (length 0). Assumption `virtualnetwork-default-routes`.
* AzureLoadBalancer: 168.63.129.16/32.
* Internet: 0.0.0.0/0 minus non-public space (RFC 1918, RFC 6598, 0/8, 127/8, 169.254/16,
  224/4, 240/4) minus the VirtualNetwork tag.
* Storage, Sql, AzureKeyVault, AzureCosmosDB, EventHub, ServiceBus, AppService,
  AzureContainerRegistry (regional forms such as Storage.WestEurope too): a small
  REPRESENTATIVE prefix set per service, not Azure's published ServiceTags file. The same sets
  are the service-endpoint routes. Assumption `service-tag-prefixes`.
Classic spellings (VIRTUAL_NETWORK, AZURE_LOADBALANCER, INTERNET) are accepted.
"""

from __future__ import annotations

from dataplane.model import RouteTable, Topology, VirtualNetwork
from dataplane.net import Prefix, parse_prefix

AZURE_LOAD_BALANCER = (parse_prefix("168.63.129.16/32"),)
NOT_INTERNET = tuple(parse_prefix(p) for p in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"))

# Representative (not complete) public ranges per service; see the module header.
_SERVICE_TAG_PREFIXES: dict[str, tuple[str, ...]] = {
    "storage": ("20.60.0.0/16", "20.150.0.0/15"),
    "sql": ("20.37.64.0/19", "40.78.192.0/18"),
    "azurekeyvault": ("20.38.128.0/21",),
    "azurecosmosdb": ("13.88.56.0/21",),
    "eventhub": ("20.38.144.0/21",),
    "servicebus": ("20.38.152.0/21",),
    "appservice": ("20.40.0.0/20",),
    "azurecontainerregistry": ("20.37.96.0/21",),
}
# serviceEndpoints names -> the tag that describes the same service.
SERVICE_ENDPOINT_TAGS = {
    "microsoft.storage": "storage", "microsoft.storage.global": "storage",
    "microsoft.sql": "sql", "microsoft.keyvault": "azurekeyvault",
    "microsoft.azurecosmosdb": "azurecosmosdb", "microsoft.eventhub": "eventhub",
    "microsoft.servicebus": "servicebus", "microsoft.web": "appservice",
    "microsoft.containerregistry": "azurecontainerregistry",
}
_CLASSIC = {"virtual_network": "virtualnetwork", "azure_loadbalancer": "azureloadbalancer",
            "internet": "internet"}


def service_prefixes(name: str) -> tuple[Prefix, ...]:
    """Representative prefixes of a service tag or a serviceEndpoints service name
    (empty when unknown)."""
    key = name.lower()
    key = SERVICE_ENDPOINT_TAGS.get(key, key).split(".", 1)[0]
    return tuple(parse_prefix(p) for p in _SERVICE_TAG_PREFIXES.get(key, ()))


def complement_v4(holes: list[Prefix]) -> tuple[Prefix, ...]:
    """0.0.0.0/0 minus the IPv4 holes, as the minimal sorted prefix list (integers only)."""
    spans = sorted((p.first, p.last) for p in holes if p.version == 4)
    gaps: list[tuple[int, int]] = []
    cursor = 0
    for lo, hi in spans:
        if lo > cursor:
            gaps.append((cursor, lo - 1))
        cursor = max(cursor, hi + 1)
    if cursor <= 0xFFFFFFFF:
        gaps.append((cursor, 0xFFFFFFFF))
    out: list[Prefix] = []
    for lo, hi in gaps:
        while lo <= hi:
            size = (lo & -lo).bit_length() - 1 if lo else 32
            while (1 << size) > hi - lo + 1:
                size -= 1
            out.append(Prefix(4, lo, 32 - size))
            lo += 1 << size
    return tuple(out)


def summarize_prefixes(prefixes: list[Prefix]) -> tuple[Prefix, ...]:
    """`dataplane.net.summarize` on integers: merge the intervals of each family, then cut each
    run into its maximal aligned blocks (the unique minimal prefix cover). Same result, without
    building ipaddress objects (tests/control/test_compile_equivalence.py)."""
    out: list[Prefix] = []
    for version, bits in ((4, 32), (6, 128)):
        spans = sorted((p.network, p.network + (1 << (bits - p.length)) - 1)
                       for p in prefixes if p.version == version)
        merged: list[list[int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1][1] = hi
            else:
                merged.append([lo, hi])
        for lo, hi in merged:
            while lo <= hi:
                size = (lo & -lo).bit_length() - 1 if lo else bits
                while (1 << size) > hi - lo + 1:
                    size -= 1
                out.append(Prefix(version, lo, bits - size))
                lo += 1 << size
    return tuple(out)


def canonical_tag(name: str) -> str:
    key = name.lower()
    return _CLASSIC.get(key, key)


class TagResolver:
    """Resolves tags for the VNets of one topology, caching per VNet."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._cache: dict[tuple[str, str], tuple[Prefix, ...] | None] = {}
        self.unknown: set[str] = set()

    def resolve(self, vnet: VirtualNetwork, name: str) -> tuple[Prefix, ...] | None:
        key = (vnet.id.lower(), canonical_tag(name))
        if key not in self._cache:
            self._cache[key] = self._resolve(vnet, key[1])
            if self._cache[key] is None:
                self.unknown.add(name)
        return self._cache[key]

    def _resolve(self, vnet: VirtualNetwork, tag: str) -> tuple[Prefix, ...] | None:
        if tag == "virtualnetwork":
            return self.virtual_network(vnet)
        if tag == "azureloadbalancer":
            return AZURE_LOAD_BALANCER
        if tag == "internet":
            return complement_v4([*NOT_INTERNET, *self.virtual_network(vnet)])
        found = service_prefixes(tag)
        return found or None

    def virtual_network(self, vnet: VirtualNetwork) -> tuple[Prefix, ...]:
        """2.3: VNet space + access-allowed Connected peers + on-premises + UDR prefixes."""
        from dataplane.control.routes import onprem_prefixes  # routes imports this module

        topology = self.topology
        parts: list[Prefix] = list(vnet.address_space)
        for link in vnet.virtual_network_peerings:
            if link.peering_state == "Connected" and link.allow_virtual_network_access:
                parts.extend(link.remote_address_space)
        parts.extend(onprem_prefixes(topology, vnet))
        for subnet in vnet.subnets:
            table = topology.get(subnet.route_table) if subnet.route_table else None
            if isinstance(table, RouteTable):
                parts.extend(r.address_prefix for r in table.routes
                             if isinstance(r.address_prefix, Prefix)
                             and r.address_prefix.length > 0)
        return summarize_prefixes(parts)
