"""Azure Firewall SNAT ports: every live connection its own port (issue 11) -- the probe both
connection-table forms share (engine/conntrack.py `ConnTrack.commit`; engine/batch.py
`BatchPipeline._snat_ports` with `BatchConnTrack.open`), over the entries holding reply keys.

Contract. A new flow an Azure Firewall SNATs (engine/stages/firewall_nat.py: it draws from a
port pool, `snat_key`) is given its port when its entry is opened (the connection table's
commit, in capture order: time, then capture index). Its *space* is its translated tuple
without the source port -- (SNAT address, destination address, protocol, destination port),
the reply keys its port can collide in. The port is the flow's hash port
(`FirewallNat.snat_np`) when no live entry of the space holds it, else the next port upward,
wrapping inside [PORT_FIRST, PORT_FIRST + PORT_COUNT), that no live entry holds (`probe`).
"Live" is the table's idle rule (engine/conntrack.py, assumption conntrack-idle): an entry
idle longer than the timeout no longer holds its port, and the flow that takes the port over
also takes its reply key (the idled-out flow's replies are then the new flow's). The forward
decision never reads the port (it is state, not a decision: the decision cache keys on the
hash port, engine/batch.py); only the flow's translated tuple -- its replies' key and the
row's final source port -- carries it. Established packets of the flow leave with their
entry's port. Microsoft: "Scale SNAT ports with Azure NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway (ports are counted per
public IP per instance: "2,496 SNAT ports per public IP address configured per backend virtual
machine scale set instance"; each connection holds one) and "Azure Firewall SNAT private IP
address ranges", https://learn.microsoft.com/azure/firewall/snat-private-range (which flows are
SNATed). Microsoft does not document which port a connection gets: the hash start and the
upward probe are this emulator's (assumption `firewall-snat-port`). Exhaustion stays the
pool's count (FIREWALL_SNAT_EXHAUSTED once a pool has its limit of live entries; a public
IP's space spans its instances' pools, 2 x 2,496 of 64,512 ports at the minimum), so a probe
finds a free port; when it finds none (a space whose flows count elsewhere: flows a second
firewall SNATs again are counted at the first) the hash port is kept and the earlier entry keeps the reply key (conntrack-first-wins).
A port's holder is whichever entry holds the reply key of the space's tuple with that port
(the table's own reply keys: a firewall-SNATed entry, or any other entry translated onto it;
the batch form sees in-batch openers as holders only when they were allocated here too).
Stages after the SNAT (a later firewall, load-balancer and gateway flow hashes, NSG source
ports, explain hops) read the hash port (named in `firewall-snat-port`).
A flow whose entry idled out and whose port a later flow took keeps its port when its forward
direction re-opens the entry (conntrack-idle); its replies then belong to the later flow
(assumption `firewall-snat-port`, named in its text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from dataplane.engine.stages.firewall_nat import PORT_COUNT, PORT_FIRST

H = TypeVar("H")  # a holder: the reference form's Entry, the batch form's row or entry id


def ported(proto: int) -> bool:
    """Whether a protocol has ports to allocate (TCP, UDP); other flows keep their field."""
    return proto in (6, 17)


def next_port(port: int) -> int:
    """The port after `port`, wrapping inside [PORT_FIRST, PORT_FIRST + PORT_COUNT)."""
    return PORT_FIRST + (port - PORT_FIRST + 1) % PORT_COUNT


def window(start: np.ndarray, count: int) -> np.ndarray:
    """int64[len(start), count]: each start port and the count - 1 ports after it (next_port's
    wrapping), the ports a probe from `start` reads first."""
    step = np.arange(count, dtype=np.int64)
    return PORT_FIRST + (start.astype(np.int64)[:, None] - PORT_FIRST + step) % PORT_COUNT


def probe(start: int, taken: Callable[[int], bool]) -> int:
    """The first port from `start` upward (wrapping) that is not `taken`; `start` when every
    port is (module contract)."""
    port = start
    for _ in range(PORT_COUNT):
        if not taken(port):
            return port
        port = next_port(port)
    return start


def allocate(start: int, holder: Callable[[int], H | None], alive: Callable[[H], bool]
             ) -> tuple[int, bool]:
    """(port, take): the port a new flow of one space takes, probing from its hash port
    `start`; `holder(port)` is the entry holding that port's reply key in the space (None:
    none), taken while `alive`. `take`: the port's holder idled out, so the new flow takes
    over its reply key (False: the key was free, or no port was and the earlier entry keeps
    it -- conntrack-first-wins)."""
    def taken(port: int) -> bool:
        h = holder(port)
        return h is not None and alive(h)

    port = probe(start, taken)
    h = holder(port)
    return port, h is not None and not alive(h)


__all__ = ["allocate", "next_port", "ported", "probe", "window"]
