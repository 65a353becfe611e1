"""The example specs (examples/whatif/) on small workloads, run once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from dataplane.whatif.runner import run
from dataplane.whatif.spec import Spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "whatif"


def small(path: Path, packets: int = 20) -> Spec:
    """An example spec with a small latency-probe workload (the models are unchanged)."""
    doc = yaml.safe_load(path.read_text())
    doc["workload"]["packets"] = packets
    for f in doc["workload"]["flows"]:
        f.pop("packets", None)
    return parse_spec(doc, str(path), path.parent)


@cache
def example_results() -> dict[str, tuple[Spec, list[dict[str, Any]]]]:
    """{spec stem: (spec, rows)} for every example, serial."""
    out = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = small(path)
        out[path.stem] = (spec, run(spec, serial=True, progress=False))
    return out
