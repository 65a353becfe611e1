"""Two live flows on one Azure Firewall SNAT address:port (caveat `firewall-snat-port-collision`,
issue 11 interim) -- the caveat's texts; the reference and batch forms detect it in
engine/conntrack.py (`ConnTrack.commit` returns it, `BatchConnTrack.open` returns a mask).

Contract. engine/stages/firewall_nat.py picks a flow's SNAT port by hash inside its pool
(firewall, address, instance, protocol, destination, destination port), so two flows of one pool
can draw the same port (birthday bound: a few hundred of 6,000 flows to one destination).
engine/conntrack.py then keeps the earlier entry as the owner of the shared reply key
(assumption `conntrack-first-wins`). Azure allocates each connection its own SNAT port from the
pool ("Scale SNAT ports with Azure NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway: ports are counted per
public IP per instance, "2,496 SNAT ports per public IP address configured per backend virtual
machine scale set instance"; "Azure Firewall SNAT private IP address ranges",
https://learn.microsoft.com/azure/firewall/snat-private-range: which flows are SNATed), so such
a collision never happens in Azure. Until the allocator gives unique live ports, a row that
opens a firewall-SNATed flow whose translated tuple's reply key is already held by another
entry (alive or idled out: either way this flow's replies are not its own) carries the caveat
`firewall-snat-port-collision`, naming the firewall and the translated address:port
(`row_caveat`); counts name the firewall (`firewall_caveat`). Forward verdicts are unaffected
(forward decisions read no state); the replies are what is wrong.
"""

from __future__ import annotations

import ipaddress

KEY = "firewall-snat-port-collision"
_WHY = (
    "the emulator picks a firewall SNAT port by hash, so this flow drew the address:port an "
    "earlier flow of the same pool to the same destination holds; replies to it are attributed "
    "to that other flow (conntrack-first-wins; or judged as new flows once it idled out), while "
    "Azure allocates each connection its own SNAT port ('Scale SNAT ports with Azure NAT "
    "Gateway', https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway; 'Azure "
    "Firewall SNAT private IP address ranges', "
    "https://learn.microsoft.com/azure/firewall/snat-private-range) -- this flow's forward "
    "verdict stands, its replies' do not (engine/snat_collision.py).")


def row_caveat(firewall: str, address: int, port: int) -> str:
    """The caveat line of one row: `firewall` (Azure Firewall name), `address` (IPv4 as int)
    and `port` the flow's translated source."""
    return (f"{KEY}: firewall {firewall} SNAT {ipaddress.IPv4Address(address)}:{port} is "
            f"already held by another flow: {_WHY}")


def firewall_caveat(firewall: str) -> str:
    """The caveat line counting a firewall's colliding flows (Result.caveats, summary.json)."""
    return (f"{KEY}: firewall {firewall} translated flows onto SNAT address:ports already held "
            f"by other flows: {_WHY}")


__all__ = ["KEY", "firewall_caveat", "row_caveat"]
