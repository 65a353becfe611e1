"""Service tags, resolved for one tag scope (a VNet and the route table of the subnet whose
NSG rules are expanded).

Takes: a Topology (with Microsoft's service-tag file when the user gave one, servicetags.py),
a TagScope, a tag name as written; optionally `learned_prefixes` (VNet id -> prefixes learned
over BGP or through gateway connections, for the bgp work to feed; they join that VNet's
VirtualNetwork tag, like on-premises prefixes).
Emits: a tuple of Prefix (summarized), or None for a tag name Azure does not have. Records
in `partial` the tags answered from the built-in subset instead of a loaded file (outputs name
them in a caveat, `caveats()`), and in `unknown` names that matched nothing.
Follows Microsoft's "Azure service tags overview"
(https://learn.microsoft.com/azure/virtual-network/service-tags-overview, "Available service
tags") and docs/azure-behaviour.md §2.3.

* VirtualNetwork: "The virtual network address space ..., all connected on-premises address
  spaces, peered virtual networks, virtual networks connected to a virtual network gateway,
  the virtual IP address of the host, and address prefixes used on user-defined routes. This
  tag might also contain default routes." Built as: the VNet's address space; the synced space
  of every Connected peer whose local link allows virtual network access; on-premises prefixes
  reachable through its own gateway or the hub's (transit) and `learned_prefixes`;
  168.63.129.16/32 (the host's virtual IP, "What is IP address 168.63.129.16?",
  https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16); and
  every user-route prefix of the route table associated with the subnet of the NIC, 0.0.0.0/0
  included. Assumption `virtualnetwork-udr-prefixes` (evidence: MicrosoftDocs/azure-docs#22178,
  "If this route table contains UDRs ... or the default route (0.0.0.0/0) ... the prefix is
  added to the VirtualNetwork Tag ... the VirtualNetwork Tag contains only one prefix:
  0.0.0.0/0"; #124192: route-table destinations join the tag of the subnets the table is
  associated with, not of other subnets). Kept whatever the next hop; an NSG verdict that
  rests on a route prefix alone carries caveat `virtualnetwork-tag-route-prefix`
  (control/vnet_tag_routes.py, reading `non_route_parts` and `user_routes`).
* AzureLoadBalancer: 168.63.129.16/32 ("Azure Load Balancer health probes",
  https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview, "Probe
  source IP address") and, for IPv6, fe80::1234:5678:9abc/128: Microsoft's page names no IPv6
  probe source; that address is the one IPv6 probes arrive from in a capture on an Azure host
  (cilium/cilium#25242). Assumption `azureloadbalancer-ipv6`.
* Internet: IPv4: 0.0.0.0/0 minus non-public space (RFC 1918, RFC 6598, 0/8, 127/8,
  169.254/16, 224/4, 240/4) minus the VirtualNetwork tag's prefixes other than a default
  route: a 0.0.0.0/0 user route puts everything in VirtualNetwork but leaves Internet as it
  was, so a rule naming Internet still matches public addresses (the tags then overlap and
  rule order decides, as MicrosoftDocs/azure-docs#22178 describes). Assumption
  `virtualnetwork-udr-prefixes`. IPv6: the global unicast space 2000::/3 minus the
  VirtualNetwork tag's IPv6 prefixes other than ::/0 (assumption `internet-tag-ipv6`: the
  tag's definition, "the IP address space that's outside the virtual network and reachable
  by the public internet" (service-tags-overview, "Available service tags"), read for IPv6;
  unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8 and ::/8 stay outside, as
  RFC 1918 does for IPv4). Microsoft's dual-stack tutorials reach the IPv6 Internet through
  the default rule AllowInternetOutBound alone ("Create an Azure Virtual Machine with a
  dual-stack network using the Azure portal",
  https://learn.microsoft.com/azure/virtual-network/ip-services/create-vm-dual-stack-ipv6-portal).
* Any other tag: the prefixes of the loaded file's entry of that exact name, IPv4 and IPv6
  alike (Microsoft's file lists both families under one name; regional forms
  such as Storage.WestEurope are their own entries there); without a file, a small
  REPRESENTATIVE built-in set for Storage, Sql, AzureKeyVault, AzureCosmosDB, EventHub,
  ServiceBus, AppService, AzureContainerRegistry (global and regional forms alike) and nothing
  for the other known names: assumption `service-tag-prefixes`, the tag named in a caveat. The
  same sets are the service-endpoint routes.
Classic spellings (VIRTUAL_NETWORK, AZURE_LOADBALANCER, INTERNET) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dataplane.control.servicetags import is_known_tag
from dataplane.model import Route, RouteTable, Topology, VirtualNetwork, id_key
from dataplane.net import IPAddress, Prefix, parse_prefix, subtract

HOST_VIRTUAL_IP = parse_prefix("168.63.129.16/32")
LOAD_BALANCER_PROBE_V6 = parse_prefix("fe80::1234:5678:9abc/128")  # azureloadbalancer-ipv6
AZURE_LOAD_BALANCER = (HOST_VIRTUAL_IP, LOAD_BALANCER_PROBE_V6)
GLOBAL_UNICAST_V6 = parse_prefix("2000::/3")  # internet-tag-ipv6
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
    # the platform services' own addresses ("What is IP address 168.63.129.16?",
    # https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16; IMDS:
    # https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service)
    "azureplatformdns": ("168.63.129.16/32",),
    "azureplatformimds": ("169.254.169.254/32",),
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


@dataclass(frozen=True)
class TagScope:
    """What a VirtualNetwork tag depends on: the VNet and the route table of the subnet whose
    NSG rules are expanded (None: no route table). `id` keys the compiled rule sets, so rule
    sets that name a tag are built once per scope (NSG compile takes a TagScope wherever it
    took a VNet: only `.id` and the resolver use it)."""

    vnet: VirtualNetwork
    route_table: str | None = None

    @property
    def id(self) -> str:
        return f"{self.vnet.id}|{id_key(self.route_table) if self.route_table else ''}"

    @property
    def name(self) -> str:
        return self.vnet.name


def scope_of(topology: Topology, vnet: VirtualNetwork, subnet_id: str | None) -> TagScope:
    subnet = topology.get(subnet_id) if subnet_id else None
    return TagScope(vnet, getattr(subnet, "route_table", None))


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
    """Resolves tags for the scopes of one topology, caching per scope."""

    def __init__(self, topology: Topology,
                 learned_prefixes: Mapping[str, Sequence[Prefix]] | None = None) -> None:
        self.topology = topology
        self.learned = {id_key(k): tuple(v) for k, v in (learned_prefixes or {}).items()}
        self._cache: dict[tuple[str, str], tuple[Prefix, ...] | None] = {}
        self._loaded = {name.lower(): prefixes for name, prefixes in
                        (topology.service_tags.tags if topology.service_tags else ())}
        self.unknown: set[str] = set()
        self.partial: set[str] = set()
        self._non_route: dict[str, list[Prefix]] = {}
        self._route_only: dict[tuple[str, int, int], tuple[tuple[RouteTable, Route], ...]] = {}

    def resolve(self, scope: TagScope | VirtualNetwork, name: str) -> tuple[Prefix, ...] | None:
        if isinstance(scope, VirtualNetwork):
            scope = TagScope(scope)
        key = (scope.id.lower(), canonical_tag(name))
        if key not in self._cache:
            self._cache[key] = self._resolve(scope, key[1])
        found = self._cache[key]
        if found is None:
            self.unknown.add(name)
        elif key[1] not in ("virtualnetwork", "azureloadbalancer", "internet") \
                and key[1] not in self._loaded:
            self.partial.add(name)
        return found

    def _resolve(self, scope: TagScope, tag: str) -> tuple[Prefix, ...] | None:
        if tag == "virtualnetwork":
            return self.virtual_network(scope)
        if tag == "azureloadbalancer":
            return AZURE_LOAD_BALANCER
        if tag == "internet":  # a default route in VirtualNetwork does not empty Internet
            # (and the host's address stays out of Internet even when a 0.0.0.0/0 user route
            # summarises it into the VirtualNetwork tag's 0.0.0.0/0)
            inside = summarize_prefixes([p for p in self._virtual_network_parts(scope)
                                         if p.length > 0])  # not merged into a /0 first
            return complement_v4([*NOT_INTERNET, HOST_VIRTUAL_IP, *inside]) + subtract(
                GLOBAL_UNICAST_V6, [p for p in inside if p.version == 6])
        if tag in self._loaded:
            return summarize_prefixes(list(self._loaded[tag]))
        if not is_known_tag(tag, self.topology.service_tags):
            return None
        return service_prefixes(tag)

    def virtual_network(self, scope: TagScope | VirtualNetwork) -> tuple[Prefix, ...]:
        """2.3: VNet space + access-allowed Connected peers + on-premises and learned prefixes
        + the host's virtual IP + the prefixes of the scope's route table (module header)."""
        return summarize_prefixes(self._virtual_network_parts(scope))

    def _virtual_network_parts(self, scope: TagScope | VirtualNetwork) -> list[Prefix]:
        """The VirtualNetwork tag's members as listed (not summarised)."""
        if isinstance(scope, VirtualNetwork):
            scope = TagScope(scope)
        return [*self.non_route_parts(scope),
                *(r.address_prefix for _, r in self.user_routes(scope))]

    def non_route_parts(self, scope: TagScope) -> list[Prefix]:
        """The VirtualNetwork tag's members other than user-route prefixes: the VNet space,
        the host's virtual IP, peers, on-premises and learned prefixes (cached per VNet)."""
        key = id_key(scope.vnet.id)
        if key not in self._non_route:
            self._non_route[key] = self._non_route_parts(scope)
        return list(self._non_route[key])

    def _non_route_parts(self, scope: TagScope) -> list[Prefix]:
        from dataplane.control.routes import onprem_prefixes  # routes imports this module

        vnet, topology = scope.vnet, self.topology
        parts: list[Prefix] = [*vnet.address_space, HOST_VIRTUAL_IP]
        for link in vnet.virtual_network_peerings:
            if link.peering_state == "Connected" and link.allow_virtual_network_access:
                parts.extend(link.remote_address_space)
        parts.extend(onprem_prefixes(topology, vnet))
        parts.extend(self.learned.get(id_key(vnet.id), ()))
        return parts

    def route_only(self, scope: TagScope, address: IPAddress
                   ) -> tuple[tuple[RouteTable, Route], ...]:
        """The user routes whose prefix holds `address` when no other member of the scope's
        VirtualNetwork tag does; () otherwise (control/vnet_tag_routes.py). Memoised."""
        key = (scope.id, address.version, address.value)
        found = self._route_only.get(key)
        if found is None:
            routes = tuple((t, r) for t, r in self.user_routes(scope)
                           if r.address_prefix.contains_address(address))  # type: ignore[union-attr]
            found = () if not routes or any(p.contains_address(address) for p in
                                            self.non_route_parts(scope)) else routes
            if len(self._route_only) >= 1 << 16:
                self._route_only.clear()
            self._route_only[key] = found
        return found

    def user_routes(self, scope: TagScope) -> list[tuple[RouteTable, Route]]:
        """The scope's route table's routes whose prefix joins the VirtualNetwork tag
        (assumption virtualnetwork-udr-prefixes; service-tag routes do not)."""
        table = self.topology.get(scope.route_table) if scope.route_table else None
        if not isinstance(table, RouteTable):
            return []
        return [(table, r) for r in table.routes if isinstance(r.address_prefix, Prefix)]

    def caveats(self) -> list[str]:
        """One line per tag answered from the built-in subset (no file loaded for it)."""
        loaded = self.topology.service_tags
        where = (f"not in the loaded file {loaded.source} (changeNumber {loaded.change_number})"
                 if loaded else "no service tags file given (--service-tags FILE or "
                 "VNET_DATAPLANE_SERVICE_TAGS)")
        return [f"service-tag-prefixes-not-loaded: tag {name} uses the built-in partial prefix "
                f"set ({where}); flows to its other addresses are judged as if outside it."
                for name in sorted(self.partial)]
