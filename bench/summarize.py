"""Print a markdown table of rates from a pytest-benchmark JSON file.

Usage: python bench/summarize.py results.json
Each benchmark records `ops` (operations per call) in extra_info; rate = ops / mean time.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    with open(path) as fh:
        data = json.load(fh)
    print("| benchmark | ops per call | mean s | rate (ops/s) |")
    print("|---|---:|---:|---:|")
    for b in data["benchmarks"]:
        ops = b["extra_info"].get("ops", 1)
        mean = b["stats"]["mean"]
        print(f"| {b['name']} | {ops:,} | {mean:.4f} | {ops / mean:,.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
