"""The compiled Program: flat, versioned integer tables the packet pipeline and kernels read.

Takes: a Topology. Emits: `Program`, numpy arrays only. IPv4 tables below; IPv6 has the same
tables with 128-bit values as (n, 2) uint64 [top, bottom] halves (`route6_*`, `lpm6_*`,
`nh_ip6`, `rule_src6_off`/`src6_*`, `rule_dst6_off`/`dst6_*`, `addr6*`; see the Program fields),
read by `lookup6`, `classify6`, `evaluate6` (assumption `program-ipv6`; the packet engine is
still IPv4-only, assumption `program-ipv4`):
* routes, per subnet (CSR by `route_offsets`): the Active effective routes (routes.py) as
  `route_prefix` (uint32), `route_length` (uint8), `route_nexthop` (int32 into the next-hop
  table); and the same table flattened for batch LPM into disjoint intervals:
  `lpm_keys` (int64, sorted, subnet << 32 | first address) -> `lpm_hops` (int32, -1 = no route),
  so one `np.searchsorted` answers a batch of (subnet, destination) pairs;
* next hops (deduplicated): `nh_type` (index into NEXT_HOP_TYPES), `nh_ip` (int64, -1 none),
  `nh_route_table` (index into `route_table_ids`, -1 = "System Route"), `nh_vnet` (target VNet
  of a peering hop, or the destination VNet of a gateway route learned over VNet-to-VNet
  connections, -1), `nh_gateway` (index into `gateway_ids`, -1);
  gateway routes (control/bgp.py, docs/bgp.md) add: the ECMP group, CSR `nh_ecmp_off` over
  `nh_ecmp_ip` (IPv4 next-hop addresses of the group's rows: a gateway's active-active
  instances, a Route Server's NVAs; one per flow by the engine's symmetric flow hash, so a
  flow and its reply pick the same one); the speakers a packet crosses after the local one,
  CSR `nh_via_off` over `nh_via` (indices into `speaker_ids`: remote gateways of VNet-to-VNet
  connections, a Route Server); `nh_egress` (index into `egress_ids`: the connection or
  bgpConnection the packet leaves by at the last speaker, -1 when it ends in a VNet);
* security rule sets, one per (NSG, tag scope) and direction (a tag scope is a VNet and the
  route table of the NIC's subnet, control/tags.TagScope), rules in priority order (CSR by
  `ruleset_offsets`): `rule_priority`, `rule_allow`, `rule_protocol` (-1 any), `rule_name`
  (index into `rule_names`), address sets as merged inclusive intervals (CSR `rule_src_off`
  over `src_lo`/`src_hi`, same for dst) and port ranges (CSR `rule_sport_off` over
  `sport_lo`/`sport_hi`, same for dport) with `rule_sport_all`/`rule_dport_all` flags;
* NICs: `nic_subnet`, `nic_sets` (n, 4): [inbound subnet, inbound NIC, outbound NIC,
  outbound subnet] rule-set indices in evaluation order (-1 = no NSG at that level, allow);
  `addr_keys` (vnet << 32 | address, sorted) -> `addr_nic`.
`version` is a hash of the topology: a configuration change builds a new Program.
Compile cost at estate scale (bench/test_control_compile.py) is kept down by building each
distinct rule once (`_RuleRows`: rules as plain-value keys; tag-free address sides shared
across VNets) and gathering the rule columns with numpy; `_compile_reference` is the
straightforward path kept as the oracle (tests/control/test_compile_equivalence.py).
Semantics are routes.py (docs/azure-behaviour.md §3) and nsg.py (section 2); `lookup` and
`evaluate` are the readable numpy reference for the kernels.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
from dataclasses import dataclass, field, fields
from itertools import chain

import numpy as np

from dataplane.control.assumptions import ASSUMPTIONS
from dataplane.control.nsg import (
    DEFAULT_SECURITY_RULES,
    EffectiveRule,
    RuleCompiler,
    match_key,
    protocol_number,
)
from dataplane.control.routes import EffectiveRoute, effective_routes, nic_subnet
from dataplane.control.tags import scope_of
from dataplane.model import (
    ALL_PORTS,
    ANY,
    Assumption,
    NetworkSecurityGroup,
    PortRange,
    SecurityRule,
    Topology,
    VirtualNetwork,
    id_key,
)
from dataplane.net import IPAddress, Prefix

NEXT_HOP_TYPES = ("None", "VnetLocal", "VNetPeering", "VNetGlobalPeering",
                  "VirtualNetworkGateway", "Internet", "VirtualAppliance",
                  "VirtualNetworkServiceEndpoint", "InterfaceEndpoint")
_NH_CODE = {name: i for i, name in enumerate(NEXT_HOP_TYPES)}
PROGRAM_IPV6 = Assumption(
    "program-ipv6",
    "The Program's IPv6 tables (lookup6, classify6, evaluate6) follow the Python queries: "
    "Internet holds 2000::/3 minus the VirtualNetwork tag's IPv6 prefixes (internet-tag-ipv6), "
    "AzureLoadBalancer fe80::1234:5678:9abc (azureloadbalancer-ipv6), a loaded service-tag "
    "file's IPv6 prefixes count, the representative built-in service-tag sets are IPv4 only; "
    "VirtualNetwork includes IPv6 address spaces, peers' IPv6 space, IPv6 user-route prefixes "
    "and on-premises IPv6 prefixes.")
BGP_ASSUMPTIONS = ("gateway-next-hop-ip", "gateway-instance-addresses", "bgp-best-path",
                   "bgp-peer-host-routes", "vnet2vnet-bgp")
_SPACE = 1 << 32
_ALL = ((0, _SPACE - 1),)
_SPACE6 = 1 << 128
_ALL6 = ((0, _SPACE6 - 1),)
_U64 = (1 << 64) - 1


def topology_version(topology: Topology) -> str:
    """A stable hash of everything in the topology's fields (what `repr` shows): sha256 of a
    canonical nested tuple (class name, field values...; addresses as integers) serialised
    with marshal format 2 (no back-references, so equal values give equal bytes)."""
    return hashlib.sha256(marshal.dumps(_canonical(topology), 2)).hexdigest()[:16]


_ATOMS = frozenset({str, int, bool, float, type(None)})
# Field annotations whose values repr() can take as they are (atoms, tuples of atoms).
_RAW = frozenset({"str", "int", "bool", "float", "str | None", "int | None", "bool | None",
                  "tuple[str, ...]", "tuple[int, ...]", "tuple[tuple[str, str, str], ...]"})
_PREFIX = "(x.version, x.network, x.length) if x.__class__ is P else c(x)"
_INLINE = {  # element conversions inlined for the bulky tuple fields
    "tuple[Prefix, ...]": _PREFIX,
    "tuple[AddressMatch, ...]": f"x if x.__class__ is str else ({_PREFIX})",
    "tuple[PortRange, ...]": "(x.low, x.high) if x.__class__ is R else c(x)",
}
_ENCODERS: dict[type, object] = {}


def _encoder(cls: type) -> object:
    """A generated function: dataclass instance -> (class name, encoded fields...). Tuple
    fields of addresses and ports are converted inline, with a branch for the common
    one-element tuple (same result as the comprehension, one call fewer)."""
    lines = ["def encode(o):"]
    parts = [repr(cls.__qualname__)]
    for i, f in enumerate(fields(cls)):
        if not f.repr:
            continue
        ann = f.type if isinstance(f.type, str) else ""
        if ann in _RAW:
            parts.append(f"o.{f.name}")
        elif ann in _INLINE:
            lines += [f"    v = o.{f.name}",
                      "    if len(v) == 1:",
                      "        x = v[0]",
                      f"        f{i} = ({_INLINE[ann]},)",
                      "    else:",
                      f"        f{i} = tuple([{_INLINE[ann]} for x in v])"]
            parts.append(f"f{i}")
        elif ann.startswith("tuple["):
            parts.append(f"tuple([c(x) for x in o.{f.name}])")
        else:
            parts.append(f"c(o.{f.name})")
    lines.append(f"    return ({', '.join(parts)},)")
    namespace = {"c": _canonical, "P": Prefix, "R": PortRange}
    exec("\n".join(lines), namespace)  # noqa: S102 (generated from the class's field names)
    fn = namespace["encode"]
    _ENCODERS[cls] = fn
    return fn


def _canonical(obj: object) -> object:
    t = obj.__class__
    if t in _ATOMS:
        return obj
    if t is tuple or t is list:
        return (t.__name__, *[_canonical(x) for x in obj])  # type: ignore[attr-defined]
    if t is Prefix:
        return ("Prefix", obj.version, obj.network, obj.length)  # type: ignore[attr-defined]
    if t is IPAddress:
        return ("IPAddress", obj.version, obj.value)  # type: ignore[attr-defined]
    if hasattr(t, "__dataclass_fields__"):
        return (_ENCODERS.get(t) or _encoder(t))(obj)  # type: ignore[operator]
    return repr(obj)


@dataclass(frozen=True, eq=False)
class Program:
    version: str
    subnet_ids: tuple[str, ...]
    vnet_ids: tuple[str, ...]
    subnet_vnet: np.ndarray
    route_offsets: np.ndarray
    route_prefix: np.ndarray
    route_length: np.ndarray
    route_nexthop: np.ndarray
    lpm_keys: np.ndarray
    lpm_hops: np.ndarray
    nh_type: np.ndarray
    nh_ip: np.ndarray
    nh_route_table: np.ndarray
    nh_vnet: np.ndarray
    nh_gateway: np.ndarray
    route_table_ids: tuple[str, ...]
    gateway_ids: tuple[str, ...]
    ruleset_offsets: np.ndarray
    ruleset_nsg: tuple[str, ...]
    rule_priority: np.ndarray
    rule_allow: np.ndarray
    rule_protocol: np.ndarray
    rule_name: np.ndarray
    rule_names: tuple[str, ...]
    rule_src_off: np.ndarray
    src_lo: np.ndarray
    src_hi: np.ndarray
    rule_dst_off: np.ndarray
    dst_lo: np.ndarray
    dst_hi: np.ndarray
    rule_sport_off: np.ndarray
    sport_lo: np.ndarray
    sport_hi: np.ndarray
    rule_dport_off: np.ndarray
    dport_lo: np.ndarray
    dport_hi: np.ndarray
    rule_sport_all: np.ndarray
    rule_dport_all: np.ndarray
    nic_ids: tuple[str, ...]
    nic_subnet: np.ndarray
    nic_sets: np.ndarray
    addr_keys: np.ndarray
    addr_nic: np.ndarray
    assumptions: tuple[Assumption, ...] = field(default=())
    # IPv6 (128-bit values as (n, 2) uint64 arrays: [:, 0] top 64 bits, [:, 1] bottom 64):
    # the same per-subnet routes (CSR `route6_offsets`) and interval form (`lpm6_subnet`,
    # `lpm6_first`, `lpm6_hops`, sorted by (subnet, first)); next hops with an IPv6 address
    # (`nh_ip6`, valid where `nh_ip6_set`); per-rule IPv6 address sets (CSR `rule_src6_off`
    # over `src6_lo`/`src6_hi`, same for dst) beside the IPv4 ones; NIC addresses
    # (`addr6_vnet`, `addr6`, `addr6_nic`, sorted by (vnet, address)).
    route6_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    route6_prefix: np.ndarray = field(default_factory=lambda: _u128([]))
    route6_length: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    route6_nexthop: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    lpm6_subnet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lpm6_first: np.ndarray = field(default_factory=lambda: _u128([]))
    lpm6_hops: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    nh_ip6: np.ndarray = field(default_factory=lambda: _u128([]))
    nh_ip6_set: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    rule_src6_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    src6_lo: np.ndarray = field(default_factory=lambda: _u128([]))
    src6_hi: np.ndarray = field(default_factory=lambda: _u128([]))
    rule_dst6_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    dst6_lo: np.ndarray = field(default_factory=lambda: _u128([]))
    dst6_hi: np.ndarray = field(default_factory=lambda: _u128([]))
    addr6_vnet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    addr6: np.ndarray = field(default_factory=lambda: _u128([]))
    addr6_nic: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # Gateway routes (module doc): ECMP groups, speakers crossed, exits.
    nh_ecmp_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    nh_ecmp_ip: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    nh_via_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    nh_via: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    nh_egress: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    speaker_ids: tuple[str, ...] = ()
    egress_ids: tuple[str, ...] = ()

    # -- lookups --
    def subnet_index(self, subnet_id: str) -> int:
        return self._subnet_index[id_key(subnet_id)]

    def nic_index(self, nic_id: str) -> int:
        return self._nic_index[id_key(nic_id)]

    @property
    def _subnet_index(self) -> dict[str, int]:
        cached = self.__dict__.get("_subnet_cache")
        if cached is None:
            cached = {id_key(s): i for i, s in enumerate(self.subnet_ids)}
            object.__setattr__(self, "_subnet_cache", cached)
        return cached

    @property
    def _nic_index(self) -> dict[str, int]:
        cached = self.__dict__.get("_nic_cache")
        if cached is None:
            cached = {id_key(n): i for i, n in enumerate(self.nic_ids)}
            object.__setattr__(self, "_nic_cache", cached)
        return cached

    def lookup(self, subnet: np.ndarray | int, destination: np.ndarray) -> np.ndarray:
        """Batch longest-prefix match: next-hop index per packet (-1 = no route)."""
        dst = np.asarray(destination, dtype=np.int64)
        keys = (np.asarray(subnet, dtype=np.int64) << 32) | dst
        at = np.searchsorted(self.lpm_keys, keys, side="right") - 1
        return self.lpm_hops[at]

    def lookup6(self, subnet: np.ndarray | int, destination: np.ndarray) -> np.ndarray:
        """IPv6 batch longest-prefix match: `destination` as (n, 2) uint64 [top, bottom]
        halves (see `split128`); next-hop index per packet (-1 = no route)."""
        dst = np.asarray(destination, dtype=np.uint64).reshape(-1, 2)
        sub = np.broadcast_to(np.asarray(subnet, dtype=np.int64), (len(dst),))
        keys = _be_keys(sub, dst[:, 0], dst[:, 1])
        sorted_keys = self.__dict__.get("_lpm6_keys")
        if sorted_keys is None:
            sorted_keys = _be_keys(self.lpm6_subnet, self.lpm6_first[:, 0],
                                   self.lpm6_first[:, 1])
            object.__setattr__(self, "_lpm6_keys", sorted_keys)
        at = np.searchsorted(sorted_keys, keys, side="right") - 1
        out = self.lpm6_hops[np.maximum(at, 0)]
        return np.where(at >= 0, out, -1).astype(np.int32)

    def classify(self, ruleset: int, protocol: np.ndarray, source: np.ndarray,
                 source_port: np.ndarray, destination: np.ndarray,
                 destination_port: np.ndarray) -> np.ndarray:
        """First matching rule (global rule index) per packet of one rule set; -1 none."""
        return self._first_match(ruleset, protocol, source_port, destination_port,
                                 (source, self.src_lo, self.src_hi, self.rule_src_off),
                                 (destination, self.dst_lo, self.dst_hi, self.rule_dst_off))

    def classify6(self, ruleset: int, protocol: np.ndarray, source: np.ndarray,
                  source_port: np.ndarray, destination: np.ndarray,
                  destination_port: np.ndarray) -> np.ndarray:
        """`classify` for IPv6 flows: addresses as (n, 2) uint64 [top, bottom] halves."""
        src = _be_keys(*np.asarray(source, dtype=np.uint64).reshape(-1, 2).T)
        dst = _be_keys(*np.asarray(destination, dtype=np.uint64).reshape(-1, 2).T)
        s_lo, s_hi, d_lo, d_hi = self._keys6()
        return self._first_match(ruleset, protocol, source_port, destination_port,
                                 (src, s_lo, s_hi, self.rule_src6_off),
                                 (dst, d_lo, d_hi, self.rule_dst6_off))

    def _first_match(self, ruleset: int, protocol: np.ndarray, source_port: np.ndarray,
                     destination_port: np.ndarray, source: tuple, destination: tuple
                     ) -> np.ndarray:
        """The one first-match scan behind both families; an address side is
        (values, range lows, range highs, per-rule offsets)."""
        n = len(source[0])
        out = np.full(n, -1, dtype=np.int64)
        open_ = np.ones(n, dtype=bool)
        proto = np.asarray(protocol)
        ported = (proto == 6) | (proto == 17)
        for r in range(int(self.ruleset_offsets[ruleset]), int(self.ruleset_offsets[ruleset + 1])):
            m = open_.copy()
            if self.rule_protocol[r] >= 0:
                m &= proto == self.rule_protocol[r]
            m &= _in_ranges(*source, r)
            m &= _in_ranges(*destination, r)
            if not self.rule_sport_all[r]:
                m &= ported & _in_ranges(source_port, self.sport_lo, self.sport_hi,
                                         self.rule_sport_off, r)
            if not self.rule_dport_all[r]:
                m &= ported & _in_ranges(destination_port, self.dport_lo, self.dport_hi,
                                         self.rule_dport_off, r)
            out[m] = r
            open_ &= ~m
            if not open_.any():
                break
        return out

    def _keys6(self) -> tuple[np.ndarray, ...]:
        cached = self.__dict__.get("_rule6_keys")
        if cached is None:
            cached = tuple(_be_keys(a[:, 0], a[:, 1]) for a in (
                self.src6_lo, self.src6_hi, self.dst6_lo, self.dst6_hi))
            object.__setattr__(self, "_rule6_keys", cached)
        return cached

    def evaluate6(self, nic: int, direction: str, protocol: np.ndarray, source: np.ndarray,
                  source_port: np.ndarray, destination: np.ndarray,
                  destination_port: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`evaluate` for IPv6 flows: addresses as (n, 2) uint64 [top, bottom] halves."""
        return self.evaluate(nic, direction, protocol, source, source_port, destination,
                             destination_port, _classify=self.classify6)

    def evaluate(self, nic: int, direction: str, protocol: np.ndarray, source: np.ndarray,
                 source_port: np.ndarray, destination: np.ndarray,
                 destination_port: np.ndarray, _classify=None) -> tuple[np.ndarray, np.ndarray]:
        """NSG verdict for new flows at one NIC: (allow bool, deciding rule index or -1)."""
        classify = _classify or self.classify
        n = len(source)
        allow = np.ones(n, dtype=bool)
        rule = np.full(n, -1, dtype=np.int64)
        levels = self.nic_sets[nic, :2] if direction == "Inbound" else self.nic_sets[nic, 2:]
        for ruleset in levels:
            if ruleset < 0:
                continue
            open_ = allow.copy()
            if not open_.any():
                break
            hit = classify(int(ruleset), *(np.asarray(a)[open_] for a in (
                protocol, source, source_port, destination, destination_port)))
            idx = np.flatnonzero(open_)
            rule[idx] = hit
            allow[idx] = (hit >= 0) & self.rule_allow[np.maximum(hit, 0)].astype(bool)
        return allow, rule


