"""The demos' captures: flows interleaved round by round, one frame per flow and round.

Contract: `interleaved(flows, frame)` takes flows as tuples whose first item is the traffic name
and last item its packet count; round r sends the r-th packet of every flow that still has one,
built by `frame(flow, r)` (a scapy frame); frames are 1 ms apart from `start_s`. Returns the
frames, each frame's traffic name, and the time after the last frame (seconds).
`replay_frames(topology, frames, capture, **replay)` writes them to the pcap `capture`, replays it
into the writers' outputs beside it (packets.csv, per-VM pcaps, summary.json) and returns the
Emulator, the Result and the summary dict.
`footer(summary, out)` -> the lines both demos print under their tables, so no row looks more
settled than it is: `notes` (each named caveat that touched a packet in full, the keys of the
others, the named assumptions every answer rests on; full texts in summary.json; `replay` prints
the same notes), and the accounting line listing the files written to `out`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dataplane.model import Topology

DEMO_START_S = 1_700_000_000.0
FRAME_GAP_S = 0.001


def interleaved(flows: Sequence[tuple[Any, ...]], frame: Callable[[tuple[Any, ...], int], Any],
                start_s: float = DEMO_START_S) -> tuple[list[Any], list[str], float]:
    frames: list[Any] = []
    names: list[str] = []
    t = start_s
    for round_ in range(max((f[-1] for f in flows), default=0)):
        for flow in flows:
            if round_ >= flow[-1]:
                continue
            packet = frame(flow, round_)
            packet.time = t
            t += FRAME_GAP_S
            frames.append(packet)
            names.append(flow[0])
    return frames, names, t


def replay_frames(topology: Topology, frames: list[Any], capture: Path,
                  **replay: Any) -> tuple[Any, Any, dict[str, Any]]:
    from scapy.utils import wrpcap

    from dataplane.engine import Emulator
    from dataplane.io.writers import Outputs, ReplayWriter

    capture.parent.mkdir(parents=True, exist_ok=True)
    wrpcap(str(capture), frames)
    emulator = Emulator(topology)
    writer = ReplayWriter(capture.parent, emulator, Outputs(csv=True))
    try:
        result = emulator.replay(capture, sink=writer, **replay)
    finally:
        writer.close()
    return emulator, result, writer.write_summary(result)


def caveat_lines(summary: dict[str, Any]) -> list[str]:
    """summary.json's caveats as the terminal shows them: each caveat that touched a packet in
    full with its key and packet count, then the keys of those that touched none."""
    touched = [c for c in summary["caveats"] if c["packets"]]
    lines = [f"caveat {c['key']} ({c['packets']} packet(s)): {c['text']}" for c in touched]
    idle = [c["key"] for c in summary["caveats"] if not c["packets"]]
    if idle:
        lines.append(f"caveats touching no replayed packet ({len(idle)}; texts in "
                     f"summary.json): {', '.join(idle)}")
    return lines


def notes(summary: dict[str, Any], out: Path) -> list[str]:
    """The caveats (`caveat_lines`) and the keys of the named assumptions under a table."""
    keys = [a.split(":", 1)[0] for a in summary["assumptions"]]
    return [*caveat_lines(summary),
            f"assumptions ({len(keys)}; full texts in {out}/summary.json): " + ", ".join(keys)]


def footer(summary: dict[str, Any], read: int, out: Path) -> str:
    lines = ["", *notes(summary, out)]
    lines.append(f"\nread {read} = sum of dispositions: {summary['accountingOk']}; outputs in "
                 f"{out}/: {', '.join(summary['files'])} (one pcap per receiving VM with emulated "
                 "addresses and arrival times, dropped.pcapng with reasons)")
    return "\n".join(lines)
