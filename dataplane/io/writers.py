"""Replay outputs: packets.csv rows, one pcap per receiving VM, dropped.pcapng with reasons.

Takes: decided batches (the Emulator's sink: columns, node paths, the RecordBatch frames).
Emits in DIR: `packets.csv` (one row per packet: index, capture, record, time in, 5-tuple,
disposition, deciding rule/route, hops, time out, latency), `<vm>.pcap` (nanosecond pcap,
frames delivered to that VM stamped with their emulated arrival time, in processing order),
`dropped.pcapng` (every dropped/unparsed frame; each Enhanced Packet Block carries
"DISPOSITION: reason; deciding" as its opt_comment). Link type per file: Ethernet unless the
first frame written is raw IP.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dataplane.engine.dispositions import Disposition as D


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
            if d == D.DELIVERED:
                last = path[-1]
                if last not in self.vm_files:
                    self.vm_files[last] = _Pcap(self.out / f"{net.node_names[last]}.pcap", link)
                self.vm_files[last].write(tout, frame, orig)
            elif not d.exited:
                self.dropped.write(link, tin, frame, orig, f"{d.name}: {d.reason}; {dec}")
            self.index += 1

    def close(self) -> None:
        self.csv_file.close()
        self.dropped.f.close()
        for f in self.vm_files.values():
            f.f.close()


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