def _in_ranges(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, offsets: np.ndarray,
               r: int) -> np.ndarray:
    a, b = int(offsets[r]), int(offsets[r + 1])
    if b == a:
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(lo[a:b], values, side="right") - 1
    return (at >= 0) & (values <= hi[a:b][np.maximum(at, 0)])


def _intervals(prefixes: tuple[Prefix, ...], version: int = 4) -> list[tuple[int, int]]:
    return _merge(sorted((p.first, p.last) for p in prefixes if p.version == version))


def split128(values: list[int] | tuple[int, ...]) -> np.ndarray:
    """128-bit integers -> (n, 2) uint64 [top 64 bits, bottom 64 bits]."""
    return _u128(values)


def _u128(values: list[int] | tuple[int, ...]) -> np.ndarray:
    out = np.zeros((len(values), 2), dtype=np.uint64)
    if len(values):
        out[:, 0] = np.array([v >> 64 for v in values], dtype=np.uint64)
        out[:, 1] = np.array([v & _U64 for v in values], dtype=np.uint64)
    return out


def _be_keys(*columns: np.ndarray) -> np.ndarray:
    """Columns of non-negative integers (< 2**64) -> one fixed-width big-endian byte string
    per row, which numpy orders (sort, searchsorted) as the tuple of the columns."""
    n = len(columns[0])
    packed = np.empty((n, len(columns)), dtype=">u8")
    for i, column in enumerate(columns):
        packed[:, i] = np.asarray(column).astype(np.uint64)
    return packed.view(f"S{8 * len(columns)}").reshape(n)


