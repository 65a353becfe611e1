"""The VNet peering lifecycle, validated as Azure validates it (docs/azure-behaviour.md section 4).

Each VNet owns its link. Operations take a Topology and return a new one, or raise AzureError
with Azure's code:
- create_link: alone a link is Initiated; when the remote's link back exists both become
  Connected (4.2). Rejections: overlap, overlap with a VNet already peered to the remote, a
  second link to the same remote, useRemoteGateways rules, the 500-link limit, classic pairs,
  a Disconnected counterpart, missing permissions (4.4, 4.5, 4.6).
- delete_link: the remote's link becomes Disconnected (4.2); it must be deleted and both
  re-created.
- update_link: options only; the remote VNet cannot change; a Disconnected link cannot change.
- add_address_prefix / remove_address_prefix / sync_link: address-space edits on peered VNets
  and the sync levels they cause (4.3): after VNet1 changes, VNet1's link reads RemoteNotInSync
  and VNet2's link LocalNotInSync until VNet2's link is synced; traffic to the new prefixes
  follows the synced space (`remote_address_space`) only.
The static rules (`link_findings`) are shared with `validate.py`.
- peering_access: which VNet pairs new flows may cross (both links Connected; the sending
  link's allowVirtualNetworkAccess, assumption `vnet-access-blocks`, switchable to the older
  tag-only reading with VNET_DATAPLANE_PEERING_ACCESS=tag-only or `mode="tag-only"`).
"""

from __future__ import annotations

import os
from dataclasses import replace

from dataplane.control.bgp import route_servers
from dataplane.control.codes import PEERING_LIMIT
from dataplane.control.peering_index import peering_index
from dataplane.errors import AzureError, Finding, InputError
from dataplane.model import RoleAssignment, Topology, VirtualNetwork, VirtualNetworkPeering, id_key
from dataplane.net import Prefix, host_bits_fixed, parse_prefix

PEERING_WRITE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write"
PEER_ACTION = "Microsoft.Network/virtualNetworks/peer/action"
CLASSIC_PEER_ACTION = "Microsoft.ClassicNetwork/virtualNetworks/peer/action"
# What the built-in roles grant, as action patterns (Azure RBAC built-in roles).
ROLE_ACTIONS = {
    "owner": ("*",),
    "contributor": ("*",),
    "network contributor": ("Microsoft.Network/*",),
    "classic network contributor": ("Microsoft.ClassicNetwork/*",),
}


def _vnet(topology: Topology, name_or_id: str) -> VirtualNetwork:
    vnet = topology.vnet(name_or_id)
    if vnet is None:
        raise InputError(f"unknown virtual network '{name_or_id}'")
    return vnet


def _overlaps(a: tuple[Prefix, ...], b: tuple[Prefix, ...]) -> list[tuple[Prefix, Prefix]]:
    return [(x, y) for x in a for y in b if x.overlaps(y)]


def back_link(topology: Topology, link: VirtualNetworkPeering) -> VirtualNetworkPeering | None:
    """The remote VNet's link pointing back at this link's VNet, if any."""
    return peering_index(topology).back_link(link)


def peered_vnets(topology: Topology, vnet: VirtualNetwork) -> list[VirtualNetwork]:
    """VNets linked with `vnet` in either direction (any state but Disconnected), in
    topology order (control/peering_index.py: O(peers) after one linear build)."""
    return peering_index(topology).peered_vnets(vnet)


def peered_spaces(topology: Topology, vnet: VirtualNetwork
                  ) -> dict[str, tuple[str, tuple[Prefix, ...]]]:
    """Address space held by each VNet peered with `vnet` (id key -> (id, prefixes)): the current
    space of every VNet in `peered_vnets`, plus the synced `remote_address_space` of each of
    `vnet`'s own links in any state. A Disconnected link keeps its remote space when the remote
    VNet (or its link) was deleted, and Azure still refuses a new peer overlapping it
    (VnetAddressSpaceOverlapsWithAlreadyPeeredVnet, docs/azure-behaviour.md §4.4, 4.6; "Virtual
    network peering connections go into a Disconnected state when one virtual network peering
    link is deleted", "Create, change, or delete a virtual network peering",
    https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering)."""
    return dict(peering_index(topology).peered_spaces(vnet)[0])


