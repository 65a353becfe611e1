"""Instruction counts for issue 12's replay target (bench/README.md, "Application-rule replay by
instruction counts"): the capture and topologies of bench/test_app_rules_bench.py, replayed
REPLAYS times with a fresh emulator each (as the benchmark times them) through one variant.

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.VARIANT.REPLAYS \
        python bench/callgrind_app_rules.py VARIANT REPLAYS

VARIANT: "application" or "network"; REPLAYS 0 runs only the imports, the capture and the two
topologies (the build-only run subtracted from the others). The totals line of each output file
(`callgrind_annotate FILE | grep 'PROGRAM TOTALS'`) is the user-space instruction count; the
difference of 3 and 1 replays is two warm replays, free of one-time costs (imports inside the
engine, first-call set-up). Prints the disposition counts of the last replay so a run that
decided differently is seen, and the dataplane package it imported: the script puts its own
tree's root first on sys.path, so a worktree measures its own sources (not the editable install's).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # this tree's dataplane, then bench/

from test_app_rules_bench import _replay, build  # noqa: E402

import dataplane  # noqa: E402


def main(variant: str, replays: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, n, topologies = build(Path(tmp))
        counts: dict = {}
        for _ in range(replays):
            counts = _replay(path, topologies[variant])
        print(variant, replays, n, counts, dataplane.__file__)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
