"""Replay outputs: packets.csv rows, one pcap per receiving VM, dropped.pcapng with reasons.

Takes: decided batches (the Emulator's sink: columns, node paths, the RecordBatch frames).
Emits in DIR: `packets.csv` (one row per packet: index, capture, record, time in, 5-tuple,
disposition, deciding rule/route, hops, time out, latency), `<vm>.pcap` (nanosecond pcap,
frames delivered to that VM stamped with their emulated arrival time, in processing order),
`dropped.pcapng` (every dropped/unparsed frame; each Enhanced Packet Block carries
"DISPOSITION: reason; deciding" as its opt_comment). Link type per file: Ethernet unless the
first frame written is raw IP.
Frames are written as the emulated network carries them (`rewrite`): the IPv4 source and
destination become the emulated addresses (the address map's rewrite, io/mapping.py) and, for
a packet delivered through an internal load balancer's frontend, the backend's address and
port (DNAT, engine/loadbalancer.py); the IPv4 header checksum is recomputed, the TCP/UDP
checksum recomputed when the whole segment was captured and updated incrementally (RFC 1624)
when it was truncated (a UDP checksum of 0 stays 0). Ethernet, 802.1Q/802.1ad tags and raw IP
link types; other frames (IPv6, unparsed) are written unchanged.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dataplane.dispositions import Disposition as D

_ETHERNET, _RAW, _IPV4 = 1, (101, 228, 12, 14), 0x0800


class _Pcap:
    def __init__(self, path: Path, linktype: int) -> None:
        self.f: BinaryIO = path.open("wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))

    def write(self, t_ns: int, frame: bytes, orig: int) -> None:
        t_ns = max(t_ns, 0)
        self.f.write(struct.pack("<IIII", t_ns // 10**9, t_ns % 10**9, len(frame), orig))
        self.f.write(frame)


class _Pcapng:
    def __init__(self, path: Path) -> None:
        self.f: BinaryIO = path.open("wb")
        self.f.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
        self.ifaces: dict[int, int] = {}

    def iface(self, linktype: int) -> int:
        if linktype not in self.ifaces:
            opt = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # ns resolution
            blen = 20 + len(opt)
            self.f.write(struct.pack("<IIHHI", 1, blen, linktype, 0, 0) + opt
                         + struct.pack("<I", blen))
            self.ifaces[linktype] = len(self.ifaces)
        return self.ifaces[linktype]

    def write(self, linktype: int, t_ns: int, frame: bytes, orig: int, comment: str) -> None:
        i = self.iface(linktype)
        t_ns = max(t_ns, 0)
        pad = b"\0" * (-len(frame) % 4)
        c = comment.encode()[:60000]
        opt = struct.pack("<HH", 1, len(c)) + c + b"\0" * (-len(c) % 4) + struct.pack("<HH", 0, 0)
        blen = 32 + len(frame) + len(pad) + len(opt)
        self.f.write(struct.pack("<IIIIIII", 6, blen, i, t_ns >> 32, t_ns & 0xFFFFFFFF,
                                 len(frame), orig) + frame + pad + opt + struct.pack("<I", blen))


class ReplayWriter:
    def __init__(self, out: Path, result_ref: Any) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.em = result_ref
        self.csv_file = (out / "packets.csv").open("w", newline="")
        self.csv = csv.writer(self.csv_file)
        self.csv.writerow(["index", "capture", "record", "time_in_ns", "src", "dst", "proto",
                           "sport", "dport", "length", "disposition", "deciding", "hops",
                           "time_out_ns", "latency_ns", "parse_status"])
        self.vm_files: dict[int, _Pcap] = {}
        self.dropped = _Pcapng(out / "dropped.pcapng")
        self.index = 0

    def __call__(self, cols: dict[str, np.ndarray], nodes: np.ndarray, rb: Any) -> None:
        net = self.em.net
        names = self.em.batch.labels.names
        buf = rb.buf.tobytes()
        disp = cols["disposition"]
        for i in range(disp.size):
            d = D(int(disp[i]))
            path = [int(x) for x in nodes[i] if x >= 0]
            tin, tout = int(cols["time_in"][i]), int(cols["time_out"][i])
            ok = d == D.DELIVERED or d.exited
            dec = names[int(cols["deciding"][i])] if cols["deciding"][i] >= 0 else ""
            s, t = int(cols["src"][i]), int(cols["dst"][i])
            self.csv.writerow([
                self.index, int(cols["capture"][i]), int(cols["record"][i]), tin,
                _ip(s), _ip(t), int(cols["proto"][i]), int(cols["sport"][i]),
                int(cols["dport"][i]), int(cols["length"][i]), d.name, dec,
                " > ".join(net.node_names[x] for x in path), tout if ok else -1,
                tout - tin if ok else -1, cols["status"][i]])
            o, n = int(rb.offsets[i]), int(rb.caplens[i])
            frame, orig, link = buf[o:o + n], int(rb.origlens[i]), int(rb.linktypes[i])
            if d != D.UNPARSED and d != D.UNSUPPORTED:
                dst, dport = t, int(cols["dport"][i])
                if d == D.DELIVERED:
                    dst, dport = self._translated(path[-1], int(cols["proto"][i]), t, dport)
                frame = rewrite(frame, link, s, dst, dport, n == orig)
            if d == D.DELIVERED:
                last = path[-1]
                if last not in self.vm_files:
                    self.vm_files[last] = _Pcap(self.out / f"{net.node_names[last]}.pcap", link)
                self.vm_files[last].write(tout, frame, orig)
            elif not d.exited:
                self.dropped.write(link, tin, frame, orig, f"{d.name}: {d.reason}; {dec}")
            self.index += 1

    def _translated(self, last: int, proto: int, dst: int, dport: int) -> tuple[int, int]:
        """The destination as the receiving NIC sees it: a frontend address is DNATed to the
        backend's address and the rule's backend port (engine/loadbalancer.py)."""
        net = self.em.net
        if last >= len(net.nics) or net.ip_nic.get(dst) == last:
            return dst, dport
        fe = net.lb.at(int(net.node_vnet[last]), dst)
        if fe < 0:
            return dst, dport
        front = net.lb.frontends[fe]
        rule = front.rule_for(proto, dport)
        if rule is None:
            return dst, dport
        hit = np.flatnonzero(rule.backends == last)
        new_dst = int(rule.backend_ips[hit[0]]) if hit.size else dst
        return new_dst, rule.translate_port(dport) if proto in (6, 17) else dport

    def close(self) -> None:
        self.csv_file.close()
        self.dropped.f.close()
        for f in self.vm_files.values():
            f.f.close()


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = int(np.frombuffer(data, dtype=">u2").astype(np.uint64).sum())
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _csum(data: bytes) -> int:
    return ~_sum16(data) & 0xFFFF


def _update(csum: int, old: bytes, new: bytes) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') over the changed 16-bit words."""
    total = ~csum & 0xFFFF
    for k in range(0, len(old), 2):
        total += (~int.from_bytes(old[k:k + 2], "big") & 0xFFFF) + int.from_bytes(
            new[k:k + 2], "big")
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rewrite(frame: bytes, link: int, src: int, dst: int, dport: int, complete: bool) -> bytes:
    """The frame with IPv4 source/destination (and TCP/UDP destination port) replaced and the
    checksums fixed; frames that are not IPv4 are returned unchanged."""
    off = 0
    if link == _ETHERNET:
        if len(frame) < 14:
            return frame
        off, etype = 14, int.from_bytes(frame[12:14], "big")
        while etype in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 4:
            etype = int.from_bytes(frame[off + 2:off + 4], "big")
            off += 4
        if etype != _IPV4:
            return frame
    elif link not in _RAW:
        return frame
    if len(frame) < off + 20 or frame[off] >> 4 != 4:
        return frame
    ihl = (frame[off] & 15) * 4
    if ihl < 20 or len(frame) < off + ihl:
        return frame
    out = bytearray(frame)
    old_addr = bytes(out[off + 12:off + 20])
    new_addr = src.to_bytes(4, "big") + dst.to_bytes(4, "big")
    out[off + 12:off + 20] = new_addr
    out[off + 10:off + 12] = b"\0\0"
    out[off + 10:off + 12] = _csum(bytes(out[off:off + ihl])).to_bytes(2, "big")
    proto = out[off + 9]
    first_fragment = int.from_bytes(out[off + 6:off + 8], "big") & 0x1FFF == 0
    l4 = off + ihl
    if proto not in (6, 17) or not first_fragment:
        return bytes(out)
    cs_at = l4 + (16 if proto == 6 else 6)
    if len(out) < cs_at + 2:
        return bytes(out)
    old_port = bytes(out[l4 + 2:l4 + 4])
    new_port = dport.to_bytes(2, "big")
    out[l4 + 2:l4 + 4] = new_port
    old_cs = int.from_bytes(out[cs_at:cs_at + 2], "big")
    if proto == 17 and old_cs == 0:
        return bytes(out)  # UDP without checksum
    total_len = int.from_bytes(out[off + 2:off + 4], "big")
    seg_len = total_len - ihl
    if complete and len(out) >= l4 + seg_len >= l4 + 8:
        out[cs_at:cs_at + 2] = b"\0\0"
        pseudo = new_addr + bytes([0, proto]) + seg_len.to_bytes(2, "big")
        cs = _csum(pseudo + bytes(out[l4:l4 + seg_len]))
        if proto == 17 and cs == 0:
            cs = 0xFFFF
    else:
        cs = _update(old_cs, old_addr + old_port, new_addr + new_port)
    out[cs_at:cs_at + 2] = cs.to_bytes(2, "big")
    return bytes(out)


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