def lpm_intervals(routes: list[tuple[Prefix, int]], space: int = _SPACE
                  ) -> list[tuple[int, int]]:
    """Nested prefixes -> disjoint (first address, hop) runs covering 0..space-1 (-1 = none;
    space 2^32 for IPv4, 2^128 for IPv6).
    Active routes never share a prefix, so prefixes form a laminar family: one sweep over
    (first, -end) in integers (a VNet can hold hundreds of gateway routes)."""
    out: list[tuple[int, int]] = [(0, -1)]
    bits = space.bit_length() - 1

    def emit(pos: int, hop: int) -> None:
        if pos >= space:
            return
        if out and out[-1][0] == pos:
            out.pop()
        if not out or out[-1][1] != hop:
            out.append((pos, hop))

    stack: list[tuple[int, int]] = [(space, -1)]
    spans = sorted([(p.network, -(p.network + (1 << (bits - p.length))), hop)
                    for p, hop in routes])
    for first, neg_end, hop in spans:
        while stack[-1][0] <= first:
            end, _ = stack.pop()
            emit(end, stack[-1][1])
        stack.append((-neg_end, hop))
        emit(first, hop)
    while len(stack) > 1:
        end, _ = stack.pop()
        emit(end, stack[-1][1])
    return out


class _RuleRows:
    """Expanded rules as deduplicated rows, and their address/port spans as deduplicated
    interval lists, so a rule shared by many (NSG, VNet) rule sets is built once.

    A row: (name, priority, allow, protocol, src span, dst span, sport span, dport span,
    sport all, dport all, IPv6 src span, IPv6 dst span). Spans index `spans` (tuples of
    inclusive (lo, hi)); IPv6 address spans index `spans6`. Address sides
    that name no service tag do not depend on the VNet and are shared across VNets
    (RuleCompiler.side). Same values as `RuleCompiler.effective_nsg` + `_rule_columns`
    (tests/control/test_program_compile_equivalence.py)."""

    def __init__(self, compiler: RuleCompiler) -> None:
        self.compiler = compiler
        self.rows: dict[tuple, int] = {}
        self.spans: dict[tuple[tuple[int, int], ...], int] = {}
        self.spans6: dict[tuple[tuple[int, int], ...], int] = {}
        # (match_key, ASGs) -> span, or -1 when a tag is named: then per (VNet key, that key)
        self._addr: dict[tuple, tuple[int, int] | int] = {}
        self._addr_vnet: dict[tuple, tuple[int, int]] = {}
        self._ports: dict[tuple, tuple[int, bool]] = {}
        self._protocols: dict[str, int] = {}
        self._ordered: dict[int, tuple[NetworkSecurityGroup, list[SecurityRule]]] = {}
        # rule as plain values -> row, or a negative id when it names a tag; then
        # (VNet id, that id) -> row
        self._static: dict[tuple, int] = {}
        self._per_vnet: dict[tuple[str, int], int] = {}

    def span(self, values: tuple[tuple[int, int], ...]) -> int:
        return self.spans.setdefault(values, len(self.spans))

    def _side_span(self, vnet: VirtualNetwork, matches: tuple, asgs: tuple[str, ...]
                   ) -> tuple[int, int]:
        any_, prefixes = self.compiler._side(vnet, matches, asgs)
        six = _ALL6 if any_ else tuple(_intervals(prefixes, 6))
        return (self.span(_ALL if any_ else tuple(_intervals(prefixes))),
                self.spans6.setdefault(six, len(self.spans6)))

    def _address(self, vnet: VirtualNetwork, matches: tuple, asgs: tuple[str, ...]
                 ) -> tuple[int, int]:
        key = (match_key(matches), asgs)
        found = self._addr.get(key)
        if found is None:
            if any(m.__class__ is str and m != ANY for m in matches):
                found = self._addr[key] = -1
            else:
                found = self._addr[key] = self._side_span(vnet, matches, asgs)
        if found == -1:
            key = (vnet.id, key)
            found = self._addr_vnet.get(key)
            if found is None:
                found = self._addr_vnet[key] = self._side_span(vnet, matches, asgs)
        return found  # type: ignore[return-value]

    def _port(self, ranges: tuple[PortRange, ...]) -> tuple[int, bool]:
        key = tuple([(p.low, p.high) for p in ranges])
        found = self._ports.get(key)
        if found is None:
            spans = sorted(key or ((ALL_PORTS.low, ALL_PORTS.high),))
            found = self._ports[key] = (self.span(tuple(_merge(spans))), spans == [(0, 65535)])
        return found

    def _protocol(self, name: str) -> int:
        found = self._protocols.get(name)
        if found is None:
            found = self._protocols[name] = protocol_number(name)
        return found

    def row(self, rule: SecurityRule, vnet: VirtualNetwork) -> int:
        sport, sport_all = self._port(rule.source_port_ranges)
        dport, dport_all = self._port(rule.destination_port_ranges)
        src, src6 = self._address(vnet, rule.source_address_prefixes,
                                  rule.source_application_security_groups)
        dst, dst6 = self._address(vnet, rule.destination_address_prefixes,
                                  rule.destination_application_security_groups)
        key = ("defaultSecurityRules/" if rule.is_default else "securityRules/") + rule.name, \
            rule.priority, rule.access == "Allow", self._protocol(rule.protocol), \
            src, dst, sport, dport, sport_all, dport_all, src6, dst6
        return self.rows.setdefault(key, len(self.rows))

    def nsg(self, nsg: NetworkSecurityGroup, vnet: VirtualNetwork
            ) -> tuple[list[int], list[int]]:
        """(inbound rows, outbound rows) in priority order, as `RuleCompiler.effective_nsg`.

        The hot loop of a large compile (one pass per rule of every (NSG, VNet) pair): each
        rule becomes a key of plain values (no dataclass hashing) looked up once; a rule that
        names a service tag is then looked up again per VNet."""
        entry = self._ordered.get(id(nsg))
        if entry is None or entry[0] is not nsg:
            custom = [r for r in nsg.security_rules if not r.is_default]
            entry = self._ordered[id(nsg)] = (nsg, sorted(
                (*custom, *DEFAULT_SECURITY_RULES), key=lambda r: r.priority))
        static, static_get = self._static, self._static.get
        per_vnet, per_vnet_get = self._per_vnet, self._per_vnet.get
        vkey = vnet.id
        inbound: list[int] = []
        outbound: list[int] = []
        for r in entry[1]:
            s = r.source_address_prefixes
            if len(s) == 1:
                m = s[0]
                sk = m if m.__class__ is str else (m.version, m.network, m.length)
            else:
                sk = match_key(s)
            d = r.destination_address_prefixes
            if len(d) == 1:
                m = d[0]
                dk = m if m.__class__ is str else (m.version, m.network, m.length)
            else:
                dk = match_key(d)
            p = r.source_port_ranges
            spk = (p[0].low, p[0].high) if len(p) == 1 else tuple([(x.low, x.high) for x in p])
            p = r.destination_port_ranges
            dpk = (p[0].low, p[0].high) if len(p) == 1 else tuple([(x.low, x.high) for x in p])
            key = (r.name, r.priority, r.direction, r.access, r.protocol, r.is_default, sk, dk,
                   spk, dpk, r.source_application_security_groups,
                   r.destination_application_security_groups)
            row = static_get(key)
            if row is None:
                if any(m.__class__ is str and m != ANY for m in (*s, *d)):
                    row = static[key] = -1 - len(static)  # names a tag: per VNet
                else:
                    row = static[key] = self.row(r, vnet)
            if row < 0:
                at = (vkey, row)
                found = per_vnet_get(at)
                if found is None:
                    found = per_vnet[at] = self.row(r, vnet)
                row = found
            direction = r.direction
            if direction == "Inbound":
                inbound.append(row)
            elif direction == "Outbound":
                outbound.append(row)
        return inbound, outbound


