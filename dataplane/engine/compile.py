"""The engine's view of a topology: nodes, addresses, caps and the flat tables the batch
pipeline reads.

Takes: a Topology and a TimingParams. Emits `Network` with
* nodes: every NIC (in topology order, the Program's order), then every Azure Firewall, then
  every virtual network gateway, then the Internet exit: `node_names`, `node_vm` (shaper
  index, -1 = unshaped; shaper slots are the VMs, then the Azure Firewalls at their SKU's
  cap, timing/firewall_capacity.py; `vm_names` / `vm_cap_bps` name and cap every slot),
  `node_region`, `node_cost_ns` (processing cost when a packet arrives: NVA, firewall,
  gateway), `node_vnet`;
* routes: per subnet the Active effective routes (control/routes.py) with one global id each,
  flattened into the interval form (control/program.lpm_intervals) keyed
  `subnet << 32 | address` so one searchsorted answers a batch of IPv4 rows; the IPv6 routes
  get global ids after the subnet's IPv4 ones and one IPv6 LPM table per subnet (`route6`,
  kernels/lpm.py Lpm6Table: prefix -> global route id); per route its next-hop code,
  target VNet, appliance node, gateway node, and a label (`route_labels`);
* peering matrices (VNet x VNet): both links Connected; the receiving link allows forwarded
  traffic (assumption `forwarded-traffic`, docs/azure-behaviour.md §4.1);
* latency matrix (region x region, ns, -1 = unknown pair) from dataplane.timing;
* internal load balancers (engine/stages/loadbalancer.py): `lb` frontends keyed (VNet, address);
  `route_fe` the frontend a VirtualAppliance route's next-hop IP names (-1 otherwise), and per
  (such route, backend NIC) a synthetic route id (`lb_synth`) whose appliance is that backend,
  appended after the LPM routes (never found by lookup, same label);
* the edges (engine/stages/gateway.py): `ingress` (on-premises sites per gateway node, the gateway's
  GatewaySubnet as entry subnet, the VNets each gateway serves through transit, addresses with
  a public IP; sites also name the connection a gateway exit uses), `vnet_region`,
  `node_is_gateway`, `peering_links` (link names for explanations); gateway routes
  (`ingress.routes`, stages/gateway.GatewayRoutes: ECMP groups, gateways crossed, VNet-to-VNet
  destinations); a Route Server row (next hop the NVA) compiles as a VirtualAppliance hop.
`build_network(..., caps=False)` skips the VM bandwidth caps (explain needs no timing, and a
VM size without a published cap must not stop it).
The NSG tables are the control plane's compiled Program (control/program.py), used as is
(its IPv6 rule sets through `Program.evaluate6`).
Dual-stack (issue 17): IPv6 effective routes (`route6`), VNets' IPv6 address spaces
(`vnet_space6`, for the peering stage's "originated in the VNet" test) and IPv6 next-hop
addresses of VirtualAppliance routes (a NIC of the VNet or a peer holding that IPv6 address).
Internal load balancers' IPv6 frontends (`LBTables.by_key6`) and a dual-stack firewall's
IPv6 address (a next hop of IPv6 routes) are compiled too; gateways are IPv4 only (the IPv6
rows that reach them end IPV6_NOT_MODELLED, stages/ipv6.py; `lb6_frontends` names every IPv6
frontend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataplane.control.peering import peering_access
from dataplane.control.program import Program, compile_program, lpm_intervals
from dataplane.control.routes import EffectiveRoute, effective_routes, nic_subnet, reverse_link
from dataplane.control.tags import NOT_INTERNET
from dataplane.engine.stages import gateway as _gateway
from dataplane.engine.stages import loadbalancer as _lb
from dataplane.engine.stages.firewall import CompiledFirewall, compile_firewall
from dataplane.engine.stages.public_edge import endpoint_label
from dataplane.engine.vnet_pairs import VnetPairs
from dataplane.errors import InputError
from dataplane.kernels.lpm import Lpm6Table
from dataplane.model import AzureFirewall, NetworkInterface, Subnet, Topology, id_key
from dataplane.timing.bandwidth import vm_egress_caps
from dataplane.timing.firewall_capacity import firewall_egress_caps
from dataplane.timing.latency import LatencyTable, fold_region
from dataplane.timing.params import TimingParams

# next-hop codes of the engine's route table
NH_NONE, NH_VNETLOCAL, NH_PEERING, NH_GATEWAY, NH_INTERNET, NH_APPLIANCE, NH_SERVICE = range(7)
NH_ENDPOINT = 7  # a private endpoint's /32 (stages/public_edge.py)
_NH = {"None": NH_NONE, "VnetLocal": NH_VNETLOCAL, "VNetPeering": NH_PEERING,
       "VNetGlobalPeering": NH_PEERING, "VirtualNetworkGateway": NH_GATEWAY,
       "Internet": NH_INTERNET, "VirtualAppliance": NH_APPLIANCE,
       "VirtualNetworkServiceEndpoint": NH_SERVICE, "InterfaceEndpoint": NH_ENDPOINT}
MAX_HOPS = 8  # appliance hops before LOOP, as control/explain.py


def route_label(topology: Topology, route: EffectiveRoute) -> str:
    if route.source == "User" and route.route_table_id:
        table = topology.get(route.route_table_id)
        name = getattr(table, "name", route.route_table_id.rsplit("/", 1)[-1])
        return f"route {name}/{route.route_name}"
    if route.private_endpoint:
        return endpoint_label(topology, route)  # stages/public_edge.py
    return f"route System {route.address_prefix} {route.next_hop_type}"


@dataclass(eq=False)
class Network:
    topology: Topology
    params: TimingParams
    program: Program
    nics: tuple[NetworkInterface, ...]
    firewalls: tuple[AzureFirewall, ...]
    node_names: tuple[str, ...]
    node_kind: tuple[str, ...]
    node_vm: np.ndarray
    node_region: np.ndarray
    node_cost_ns: np.ndarray
    node_vnet: np.ndarray
    node_subnet: np.ndarray
    vm_names: tuple[str, ...]
    vm_cap_bps: np.ndarray
    regions: tuple[str, ...]
    latency_ns: np.ndarray
    vnet_names: tuple[str, ...]
    connected: VnetPairs  # [a, b]: both links Connected (a == b: True); never dense
    forward_ok: VnetPairs  # [a, b]: b's link to a allows forwarded traffic
    vnet_lo: list[np.ndarray]
    vnet_hi: list[np.ndarray]
    route_keys: np.ndarray
    route_ids: np.ndarray
    route_nh: np.ndarray
    route_vnet: np.ndarray
    route_appliance: np.ndarray
    route_gateway: np.ndarray
    route_labels: tuple[str, ...]
    routes_by_subnet: dict[str, tuple[EffectiveRoute, ...]]
    route_index: dict[tuple[str, int], int]
    internet_node: int
    ip_nic: dict[int, int] = field(default_factory=dict)
    not_internet: tuple = NOT_INTERNET
    vnet_region: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    node_is_gateway: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    lb: _lb.LBTables = field(default_factory=_lb.LBTables)
    route_fe: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    lb_synth: dict[tuple[int, int], int] = field(default_factory=dict)
    ingress: _gateway.IngressTables = field(default_factory=_gateway.IngressTables)
    peering_links: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    firewall_rules: tuple[CompiledFirewall, ...] = ()  # per firewall (stages/firewall.py)
    route6: dict[int, Any] = field(default_factory=dict)  # subnet -> Lpm6Table (global ids)
    vnet_space6: tuple[tuple[tuple[int, int], ...], ...] = ()  # per VNet IPv6 (first, last)
    lb6_frontends: dict[tuple[int, int], str] = field(default_factory=dict)  # (VNet, IPv6)
    ip6_nic: dict[int, int] = field(default_factory=dict)  # IPv6 private address -> NIC

    def caveats_of(self, path: list[int]) -> list[str]:
        """Named caveats of an answer whose node path is `path` (the firewalls it crossed)."""
        first = len(self.nics)
        out: list[str] = []
        for node in path:
            if first <= node < first + len(self.firewall_rules):
                out += self.firewall_rules[node - first].caveats
        return list(dict.fromkeys(out))

    # -- lookups used at the edges (never per packet in the batch path) --
    def nic_by_vm(self, name: str) -> int:
        key = name.lower()
        for i, nic in enumerate(self.nics):
            vm = self.topology.vm_of_nic(nic)
            if (vm is not None and vm.name.lower() == key) or nic.name.lower() == key:
                return i
        raise InputError(f"no VM or NIC named '{name}' in the topology")

    def nic_ip(self, nic: int) -> int:
        ip = self.nics[nic].primary_ip
        if ip is None or ip.version != 4:
            raise InputError(f"NIC {self.nics[nic].name} has no IPv4 address")
        return ip.value

    def latency(self, a_region: int, b_region: int) -> int:
        v = int(self.latency_ns[a_region, b_region])
        if v < 0:
            raise InputError(f"no published latency from {self.regions[a_region]} to "
                             f"{self.regions[b_region]}")
        return v


def build_network(topology: Topology, params: TimingParams | None = None,
                  caps: bool = True) -> Network:
    params = params or TimingParams()
    program = compile_program(topology)
    latency = LatencyTable(params)
    vm_caps = vm_egress_caps(topology) if caps else {
        id_key(v.id): 0 for v in topology.virtual_machines}
    vm_keys = [id_key(v.id) for v in topology.virtual_machines]
    # fwperf hook: each Azure Firewall is one more shaper slot after the VMs, capped per SKU
    # (timing/firewall_capacity.py); its slot carries the firewall's name in vm_names.
    fw_caps = firewall_egress_caps(topology) if caps else {
        id_key(f.id): 0 for f in topology.azure_firewalls}
    vm_index = {k: i for i, k in enumerate(vm_keys)}
    vnet_index = {id_key(v.id): i for i, v in enumerate(topology.virtual_networks)}
    subnet_index = {id_key(s): i for i, s in enumerate(program.subnet_ids)}
    regions: list[str] = []

    def region(name: str) -> int:
        f = fold_region(name)
        if f not in regions:
            regions.append(f)
        return regions.index(f)

    names, kinds, nvm, nregion, ncost, nvnet, nsubnet = [], [], [], [], [], [], []
    nics = topology.network_interfaces
    ip_nic: dict[int, int] = {}
    for i, nic in enumerate(nics):
        vm = topology.vm_of_nic(nic)
        try:
            subnet: Subnet | None = nic_subnet(topology, nic)
        except KeyError:
            subnet = None
        vnet = topology.vnet_of_subnet(subnet.id) if subnet else None
        names.append(vm.name if vm is not None and len(vm.network_interfaces) <= 1 else nic.name)
        kinds.append("nic")
        nvm.append(vm_index.get(id_key(vm.id), -1) if vm is not None else -1)
        nregion.append(region(vnet.location if vnet else nic.location))
        ncost.append(params.nva_ns if nic.enable_ip_forwarding else 0)
        nvnet.append(vnet_index[id_key(vnet.id)] if vnet else -1)
        nsubnet.append(subnet_index[id_key(subnet.id)] if subnet else -1)
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is not None and ip.version == 4:
                ip_nic.setdefault(ip.value, i)
    firewalls = topology.azure_firewalls
    for fw in firewalls:
        sub = topology.get(fw.subnet) if fw.subnet else None
        vnet = topology.vnet_of_subnet(sub.id) if isinstance(sub, Subnet) else None
        names.append(fw.name)
        kinds.append("firewall")
        nvm.append(len(vm_keys) + firewalls.index(fw))  # fwperf hook: the firewall's shaper
        nregion.append(region(vnet.location if vnet else fw.location))
        ncost.append(params.firewall_ns)
        nvnet.append(vnet_index[id_key(vnet.id)] if vnet else -1)
        nsubnet.append(subnet_index[id_key(sub.id)] if isinstance(sub, Subnet) else -1)
    gateways = topology.virtual_network_gateways
    gw_node = {}
    for gw in gateways:
        vnet = topology.get(gw.virtual_network)
        gw_node[id_key(gw.id)] = len(names)
        names.append(f"gateway {gw.name}")
        kinds.append("gateway")
        nvm.append(-1)
        nregion.append(region(getattr(vnet, "location", gw.location)))
        ncost.append(params.gateway_ns)
        nvnet.append(vnet_index.get(id_key(gw.virtual_network), -1))
        nsubnet.append(-1)
    vnet_region = np.array([region(v.location) for v in topology.virtual_networks],
                           dtype=np.int32)
    internet = len(names)
    names.append("internet")
    kinds.append("internet")
    nvm.append(-1)
    nregion.append(-1)
    ncost.append(0)
    nvnet.append(-1)
    nsubnet.append(-1)

    lat = np.full((len(regions), len(regions)), -1, dtype=np.int64)
    for a, ra in enumerate(regions):
        for b, rb in enumerate(regions):
            try:
                lat[a, b] = latency.one_way_ns(ra, rb)
            except InputError:
                lat[a, b] = -1

    vnets = topology.virtual_networks
    nv = len(vnets)
    connected: dict[tuple[int, int], bool] = {}
    forward_ok: dict[tuple[int, int], bool] = {}
    links: dict[tuple[int, int], tuple[str, str]] = {}
    access = peering_access(topology)  # allowVirtualNetworkAccess (control/peering.py)
    for a, vnet in enumerate(vnets):
        connected[a, a] = forward_ok[a, a] = True
        for link in vnet.virtual_network_peerings:
            b = vnet_index.get(id_key(link.remote_virtual_network))
            back = reverse_link(topology, link)
            if b is not None:
                links[(a, b)] = (link.name, back.name if back else "")
            if b is None or back is None:
                continue
            # Both links Connected, and neither blocks virtual network access: "traffic
            # doesn't flow between the peered virtual networks" (assumption vnet-access-blocks).
            connected[a, b] = (link.peering_state == "Connected"
                               and back.peering_state == "Connected"
                               and access.get((id_key(vnet.id), id_key(link.remote_virtual_network)),
                                              False)
                               and access.get((id_key(link.remote_virtual_network), id_key(vnet.id)),
                                              False))
            forward_ok[a, b] = back.allow_forwarded_traffic  # 4.1: the receiving side's flag
    vnet_lo = [np.array([p.first for p in v.address_space if p.version == 4], dtype=np.int64)
               for v in vnets]
    vnet_hi = [np.array([p.last for p in v.address_space if p.version == 4], dtype=np.int64)
               for v in vnets]

    # routes
    keys: list[int] = []
    ids: list[int] = []
    rnh, rvnet, rapp, rgw, labels = [], [], [], [], []
    by_subnet: dict[str, tuple[EffectiveRoute, ...]] = {}
    route_index: dict[tuple[str, int], int] = {}
    fw_by_ip = {ip.value: len(nics) + i for i, fw in enumerate(firewalls)  # either family
                for ip in (fw.private_ip_address, fw.private_ip_address6) if ip is not None}
    owner, owner6 = _first_owners(nics, nvnet, 4), _first_owners(nics, nvnet, 6)
    lb = _lb.build_tables(topology, vnet_index, set(owner))
    rfe: list[int] = []
    route6: dict[int, Any] = {}
    gateway_rows: list[tuple[int, int, EffectiveRoute]] = []  # stages/gateway.py
    for si, sid in enumerate(program.subnet_ids):
        subnet = topology.get(sid)
        vnet = topology.vnet_of_subnet(sid)
        assert isinstance(subnet, Subnet) and vnet is not None
        vi = vnet_index[id_key(vnet.id)]
        every = [r for r in effective_routes(topology, subnet) if r.active]
        rows = tuple(r for r in every if r.address_prefix.version == 4) + tuple(
            r for r in every if r.address_prefix.version == 6)  # IPv4 ids first
        by_subnet[id_key(sid)] = rows
        active = []
        six: list[tuple[int, int, int]] = []
        for k, r in enumerate(rows):
            rid = len(labels)
            route_index[(id_key(sid), k)] = rid
            if r.address_prefix.version == 4:
                active.append((r.address_prefix, rid))
            else:
                six.append((r.address_prefix.network, r.address_prefix.length, rid))
            labels.append(route_label(topology, r))
            nva = _gateway.to_nva(r)  # a Route Server row: to the NVA, as VirtualAppliance
            rnh.append(NH_APPLIANCE if nva else _NH.get(r.next_hop_type, NH_NONE))
            if r.speaker is not None:
                gateway_rows.append((si, rid, r))
            rvnet.append(vnet_index.get(id_key(r.remote_vnet), -1) if r.remote_vnet else vi)
            rgw.append(gw_node.get(id_key(r.gateway), -1) if r.gateway else -1)
            app = fe = -1
            if (r.next_hop_type == "VirtualAppliance" or nva) and r.next_hop_ip:
                ip = r.next_hop_ip[0].value
                held = owner if r.next_hop_ip[0].version == 4 else owner6
                for vid in (vi, *(vnet_index.get(id_key(lk.remote_virtual_network), -1)
                                  for lk in vnet.virtual_network_peerings)):
                    if (vid, ip) in held:
                        app = held[(vid, ip)]
                        break
                if app < 0:  # a firewall's private address (IPv6: its dual-stack address)
                    app = fw_by_ip.get(ip, -1)
                if app < 0:  # an ILB frontend of the route's family (loadbalancer.py)
                    at = lb.at if r.next_hop_ip[0].version == 4 else lb.at6
                    for vid in (vi, *(vnet_index.get(id_key(lk.remote_virtual_network), -1)
                                      for lk in vnet.virtual_network_peerings)):
                        if at(vid, ip) >= 0:
                            fe = at(vid, ip)
                            break
            rapp.append(app)
            rfe.append(fe)
        for start, hop in lpm_intervals(active):
            keys.append((si << 32) | start)
            ids.append(hop)
        if six:  # kernels/lpm.py: IPv6 longest-prefix match, next hop = global route id
            route6[si] = Lpm6Table(*zip(*six, strict=True))
    lb_synth: dict[tuple[int, int], int] = {}
    for rid in [i for i, f in enumerate(rfe) if f >= 0]:
        backends = sorted({int(b) for rule in lb.frontends[rfe[rid]].rules
                           for b in rule.backends.tolist()})
        for b in backends:
            lb_synth[(rid, b)] = len(labels)
            labels.append(labels[rid])
            rnh.append(NH_APPLIANCE)
            rvnet.append(rvnet[rid])
            rgw.append(-1)
            rapp.append(b)
            rfe.append(-1)
    ing = _gateway.build_tables(topology, gw_node, vnet_index, subnet_index)
    ing.routes = _gateway.build_routes(topology, ing, gw_node, vnet_index, gateway_rows,
                                       len(labels), lb_synth)

    return Network(
        topology=topology, params=params, program=program, nics=nics, firewalls=firewalls,
        node_names=tuple(names), node_kind=tuple(kinds),
        node_vm=np.array(nvm, dtype=np.int32), node_region=np.array(nregion, dtype=np.int32),
        node_cost_ns=np.array(ncost, dtype=np.int64), node_vnet=np.array(nvnet, dtype=np.int32),
        node_subnet=np.array(nsubnet, dtype=np.int32),
        vm_names=tuple(v.name for v in topology.virtual_machines) + tuple(
            f.name for f in firewalls),
        vm_cap_bps=np.array([vm_caps[k] for k in vm_keys] + [
            fw_caps[id_key(f.id)] for f in firewalls], dtype=np.int64),
        regions=tuple(regions), latency_ns=lat, vnet_names=tuple(v.name for v in vnets),
        connected=VnetPairs(connected, nv), forward_ok=VnetPairs(forward_ok, nv), vnet_lo=vnet_lo, vnet_hi=vnet_hi,
        route_keys=np.array(keys, dtype=np.int64), route_ids=np.array(ids, dtype=np.int32),
        route_nh=np.array(rnh, dtype=np.int8), route_vnet=np.array(rvnet, dtype=np.int32),
        route_appliance=np.array(rapp, dtype=np.int32), route_gateway=np.array(rgw,
                                                                                dtype=np.int32),
        route_labels=tuple(labels), routes_by_subnet=by_subnet, route_index=route_index,
        internet_node=internet, ip_nic=ip_nic, vnet_region=vnet_region,
        node_is_gateway=np.array([k == "gateway" for k in kinds], dtype=bool), lb=lb,
        route_fe=np.array(rfe, dtype=np.int32), lb_synth=lb_synth, ingress=ing,
        peering_links=links, route6=route6,
        ip6_nic={ip: nic for (_, ip), nic in reversed(list(owner6.items()))},
        vnet_space6=tuple(tuple((p.first, p.last) for p in v.address_space if p.version == 6)
                          for v in vnets),
        lb6_frontends=_lb6_frontends(topology, vnet_index),
        firewall_rules=tuple(compile_firewall(topology, fw) for fw in firewalls))


def _first_owners(nics: Any, nvnet: Any, version: int) -> dict[tuple[int, int], int]:
    """(VNet index, address) -> index of the first NIC (topology order) holding that private
    address of IP `version`. Two NICs of one VNet with one address is a configuration Azure
    refuses (PrivateIPAddressIsAllocated, reported by control/validate.py); the first owns it,
    as in engine/addresses.py, the control plane's Program and `Network.ip_nic`."""
    out: dict[tuple[int, int], int] = {}
    for i, nic in enumerate(nics):
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is not None and ip.version == version:
                out.setdefault((int(nvnet[i]), ip.value), i)
    return out


def _lb6_frontends(topology: Topology, vnet_index: dict[str, int]) -> dict[tuple[int, int], str]:
    """(VNet index, IPv6 address) -> load balancer name of every private IPv6 frontend (the
    load-balancer stage compiles IPv4 frontends only; these are named, not modelled)."""
    out: dict[tuple[int, int], str] = {}
    for lb in topology.load_balancers:
        for fe in lb.frontend_ip_configurations:
            ip = fe.private_ip_address
            vnet = topology.vnet_of_subnet(fe.subnet) if fe.subnet else None
            if ip is not None and ip.version == 6 and vnet is not None:
                out.setdefault((vnet_index[id_key(vnet.id)], ip.value), lb.name)
    return out