def link_findings(topology: Topology, vnet: VirtualNetwork, link: VirtualNetworkPeering
                  ) -> list[Finding]:
    """Everything Azure would reject about this link as configured (4.4, 4.5, 4.6)."""
    out: list[Finding] = []
    remote = topology.get(link.remote_virtual_network)
    rid = link.id
    index = peering_index(topology)

    def fail(code: str, message: str) -> None:
        out.append(Finding(code, message, rid))

    if vnet.classic:
        fail("PeeringLinkOnClassicVnet", f"Peering {rid} cannot be created on classic virtual "
             f"network {vnet.id}; create it on the Resource Manager side.")
    if isinstance(remote, VirtualNetwork):
        if vnet.classic and remote.classic:
            fail("ClassicVnetsCannotPeer", f"Virtual networks {vnet.id} and {remote.id} are both "
                 "classic; a classic VNet can only peer with a Resource Manager VNet.")
        clashes = _overlaps(vnet.address_space, remote.address_space)
        if clashes:
            listed = ", ".join(f"{a}, {b}" for a, b in clashes)
            fail("VnetAddressSpacesOverlap",
                 f"Cannot create or update peering {rid}. Virtual networks {vnet.id} and "
                 f"{remote.id} cannot be peered because their address spaces overlap. "
                 f"Overlapping address prefixes: {listed}")
        spaces, space_index = index.peered_spaces(remote)
        hits = sorted({n for prefix in vnet.address_space
                       for n in space_index.overlapping(prefix)})  # entries: spaces order
        for key in dict.fromkeys(space_index.entries[n][0] for n in hits):
            third_id = spaces[key][0]
            if key != id_key(vnet.id):
                fail("VnetAddressSpaceOverlapsWithAlreadyPeeredVnet",
                     f"Cannot create or update peering {rid}. Virtual networks cannot be peered "
                     f"because address space of the first virtual network {vnet.id} overlaps "
                     f"with address space of third virtual network {third_id} already peered "
                     f"with the second virtual network {remote.id}.")
    same_remote = [other for other in index.links_to.get(
        (id_key(vnet.id), id_key(link.remote_virtual_network)), [])
                   if id_key(other.id) != id_key(link.id)]
    if same_remote:
        fail("AnotherPeeringAlreadyReferencesRemoteVnet",
             "Peering already references remote virtual network. Cannot add another peering "
             f"referencing the same remote virtual network ({same_remote[0].name}).")
    if link.use_remote_gateways:
        # Spec VirtualNetworkPeeringPropertiesFormat.useRemoteGateways (4.1) and 4.4.
        if topology.gateways_of(vnet.id):
            fail("UseRemoteGatewaysWithLocalGateway",
                 f"Peering {rid} cannot have UseRemoteGateway flag set to true because virtual "
                 f"network {vnet.id} already has a gateway.")
        others = [o for o in index.remote_gateway_links.get(id_key(vnet.id), [])[:2]
                  if id_key(o.id) != id_key(link.id)]
        if others:
            fail("MultiplePeeringsUseRemoteGateways",
                 f"Only one peering of virtual network {vnet.id} can have UseRemoteGateway set; "
                 f"{others[0].name} already does.")
        # A Route Server counts: "Use the remote virtual network's gateway or Route Server"
        # (manage-peering; control/bgp.py).
        if (isinstance(remote, VirtualNetwork) and not topology.gateways_of(remote.id)
                and not route_servers(topology, remote.id)
                and not link.do_not_verify_remote_gateways):
            fail("RemoteVnetHasNoGateways",
                 f"Peering {rid} cannot have UseRemoteGateway flag set to true because remote "
                 f"virtual network {remote.id} referenced by the peering does not have any "
                 "gateways.")
    # "Virtual network peerings per virtual network: 500" ("Azure subscription and service
    # limits, quotas, and constraints", https://learn.microsoft.com/azure/azure-resource-manager/
    # management/azure-subscription-service-limits, "Networking limits"): Azure refuses the
    # 501st link and every one after it, so each link past the limit is an error.
    at = index.link_position.get(id(link), len(vnet.virtual_network_peerings) - 1)
    if at >= PEERING_LIMIT:
        fail("PeeringLimitReached", f"Virtual network {vnet.id} has "
             f"{len(vnet.virtual_network_peerings)} peerings; the limit is {PEERING_LIMIT} "
             f"and this is link {at + 1}.")
    return out


# --- permissions -----------------------------------------------------------------------------

def _grants(assignment: RoleAssignment, action: str) -> bool:
    patterns = assignment.actions or ROLE_ACTIONS.get(assignment.role.lower(), ())
    action = action.lower()
    return any(action == p.lower() or (p.endswith("*") and action.startswith(p[:-1].lower()))
               for p in patterns)


