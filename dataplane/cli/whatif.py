"""`dataplane whatif SPEC.yaml --out DIR`: run a what-if experiment over topology variants.

Builds every variant of the spec (cartesian product of `vary`, crossed with `cases`), runs
each one (its own compiled Program and packet pipeline; TCP throughput and peering cost
models) in parallel on the local cores, and writes results.csv, results.json, PNG plots and a
self-contained report.html to DIR. The spec format is in dataplane/whatif/spec.py and
docs/whatif.md; examples in examples/whatif/. Exit 0 when the run completed (variants Azure
rejects are rows with an error), 2 on usage and spec errors, checked before any variant runs
(--out writable, --scheduler answering within a few seconds).
"""

from __future__ import annotations

import argparse

from dataplane.cli.options import command, emit, out_dir, scheduler_reachable
from dataplane.textable import fit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "whatif",
                "run a what-if experiment (variants, latency, throughput, cost)", run,
                inputs=None, description=__doc__)
    p.add_argument("spec", metavar="SPEC.yaml", help="the experiment spec")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--scheduler", metavar="ADDR", default=None,
                   help="run on Dask: tcp://HOST:PORT of a running scheduler, or 'local' to "
                        "start a distributed.LocalCluster (needs the [dask] extra)")
    p.add_argument("--serial", action="store_true", help="one variant after another, in "
                                                         "this process")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: the number of cores)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import sys

    from dataplane.errors import InputError
    from dataplane.whatif.cost import PRICING_CAVEAT
    from dataplane.whatif.report import public_rows, summary_table, write_report
    from dataplane.whatif.runner import run as run_spec
    from dataplane.whatif.spec import load_spec

    if args.serial and args.scheduler:
        raise InputError("--serial and --scheduler exclude each other")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be at least 1")
    out = out_dir("--out", args.out)
    scheduler_reachable("--scheduler", args.scheduler)
    spec = load_spec(args.spec, allow_paths=tuple(args.allow_paths), bgp_routes=args.bgp_routes,
                     service_tags=args.service_tags, vm_caps=tuple(args.vm_caps))
    variants = spec.variants()
    # with -o json/tsv or --query the rows go to stdout, the narration to stderr
    narrate = sys.stdout if args.output == "table" and args.query is None else sys.stderr

    def say(text: str) -> None:
        print(fit(text), file=narrate)

    say(f"{spec.name}: {len(variants)} variant(s), base {spec.base}")
    rows = run_spec(spec, serial=args.serial, scheduler=args.scheduler, workers=args.workers,
                    progress=not args.quiet)
    paths = write_report(spec, rows, out, plots=not args.no_plots)
    emit(args, public_rows(rows), lambda: summary_table(spec, rows))
    if "cost" in spec.metrics:
        say(f"note: {PRICING_CAVEAT}")
    errors = sum(1 for r in rows if r.get("error"))
    if errors:
        say(f"{errors} variant(s) were rejected (see the error column)")
    say("wrote " + ", ".join(str(p) for p in paths))
    return 0
