"""Stage: crossing from one VNet into another -- reference and batch forms side by side.

Contract. Takes the sending VNet a, the receiving VNet b, the packet's source address and,
for packets that entered from an on-premises gateway, that gateway node. Same VNet: allowed.
From a gateway: b must use that gateway through gateway transit (spoke link
useRemoteGateways + hub link allowGatewayTransit, both Connected) -> else TRANSIT_BLOCKED
(labelled by `label_transit`); allowForwardedTraffic is not required ("Virtual network
peering", https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview,
"Gateways and on-premises connectivity"). Otherwise both links must be Connected
(PEERING_BLOCKED) and traffic that does not originate in a needs allowForwardedTraffic on the
receiving side (FORWARDING_BLOCKED; "Create, change, or delete a virtual network peering",
https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering, "Allow
forwarded traffic"), both labelled "peering A->B".
Dual-stack: an IPv6 source originates in a when it lies in a's IPv6 address space
(`Network.vnet_space6`); an IPv4 source in its IPv4 space.
Reference form `decide` returns the drop (disposition, label) or None and the hop dict
`explain` renders; batch form `decide_np` writes drops into the columns and returns the mask
of rows that cross.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.dispositions import Disposition as D


def label_transit(net: Any, gw: int, vnet: int) -> str:
    return f"{net.node_names[gw]}: no gateway transit to {net.vnet_names[vnet]}"


def label_peering(net: Any, a: int, b: int) -> str:
    return f"peering {net.vnet_names[a]}->{net.vnet_names[b]}"


# -- reference form --------------------------------------------------------------------------
def originated6(net: Any, vnet: int, src: int) -> bool:
    """The IPv6 address `src` lies in VNet `vnet`'s IPv6 address space."""
    return any(lo <= src <= hi for lo, hi in net.vnet_space6[vnet])


def originated6_np(space: Any, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """`originated6` per row for one VNet's IPv6 (first, last) ranges; addresses as uint64
    halves, compared as (hi, lo) pairs."""
    hi, lo = np.asarray(hi, np.uint64), np.asarray(lo, np.uint64)
    out = np.zeros(hi.size, bool)
    mask = (1 << 64) - 1
    for first, last in space:
        fh, fl = np.uint64(first >> 64), np.uint64(first & mask)
        lh, ll = np.uint64(last >> 64), np.uint64(last & mask)
        out |= (((hi > fh) | ((hi == fh) & (lo >= fl)))
                & ((hi < lh) | ((hi == lh) & (lo <= ll))))
    return out


def decide(net: Any, a: int, b: int, src: int, gateway: int = -1, family: int = 4
           ) -> tuple[tuple[D, str] | None, dict[str, Any] | None]:
    if a == b:
        return None, None
    link, back = net.peering_links.get((a, b), (None, None))
    hop: dict[str, Any] = {"step": "peering", "from": net.vnet_names[a],
                           "to": net.vnet_names[b], "link": link, "remoteLink": back or None}
    if gateway >= 0:
        hop.update(transit=True, gateway=net.node_names[gateway], forwarded=False)
        if b not in net.ingress.serves.get(gateway, frozenset()):
            hop["result"] = "GatewayTransitNotAllowed"
            return (D.TRANSIT_BLOCKED, label_transit(net, gateway, b)), hop
        hop["result"] = "Allowed"
        return None, hop
    if not net.connected[a, b]:
        hop["result"] = "PeeringNotConnected"
        return (D.PEERING_BLOCKED, label_peering(net, a, b)), hop
    originated = originated6(net, a, src) if family == 6 else any(
        lo <= src <= hi for lo, hi in zip(net.vnet_lo[a].tolist(), net.vnet_hi[a].tolist(),
                                          strict=True))
    hop["forwarded"] = not originated
    if not originated and not net.forward_ok[a, b]:
        hop["result"] = "ForwardedTrafficNotAllowed"
        return (D.FORWARDING_BLOCKED, label_peering(net, a, b)), hop
    hop["result"] = "Allowed"
    return None, hop


# -- batch form ------------------------------------------------------------------------------
def decide_np(net: Any, labels: Any, peer_label: np.ndarray, src: np.ndarray, idx: np.ndarray,
              a: np.ndarray, b: np.ndarray, prev: np.ndarray, via_gw: np.ndarray,
              disp: np.ndarray, dec: np.ndarray, active: np.ndarray,
              six: np.ndarray | None = None, hi: np.ndarray | None = None,
              lo: np.ndarray | None = None) -> np.ndarray:
    """Rows `idx` (source addresses `src`, aligned; rows in the mask `six` are IPv6 with
    sources (`hi`, `lo`) uint64 halves) from VNets a to b; `via_gw` rows entered
    at gateway node `prev`. Drops are written into disp/dec/active; returns the mask (over
    idx) of rows that cross. `labels` interns strings, `peer_label[a, b]` gives label indices
    for aligned VNet index arrays (engine/vnet_pairs.py PeerLabels: made on demand)."""
    diff = a != b
    ok = np.ones(idx.size, bool)
    g = diff & via_gw
    for j in np.flatnonzero(g).tolist():
        gw = int(prev[j])
        if int(b[j]) not in net.ingress.serves.get(gw, frozenset()):
            ok[j] = False
            disp[idx[j]] = D.TRANSIT_BLOCKED
            dec[idx[j]] = labels(label_transit(net, gw, int(b[j])))
            active[idx[j]] = False
    p = diff & ~via_gw
    if p.any():
        conn = net.connected[a, b]
        bad = p & ~conn
        disp[idx[bad]] = D.PEERING_BLOCKED
        dec[idx[bad]] = peer_label[a[bad], b[bad]]
        active[idx[bad]] = False
        ok &= ~bad
        originated = np.zeros(idx.size, bool)
        for v in np.unique(a[p & conn]).tolist():
            s = a == v
            first, last = net.vnet_lo[v], net.vnet_hi[v]
            originated[s] = ((src[s, None] >= first[None, :])
                             & (src[s, None] <= last[None, :])).any(1)
        if six is not None and six.any():
            m6 = six & p & conn
            for v in np.unique(a[m6]).tolist():
                s = m6 & (a == v)
                originated[s] = originated6_np(net.vnet_space6[v], hi[s], lo[s])
        fwd = p & conn & ~originated & ~net.forward_ok[a, b]
        disp[idx[fwd]] = D.FORWARDING_BLOCKED
        dec[idx[fwd]] = peer_label[a[fwd], b[fwd]]
        active[idx[fwd]] = False
        ok &= ~fwd
    return ok


__all__ = ["decide", "decide_np", "originated6", "label_peering", "label_transit"]
