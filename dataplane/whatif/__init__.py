"""Performance what-if experiments: spec -> variants -> models and pipeline runs -> report.

`load_spec(path)` (spec.py), `run(spec, serial=..., scheduler=...)` (runner.py),
`write_report(spec, rows, out_dir)` (report.py). Models: tcp.py (throughput, completion
times), cost.py (peering transfer cost). docs/whatif.md has the formulas and their sources.
"""

from dataplane.whatif.runner import evaluate, run
from dataplane.whatif.spec import Spec, Variant, load_spec, parse_spec

__all__ = ["Spec", "Variant", "evaluate", "load_spec", "parse_spec", "run"]