class _Builder:
    def __init__(self, topology: Topology, fast: bool = True) -> None:
        self.topology = topology
        self.fast = fast
        self.rules = RuleCompiler(topology)
        self.rows = _RuleRows(self.rules)
        self.ruleset_rows: list[list[int]] = []
        self.next_hops: dict[tuple, int] = {}
        self.route_tables: dict[str, int] = {}
        self.gateways: dict[str, int] = {}
        self.speakers: dict[str, int] = {}
        self.egress: dict[str, int] = {}
        self.bgp_hops: dict[tuple[int, bool], int] = {}
        self.vnets = {id_key(v.id): i for i, v in enumerate(topology.virtual_networks)}
        self.rulesets: dict[tuple[str, str, str], int] = {}
        self.ruleset_nsg: list[str] = []
        self.ruleset_rules: list[list[EffectiveRule]] = []

    def next_hop(self, route: EffectiveRoute, ipv6: bool = False,
                 ecmp: tuple[IPAddress, ...] = ()) -> int:
        """Next-hop index (deduplicated). For IPv6 routes (`ipv6`, compiled after every IPv4
        one so IPv4 indices do not move) an IPv6 next-hop address is part of the key. `ecmp`:
        the next-hop addresses of the route's ECMP group (`fold_ecmp`)."""
        if route.hop_key:  # a gateway row group shared by many subnets: compile it once
            key = (route.hop_key, ipv6)
            found = self.bgp_hops.get(key)
            if found is None:
                found = self.bgp_hops[key] = self._next_hop(route, ipv6, ecmp)
            return found
        return self._next_hop(route, ipv6, ecmp)

    def _next_hop(self, route: EffectiveRoute, ipv6: bool,
                  ecmp: tuple[IPAddress, ...]) -> int:
        rt = -1
        if route.source == "User" and route.route_table_id:
            rt = self.route_tables.setdefault(id_key(route.route_table_id), len(self.route_tables))
        gw = -1
        if route.gateway:
            gw = self.gateways.setdefault(route.gateway, len(self.gateways))
        ip = route.next_hop_ip[0].value if route.next_hop_ip and \
            route.next_hop_ip[0].version == 4 else -1
        target = route.remote_vnet or route.dest_vnet
        vnet = self.vnets.get(id_key(target), -1) if target else -1
        group = tuple(a.value for a in ecmp if a.version == 4)
        via = tuple(self.speakers.setdefault(v, len(self.speakers)) for v in route.via)
        egress = self.egress.setdefault(route.egress, len(self.egress)) if route.egress else -1
        key: tuple = (_NH_CODE[route.next_hop_type], ip, rt, vnet, gw, group, via, egress)
        if ipv6 and route.next_hop_ip and route.next_hop_ip[0].version == 6:
            key = (*key, route.next_hop_ip[0].value)
        return self.next_hops.setdefault(key, len(self.next_hops))

    def ruleset(self, nsg_id: str | None, vnet: VirtualNetwork, direction: str) -> int:
        nsg = self.topology.get(nsg_id) if nsg_id else None
        if not isinstance(nsg, NetworkSecurityGroup):
            return -1
        key = (id_key(nsg.id), id_key(vnet.id), direction)
        if key not in self.rulesets:
            if self.fast:
                sets = self.rows.nsg(nsg, vnet)
            else:
                eff = self.rules.effective_nsg(nsg, vnet, "", "")
            for i, d in enumerate(("Inbound", "Outbound")):
                self.rulesets[(key[0], key[1], d)] = len(self.ruleset_nsg)
                self.ruleset_nsg.append(nsg.id)
                if self.fast:
                    self.ruleset_rows.append(sets[i])
                else:
                    self.ruleset_rules.append(list(eff.rules(d)))
        return self.rulesets[key]