def _allowed(topology: Topology, principal: str, action: str, scope: str) -> bool:
    return any(a.principal == principal and id_key(scope).startswith(id_key(a.scope.rstrip("/")))
               and _grants(a, action) for a in topology.role_assignments)


def check_permissions(topology: Topology, principal: str, vnet: VirtualNetwork,
                      remote: VirtualNetwork) -> None:
    """Peering needs write on the local VNet and peer/action on the remote (4.4)."""
    if not _allowed(topology, principal, PEERING_WRITE, vnet.id):
        raise AzureError("AuthorizationFailed",
                         f"The client '{principal}' does not have authorization to perform "
                         f"action '{PEERING_WRITE}' over scope '{vnet.id}'.", vnet.id)
    remote_action = CLASSIC_PEER_ACTION if remote.classic else PEER_ACTION
    if not _allowed(topology, principal, remote_action, remote.id):
        raise AzureError("LinkedAuthorizationFailed",
                         f"The client '{principal}' has permission to perform action "
                         f"'{PEERING_WRITE}' on scope '{vnet.id}', however it does not have "
                         f"permission to perform action '{remote_action}' on the linked scope "
                         f"'{remote.id}'.", remote.id)


# --- operations ------------------------------------------------------------------------------

def _raise_first(findings: list[Finding]) -> None:
    if findings:
        raise AzureError(findings[0].code, findings[0].message, findings[0].resource)


def _put_link(topology: Topology, vnet: VirtualNetwork, link: VirtualNetworkPeering) -> Topology:
    links = [link if id_key(x.id) == id_key(link.id) else x for x in vnet.virtual_network_peerings]
    if not any(id_key(x.id) == id_key(link.id) for x in vnet.virtual_network_peerings):
        links.append(link)
    return topology.with_vnet(replace(vnet, virtual_network_peerings=tuple(links)))


def create_link(topology: Topology, vnet: str, remote: str, name: str | None = None, *,
                allow_virtual_network_access: bool = True, allow_forwarded_traffic: bool = False,
                allow_gateway_transit: bool = False, use_remote_gateways: bool = False,
                principal: str | None = None) -> Topology:
    """Create `vnet`'s link to `remote` (names or ids). Returns the new topology."""
    local_vnet, remote_vnet = _vnet(topology, vnet), _vnet(topology, remote)
    if principal is not None:
        check_permissions(topology, principal, local_vnet, remote_vnet)
    name = name or f"{local_vnet.name}-to-{remote_vnet.name}"
    link = VirtualNetworkPeering(
        id=f"{local_vnet.id}/virtualNetworkPeerings/{name}", name=name,
        virtual_network=local_vnet.id, remote_virtual_network=remote_vnet.id,
        allow_virtual_network_access=allow_virtual_network_access,
        allow_forwarded_traffic=allow_forwarded_traffic,
        allow_gateway_transit=allow_gateway_transit, use_remote_gateways=use_remote_gateways,
        peering_state="Initiated", remote_address_space=remote_vnet.address_space)
    if any(x.name.lower() == name.lower() for x in local_vnet.virtual_network_peerings):
        raise InputError(f"virtual network '{local_vnet.name}' already has a peering named "
                         f"'{name}' (use update_link)")
    staged = _put_link(topology, local_vnet, link)
    _raise_first(link_findings(staged, _vnet(staged, local_vnet.id), link))
    back = back_link(staged, link)
    if back is not None and back.peering_state == "Disconnected":
        raise AzureError("RemotePeeringIsDisconnected",
                         "Cannot create or update peering because remote peering referencing "
                         "parent virtual network is in Disconnected state. Update or re-create "
                         "the remote peering to get it back to Initiated state.", link.id)
    if back is None:
        return staged
    # Both links exist: both Connected, each synced to the other's current space (4.2).
    staged = _put_link(staged, _vnet(staged, local_vnet.id),
                       replace(link, peering_state="Connected"))
    return refresh_sync_levels(_put_link(
        staged, _vnet(staged, remote_vnet.id),
        replace(back, peering_state="Connected", remote_address_space=local_vnet.address_space)))


def _find_link(topology: Topology, vnet: str, name: str) -> tuple[VirtualNetwork,
                                                                   VirtualNetworkPeering]:
    local = _vnet(topology, vnet)
    link = next((x for x in local.virtual_network_peerings if x.name.lower() == name.lower()
                 or id_key(x.id) == id_key(name)), None)
    if link is None:
        raise InputError(f"virtual network '{local.name}' has no peering '{name}'")
    return local, link


