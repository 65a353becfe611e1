"""`dataplane replay` (the command, default outputs) vs the engine-only replay of the same
capture, in the same run; and the command's peak memory at 1M vs 3M packets.

Run (a few minutes; the captures, ~140 MB per million packets, go to a temp dir):
    pytest bench/test_replay_command.py -p no:cacheprovider --benchmark-json /tmp/cmd.json -s

Engine only: `Emulator(demo).replay(capture, auto_map=False, keep=False)` (read, scan, headers,
every stage, timing; counters only). Command: `dataplane replay demo.yaml CAPTURE --out DIR`
in this process (argument parsing, topology load, replay, summary.json, packets.parquet, the
per-VM pcaps and dropped.pcapng). Both start from a fresh emulator each round. The ratio
printed is engine time / command time (target >= 0.67). Memory: each size runs the command in
a fresh interpreter that reports its own peak RSS (ru_maxrss); target: 3M within 10% of 1M.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import dataplane
from dataplane.cli import main
from dataplane.engine import Emulator

PACKETS = 1_000_000
TIMES: dict[str, float] = {}
DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))

_spec = importlib.util.spec_from_file_location(
    "gen_hub_spoke", Path(__file__).resolve().parents[1] / "captures" / "gen_hub_spoke.py")
gen = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(gen)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("cmd")
    return {n: gen.generate(folder / f"hub_spoke_{n // 10**6}m.pcap", n)
            for n in (PACKETS, 3 * PACKETS)}


def test_engine_only(benchmark, captures) -> None:
    topology = dataplane.load(DEMO)

    def run():
        return Emulator(topology).replay(captures[PACKETS], auto_map=False, progress=False,
                                         keep=False)

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    assert result.read == PACKETS and result.check_accounting()
    benchmark.extra_info.update(ops=PACKETS, unit="packet")
    TIMES["engine"] = benchmark.stats.stats.mean
    print(f"\nengine only: {PACKETS / TIMES['engine']:,.0f} packets/s (mean of 3)")


def test_command_default_outputs(benchmark, captures, tmp_path) -> None:
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return main(["replay", DEMO, str(captures[PACKETS]), "--out", str(tmp_path)])

    assert benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["read"] == PACKETS and summary["accountingOk"]
    benchmark.extra_info.update(ops=PACKETS, unit="packet", files=summary["files"])
    TIMES["command"] = benchmark.stats.stats.mean
    line = f"\ncommand (default outputs): {PACKETS / TIMES['command']:,.0f} packets/s"
    if "engine" in TIMES:
        ratio = TIMES["engine"] / TIMES["command"]
        benchmark.extra_info["ratio_to_engine"] = ratio
        line += f"; {ratio:.2f}x the engine-only replay in this run (target >= 0.67)"
    print(line)


_PEAK = ("import resource, sys, contextlib, io\n"
         "from dataplane.cli import main\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n"
         "    status = main(sys.argv[1:])\n"
         "print(status, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")


def test_peak_memory_does_not_grow_with_the_capture(benchmark, captures, tmp_path) -> None:
    peaks = {}

    def run():
        for n, capture in captures.items():
            out = subprocess.run([sys.executable, "-c", _PEAK, "replay", DEMO, str(capture),
                                  "--out", str(tmp_path / str(n))], capture_output=True,
                                 text=True, check=True)
            status, kib = out.stdout.split()
            assert status == "0"
            peaks[n] = int(kib) * 1024

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    growth = peaks[3 * PACKETS] / peaks[PACKETS]
    benchmark.extra_info.update(peak_bytes={str(k): v for k, v in peaks.items()},
                                growth=growth)
    print(f"\npeak RSS: 1M {peaks[PACKETS] / 2**20:,.0f} MiB, 3M "
          f"{peaks[3 * PACKETS] / 2**20:,.0f} MiB ({growth:.2f}x; target <= 1.10x)")