def compile_program(topology: Topology) -> Program:
    """Compile every subnet's routes, every (NSG, VNet) rule set and every NIC."""
    # Compiling allocates millions of small tuples and frees none of them until the end:
    # the cyclic collector would rescan them all repeatedly for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile(topology, fast=True)
    finally:
        if enabled:
            gc.enable()


def _compile_reference(topology: Topology) -> Program:
    """The straightforward compile (one EffectiveRule per rule and rule set, columns built
    rule by rule): the oracle for the deduplicated, vectorised rule columns."""
    return _compile(topology, fast=False)


def _compile(topology: Topology, fast: bool) -> Program:
    b = _Builder(topology, fast)
    subnet_ids: list[str] = []
    subnet_vnet: list[int] = []
    offsets = [0]
    prefixes: list[int] = []
    lengths: list[int] = []
    hops: list[int] = []
    lpm_keys: list[int] = []
    lpm_hops: list[int] = []
    subnet_index: dict[str, int] = {}
    routes6: list[list[tuple[EffectiveRoute, tuple[IPAddress, ...]]]] = []
    for vi, vnet in enumerate(topology.virtual_networks):
        for subnet in vnet.subnets:
            si = len(subnet_ids)
            subnet_index[id_key(subnet.id)] = si
            subnet_ids.append(subnet.id)
            subnet_vnet.append(vi)
            folded = fold_ecmp(effective_routes(topology, subnet))
            active = [(r.address_prefix, b.next_hop(r, ecmp=group))
                      for r, group in folded if r.address_prefix.version == 4]
            routes6.append([(r, g) for r, g in folded if r.address_prefix.version == 6])
            for prefix, hop in active:
                prefixes.append(prefix.network)
                lengths.append(prefix.length)
                hops.append(hop)
            offsets.append(len(prefixes))
            for start, hop in lpm_intervals(active):
                lpm_keys.append((si << 32) | start)
                lpm_hops.append(hop)
    six = _routes6(b, routes6)

    nic_ids: list[str] = []
    nic_subnets: list[int] = []
    nic_sets: list[list[int]] = []
    addr: list[tuple[int, int]] = []
    addr6: list[tuple[int, int, int]] = []
    for ni, nic in enumerate(topology.network_interfaces):
        try:
            subnet = nic_subnet(topology, nic)
        except KeyError:
            subnet = None
        vnet = topology.vnet_of_subnet(subnet.id) if subnet else None
        nic_ids.append(nic.id)
        if subnet is None or vnet is None:
            nic_subnets.append(-1)
            nic_sets.append([-1, -1, -1, -1])
            continue
        nic_subnets.append(subnet_index[id_key(subnet.id)])
        scope = scope_of(topology, vnet, subnet.id)  # rule sets per (NSG, tag scope)
        nic_sets.append([b.ruleset(subnet.network_security_group, scope, "Inbound"),
                         b.ruleset(nic.network_security_group, scope, "Inbound"),
                         b.ruleset(nic.network_security_group, scope, "Outbound"),
                         b.ruleset(subnet.network_security_group, scope, "Outbound")])
        vi = b.vnets[id_key(vnet.id)]
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is not None and ip.version == 4:
                addr.append(((vi << 32) | ip.value, ni))
            elif ip is not None and ip.version == 6:
                addr6.append((vi, ip.value, ni))

    columns = (_row_columns(b.rows, b.ruleset_rows) if fast
               else _rule_columns(b.ruleset_rules))
    nh = sorted(b.next_hops.items(), key=lambda kv: kv[1])
    addr.sort()
    addr6.sort()
    i64, i32 = np.int64, np.int32
    ip6 = [k[8] if len(k) > 8 else 0 for k, _ in nh]
    return Program(
        version=topology_version(topology),
        subnet_ids=tuple(subnet_ids),
        vnet_ids=tuple(v.id for v in topology.virtual_networks),
        subnet_vnet=np.array(subnet_vnet, dtype=i32),
        route_offsets=np.array(offsets, dtype=i64),
        route_prefix=np.array(prefixes, dtype=np.uint32),
        route_length=np.array(lengths, dtype=np.uint8),
        route_nexthop=np.array(hops, dtype=i32),
        lpm_keys=np.array(lpm_keys, dtype=i64),
        lpm_hops=np.array(lpm_hops, dtype=i32),
        nh_type=np.array([k[0] for k, _ in nh], dtype=np.uint8),
        nh_ip=np.array([k[1] for k, _ in nh], dtype=i64),
        nh_route_table=np.array([k[2] for k, _ in nh], dtype=i32),
        nh_vnet=np.array([k[3] for k, _ in nh], dtype=i32),
        nh_gateway=np.array([k[4] for k, _ in nh], dtype=i32),
        route_table_ids=tuple(_ordered_ids(topology, b.route_tables)),
        gateway_ids=tuple(sorted(b.gateways, key=b.gateways.__getitem__)),
        ruleset_nsg=tuple(b.ruleset_nsg),
        nic_ids=tuple(nic_ids),
        nic_subnet=np.array(nic_subnets, dtype=i32),
        nic_sets=np.array(nic_sets, dtype=i32).reshape(-1, 4),
        addr_keys=np.array([k for k, _ in addr], dtype=i64),
        addr_nic=np.array([n for _, n in addr], dtype=i32),
        assumptions=(ASSUMPTIONS["program-ipv4"], PROGRAM_IPV6, *(
            ASSUMPTIONS[k] for k in BGP_ASSUMPTIONS
            if topology.virtual_network_gateways or topology.virtual_hubs)),
        nh_ip6=_u128(ip6),
        nh_ip6_set=np.array([len(k) > 8 for k, _ in nh], dtype=bool),
        **_csr("nh_ecmp", [k[5] for k, _ in nh], i64),
        **_csr("nh_via", [k[6] for k, _ in nh], i32),
        nh_egress=np.array([k[7] for k, _ in nh], dtype=i32),
        speaker_ids=tuple(sorted(b.speakers, key=b.speakers.__getitem__)),
        egress_ids=tuple(sorted(b.egress, key=b.egress.__getitem__)),
        addr6_vnet=np.array([v for v, _, _ in addr6], dtype=i64),
        addr6=_u128([a for _, a, _ in addr6]),
        addr6_nic=np.array([n for _, _, n in addr6], dtype=i32),
        **six,
        **columns,
    )


