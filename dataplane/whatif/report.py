"""Write a what-if run's outputs: results.csv, results.json, PNG plots, report.html.

Takes: the Spec and the rows from runner.run (one per variant). Emits, in the output folder:
* results.csv / results.json: one row per variant (inputs `set.*`, per-flow path, RTT,
  throughput, limit, completion time, latency percentiles, cost; drops by reason `drops.*`);
  results.json adds the spec, the assumptions, the pricing caveat and the latency samples;
* latency_cdf.png (per variant, all probe packets), throughput_vs_rtt.png (per flow and
  variant, with the window-limit curve W/RTT for the default Linux buffers), cost.png (monthly
  peering cost per variant); matplotlib's Agg backend, no display needed;
* report.html: one self-contained page (plots embedded as base64 PNG);
and `summary_table(rows)` for the terminal.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from pathlib import Path
from typing import Any

from dataplane.whatif.cost import PRICING_CAVEAT
from dataplane.whatif.spec import Spec
from dataplane.whatif.tcp import TcpParams

WHATIF_ASSUMPTIONS = (
    "whatif-concurrent: all workload flows run at the same time and share the caps on their "
    "paths max-min fairly (sender VM egress cap, NVA VM egress caps, gateway SKU throughput).",
    "whatif-nva-cap: an NVA forwards within its own VM size's egress cap (azure-semantics.md "
    "5: egress is metered for all traffic leaving the VM); CPU limits are not modelled.",
    "whatif-gateway-sku: VPN gateway SKUs take Microsoft's Generation1 aggregate throughput "
    "benchmarks (VpnGw1 650 Mbit/s, VpnGw2 1 Gbit/s, VpnGw3 1.25 Gbit/s; VpnGw4/5 Gen2).",
    "whatif-tcp-linux: window = min(tcp_rmem max x 0.5, tcp_wmem max) with Linux defaults "
    "6 MiB / 4 MiB (ip-sysctl.rst), MSS 1448 at MTU 1500, initial window 10 (RFC 6928).",
    "whatif-cost: a flow pays every peering its path crosses, at both ends (section 6); "
    "return traffic is a separate flow; GB = 10^9 bytes; a month = 730 hours.",
    "whatif-probes: latency probes are Poisson arrivals at the flow's rate (10 Mbit/s when "
    "none is given), the same arrival times in every variant (common random numbers).",
)



def public_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in public_rows(rows):
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return v


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    cols = columns(rows)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in public_rows(rows):
            w.writerow({k: _cell(r.get(k)) for k in cols})


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def results_document(spec: Spec, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _json_safe({
        "spec": {"name": spec.name, "description": spec.description, "source": spec.source,
                 "base": spec.base, "seed": spec.seed, "metrics": list(spec.metrics),
                 "tcp": TcpParams().__dict__ | spec.tcp.__dict__,
                 "timing_overrides": dict(spec.timing)},
        "pricing_caveat": PRICING_CAVEAT,
        "assumptions": list(WHATIF_ASSUMPTIONS) + _engine_assumptions(),
        "rows": public_rows(rows),
        "latency_samples_ms": {r["variant"]: r.get("_samples", {}) for r in rows},
    })


def _engine_assumptions() -> list[str]:
    from dataplane.engine.emulator import ENGINE_ASSUMPTIONS

    return list(ENGINE_ASSUMPTIONS)


def summary_columns(spec: Spec, rows: list[dict[str, Any]]) -> list[str]:
    cols = ["variant"]
    have = set(columns(rows))
    for c in ("latency_p50_ms", "latency_p99_ms"):
        if c in have:
            cols.append(c)
    for f in spec.flows:
        for suffix in ("rtt_ms", "throughput_mbps", "limited_by", "completion_ms"):
            c = f"{f.name}.{suffix}"
            if c in have:
                cols.append(c)
    for c in ("throughput_mbps_total", "monthly_cost_usd"):
        if c in have:
            cols.append(c)
    cols += sorted(c for c in have if c.startswith("drops."))
    if any(r.get("error") for r in rows):
        cols.append("error")
    return cols


def summary_table(spec: Spec, rows: list[dict[str, Any]]) -> str:
    from dataplane.textable import table

    cols = summary_columns(spec, rows)
    body = [[_cell(r.get(c)) for c in cols] for r in public_rows(rows)]
    return table(cols, body)


# -- plots --------------------------------------------------------------------------------------

def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> bool:
    """Every plot ends the same way: lay out, write the PNG, free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return True


