"""Topology transformations for what-if variants: each takes a Topology, returns a new one.

Takes: the base Topology (immutable, dataplane/model.py) and a Variant's Settings
(whatif/spec.py). Emits the variant's Topology plus the non-topology settings (per-flow
parallelism, loss and TCP parameters; timing overrides). Kinds:
* region      move a VNet to a region: the VNet, its VMs, NICs and gateways take the new
              location; its peerings become global or regional by the regions alone
              (control/routes.py marks VNetGlobalPeering; docs/azure-behaviour.md §1, §6, §9);
* vm_size     a VM's size (its egress cap follows the size, section 5; an explicit
              egress_cap_bps override is dropped);
* peering     options on both links of a VNet pair, through control/peering.update_link
              (Azure's rejections, e.g. useRemoteGateways without a gateway, surface as the
              variant's error);
* routing     "A,B" -> "direct": both links A<->B created (Connected) and every UDR in A's
              subnets whose prefix lies inside B's address space (and vice versa) removed, so
              the peering system route decides (3.4: a UDR wins over a system route of the same
              prefix; a less specific one, 0.0.0.0/0, loses by longest prefix); route tables
              shared with other VNets are copied, not edited. -> NVA VM name: the A<->B links
              deleted and UDRs for B's space (and A's) with next hop VirtualAppliance at the
              NVA's address added to A's (B's) subnets;
* gateway_sku the SKU of a VNet's (or a named) virtual network gateway;
* firewall_sku the tier (Basic | Standard | Premium) of a named Azure Firewall
              (`properties.sku.tier`; its throughput follows, timing/firewall_capacity.py);
* parallel, loss, tcp, timing: not topology; read by the runner.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from dataplane.errors import InputError
from dataplane.model import (
    Route,
    RouteTable,
    Topology,
    VirtualMachine,
    VirtualNetwork,
    id_key,
)
from dataplane.timing.firewall_capacity import TIERS as FIREWALL_TIERS
from dataplane.whatif.spec import FlowSpec, Setting, Spec, Variant, tcp_value
from dataplane.whatif.tcp import GATEWAY_SKU_BPS, TcpParams

TOPOLOGY_KINDS = ("region", "vm_size", "peering", "routing", "gateway_sku", "firewall_sku")


@lru_cache(maxsize=8)
def load_base(path: str, allow_paths: tuple[str, ...] = (), bgp_routes: str | None = None,
              service_tags: str | None = None, vm_caps: tuple[str, ...] = ()) -> Topology:
    """The spec's base topology with the run's shared inputs, as every other command applies
    them (cli/options.load_inputs): `allow_paths` the --allow-path folders, `bgp_routes` the
    --bgp-routes sidecar, `service_tags` the --service-tags file, `vm_caps` the --vm-cap
    'VM=BPS' overrides (a variant that changes a VM's size drops its override)."""
    from dataplane.load import load
    from dataplane.platform_inputs import with_platform_inputs

    return with_platform_inputs(load(path, allow_paths=allow_paths, bgp_routes=bgp_routes),
                                service_tags=service_tags, vm_caps=vm_caps)


def known_regions() -> set[str]:
    from dataplane.timing.latency import rtt_table

    return {a for a, _ in rtt_table()} | {b for _, b in rtt_table()}


# -- helpers ---------------------------------------------------------------------------------

def _vnet(topo: Topology, name: str) -> VirtualNetwork:
    vnet = topo.vnet(name)
    if vnet is None:
        raise InputError(f"no VNet named '{name}'")
    return vnet


def _vm(topo: Topology, name: str) -> VirtualMachine:
    vm = topo.find("virtual_machines", name)
    if not isinstance(vm, VirtualMachine):
        raise InputError(f"no VM named '{name}'")
    return vm


def _pair(target: str) -> tuple[str, str]:
    a, b = (p.strip() for p in target.split(","))
    return a, b


def vm_vnet(topo: Topology, vm: VirtualMachine) -> VirtualNetwork | None:
    for nic_id in vm.network_interfaces:
        nic = topo.get(nic_id)
        for config in getattr(nic, "ip_configurations", ()):
            vnet = topo.vnet_of_subnet(config.subnet)
            if vnet is not None:
                return vnet
    return None


def _link(vnet: VirtualNetwork, remote: VirtualNetwork):  # -> VirtualNetworkPeering | None
    return next((x for x in vnet.virtual_network_peerings
                 if id_key(x.remote_virtual_network) == id_key(remote.id)), None)


# -- transformations ---------------------------------------------------------------------------

def move_vnet(topo: Topology, name: str, region: str) -> Topology:
    vnet = _vnet(topo, name)
    subnets = {id_key(s.id) for s in vnet.subnets}
    topo = topo.with_vnet(replace(vnet, location=region))
    nics = []
    moved_nics = set()
    for nic in topo.network_interfaces:
        if any(id_key(c.subnet) in subnets for c in nic.ip_configurations):
            nic = replace(nic, location=region)
            moved_nics.add(id_key(nic.id))
        nics.append(nic)
    vms = tuple(replace(vm, location=region)
                if any(id_key(n) in moved_nics for n in vm.network_interfaces) else vm
                for vm in topo.virtual_machines)
    gws = tuple(replace(g, location=region) if id_key(g.virtual_network) == id_key(vnet.id)
                else g for g in topo.virtual_network_gateways)
    return replace(topo, network_interfaces=tuple(nics), virtual_machines=vms,
                   virtual_network_gateways=gws)


def set_vm_size(topo: Topology, name: str, size: str) -> Topology:
    vm = _vm(topo, name)
    new = replace(vm, vm_size=size, egress_cap_bps=None)
    return replace(topo, virtual_machines=tuple(
        new if id_key(v.id) == id_key(vm.id) else v for v in topo.virtual_machines))


def set_peering(topo: Topology, target: str, options: dict[str, bool]) -> Topology:
    from dataplane.control.peering import update_link

    a, b = (_vnet(topo, n) for n in _pair(target))
    for x, y in ((a, b), (b, a)):
        link = _link(_vnet(topo, x.name), y)
        if link is None:
            raise InputError(f"VNet '{x.name}' has no peering to '{y.name}'")
        topo = update_link(topo, x.name, link.name, **options)
    return topo


def set_gateway_sku(topo: Topology, target: str, sku: str) -> Topology:
    gws = [g for g in topo.virtual_network_gateways if g.name.lower() == target.lower()]
    if not gws:
        vnet = _vnet(topo, target)
        gws = list(topo.gateways_of(vnet.id))
    if not gws:
        raise InputError(f"'{target}' is neither a gateway nor a VNet with a gateway")
    keys = {id_key(g.id) for g in gws}
    return replace(topo, virtual_network_gateways=tuple(
        replace(g, sku=sku) if id_key(g.id) in keys else g
        for g in topo.virtual_network_gateways))


def set_firewall_sku(topo: Topology, target: str, tier: str) -> Topology:
    """The named Azure Firewall with `sku.tier` = tier (its policy is left as it is)."""
    if topo.find("azure_firewalls", target) is None:
        raise InputError(f"no Azure Firewall named '{target}'")
    return replace(topo, azure_firewalls=tuple(
        replace(f, sku_tier=tier) if f.name.lower() == target.lower() else f
        for f in topo.azure_firewalls))


def _edit_tables(topo: Topology, vnet: VirtualNetwork, suffix: str, edit) -> Topology:
    """Give each route-table-carrying subnet of `vnet` its own copy of the table, edited.

    `edit(routes) -> routes`. Subnets without a table get a new one when edit adds routes.
    """
    tables = list(topo.route_tables)
    new_subnets = []
    for subnet in vnet.subnets:
        table = topo.get(subnet.route_table) if subnet.route_table else None
        old = table.routes if isinstance(table, RouteTable) else ()
        routes = tuple(edit(old))
        if routes == old:
            new_subnets.append(subnet)
            continue
        base_id = vnet.id.split("/providers/")[0]
        name = f"{(table.name if isinstance(table, RouteTable) else 'rt')}-{vnet.name}-" \
               f"{subnet.name}-{suffix}"
        rid = f"{base_id}/providers/Microsoft.Network/routeTables/{name}"
        tables = [t for t in tables if id_key(t.id) != id_key(rid)]
        tables.append(RouteTable(
            rid, name, vnet.location, routes,
            table.disable_bgp_route_propagation if isinstance(table, RouteTable) else False))
        new_subnets.append(replace(subnet, route_table=rid))
    topo = replace(topo, route_tables=tuple(tables))
    return topo.with_vnet(replace(vnet, subnets=tuple(new_subnets)))


def _inside(prefix: object, space: tuple) -> bool:
    return any(hasattr(prefix, "version") and p.contains(prefix) for p in space)


def route_direct(topo: Topology, target: str) -> Topology:
    from dataplane.control.peering import create_link

    a, b = (_vnet(topo, n) for n in _pair(target))
    for x, y in ((a, b), (b, a)):
        x = _vnet(topo, x.name)
        if _link(x, y) is None:
            topo = create_link(topo, x.name, y.name)
    for x, y in ((a, b), (b, a)):
        space = y.address_space
        topo = _edit_tables(topo, _vnet(topo, x.name), "direct", lambda rs, s=space: [
            r for r in rs if not (r.next_hop_type == "VirtualAppliance"
                                  and _inside(r.address_prefix, s))])
    return topo


def route_via(topo: Topology, target: str, nva: str) -> Topology:
    from dataplane.control.peering import delete_link

    a, b = (_vnet(topo, n) for n in _pair(target))
    vm = _vm(topo, nva)
    nic = topo.get(vm.network_interfaces[0]) if vm.network_interfaces else None
    ip = getattr(nic, "primary_ip", None)
    if ip is None:
        raise InputError(f"NVA '{nva}' has no private IP address")
    for x, y in ((a, b), (b, a)):
        x = _vnet(topo, x.name)
        link = _link(x, y)
        if link is not None:
            topo = delete_link(topo, x.name, link.name)
    for x, y in ((a, b), (b, a)):
        space = y.address_space

        def edit(routes, s=space, other=y):
            kept = [r for r in routes if not (hasattr(r.address_prefix, "version")
                                              and r.address_prefix in s)]
            return kept + [Route(f"{other.name}-via-{vm.name}-{i}", p, "VirtualAppliance", ip)
                           for i, p in enumerate(s)]

        topo = _edit_tables(topo, _vnet(topo, x.name), f"via-{vm.name}", edit)
    return topo


def apply(topo: Topology, settings: tuple[Setting, ...]) -> Topology:
    """The topology-changing settings, in order (later settings see earlier results)."""
    for s in settings:
        if s.kind == "region":
            topo = move_vnet(topo, s.target, s.value)
        elif s.kind == "vm_size":
            topo = set_vm_size(topo, s.target, s.value)
        elif s.kind == "peering":
            topo = set_peering(topo, s.target, s.value)
        elif s.kind == "routing":
            topo = (route_direct(topo, s.target) if s.value == "direct"
                    else route_via(topo, s.target, s.value))
        elif s.kind == "gateway_sku":
            topo = set_gateway_sku(topo, s.target, s.value)
        elif s.kind == "firewall_sku":
            topo = set_firewall_sku(topo, s.target, s.value)
    return topo


# -- non-topology settings ---------------------------------------------------------------------

def flow_params(spec: Spec, variant: Variant, flow: FlowSpec) -> tuple[int, TcpParams]:
    """(parallel connections, TcpParams) for a flow in a variant."""
    tcp = spec.tcp
    parallel = flow.parallel
    loss = flow.loss
    for s in variant.settings:
        if s.kind == "tcp":
            tcp = replace(tcp, **tcp_value(s.target, s.value, spec.source, s.key))
        elif s.kind == "parallel" and s.target in ("*", flow.name):
            parallel = int(s.value)
        elif s.kind == "loss" and s.target in ("*", flow.name):
            loss = float(s.value)
    if loss is not None:
        tcp = replace(tcp, loss=loss)
    return parallel, tcp


def timing_overrides(spec: Spec, variant: Variant) -> dict[str, int]:
    out = dict(spec.timing)
    for s in variant.settings:
        if s.kind == "timing":
            out[s.target] = int(s.value)
    return out


def validate(spec: Spec, base: Topology) -> None:
    """Check every target against the base topology; InputError with the key path."""
    regions = known_regions()
    from dataplane.timing.bandwidth import size_table
    from dataplane.timing.latency import fold_region

    sizes = size_table()

    def where(s: Setting) -> str:
        return f"vary/cases {s.kind}.{s.target}"

    def fail(s: Setting, message: str) -> InputError:
        return InputError(message, file=spec.source, property=where(s))

    for flow_i, f in enumerate(spec.flows):
        if base.find("virtual_machines", f.src) is None:
            raise InputError(f"no VM named '{f.src}' in the base topology", file=spec.source,
                             property=f"workload.flows[{flow_i}].from")
        if base.find("virtual_machines", f.dst) is None:
            import ipaddress

            try:
                ipaddress.IPv4Address(f.dst)
            except ValueError:
                raise InputError(f"'{f.dst}' is neither a VM of the base topology nor an IPv4 "
                                 "address", file=spec.source,
                                 property=f"workload.flows[{flow_i}].to") from None
    settings = [s for _, case in spec.cases for s in case] + [s for axis in spec.axes
                                                              for s in axis]
    for s in settings:
        if s.kind == "region":
            if base.vnet(s.target) is None:
                raise fail(s, f"no VNet named '{s.target}' in the base topology")
            if fold_region(s.value) not in regions:
                raise fail(s, f"region '{s.value}' is not in azure-latency.csv")
        elif s.kind == "vm_size":
            if base.find("virtual_machines", s.target) is None:
                raise fail(s, f"no VM named '{s.target}' in the base topology")
            if s.value.lower() not in sizes:
                raise fail(s, f"VM size '{s.value}' is not in vm-bandwidth.csv")
            if sizes[s.value.lower()] is None:
                raise fail(s, f"Azure publishes no bandwidth for size '{s.value}'")
        elif s.kind in ("peering", "routing"):
            for name in _pair(s.target):
                if base.vnet(name) is None:
                    raise fail(s, f"no VNet named '{name}' in the base topology")
            if s.kind == "routing" and s.value != "direct" and \
                    base.find("virtual_machines", s.value) is None:
                raise fail(s, f"'{s.value}' is neither 'direct' nor an NVA VM name")
        elif s.kind == "gateway_sku":
            if s.value.lower() not in GATEWAY_SKU_BPS:
                raise fail(s, f"unknown gateway SKU '{s.value}'")
            gw = [g for g in base.virtual_network_gateways if g.name.lower() ==
                  s.target.lower()]
            vnet = base.vnet(s.target)
            if not gw and (vnet is None or not base.gateways_of(vnet.id)):
                raise fail(s, f"'{s.target}' is neither a gateway nor a VNet with one")
        elif s.kind == "firewall_sku":
            if s.value.lower() not in {t.lower() for t in FIREWALL_TIERS}:
                raise fail(s, f"unknown Azure Firewall tier '{s.value}' (known: "
                              f"{', '.join(FIREWALL_TIERS)})")
            if base.find("azure_firewalls", s.target) is None:
                raise fail(s, f"no Azure Firewall named '{s.target}' in the base topology")