def fold_ecmp(rows: tuple[EffectiveRoute, ...]
              ) -> list[tuple[EffectiveRoute, tuple[IPAddress, ...]]]:
    """The Active rows, one per prefix: an ECMP group (consecutive rows of one prefix and
    `ecmp` key, routes.py) becomes its first row with the next-hop addresses of all its rows."""
    out: list[tuple[EffectiveRoute, tuple[IPAddress, ...]]] = []
    head: EffectiveRoute | None = None
    for row in rows:
        if not row.active:
            continue
        if row.ecmp is None:
            out.append((row, ()))
            head = None
        elif head is not None and row.ecmp == head.ecmp and \
                row.address_prefix is head.address_prefix:  # one group shares its Prefix
            out[-1] = (head, out[-1][1] + row.next_hop_ip)
        else:
            head = row
            out.append((row, row.next_hop_ip))
    return out


def _csr(name: str, groups: list[tuple[int, ...]], dtype: type) -> dict[str, np.ndarray]:
    """Per-next-hop lists as `<name>_off` (int64, n + 1) over `<name>_ip` / `<name>`."""
    off = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=off[1:])
    values = np.array([v for g in groups for v in g], dtype=dtype)
    return {f"{name}_off": off, name if name == "nh_via" else f"{name}_ip": values}


