"""The VirtualNetwork tag's user-route prefixes: say so when they alone decide an NSG verdict.

The VirtualNetwork tag holds "address prefixes used on user-defined routes. This tag might also
contain default routes." ("Virtual network service tags",
https://learn.microsoft.com/azure/virtual-network/service-tags-overview, "Available service
tags"), so control/tags.py puts every user-route prefix of the NIC subnet's route table in it,
0.0.0.0/0 included, whatever the next hop (assumption `virtualnetwork-udr-prefixes`;
docs/azure-behaviour.md §2.3). The user reports behind that reading
(MicrosoftDocs/azure-docs#22178) are about a default route to a network virtual appliance; for
another next hop (Internet, None, VirtualNetworkGateway, VnetLocal) Azure's behaviour is not
confirmed. Verdicts are kept (no evidence against the page's text); answers name it.

Takes: a NicSecurity built by a RuleCompiler (control/nsg.py), a direction, a Flow and its
Verdict; or, for the rules table, a TagResolver and a TagScope.
Emits:
* `route_only(compiler, scope, address)`: the (RouteTable, Route) pairs whose prefix holds
  `address` when no other member of the scope's VirtualNetwork tag does (the VNet space, the
  host's virtual IP, Connected peers, on-premises and learned prefixes); () otherwise.
* `verdict_caveats(security, direction, flow, verdict)`: one `virtualnetwork-tag-route-prefix`
  line per level rule of the verdict that matched an address of the flow through the
  VirtualNetwork tag only because of such a route (nothing else the rule side names -- its other
  prefixes, tags, ASGs -- holds the address). Used by ip-flow-verify and by the engine's NSG
  stage (explain, trace: the hop carries it).
* `widening_caveats(tags, scope)`: for the rules table, a line naming the user routes whose
  prefixes reach beyond the tag's other members (rules naming VirtualNetwork match those
  addresses); replay puts it on the paths through the NIC (engine/path_caveats.py: per path,
  not per row, so it says the verdict may rest on it) for the routes whose next hop is not
  VirtualAppliance only: the reported case (a forced-tunnelling default route to an appliance,
  common in hub-and-spoke) would otherwise mark every packet of such a spoke, while the
  unconfirmed one is rare and worth the noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataplane.control.tags import TagResolver, TagScope, canonical_tag, summarize_prefixes
from dataplane.model import Prefix, Route, RouteTable
from dataplane.net import IPAddress

if TYPE_CHECKING:
    from dataplane.control.nsg import EffectiveRule, Flow, NicSecurity, RuleCompiler, Verdict

KEY = "virtualnetwork-tag-route-prefix"
_SOURCE = ("(Virtual network service tags, https://learn.microsoft.com/azure/virtual-network/"
           "service-tags-overview, \"Available service tags\": \"address prefixes used on "
           "user-defined routes\")")


def _holds(prefixes: list[Prefix] | tuple[Prefix, ...], address: IPAddress) -> bool:
    return any(p.contains_address(address) for p in prefixes)


def route_only(compiler: RuleCompiler, scope: TagScope, address: IPAddress
               ) -> tuple[tuple[RouteTable, Route], ...]:
    """User routes that alone put `address` in the scope's VirtualNetwork tag (module doc;
    control/tags.py `TagResolver.route_only`)."""
    return compiler.tags.route_only(scope, address)


def _describe(routes: tuple[tuple[RouteTable, Route], ...] | list[tuple[RouteTable, Route]]
              ) -> str:
    return "; ".join(f"route table {t.name} route {r.name} ({r.address_prefix}, next hop "
                     f"{r.next_hop_type})" for t, r in routes)


def _confirmation(routes: tuple[tuple[RouteTable, Route], ...] | list[tuple[RouteTable, Route]]
                  ) -> str:
    others = sorted({r.next_hop_type for _, r in routes
                     if r.next_hop_type.lower() != "virtualappliance"})
    said = ("Azure's behaviour here is reported for default routes to an appliance "
            "(MicrosoftDocs/azure-docs#22178)")
    if others:
        return f"{said}; with next hop {', '.join(others)} it is unconfirmed"
    return said


def _only_through_tag(compiler: RuleCompiler, scope: TagScope, matches: tuple,
                      asgs: tuple[str, ...], address: IPAddress) -> bool:
    """The side names VirtualNetwork and nothing else it names holds `address`."""
    if not any(isinstance(m, str) and canonical_tag(m) == "virtualnetwork" for m in matches):
        return False
    others = tuple(m for m in matches
                   if not (isinstance(m, str) and canonical_tag(m) == "virtualnetwork"))
    if not others and not asgs:
        return True
    any_address, prefixes = compiler.side(scope, others, asgs)
    return not any_address and not _holds(prefixes, address)


def _rule(security: NicSecurity, level: str, direction: str, name: str | None
          ) -> EffectiveRule | None:
    eff = security.subnet if level == "subnet" else security.interface
    if eff is None or name is None:
        return None
    return next((r for r in eff.rules(direction) if r.name == name), None)


def verdict_caveats(security: NicSecurity, direction: str, flow: Flow, verdict: Verdict
                    ) -> list[str]:
    """Caveat lines for the verdict's level rules (module doc); [] when none applies or the
    NicSecurity was built without its compiler."""
    compiler, scope = security.compiler, security.scope
    if compiler is None or scope is None or not scope.route_table \
            or not compiler.tags.user_routes(scope):
        return []
    out = []
    for decision in verdict.levels:
        rule = _rule(security, decision.level, direction, decision.rule)
        if rule is None:
            continue
        r = rule.rule
        for address, matches, asgs in (
                (flow.source, r.source_address_prefixes, r.source_application_security_groups),
                (flow.destination, r.destination_address_prefixes,
                 r.destination_application_security_groups)):
            routes = route_only(compiler, scope, address)  # memoised: first
            if not routes or not _only_through_tag(compiler, scope, matches, asgs, address):
                continue
            nsg = (decision.nsg or "").rstrip("/").rsplit("/", 1)[-1]
            out.append(f"{KEY}: rule {nsg}/{r.name} matched {address} through the "
                       f"VirtualNetwork tag only because {_describe(routes)} puts that prefix "
                       f"in the tag {_SOURCE}; {_confirmation(routes)}")
    return list(dict.fromkeys(out))


def widening_caveats(tags: TagResolver, scope: TagScope, whose: str = "this NIC's rules",
                     unconfirmed_only: bool = False) -> list[str]:
    """Rules table (and replay, per NIC path): the user routes whose prefixes reach beyond
    the tag's other members (`unconfirmed_only`: those whose next hop is not
    VirtualAppliance)."""
    # a prefix inside the members' union lies inside one block of their minimal cover
    base = summarize_prefixes(tags.non_route_parts(scope))
    wide = [(t, r) for t, r in tags.user_routes(scope)
            if isinstance(r.address_prefix, Prefix)
            and not (unconfirmed_only and r.next_hop_type.lower() == "virtualappliance")
            and not any(b.version == r.address_prefix.version and b.first <= r.address_prefix.first
                        and r.address_prefix.last <= b.last for b in base)]
    if not wide:
        return []
    return [f"{KEY}: the VirtualNetwork tag of {whose} holds addresses outside the "
            f"virtual network, its peers and on-premises space because {_describe(wide)} "
            f"puts that prefix in the tag {_SOURCE}; rules naming VirtualNetwork "
            "(AllowVnetInBound, AllowVnetOutBound among them) match those addresses; "
            f"{_confirmation(wide)}"]
