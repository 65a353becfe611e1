"""The BGP sidecar: routes that BGP peers outside ARM's view advertise (docs/bgp-sidecar.md).

ARM holds no property for the prefixes an NVA announces to Azure Route Server, an on-premises
VPN device announces over a BGP-enabled connection, or an ExpressRoute circuit carries from
on-premises. This file (JSON) or the scenario YAML key `bgp_routes` supplies them:

    {"bgpRoutes": [{"peer": "nva1", "prefixes": ["10.50.0.0/16"],
                    "asPath": [65001], "nextHop": "10.0.1.4"}, ...]}

(a bare list of entries is accepted too). `peer` names a Route Server bgpConnection, a local
network gateway, an ExpressRoute (or IPsec) connection or circuit, by name or id, or the
peer's IP address; `asPath` (optional: the peer's ASN) is a list of integers or a string
"65001 65002"; `nextHop` (optional) overrides the peer's address.
Emits: a tuple of `BgpAdvertisement`. Raises InputError naming the file, the entry and the
property for anything malformed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataplane.errors import InputError
from dataplane.load.jsonfile import read_json
from dataplane.load.scenario_keys import did_you_mean
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_ip, parse_prefix

MAX_ASN = 4294967295  # 32-bit ASNs (VPN FAQ, "Can I use 32-bit (4-byte) ASNs? Yes")
KEYS = ("peer", "prefixes", "asPath", "nextHop")

Sidecar = str | Path | dict[str, Any] | list[Any] | None


def read_bgp_sidecar(sidecar: Sidecar, source: str = "<bgp routes>"
                     ) -> tuple[BgpAdvertisement, ...]:
    """A sidecar path, or its parsed JSON (dict or list) -> advertisements."""
    if sidecar is None:
        return ()
    if isinstance(sidecar, (str, Path)):
        source = str(sidecar)
        sidecar = read_json(sidecar)  # type: ignore[assignment]
    entries = sidecar.get("bgpRoutes") if isinstance(sidecar, dict) else sidecar
    if not isinstance(entries, list):
        raise InputError("a BGP sidecar is {\"bgpRoutes\": [...]} or a list of routes",
                         file=source, property="bgpRoutes")
    return tuple(_entry(e, i, source) for i, e in enumerate(entries))


def _entry(raw: Any, index: int, source: str) -> BgpAdvertisement:
    where = f"bgpRoutes[{index}]"
    if not isinstance(raw, dict):
        raise InputError("expected an object with peer and prefixes", file=source,
                         resource=where)

    def fail(prop: str, message: str) -> InputError:
        return InputError(message, file=source, resource=where, property=prop)

    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key '{unknown[0]}'{did_you_mean(unknown[0], KEYS)}")
    peer = raw.get("peer")
    if not isinstance(peer, str) or not peer.strip():
        raise fail("peer", "expected the name, id or IP address of a BGP peer")
    prefixes = raw.get("prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        raise fail("prefixes", "expected a non-empty list of address prefixes")
    parsed = []
    for i, text in enumerate(prefixes):
        try:
            parsed.append(parse_prefix(text))
        except InputError as error:
            raise fail(f"prefixes[{i}]", error.message) from None
    return BgpAdvertisement(peer=peer.strip(), prefixes=tuple(parsed),
                            as_path=_as_path(raw.get("asPath"), fail),
                            next_hop=_next_hop(raw.get("nextHop"), fail), source=source)


def _as_path(value: Any, fail) -> tuple[int, ...]:
    if value is None:
        return ()
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list):
        raise fail("asPath", "expected a list of AS numbers or a string '65001 65002'")
    out = []
    for item in items:
        try:
            if isinstance(item, bool):
                raise ValueError
            asn = int(item)
        except (TypeError, ValueError):
            raise fail("asPath", f"'{item}' is not an AS number") from None
        if not 1 <= asn <= MAX_ASN:
            raise fail("asPath", f"AS number {asn} is outside 1-{MAX_ASN}")
        out.append(asn)
    return tuple(out)


def _next_hop(value: Any, fail):
    if value in (None, ""):
        return None
    try:
        return parse_ip(value, what="next hop address")
    except InputError as error:
        raise fail("nextHop", error.message) from None


def scenario_bgp_routes(text: str, source: str) -> tuple[BgpAdvertisement, ...]:
    """The `bgp_routes:` key of a scenario YAML (same entries as the sidecar's list)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return ()  # the scenario loader reports malformed YAML
    entries = doc.get("bgp_routes") if isinstance(doc, dict) else None
    return () if entries is None else read_bgp_sidecar(
        entries if isinstance(entries, list) else {"bgpRoutes": entries}, source)