def _routes6(b: _Builder, routes6: list[list[tuple[EffectiveRoute, tuple[IPAddress, ...]]]]
             ) -> dict[str, np.ndarray]:
    """Per-subnet IPv6 route tables and their interval form (after every IPv4 next hop)."""
    offsets, prefixes, lengths, hops = [0], [], [], []
    subnets, firsts, lpm_hops = [], [], []
    for si, rows in enumerate(routes6):
        active = [(r.address_prefix, b.next_hop(r, ipv6=True, ecmp=g)) for r, g in rows]
        for prefix, hop in active:
            prefixes.append(prefix.network)
            lengths.append(prefix.length)
            hops.append(hop)
        offsets.append(len(prefixes))
        for start, hop in lpm_intervals(active, _SPACE6):
            subnets.append(si)
            firsts.append(start)
            lpm_hops.append(hop)
    return {
        "route6_offsets": np.array(offsets, dtype=np.int64),
        "route6_prefix": _u128(prefixes),
        "route6_length": np.array(lengths, dtype=np.uint8),
        "route6_nexthop": np.array(hops, dtype=np.int32),
        "lpm6_subnet": np.array(subnets, dtype=np.int64),
        "lpm6_first": _u128(firsts),
        "lpm6_hops": np.array(lpm_hops, dtype=np.int32),
    }


def _ordered_ids(topology: Topology, index: dict[str, int]) -> list[str]:
    by_key = {id_key(t.id): t.id for t in topology.route_tables}
    return [by_key.get(k, k) for k in sorted(index, key=index.__getitem__)]


