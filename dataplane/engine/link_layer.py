"""Frames that are not IP: UNSUPPORTED before any stage, the EtherType named, both forms.

Contract. The header kernel (kernels/headers*) reads every frame's link header; a frame whose
EtherType after its 802.1Q / 802.1ad tags is neither IPv4 (0x0800) nor IPv6 (0x86DD) gets
parse status NOT_IP and its `ethertype` column. Such a frame (ARP, LLDP, 802.1X, an LLC frame
with an 802.3 length field, ...) ends UNSUPPORTED with the deciding label
`ethertype_label(ethertype)`, e.g. "ethertype 0x0806 (ARP) not IP": an Azure virtual network
carries IP packets only ("Azure Virtual Network frequently asked questions",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "Can I bring my VLANs
to Azure using VNets?": "VNets are Layer-3 overlays. Azure does not support any Layer-2
semantics"; "What protocols can I use within VNets?": TCP, UDP and ICMP over IP). What the
host does with such a frame itself (it answers a VM's ARP requests) is not modelled:
assumption `non-ip-frames`. A frame damaged at layer 2 or 3 (TRUNCATED, BAD_IP_HEADER,
BAD_RECORD, BAD_LINKTYPE, L4_TRUNCATED) stays UNPARSED with its status as the reason.
Accounting (io/writers.py `accounting`): UNSUPPORTED counts with the dropped packets (parsed,
not carried, a named reason), so read = delivered + left the network + dropped + unparsed.
Forms: reference `verdict(status, ethertype)` (one frame: (disposition, label) or None for an
IP packet) and batch `decide_np(status, ethertype, labels)` (rows and label indices of the
non-IP frames, one label per distinct EtherType). tests/engine/test_non_ip_frames.py keeps
them equal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dataplane.dispositions import Disposition as D
from dataplane.kernels.headers_py import ParseStatus

# IEEE EtherType names (the IEEE registry's protocols; a fixed table, so labels are the same on
# every machine: scapy's table reads /etc/ethertypes)
ETHERTYPE_NAMES = {
    0x0806: "ARP", 0x0842: "Wake-on-LAN", 0x22F0: "AVTP", 0x6003: "DECnet", 0x8035: "RARP",
    0x809B: "AppleTalk", 0x80F3: "AARP", 0x8137: "IPX", 0x8808: "Ethernet flow control",
    0x8809: "LACP / slow protocols", 0x8847: "MPLS", 0x8848: "MPLS multicast",
    0x8863: "PPPoE discovery", 0x8864: "PPPoE session", 0x888E: "EAPOL (802.1X)",
    0x88CC: "LLDP", 0x88E5: "MACsec", 0x88F7: "PTP", 0x8906: "FCoE", 0x8914: "FIP",
    0x893A: "IEEE 1905", 0x9000: "Loopback / CTP",
}
LENGTH_FIELD_MAX = 0x05DC  # 1500: up to here the field is an 802.3 length (an LLC frame)
NON_IP_ASSUMPTION = (
    "non-ip-frames: a frame that is not IPv4 or IPv6 (ARP, LLDP, ...) ends UNSUPPORTED with its "
    "EtherType named (a VNet is a layer-3 overlay: Azure Virtual Network FAQ); the host's own "
    "answers to such frames (ARP replies) are not emulated; it counts with the dropped packets.")


def ethertype_label(ethertype: int) -> str:
    """The deciding label of a non-IP frame: 'ethertype 0x0806 (ARP) not IP'; an 802.3 length
    field (<= 1500) is named as an LLC frame."""
    if ethertype <= LENGTH_FIELD_MAX:
        return f"802.3 length 0x{ethertype:04x} (LLC frame) not IP"
    name = ETHERTYPE_NAMES.get(ethertype)
    return f"ethertype 0x{ethertype:04x}{f' ({name})' if name else ''} not IP"


def verdict(status: int, ethertype: int) -> tuple[D, str] | None:
    """Reference form: one frame's parse status and EtherType -> (UNSUPPORTED, label) for a
    frame that is not IP, (UNPARSED, the disposition's reason) for a damaged one, None for an
    IP packet the engine goes on with (OK, or a later fragment: engine/fragments.py)."""
    if status == ParseStatus.NOT_IP:
        return D.UNSUPPORTED, ethertype_label(ethertype)
    if status in (ParseStatus.OK, ParseStatus.NON_FIRST_FRAGMENT):
        return None
    return D.UNPARSED, D.UNPARSED.reason


def decide_np(status: np.ndarray, ethertype: np.ndarray, labels: Callable[[str], int]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Batch form: the rows (ascending) of frames that are not IP and their label indices
    (`labels` interns a label: BatchPipeline.labels), one ethertype_label per distinct
    EtherType. Their preset is UNSUPPORTED (the caller sets it)."""
    rows = np.flatnonzero(status == ParseStatus.NOT_IP)
    kinds, which = np.unique(ethertype[rows], return_inverse=True)
    index = np.array([labels(ethertype_label(k)) for k in kinds.tolist()], np.int32)
    return rows, index[which.ravel()] if rows.size else np.zeros(0, np.int32)


__all__ = ["ETHERTYPE_NAMES", "NON_IP_ASSUMPTION", "decide_np", "ethertype_label", "verdict"]