def plot_latency_cdf(rows: list[dict[str, Any]], path: Path) -> bool:
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = False
    for r in rows:
        samples = [x for v in (r.get("_samples") or {}).values() for x in v]
        if not samples:
            continue
        v = np.sort(np.array(samples))
        ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=r["variant"])
        drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    ax.set_xlabel("one-way latency (ms, log scale)")
    ax.set_ylabel("fraction of probe packets")
    ax.set_title("Latency CDF per variant (packet pipeline)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_throughput_vs_rtt(spec: Spec, rows: list[dict[str, Any]], path: Path) -> bool:
    import numpy as np

    plt = _plt()
    pts = []
    for r in rows:
        for f in spec.flows:
            rtt, thr = r.get(f"{f.name}.rtt_ms"), r.get(f"{f.name}.throughput_mbps")
            if rtt and thr is not None and math.isfinite(thr):
                pts.append((rtt, thr, f"{r['variant']} / {f.name}"))
    if not pts:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for rtt, thr, label in pts:
        ax.scatter([rtt], [thr], label=label, s=30)
    lo = min(p[0] for p in pts) / 2
    hi = max(p[0] for p in pts) * 2
    x = np.geomspace(max(lo, 0.01), hi, 100)
    tcp = TcpParams()
    ax.plot(x, 8 * tcp.window_bytes / (x / 1e3) / 1e6, "k--", lw=1,
            label=f"window limit, Linux defaults (W = {tcp.window_bytes / 2**20:.2f} MiB)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("RTT (ms)")
    ax.set_ylabel("modelled TCP goodput (Mbit/s)")
    ax.set_title("Throughput vs RTT")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    return _save(fig, path)


def plot_cost(rows: list[dict[str, Any]], path: Path) -> bool:
    vals = [(r["variant"], r.get("monthly_cost_usd")) for r in rows]
    vals = [(n, v) for n, v in vals if isinstance(v, (int, float))]
    if not vals:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(vals) + 1.5))
    names = [n for n, _ in vals]
    ax.barh(range(len(vals)), [v for _, v in vals], color="#4a7ab5")
    ax.set_yticks(range(len(vals)), names, fontsize=7)
    ax.invert_yaxis()
    for i, (_, v) in enumerate(vals):
        ax.text(v, i, f" ${v:,.2f}", va="center", fontsize=7)
    ax.set_xlabel("projected monthly peering data-transfer cost (USD)")
    ax.set_title("Peering cost per variant (prices undated: see report)")
    return _save(fig, path)


def _html(spec: Spec, rows: list[dict[str, Any]], images: list[Path]) -> str:
    cols = summary_columns(spec, rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(_cell(r.get(c))))}</td>"
                                    for c in cols) + "</tr>" for r in public_rows(rows))
    imgs = "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{html.escape(p.name)}'
        "</figcaption></figure>" for p in images)
    assumptions = "".join(f"<li>{html.escape(a)}</li>" for a in
                          (*WHATIF_ASSUMPTIONS, *_engine_assumptions()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>what-if: {html.escape(spec.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
th{{background:#eee}}img{{max-width:100%}}.caveat{{background:#fff4d6;padding:.6em}}</style>
</head><body>
<h1>what-if: {html.escape(spec.name)}</h1>
<p>{html.escape(spec.description)}</p>
<p>Base topology: <code>{html.escape(spec.base)}</code>; seed {spec.seed};
{len(rows)} variant(s). Full rows: results.csv / results.json.</p>
<h2>Summary</h2><table><tr>{head}</tr>{body}</table>
<h2>Plots</h2>{imgs}
<h2>Pricing</h2><p class="caveat">{html.escape(PRICING_CAVEAT)}</p>
<h2>Assumptions</h2><ul>{assumptions}</ul>
</body></html>
"""


def write_report(spec: Spec, rows: list[dict[str, Any]], out: Path,
                 plots: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.csv", out / "results.json"]
    write_csv(rows, written[0])
    written[1].write_text(json.dumps(results_document(spec, rows), indent=1) + "\n")
    images: list[Path] = []
    if plots:
        for name, fn in (("latency_cdf.png", lambda p: plot_latency_cdf(rows, p)),
                         ("throughput_vs_rtt.png",
                          lambda p: plot_throughput_vs_rtt(spec, rows, p)),
                         ("cost.png", lambda p: plot_cost(rows, p))):
            if fn(out / name):
                images.append(out / name)
    report = out / "report.html"
    report.write_text(_html(spec, rows, images))
    return [*written, *images, report]

