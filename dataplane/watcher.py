"""Network Watcher-style queries over a Topology, returning plain dicts in Azure's shapes.

Takes: a Topology and resource names as written in the template (or full ids), addresses as
strings (parsed here, at the edge). Emits:
* effective_route_table -> `az network nic show-effective-route-table`: {"value": [{"source",
  "state", "addressPrefix", "nextHopType", "nextHopIpAddress", "disableBgpRoutePropagation"}]}
* effective_security_rules -> `az network nic list-effective-nsg`: {"value": [{
  "networkSecurityGroup", "association", "effectiveSecurityRules", "tagMap"}]}
* next_hop -> `az network watcher show-next-hop`: {"nextHopType", "nextHopIpAddress",
  "routeTableId"} ("System Route" unless a user route decided; docs/azure-behaviour.md §7.2)
* ip_flow_verify -> `az network watcher test-ip-flow`: {"access", "ruleName"} (ruleName
  omitted when no NSG applies; 7.1)
* explain -> one flow walked hop by hop: the engine's reference walk for one packet
  (engine/reference.py), rendered by control/explain.py.
IPv6: next_hop, ip_flow_verify and the route/rule tables answer IPv6 flows of a dual-stack NIC
(an IPv6 endpoint is written [ADDRESS]:PORT; local and remote addresses of one family). Azure's
own IP flow verify takes IPv4 addresses only ("IP flow verify overview",
https://learn.microsoft.com/azure/network-watcher/ip-flow-verify-overview): ours goes beyond it
and says so (assumption ip-flow-verify-ipv6). explain on an IPv6 flow walks the packet from
the NIC's IPv6 ip configuration through the engine's stages like an IPv4 one (issue 17,
assumption engine-ipv6).
Every answer carries an "assumptions" list (control/assumptions.py) and a "caveats" list: the
unmodelled resources that can change this answer (control/caveats.py). Unknown names raise
InputError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dataplane.control.assumptions import texts
from dataplane.control.caveats import (
    NIC_READS,
    caveats_touching,
    dns_service_ids,
    firewall_resource_ids,
    gateway_resource_ids,
    nic_resource_ids,
    topology_caveats,
)
from dataplane.control.gateway_family import ipv6_gateway_caveats
from dataplane.control.nsg import Flow, RuleCompiler, evaluate, protocol_number
from dataplane.control.outbound import edge_assumptions, edge_next_hop, outbound_access
from dataplane.control.outbound6 import first_ipv6_config, outbound_access6
from dataplane.control.peering import access_assumption
from dataplane.control.public_addresses import ALLOCATION, chosen_addresses
from dataplane.control.routes import effective_routes, lookup, nic_subnet
from dataplane.control.tags import scope_of
from dataplane.control.vnet_tag_routes import verdict_caveats, widening_caveats
from dataplane.errors import InputError
from dataplane.model import NetworkInterface, Topology, VirtualMachine, id_key
from dataplane.net import IPAddress, parse_ip


def _find(topology: Topology, collection: str, what: str, name_or_id: str) -> Any:
    found = topology.find(collection, name_or_id)
    if found is not None:
        return found
    items = getattr(topology, collection)
    same = [i for i in items if i.name.lower() == name_or_id.lower()]
    if len(same) > 1:
        raise InputError(f"{what} name '{name_or_id}' is ambiguous; give the full resource id "
                         f"({', '.join(i.id for i in same)})")
    known = ", ".join(sorted(i.name for i in items)) or "none"
    raise InputError(f"unknown {what} '{name_or_id}' (known: {known})")


def find_nic(topology: Topology, nic: str) -> NetworkInterface:
    return _find(topology, "network_interfaces", "network interface", nic)


def find_vm(topology: Topology, vm: str) -> VirtualMachine:
    return _find(topology, "virtual_machines", "virtual machine", vm)


def vm_nics(topology: Topology, vm: VirtualMachine) -> list[NetworkInterface]:
    nics = [topology.get(n) for n in vm.network_interfaces]
    out = [n for n in nics if isinstance(n, NetworkInterface)]
    if not out:
        out = [n for n in topology.network_interfaces
               if n.virtual_machine and id_key(n.virtual_machine) == id_key(vm.id)]
    if not out:
        raise InputError(f"virtual machine '{vm.name}' has no network interface")
    return out


def nic_for(topology: Topology, vm: str, address: IPAddress | None = None,
            nic: str | None = None) -> NetworkInterface:
    """The VM's NIC holding `address` (targetNicResourceId when given, else the NIC whose IP
    configuration has the address, else the primary NIC when no address is given)."""
    machine = find_vm(topology, vm)
    nics = vm_nics(topology, machine)
    if nic is not None:
        chosen = find_nic(topology, nic)
        if all(id_key(n.id) != id_key(chosen.id) for n in nics):
            raise InputError(f"network interface '{nic}' is not attached to '{machine.name}'")
        nics = [chosen]
    if address is None:
        return nics[0]
    for candidate in nics:
        if any(c.private_ip_address == address for c in candidate.ip_configurations):
            return candidate
    raise InputError(f"{address} is not an address of virtual machine '{machine.name}'")


def _nic_path(topology: Topology, interface: NetworkInterface,
              reads: tuple[str, ...] = NIC_READS) -> list[str]:
    """The resource ids an answer about this NIC reads (control/caveats.py nic_resource_ids):
    the NIC, its VM and subnets; "security" adds the NIC's and its subnets' NSGs (rules,
    ip-flow-verify), "routing" its subnets' route tables and NAT gateways, its public IPs and
    backend pools (routes, next-hop); explain and trace read both. A caveat on any of them
    (an unmodelled resource, a misspelt property: load/near_misses.py) reaches the answer."""
    return nic_resource_ids(topology, interface, reads)


def caveats_for(topology: Topology, ids: list[str]) -> list[str]:
    """Caveat texts of the unmodelled resources touching any of `ids` (control/caveats.py)."""
    return [c.text for c in caveats_touching(topology_caveats(topology), ids)]


def _named(topology: Topology, hops: list[dict[str, Any]]) -> list[str]:
    """Ids of the resources an explained walk names (VMs, NICs, VNets, firewalls, gateways,
    connections),
    with what each NIC reads (`nic_resource_ids`: a receiving NIC's NSGs and its subnet's
    route table), each firewall's subnet (its route table) and each gateway's GatewaySubnet,
    connections and local network gateways (`gateway_resource_ids`)."""
    names = {str(v).lower() for hop in hops for v in hop.values() if isinstance(v, str)}
    out = []
    for collection in ("network_interfaces", "virtual_machines", "virtual_networks",
                       "azure_firewalls", "virtual_network_gateways", "load_balancers",
                       "connections"):
        out += [item.id for item in getattr(topology, collection) if item.name.lower() in names]
    for vm in topology.virtual_machines:
        if vm.name.lower() in names:
            out += list(vm.network_interfaces)
    named = {id_key(i) for i in out}
    for nic in topology.network_interfaces:
        if id_key(nic.id) in named:
            out += nic_resource_ids(topology, nic)
    for fw in topology.azure_firewalls:
        if id_key(fw.id) in named:
            out += firewall_resource_ids(topology, fw)  # its subnet, its policy chain
    for gw in topology.virtual_network_gateways:  # hops name it as its engine node does
        if id_key(gw.id) in named or f"gateway {gw.name}".lower() in names:
            out += gateway_resource_ids(topology, gw)  # its subnet, connections, sites
    return out


def effective_route_table(topology: Topology, nic: str) -> dict[str, Any]:
    interface = find_nic(topology, nic)
    routes = effective_routes(topology, nic_subnet(topology, interface))
    outbound = outbound_access(topology, interface)  # control/outbound.py (issue 14)
    value = [r.as_dict() for r in routes]
    default_udr = any(r["source"] == "User" and r["nextHopType"] in (
        "VirtualAppliance", "VirtualNetworkGateway") and any(
        p in ("0.0.0.0/0", "::/0") for p in r["addressPrefix"]) for r in value)
    return {"value": value,
            "outbound": outbound.as_dict(),
            "assumptions": texts(*(("udr-default-removes-none-routes",) if default_udr else ()),
                                 "service-tag-prefixes",
                                 "gateway-next-hop-ip", "gateway-instance-addresses",
                                 "bgp-best-path", "none-route-172-16",
                                 "equal-prefix-default-routes")
            + edge_assumptions(routes, outbound),
            "caveats": caveats_for(topology, _nic_path(topology, interface, ("routing",)))
            + ipv6_gateway_caveats(topology, routes)}


def effective_security_rules(topology: Topology, nic: str) -> dict[str, Any]:
    interface = find_nic(topology, nic)
    compiler = RuleCompiler(topology)
    security = compiler.nic_security(interface)
    subnet = nic_subnet(topology, interface)
    vnet = topology.vnet_of_subnet(subnet.id)
    assert vnet is not None
    scope = scope_of(topology, vnet, subnet.id)
    value = []
    for eff in (security.subnet, security.interface):
        if eff is None:
            continue
        assoc_key = "subnet" if eff.level == "subnet" else "networkInterface"
        tags = sorted({m for r in (*eff.inbound, *eff.outbound)
                       for m in (*r.rule.source_address_prefixes,
                                 *r.rule.destination_address_prefixes)
                       if isinstance(m, str) and m != "*"})
        value.append({
            "networkSecurityGroup": {"id": eff.nsg.id},
            "association": {assoc_key: {"id": eff.association_id}},
            "effectiveSecurityRules": [r.as_dict() for r in (*eff.inbound, *eff.outbound)],
            "tagMap": {t: [str(p) for p in compiler.tags.resolve(scope, t) or ()] for t in tags},
        })
    out = {"value": value,
           "assumptions": texts("virtualnetwork-udr-prefixes", access_assumption(),
                                "service-tag-prefixes",
                                *(() if value else ("no-nsg-inbound-internet",))),
           "caveats": caveats_for(topology, _nic_path(topology, interface, ("security",)))
           + widening_caveats(compiler.tags, scope)}  # control/vnet_tag_routes.py
    return _with_service_tags(out, topology, compiler)


def next_hop(topology: Topology, vm: str, source_ip: str, destination_ip: str,
             nic: str | None = None) -> dict[str, Any]:
    source = parse_ip(source_ip, what="source IP address")
    destination = parse_ip(destination_ip, what="destination IP address")
    _same_family(source, destination, "next-hop")
    interface = nic_for(topology, vm, source, nic)
    route = lookup(effective_routes(topology, nic_subnet(topology, interface)), destination)
    caveats = caveats_for(topology, _nic_path(topology, interface, ("routing",)))
    family = texts("next-hop-ipv6") if destination.version == 6 else []
    if route is None:
        return {"nextHopType": "None", "nextHopIpAddress": None, "routeTableId": "System Route",
                "assumptions": texts("next-hop-peering-names") + family, "caveats": caveats}
    out = {
        "nextHopType": route.next_hop_type,
        "nextHopIpAddress": str(route.next_hop_ip[0]) if route.next_hop_ip else None,
        "routeTableId": route.route_table_id if route.source == "User" else "System Route",
        "assumptions": texts("next-hop-peering-names", *(
            ("gateway-next-hop-ip",) if route.next_hop_type == "VirtualNetworkGateway" else ())
        ) + family,
        "caveats": caveats + ipv6_gateway_caveats(topology, (route,)),
    }
    config6 = first_ipv6_config(interface) if destination.version == 6 else None
    return edge_next_hop(topology, interface, route, out,  # control/outbound.py (issue 14)
                         outbound_access6(topology, interface, config6) if config6 else None)


def parse_endpoint(text: str, what: str, *, port_required: bool
                   ) -> tuple[IPAddress, int | None]:
    """'IP', 'IP:PORT', '[IPv6]' or '[IPv6]:PORT' -> (address, port or None).

    A bare IPv6 address never carries a port ('2001:db8::1:443' is itself an IPv6 address):
    write [ADDRESS]:PORT (RFC 3986 host syntax). Raises InputError naming `what`."""
    raw = str(text).strip()
    usage = f"{what} '{text}' must be IP:PORT (IPv6: [ADDRESS]:PORT) with a port 0-65535"
    if raw.startswith("["):
        inner, close, rest = raw[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise InputError(usage)
        address = parse_ip(inner, what=f"{what} address")
        if address.version != 6:
            raise InputError(f"{what} '{text}': brackets are for IPv6 addresses only")
        port_text = rest[1:] if rest else None
    elif raw.count(":") > 1:
        address, port_text = parse_ip(raw, what=f"{what} address"), None
    else:
        host, sep, port_text = raw.rpartition(":")
        address = parse_ip(host if sep else raw, what=f"{what} address")
        port_text = port_text if sep else None
    if port_text is None:
        if port_required:
            raise InputError(usage)
        return address, None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InputError(usage)
    return address, int(port_text)


def _same_family(first: IPAddress, second: IPAddress, what: str) -> None:
    if first.version != second.version:
        raise InputError(f"{what}: {first} and {second} are of different IP versions (IPv4 and "
                         "IPv6 flows are separate)")


def _endpoint(text: str, what: str) -> tuple[IPAddress, int]:
    address, port = parse_endpoint(text, what, port_required=True)
    assert port is not None
    return address, port


def ip_flow_verify(topology: Topology, vm: str, direction: str, protocol: str, local: str,
                   remote: str, nic: str | None = None) -> dict[str, Any]:
    """`local`/`remote` are 'IP:PORT'. TCP and UDP only, like Azure (7.1)."""
    if direction.lower() not in ("inbound", "outbound"):
        raise InputError(f"direction must be Inbound or Outbound, not '{direction}'")
    if protocol.lower() not in ("tcp", "udp"):
        raise InputError(f"protocol must be TCP or UDP, not '{protocol}'")
    direction = "Inbound" if direction.lower() == "inbound" else "Outbound"
    local_ip, local_port = _endpoint(local, "local")
    remote_ip, remote_port = _endpoint(remote, "remote")
    _same_family(local_ip, remote_ip, "ip-flow-verify")
    interface = nic_for(topology, vm, local_ip, nic)
    number = protocol_number(protocol)
    flow = (Flow(number, remote_ip, remote_port, local_ip, local_port) if direction == "Inbound"
            else Flow(number, local_ip, local_port, remote_ip, remote_port))
    compiler = RuleCompiler(topology)
    security = compiler.nic_security(interface)
    verdict = evaluate(security, direction, flow)
    out: dict[str, Any] = {"access": verdict.access}
    if verdict.rule_name is not None:
        out["ruleName"] = verdict.rule_name
    # no-nsg-inbound-internet speaks of the answer given when no NSG applies: only then
    no_nsg = security.subnet is None and security.interface is None
    out["assumptions"] = texts("ip-flow-rule-name", *(("no-nsg-inbound-internet",) if no_nsg
                                                      else ()),
                               "stateful", "virtualnetwork-udr-prefixes")
    if local_ip.version == 6:
        out["assumptions"] += texts("ip-flow-verify-ipv6", "internet-tag-ipv6",
                                    "azureloadbalancer-ipv6")
    out["caveats"] = caveats_for(topology, _nic_path(topology, interface, ("security",))) \
        + verdict_caveats(security, direction, flow, verdict)  # control/vnet_tag_routes.py
    return _with_service_tags(out, topology, compiler)


def _with_service_tags(out: dict[str, Any], topology: Topology, compiler: RuleCompiler
                       ) -> dict[str, Any]:
    """The service tags file's changeNumber, and a caveat per tag answered from the built-in
    partial prefix set (control/tags.py)."""
    loaded = topology.service_tags
    if loaded is not None:
        out["serviceTags"] = {"source": loaded.source, "changeNumber": loaded.change_number,
                              "cloud": loaded.cloud}
    out["caveats"] = out.get("caveats", []) + compiler.tags.caveats()
    return out


def explain(topology: Topology, vm: str, destination: str, protocol: str = "Tcp",
            source_port: int | None = None, sni: str | None = None,
            host: str | None = None) -> dict[str, Any]:
    """One new flow from the VM's primary NIC to 'IP', 'IP:PORT' or '[IPv6]:PORT', hop by hop:
    the engine's reference walk (engine/reference.py) for that one packet, rendered by
    control/explain.py. `sni` / `host`: the server name the flow asks for (TLS SNI / HTTP
    Host), read by Azure Firewall application rules (engine/stages/firewall.py); without
    either, a flow an application rule could allow ends FIREWALL_NAME_UNKNOWN. An IPv6
    destination leaves from the NIC's IPv6 ip configuration (`ipv6_source`) and is walked by
    the same stages (issue 17; assumption engine-ipv6).
    InputError for bad input (both sni and host included)."""
    from dataplane.control import explain as render
    from dataplane.engine.compile import build_network
    from dataplane.engine.payload import synthetic
    from dataplane.engine.reference import Packet, ReferencePipeline, flow_key

    dest_ip, dest_port = parse_endpoint(destination, "destination", port_required=False)
    if protocol.lower() not in ("tcp", "udp", "icmp", "esp", "ah"):
        raise InputError(f"protocol must be Tcp, Udp, Icmp, Esp or Ah, not '{protocol}'")
    interface = nic_for(topology, vm)
    number = protocol_number(protocol)
    ported = number in (6, 17)
    default = render.HTTPS_PORT if sni else render.DEFAULT_PORT
    dport = dest_port if dest_port is not None else (default if ported else 0)
    sport = source_port if source_port is not None else (render.EPHEMERAL_PORT if ported else 0)
    if dest_ip.version == 6:
        src_ip = ipv6_source(interface)
    else:
        src_ip = interface.primary_ip
        if src_ip is None or src_ip.version != 4:
            raise InputError(f"{interface.name} has no private IPv4 address")
    net = build_network(topology, caps=False)
    index = next(i for i, n in enumerate(net.nics) if id_key(n.id) == id_key(interface.id))
    try:
        name = synthetic(sni, host)
    except ValueError as e:
        raise InputError(str(e)) from None
    if (sni or host) and number != 6:  # application rules read TLS/HTTP over TCP only
        raise InputError(f"--{'sni' if sni else 'host'} names a TLS or HTTP server: it needs "
                         f"--protocol Tcp (got {protocol})")
    packet = Packet(index, src_ip.value, dest_ip.value, number, sport, dport,
                    family=dest_ip.version)
    reference = ReferencePipeline(net)
    reference.server_names[flow_key(packet)] = name
    walk = reference.walk(packet)
    machine = topology.vm_of_nic(interface)
    flow = render.flow_dict(machine.name if machine else None, interface.name, str(src_ip),
                            str(dest_ip), number, sport, dport,
                            dest_port is None and ported)
    notes, caveats = walk_notes(topology, interface, walk.hops, dest_ip.version)
    answer = render.render(flow, walk.hops, walk.disposition.name, walk.deciding, notes)
    answer["caveats"] = list(dict.fromkeys(answer["caveats"] + caveats))
    return answer


def walk_notes(topology: Topology, interface: NetworkInterface, hops: list[dict[str, Any]],
               family: int = 4) -> tuple[list[str], list[str]]:
    """(assumptions, caveats) of one packet's walk (engine/reference.py hops) from
    `interface`: the assumptions the walk used (texts "key: text", control/assumptions.py and
    the stages' own) and the caveats of the unmodelled resources on its path (the hops' own,
    then control/caveats.py for the NIC's path and the resources the hops name). Shared by
    `explain` and the CLI's `trace`, so both print the same vocabulary."""
    from dataplane.engine.stages.firewall import FIREWALL_ASSUMPTIONS
    from dataplane.engine.stages.firewall_nat import FIREWALL_NAT_ASSUMPTIONS
    from dataplane.engine.stages.gateway import (
        EXPRESSROUTE_IPV6,
        GATEWAY_ASSUMPTIONS,
        INGRESS_ASSUMPTIONS,
    )
    from dataplane.engine.stages.ipv6 import ENGINE_IPV6_ASSUMPTION
    from dataplane.engine.stages.loadbalancer import LB_ASSUMPTIONS
    from dataplane.engine.stages.public_edge6 import IPV6_EGRESS

    notes = texts("stateful", "forwarded-traffic", access_assumption(), "platform-routes",
                  "no-nsg-inbound-internet", "virtualnetwork-udr-prefixes",
                  "service-tag-prefixes")
    if any(h.get("nextHopType") == "Internet" for h in hops):  # the edge's decision
        notes.append(INGRESS_ASSUMPTIONS[2])  # internet-non-routable
    if any(h["step"] == "loadbalancer" for h in hops):
        notes += list(LB_ASSUMPTIONS)
    notes += gateway_notes(hops, GATEWAY_ASSUMPTIONS)
    notes += firewall_notes(hops, FIREWALL_ASSUMPTIONS + FIREWALL_NAT_ASSUMPTIONS)
    if family == 6:  # issue 17: IPv6 at the edge (public_edge6.py, gateway.py)
        notes += [ENGINE_IPV6_ASSUMPTION]
        if any(h.get("step") == "exit" and h.get("at") == "internet" for h in hops):
            notes += [IPV6_EGRESS]
        if any(h.get("step") == "gateway" for h in hops):
            notes += [EXPRESSROUTE_IPV6]
    chosen = chosen_addresses(topology)  # a public address this walk shows was chosen offline
    if chosen and chosen & _addresses_in(hops):
        notes += [f"{ALLOCATION.key}: {ALLOCATION.text}"]
    # a packet the DNS host service answers reads the VNet's DNS settings (custom dnsServers:
    # load/unread.py, control/caveats.py dns_service_ids)
    dns = dns_service_ids(topology, interface) if any(
        h.get("step") == "platform" and h.get("service") == "AzureDNS" for h in hops) else []
    caveats = [c for h in hops for c in h.get("caveats", ())] + caveats_for(
        topology, _nic_path(topology, interface) + _named(topology, hops) + dns)
    return notes, list(dict.fromkeys(caveats))


def _addresses_in(hops: list[dict[str, Any]]) -> set[str]:
    """Address-like tokens of the hops' text, whole ("20.1.2.3", "2001:db8::1"), also without a
    ":PORT" suffix ("20.1.2.3:3389" -> "20.1.2.3"; "[2001:db8::1]:443" splits at the brackets),
    so a chosen address matches exactly, never as part of a longer one."""
    tokens = re.findall(r"[0-9A-Fa-f:.]+", json.dumps(hops, default=str))
    return {t for token in tokens for t in (token, token.rsplit(":", 1)[0])}


def gateway_notes(hops: list[dict[str, Any]], notes: tuple[str, ...]) -> list[str]:
    """The gateway assumptions (engine/stages/gateway.py GATEWAY_ASSUMPTIONS, each "key: text")
    this walk used: VNet-to-VNet entry when a gateway hop entered a VNet, ECMP when a row was
    chosen among equal-cost ones, the Route Server NVA ones when a hop left through an NVA a
    Route Server learned from (the remote form after a VNet-to-VNet entry)."""
    entered = next((i for i, h in enumerate(hops) if h.get("result") == "VnetToVnet"), None)
    nva = [i for i, h in enumerate(hops) if h.get("kind") == "RouteServerPeer"]
    used = {"vnet-to-vnet-entry": entered is not None,
            "gateway-ecmp": any(h.get("ecmp") for h in hops),
            "remote-route-server-nva": entered is not None and any(i > entered for i in nva),
            "route-server-nva-egress": bool(nva)}
    return [text for text in notes if used.get(text.split(":", 1)[0], True)]


def firewall_notes(hops: list[dict[str, Any]], notes: tuple[str, ...]) -> list[str]:
    """The Azure Firewall assumptions (engine/stages/firewall.py FIREWALL_ASSUMPTIONS and
    firewall_nat.py FIREWALL_NAT_ASSUMPTIONS, each "key: text") this walk used: the rule
    order when a firewall decided; the application-rule ones when an application rule, or the
    server name it needs, decided; the translation ones when a firewall translated, DNAT's
    only when it DNATed (an application rule's SNAT is not a DNAT)."""
    firewall = [h for h in hops if h["step"] == "appliance" and h.get("kind") == "AzureFirewall"]
    nat = [h.get("kind", "") for h in hops if h["step"] == "nat" and "(firewall" in
           h.get("kind", "")]
    application = any("application rule" in k for k in nat) or any(
        h.get("serverName") or h.get("result") == "ServerNameUnknown" for h in firewall)
    used = {"firewall-classic": bool(firewall),
            "firewall-app-handshake": application, "firewall-app-no-name": application,
            "firewall-dnat-snat": any("DNAT" in k for k in nat)}
    return [text for text in notes if used.get(text.split(":", 1)[0], bool(nat))]


def ipv6_source(interface: NetworkInterface) -> IPAddress:
    """The NIC's IPv6 address (its first IPv6 ip configuration): the source of an IPv6 flow
    from a dual-stack NIC (a packet's family selects its ip configuration)."""
    found = next((c.private_ip_address for c in interface.ip_configurations
                  if c.private_ip_address is not None and c.private_ip_address.version == 6),
                 None)
    if found is None:
        raise InputError(f"{interface.name} has no IPv6 ip configuration (privateIPAddressVersion "
                         "IPv6), so it sends no IPv6 flow")
    return found