def delete_link(topology: Topology, vnet: str, name: str) -> Topology:
    """Delete one link (API/CLI style); the remote's link goes Disconnected (4.2)."""
    local, link = _find_link(topology, vnet, name)
    back = back_link(topology, link)
    topology = topology.with_vnet(replace(local, virtual_network_peerings=tuple(
        x for x in local.virtual_network_peerings if id_key(x.id) != id_key(link.id))))
    if back is not None:
        remote = _vnet(topology, link.remote_virtual_network)
        topology = _put_link(topology, remote, replace(back, peering_state="Disconnected"))
    return topology


def update_link(topology: Topology, vnet: str, name: str, **options: object) -> Topology:
    """Change a link's options (allow_* / use_remote_gateways)."""
    local, link = _find_link(topology, vnet, name)
    if "remote_virtual_network" in options and id_key(str(options["remote_virtual_network"])) \
            != id_key(link.remote_virtual_network):
        raise AzureError("ChangingRemoteVirtualNetworkNotAllowed",
                         "Changing the remote virtual network of an existing peering is not "
                         "allowed.", link.id)
    if link.peering_state == "Disconnected":
        raise AzureError("RemotePeeringIsDisconnected",
                         "Cannot create or update peering because remote peering referencing "
                         "parent virtual network is in Disconnected state. Peering gets "
                         "Disconnected when remote vnet or remote peering is deleted and "
                         "re-created", link.id)
    allowed = {"allow_virtual_network_access", "allow_forwarded_traffic", "allow_gateway_transit",
               "use_remote_gateways"}
    unknown = set(options) - allowed - {"remote_virtual_network"}
    if unknown:
        raise InputError(f"unknown peering option '{sorted(unknown)[0]}'")
    changed = replace(link, **{k: bool(v) for k, v in options.items() if k in allowed})
    staged = _put_link(topology, local, changed)
    _raise_first(link_findings(staged, _vnet(staged, local.id), changed))
    return staged


def _sync_level(topology: Topology, link: VirtualNetworkPeering) -> str:
    """4.3: Local = this link lags the remote's space; Remote = the remote's link lags ours."""
    remote = topology.get(link.remote_virtual_network)
    local = topology.get(link.virtual_network)
    back = back_link(topology, link)
    if not isinstance(remote, VirtualNetwork) or not isinstance(local, VirtualNetwork) \
            or back is None:
        return link.peering_sync_level
    local_lags = set(link.remote_address_space) != set(remote.address_space)
    remote_lags = set(back.remote_address_space) != set(local.address_space)
    return {(False, False): "FullyInSync", (True, False): "LocalNotInSync",
            (False, True): "RemoteNotInSync", (True, True): "LocalAndRemoteNotInSync"}[
        (local_lags, remote_lags)]


def refresh_sync_levels(topology: Topology) -> Topology:
    """Recompute every link's peeringSyncLevel from the synced and current spaces."""
    for vnet in topology.virtual_networks:
        links = tuple(replace(x, peering_sync_level=_sync_level(topology, x))
                      for x in vnet.virtual_network_peerings)
        topology = topology.with_vnet(replace(topology.vnet(vnet.id), virtual_network_peerings=links))
    return topology


def _edit_space(topology: Topology, vnet: VirtualNetwork, space: tuple[Prefix, ...]) -> Topology:
    for peer in peered_vnets(topology, vnet):
        if peer.classic:
            raise AzureError("AddressSpaceChangeWithClassicPeer",
                             f"The address space of {vnet.id} cannot change while it is peered "
                             f"with classic virtual network {peer.id}.", vnet.id)
    return refresh_sync_levels(topology.with_vnet(replace(
        vnet, address_space=space, raw_address_space=tuple(str(p) for p in space))))


def add_address_prefix(topology: Topology, vnet: str, prefix: str) -> Topology:
    """Add a prefix to a (possibly peered) VNet's address space (4.3)."""
    local = _vnet(topology, vnet)
    fixed = host_bits_fixed(prefix)
    if fixed is not None:
        raise AzureError("InvalidCIDRNotation", f"The address prefix {prefix} has an invalid CIDR "
                         f"notation. For the given prefix length, the address prefix should be "
                         f"{fixed}.", local.id)
    new = parse_prefix(prefix)
    if any(p.overlaps(new) for p in local.address_space):
        raise AzureError("VnetAddressSpaceOverlapsItself",
                         f"Address prefix {new} overlaps the address space of {local.id}.",
                         local.id)
    for peer in peered_vnets(topology, local):
        clash = [p for p in peer.address_space if p.overlaps(new)]
        if clash:
            raise AzureError("VnetAddressSpacesOverlap",
                             f"Cannot update virtual network {local.id}: the new prefix {new} "
                             f"overlaps peered virtual network {peer.id} ({clash[0]}).", local.id)
    return _edit_space(topology, local, (*local.address_space, new))