def _rule_columns(rulesets: list[list[EffectiveRule]]) -> dict[str, object]:
    offsets = [0]
    names: dict[str, int] = {}
    cols: dict[str, list[int]] = {k: [] for k in (
        "rule_priority", "rule_allow", "rule_protocol", "rule_name", "rule_sport_all",
        "rule_dport_all")}
    spans: dict[str, tuple[list[int], list[int], list[int]]] = {
        k: ([0], [], []) for k in ("src", "dst", "sport", "dport", "src6", "dst6")}
    for rules in rulesets:
        for rule in rules:
            cols["rule_priority"].append(rule.priority)
            cols["rule_allow"].append(rule.access == "Allow")
            cols["rule_protocol"].append(rule.protocol)
            cols["rule_name"].append(names.setdefault(rule.name, len(names)))
            sport = sorted((p.low, p.high) for p in rule.source_ports)
            dport = sorted((p.low, p.high) for p in rule.destination_ports)
            cols["rule_sport_all"].append(sport == [(0, 65535)])
            cols["rule_dport_all"].append(dport == [(0, 65535)])
            for key, values in (
                    ("src", _ALL if rule.source_any else _intervals(rule.source_prefixes)),
                    ("dst", _ALL if rule.destination_any else
                     _intervals(rule.destination_prefixes)),
                    ("sport", _merge(sport)), ("dport", _merge(dport)),
                    ("src6", _ALL6 if rule.source_any else
                     _intervals(rule.source_prefixes, 6)),
                    ("dst6", _ALL6 if rule.destination_any else
                     _intervals(rule.destination_prefixes, 6))):
                off, lo, hi = spans[key]
                for a, z in values:
                    lo.append(a)
                    hi.append(z)
                off.append(len(lo))
        offsets.append(len(cols["rule_priority"]))
    out: dict[str, object] = {
        "ruleset_offsets": np.array(offsets, dtype=np.int64),
        "rule_priority": np.array(cols["rule_priority"], dtype=np.int32),
        "rule_allow": np.array(cols["rule_allow"], dtype=np.uint8),
        "rule_protocol": np.array(cols["rule_protocol"], dtype=np.int16),
        "rule_name": np.array(cols["rule_name"], dtype=np.int32),
        "rule_names": tuple(sorted(names, key=names.__getitem__)),
        "rule_sport_all": np.array(cols["rule_sport_all"], dtype=bool),
        "rule_dport_all": np.array(cols["rule_dport_all"], dtype=bool),
    }
    for key, (off, lo, hi) in spans.items():
        dtype = np.int64  # addresses fit uint32; int64 keeps comparisons with int64 inputs exact
        prefix = "rule_" + key + "_off"
        out[prefix] = np.array(off, dtype=np.int64)
        if key.endswith("6"):
            out[f"{key}_lo"], out[f"{key}_hi"] = _u128(lo), _u128(hi)
        else:
            out[f"{key}_lo"] = np.array(lo, dtype=dtype)
            out[f"{key}_hi"] = np.array(hi, dtype=dtype)
    return out


def _row_columns(rows: _RuleRows, rulesets: list[list[int]]) -> dict[str, object]:
    """`_rule_columns` over deduplicated rows: gather per rule with numpy."""
    i64 = np.int64
    lens = np.fromiter((len(r) for r in rulesets), dtype=i64, count=len(rulesets))
    offsets = np.zeros(len(rulesets) + 1, dtype=i64)
    np.cumsum(lens, out=offsets[1:])
    flat = np.fromiter(chain.from_iterable(rulesets), dtype=i64, count=int(offsets[-1]))
    keys = list(rows.rows)
    names: dict[str, int] = {}
    row_name = np.fromiter((names.setdefault(k[0], len(names)) for k in keys), dtype=i64,
                           count=len(keys))
    table = np.array([k[1:] for k in keys], dtype=i64).reshape(len(keys), 11)
    table = table[flat]
    # Rule names numbered by first appearance in rule order, as `_rule_columns` does.
    tmp = row_name[flat]
    used, first = np.unique(tmp, return_index=True)
    order = used[np.argsort(first, kind="stable")]
    rank = np.zeros(len(names), dtype=i64)
    rank[order] = np.arange(len(order), dtype=i64)
    by_tmp = list(names)
    out: dict[str, object] = {
        "ruleset_offsets": offsets,
        "rule_priority": table[:, 0].astype(np.int32),
        "rule_allow": table[:, 1].astype(np.uint8),
        "rule_protocol": table[:, 2].astype(np.int16),
        "rule_name": rank[tmp].astype(np.int32),
        "rule_names": tuple(by_tmp[t] for t in order),
        "rule_sport_all": table[:, 7].astype(bool),
        "rule_dport_all": table[:, 8].astype(bool),
    }
    for spans, columns in ((list(rows.spans), (("src", 3), ("dst", 4), ("sport", 5),
                                                ("dport", 6))),
                           (list(rows.spans6), (("src6", 9), ("dst6", 10)))):
        span_len = np.fromiter((len(s) for s in spans), dtype=i64, count=len(spans))
        span_start = np.zeros(len(spans) + 1, dtype=i64)
        np.cumsum(span_len, out=span_start[1:])
        flat_bounds = [v for s in spans for pair in s for v in pair]
        six = columns[0][0] == "src6"
        bounds = (_u128(flat_bounds).reshape(-1, 2, 2) if six
                  else np.array(flat_bounds, dtype=i64).reshape(-1, 2))
        for key, col in columns:
            ids = table[:, col]
            counts = span_len[ids]
            off = np.zeros(len(ids) + 1, dtype=i64)
            np.cumsum(counts, out=off[1:])
            at = np.repeat(span_start[ids] - off[:-1], counts) + np.arange(off[-1], dtype=i64)
            out[f"rule_{key}_off"] = off
            out[f"{key}_lo"] = bounds[at, 0].copy()
            out[f"{key}_hi"] = bounds[at, 1].copy()
    return out


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]
