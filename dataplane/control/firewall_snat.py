"""Which destinations an Azure Firewall SNATs: its private IP address ranges, in every form.

Takes a Topology and one AzureFirewall. Emits `SnatRanges`: the destination intervals (IPv4
integers, inclusive) the firewall does NOT SNAT for network-rule traffic, where they came from
and the caveats of values it cannot read.

Microsoft's page: "Azure Firewall SNAT private IP address ranges",
https://learn.microsoft.com/azure/firewall/snat-private-range:
* by default network-rule traffic is not SNATed when the destination is in a private range per
  IANA RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or the shared address space of
  IANA RFC 6598 (100.64.0.0/10); every other destination is SNATed;
* `0.0.0.0/0` as a private range: never SNAT network-rule traffic ("Azure Firewall can never
  route traffic directly to the Internet": caveat `firewall-snat-never`, `never_snat_caveat`);
  `255.255.255.255/32`: always SNAT (no destination is private);
* the keyword `IANAPrivateRanges` stands for the default ranges inside a custom list (a custom
  list without it replaces them);
* application rules are always SNATed (transparent proxy), whatever these ranges say
  (engine/stages/firewall_nat.py).
Forms read: a Firewall Policy's `properties.snat.privateRanges` (the firewall's policy, else
the nearest ancestor that sets it -- assumption `firewall-snat-inherited`: Microsoft does not
say whether a child policy inherits its parent's SNAT settings); classic
`properties.additionalProperties["Network.SNAT.PrivateRanges"]` (comma-separated) when the
firewall has no policy in the input. An empty list is the default (IANAPrivateRanges).
`properties.snat.autoLearnPrivateRanges` = Enabled (the firewall's policy, else the nearest
ancestor that sets it, as for the ranges): "Azure Firewall can be configured to auto-learn
registered and private ranges every hour and use the learned routes for SNAT. This preview
capability must have Azure Route Server deployed in the same VNet" (same page, "Configure SNAT
private IP address ranges" list). The learned ranges are not modelled: the caveat
`firewall-snat-autolearn` names it on every answer crossing the firewall (a network-rule flow
to a learned range keeps its source in Azure and is SNATed here).
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.control.firewall_rules import policy_chain
from dataplane.errors import InputError
from dataplane.model import AzureFirewall, Topology
from dataplane.net import parse_prefix

IANA_PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
PAGE = ("'Azure Firewall SNAT private IP address ranges', "
        "https://learn.microsoft.com/azure/firewall/snat-private-range")


@dataclass(frozen=True)
class SnatRanges:
    """`intervals`: (first, last) IPv4 integers not SNATed for network rules (empty: always
    SNAT); `source`: the property they came from ('default' when none is set); `written`: the
    values as the input has them."""

    intervals: tuple[tuple[int, int], ...]
    source: str
    written: tuple[str, ...]
    caveats: tuple[str, ...] = ()

    def private(self, address: int) -> bool:
        """True when network-rule traffic to `address` (IPv4 integer) keeps its source."""
        return any(lo <= address <= hi for lo, hi in self.intervals)


def _ranges(values: tuple[str, ...], firewall: str, prop: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for v in values:
        for text in (IANA_PRIVATE_RANGES if v.lower() == "ianaprivateranges" else (v,)):
            if text == "255.255.255.255/32" or text == "255.255.255.255":
                continue  # "always SNAT": no destination is private
            try:
                p = parse_prefix(text if "/" in text else f"{text}/32", strict=False)
            except InputError as e:
                raise InputError(f"SNAT private range {text!r} is not an IPv4 prefix or address "
                                 f"({e.message})", resource=firewall, property=prop) from None
            if p.version == 4:
                out.append((p.first, p.last))
    return tuple(sorted(set(out)))


def auto_learn_caveat(chain: list, firewall: str) -> tuple[str, ...]:
    """The caveat `firewall-snat-autolearn` when the nearest policy of `chain` (root-most
    first) setting snat.autoLearnPrivateRanges enables it, else ()."""
    for policy in reversed(chain):
        if policy.snat_auto_learn is not None:
            if policy.snat_auto_learn != "Enabled":
                return ()
            return (f"firewall-snat-autolearn: firewall {firewall}'s policy {policy.name} sets "
                    "snat.autoLearnPrivateRanges Enabled: Azure also keeps the source of "
                    "network-rule traffic to the ranges it learns from Azure Route Server every "
                    f"hour (preview, {PAGE}); those ranges are not modelled, so such flows are "
                    "SNATed here and may not be in Azure",)
    return ()


def never_snat_caveat(intervals: tuple[tuple[int, int], ...], firewall: str,
                      prop: str) -> tuple[str, ...]:
    """The caveat `firewall-snat-never` when the ranges hold 0.0.0.0/0: "use 0.0.0.0/0 as your
    private IP address range. With this configuration, Azure Firewall can never route traffic
    directly to the Internet" (PAGE, "Configure SNAT private IP address ranges"); the engine
    still lets such network-rule flows leave for the Internet, with their private source."""
    if not any(lo == 0 and hi == (1 << 32) - 1 for lo, hi in intervals):
        return ()
    return (f"firewall-snat-never: firewall {firewall}'s {prop} holds 0.0.0.0/0 (never SNAT): "
            "Azure Firewall then never routes traffic directly to the Internet "
            f"({PAGE}); Internet-bound network-rule flows are answered here as leaving with "
            "their private source, and their replies cannot return",)


def snat_ranges(topology: Topology, firewall: AzureFirewall) -> SnatRanges:
    """The firewall's SNAT private ranges (module contract). Raises InputError naming the
    firewall and property for a value that is neither a prefix, an address nor
    IANAPrivateRanges."""
    chain = policy_chain(topology, firewall)  # root-most first
    learn = auto_learn_caveat(chain, firewall.name)
    if chain:
        for policy in reversed(chain):  # the firewall's own policy first
            if policy.snat_private_ranges:
                prop = f"policy {policy.name} properties.snat.privateRanges"
                ranges = _ranges(policy.snat_private_ranges, firewall.name, prop)
                return SnatRanges(ranges, prop, policy.snat_private_ranges,
                                  learn + never_snat_caveat(ranges, firewall.name, prop))
    elif firewall.snat_private_ranges:
        prop = 'properties.additionalProperties["Network.SNAT.PrivateRanges"]'
        ranges = _ranges(firewall.snat_private_ranges, firewall.name, prop)
        return SnatRanges(ranges, prop, firewall.snat_private_ranges,
                          never_snat_caveat(ranges, firewall.name, prop))
    return SnatRanges(_ranges(("IANAPrivateRanges",), firewall.name, ""), "default",
                      ("IANAPrivateRanges",), learn)


__all__ = ["IANA_PRIVATE_RANGES", "PAGE", "SnatRanges", "auto_learn_caveat", "never_snat_caveat",
           "snat_ranges"]
