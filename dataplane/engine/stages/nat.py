"""Stage: address translation -- reference and batch forms side by side.

Contract. A translated packet carries its new addresses from that hop on: every later stage
(NSGs, routes, firewalls, delivery) and the result columns (`final_src`, `final_dst`,
`final_sport`, `final_dport`) see them; explain prints the translation at its hop.
* DNAT (`dnat`, `dnat_np`): the destination address and port become the chosen backend's
  (the load-balancer stage chooses; ports change only for TCP/UDP).
* un-SNAT (`unsnat`, `unsnat_np`): a reply of a source-translated flow (a NAT gateway's or a
  public IP's address, engine/stages/public_edge.py) arriving from the Internet takes the
  flow's original source address and port as its destination, before the ingress stage.
* un-DNAT (`unnat`, `unnat_np`): a reply of a translated flow (engine/conntrack.py) leaves
  its source host with the source address and port of the flow's original destination (the
  frontend), applied after the outbound NSG ("Azure Load Balancer components",
  https://learn.microsoft.com/azure/load-balancer/components, "Frontend IP configuration":
  the load balancer maps the response traffic from the VM back).
Reference form: one packet (any NamedTuple with src, dst, proto, sport, dport) in, the
translated packet and the hop dict out. Batch form: columns rewritten in place for the rows
given (the batch dispatcher passes its own copies).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np


def _ported(proto: int) -> bool:
    return proto in (6, 17)


# -- reference form --------------------------------------------------------------------------
def unnat(p: Any, at: str, address: int, port: int, family: int = 4
          ) -> tuple[Any, dict[str, Any]]:
    """A DNATed flow's reply leaving its host: its source becomes the flow's original
    destination (`address`: an IPv4 or, family 6, a 128-bit IPv6 address)."""
    hop = {"step": "nat", "at": at, "kind": "un-DNAT",
           "original": {"sourceIp": _ip(p.src, family), "sourcePort": p.sport},
           "translated": {"sourceIp": _ip(address, family), "sourcePort": port}}
    return p._replace(src=address, sport=port if _ported(p.proto) else p.sport), hop


def unsnat(p: Any, address: int, port: int, at: str = "internet", family: int = 4
           ) -> tuple[Any, dict[str, Any]]:
    """A reply of a source-translated flow (engine/stages/public_edge.py, public_edge6.py for
    `family` 6) arriving from the Internet, or (`at` its sending NIC) of a flow an Azure
    Firewall translated (engine/stages/firewall_nat.py): its destination becomes the flow's
    original source."""
    hop = {"step": "nat", "at": at, "kind": "un-SNAT",
           "original": {"destinationIp": _ip(p.dst, family), "destinationPort": p.dport},
           "translated": {"destinationIp": _ip(address, family), "destinationPort": port}}
    return p._replace(dst=address, dport=port if _ported(p.proto) else p.dport), hop


def dnat(p: Any, address: int, port: int) -> Any:
    return p._replace(dst=address, dport=port if _ported(p.proto) else p.dport)


# -- batch form ------------------------------------------------------------------------------
def unnat_np(c: Any, rows: np.ndarray, address: np.ndarray, port: np.ndarray) -> None:
    """Rows (bool mask) take source `address`/`port` (per-row columns, -1 where unused)."""
    c.src[rows] = address[rows]
    ported = rows & ((c.proto == 6) | (c.proto == 17))
    c.sport[ported] = port[ported]


def unsnat_np(c: Any, rows: np.ndarray, address: np.ndarray, port: np.ndarray) -> None:
    """Rows (bool mask) take destination `address`/`port` (per-row columns)."""
    c.dst[rows] = address[rows]
    ported = rows & ((c.proto == 6) | (c.proto == 17))
    c.dport[ported] = port[ported]


def dnat_np(c: Any, rows: np.ndarray, address: np.ndarray, port: np.ndarray) -> None:
    """Rows (indices) take destination `address`/`port` (aligned with rows)."""
    ported = (c.proto[rows] == 6) | (c.proto[rows] == 17)
    c.dport[rows] = np.where(ported, port, c.dport[rows])
    c.dst[rows] = address


def _ip(v: int, family: int = 4) -> str:
    if family == 6:
        return str(ipaddress.IPv6Address(v))
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


__all__ = ["dnat", "dnat_np", "unnat", "unnat_np", "unsnat", "unsnat_np"]
