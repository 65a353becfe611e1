"""Instruction counts for issue 9's replay target (bench/README.md, "Round 4" sections): the demo
(or its firewall hub) built and, with REPLAYS 1, one replay of a 100,000-packet hub-and-spoke
capture, as bench/test_pipeline.py replays its 1M capture.

    OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
        valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.VARIANT.REPLAYS \
        /root/.pyenv/versions/3.11.7/bin/python bench/callgrind_replay.py VARIANT REPLAYS

VARIANT: "demo" (dataplane/data/demo.yaml) or "firewall-hub" (nva1 replaced by test_pipeline's
FIREWALL_HUB classic-rule Azure Firewall). REPLAYS 0 runs the imports, loads the topology and
builds `Emulator`; REPLAYS 1 adds `replay(capture, auto_map=False, progress=False)`. Replay
cost = PROGRAM TOTALS of the REPLAYS 1 run minus that of the REPLAYS 0 run
(`callgrind_annotate FILE | grep 'PROGRAM TOTALS'`, user-space instructions).

The capture: captures/gen_hub_spoke.py `generate(path, 100_000, seed=7)`, written once to
$CAPTURE (default /tmp/perf9-cap/cap100k.pcap) and reused, so that every tree measured reads
the same file (generate it from the newest tree first: the base's generator is older).
The `dataplane` imported is the one of the tree this script sits in (its parent directory is
put first on sys.path, ahead of the editable install); the same script runs in the base
3e75ba8 (whose bench/test_pipeline.py has no FIREWALL_HUB: copy this tree's test_pipeline.py
beside it). Run every tree from a copy without `__pycache__` (bench/README.md, perf3's
measuring note). Prints the tree and the disposition counts, so a run that decided
differently is seen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

PACKETS = 100_000
CAPTURE = Path(os.environ.get("CAPTURE", "/tmp/perf9-cap/cap100k.pcap"))
VARIANTS = ("demo", "firewall-hub")


def capture() -> Path:
    """The 100k capture, generated on first use (deterministic: seed 7)."""
    if not CAPTURE.exists():
        from test_pipeline import gen
        CAPTURE.parent.mkdir(parents=True, exist_ok=True)
        tmp = CAPTURE.with_suffix(".tmp")
        gen.generate(tmp, PACKETS, seed=7)
        tmp.replace(CAPTURE)
    return CAPTURE


def topology(variant: str):
    """The demo, or the demo with nva1 replaced by FIREWALL_HUB (test_pipeline's
    `firewall_topology` fixture, which pytest does not let a script call)."""
    from importlib import resources

    import dataplane
    demo = resources.files("dataplane.data").joinpath("demo.yaml")
    if variant == "demo":
        return dataplane.load(str(demo))
    if variant != "firewall-hub":
        raise SystemExit(f"VARIANT must be one of {VARIANTS}")
    from test_pipeline import FIREWALL_HUB
    text = demo.read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("nva1:")]
    path = CAPTURE.parent / "demo-fw.yaml"
    path.write_text("\n".join(lines) + "\n" + FIREWALL_HUB)
    return dataplane.load(str(path))


def main(variant: str, replays: int) -> None:
    import dataplane
    from dataplane.engine import Emulator
    if not Path(dataplane.__file__).resolve().is_relative_to(ROOT):
        raise SystemExit(f"imported {dataplane.__file__}, not this tree's ({ROOT})")
    cap = capture()
    em = Emulator(topology(variant))
    counts: dict = {}
    for k in range(replays):
        if k:
            em.reset()
        counts = em.replay(cap, auto_map=False, progress=False).counts()
    print(ROOT, variant, replays, {str(k): v for k, v in counts.items()})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