def remove_address_prefix(topology: Topology, vnet: str, prefix: str) -> Topology:
    """Remove a prefix; only an empty one (no subnets) can go (4.3)."""
    local = _vnet(topology, vnet)
    old = parse_prefix(prefix, strict=False)
    if old not in local.address_space:
        raise InputError(f"'{prefix}' is not in the address space of '{local.name}'")
    used = [s.name for s in local.subnets if any(old.overlaps(p) for p in s.address_prefixes)]
    if used:
        raise AzureError("AddressSpaceInUseBySubnets",
                         f"Address prefix {old} of {local.id} cannot be removed: subnets "
                         f"{', '.join(used)} use it.", local.id)
    return _edit_space(topology, local, tuple(p for p in local.address_space if p != old))


def sync_link(topology: Topology, vnet: str, name: str) -> Topology:
    """`az network vnet peering sync` on this link: take up the remote's current space (4.3)."""
    local, link = _find_link(topology, vnet, name)
    if link.peering_state != "Connected":
        raise AzureError("RemotePeeringIsDisconnected" if link.peering_state == "Disconnected"
                         else "PeeringNotConnected",
                         f"Peering {link.id} is {link.peering_state}; only a Connected peering "
                         "can be synced.", link.id)
    remote = _vnet(topology, link.remote_virtual_network)
    return refresh_sync_levels(_put_link(topology, local,
                                         replace(link, remote_address_space=remote.address_space)))


# --- traffic across a link -------------------------------------------------------------------

PEERING_ACCESS_ENV = "VNET_DATAPLANE_PEERING_ACCESS"
ACCESS_MODES = ("block", "tag-only")


def peering_access_mode(mode: str | None = None) -> str:
    """`mode`, else VNET_DATAPLANE_PEERING_ACCESS, else "block".

    The evidence is split. "block": Microsoft's peering page of 2018 ("Create, change, or
    delete a virtual network peering", https://learn.microsoft.com/azure/virtual-network/
    virtual-network-manage-peering, MicrosoftDocs/azure-docs@016ebaf, "Allow virtual network
    access": "When this setting is disabled, traffic doesn't flow between the peered virtual
    networks") and the REST spec ("Whether the VMs in the local virtual network space would be
    able to access the VMs in remote virtual network space"); the current page, as issue 13
    reads it. "tag-only": the same page at MicrosoftDocs/azure-docs@8f5f443 ("Block all traffic
    to the remote virtual network ... only changes the definition of the VirtualNetwork
    service tag. It doesn't fully prevent traffic flow across the peer connection")."""
    chosen = (mode or os.environ.get(PEERING_ACCESS_ENV, "") or "block").strip().lower()
    if chosen not in ACCESS_MODES:
        raise InputError(f"peering access mode '{chosen}' must be one of "
                         f"{', '.join(ACCESS_MODES)}", property=PEERING_ACCESS_ENV)
    return chosen


def access_assumption(mode: str | None = None) -> str:
    """The assumption key that states how allowVirtualNetworkAccess=false is read."""
    return "vnet-access-tag-only" if peering_access_mode(mode) == "tag-only" else "vnet-access-blocks"


def link_carries_traffic(topology: Topology, link: VirtualNetworkPeering,
                         mode: str | None = None) -> bool:
    """New flows from the link's VNet to its remote may cross: both links Connected (4.2)
    and, in "block" mode, this (the sending VNet's) link allows virtual network access."""
    back = back_link(topology, link)
    if back is None or link.peering_state != "Connected" or back.peering_state != "Connected":
        return False
    return peering_access_mode(mode) == "tag-only" or link.allow_virtual_network_access


def peering_access(topology: Topology, mode: str | None = None) -> dict[tuple[str, str], bool]:
    """(sending VNet id key, receiving VNet id key) -> new flows may cross the peering; the
    table the engine's peering stage is to read (engine/compile.py builds its `connected`
    matrix from the link states alone today)."""
    chosen = peering_access_mode(mode)
    return {(id_key(vnet.id), id_key(link.remote_virtual_network)):
            link_carries_traffic(topology, link, chosen)
            for vnet in topology.virtual_networks for link in vnet.virtual_network_peerings}
