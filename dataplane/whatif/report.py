"""Write a what-if run's outputs: results.csv, results.json, PNG plots, report.html.

Takes: the Spec and the rows from runner.run (one per variant). Emits, in the output folder:
* results.csv / results.json: one row per variant (inputs `set.*`, per-flow path, RTT,
  throughput, limit, completion time, latency percentiles, cost; drops by reason `drops.*`);
  results.json adds the spec, the assumptions, the pricing caveat and the latency samples;
* the figures of whatif/plots.py as PNG: latency_cdf.png, throughput.png,
  throughput_vs_rtt.png (when the flows' RTTs differ), cost.png;
* report.html: one self-contained page (plots embedded as base64 PNG; tables scroll
  sideways inside their own box when wider than the page); the spec's targets and which
  variants meet them; the assumptions, with the TCP window stated from the model (TcpParams
  of every variant), never from a constant;
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

from dataplane.whatif import plots as figures
from dataplane.whatif.cost import PRICING_CAVEAT
from dataplane.whatif.spec import Spec
from dataplane.whatif.tcp import TcpParams

WHATIF_ASSUMPTIONS = (
    "whatif-concurrent: all workload flows run at the same time and share the caps on their "
    "paths max-min fairly (sender VM egress cap, NVA VM egress caps, gateway SKU throughput, "
    "Azure Firewall SKU throughput).",
    "whatif-nva-cap: an NVA forwards within its own VM size's egress cap (bandwidth is metered "
    "on egress for all traffic leaving a VM: Microsoft Learn 'Virtual machine network "
    "bandwidth', https://learn.microsoft.com/azure/virtual-network/"
    "virtual-machine-network-throughput; docs/azure-behaviour.md §5); CPU limits are not "
    "modelled.",
    "whatif-gateway-sku: VPN gateway SKUs take Microsoft's Generation1 aggregate throughput "
    "benchmarks (VpnGw1 650 Mbit/s, VpnGw2 1 Gbit/s, VpnGw3 1.25 Gbit/s; VpnGw4/5 Gen2; "
    "https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus, docs/azure-behaviour.md "
    "§10).",
    "whatif-cost: a flow pays every peering its path crosses, at both ends (Azure 'Virtual "
    "Network pricing', https://azure.microsoft.com/pricing/details/virtual-network/; "
    "docs/azure-behaviour.md §6); return traffic is a separate flow; GB = 10^9 bytes; a month "
    "= 730 hours.",
    "whatif-probes: latency probes are Poisson arrivals at the flow's rate (10 Mbit/s when "
    "none is given), the same arrival times in every variant (common random numbers).",
)


def _mib(n: float) -> str:
    return f"{n / 2**20:g} MiB"


def window_text(tcp: TcpParams) -> str:
    """How the model turns buffers into the TCP window, with the factors it used."""
    if tcp.rcv_window_fraction is not None:
        how = "fixed share (rcv_window_fraction)"
    elif tcp.rcv_window_model == "adv_win_scale":
        how = f"Linux < 6.6: tcp_adv_win_scale {tcp.tcp_adv_win_scale}"
    else:
        how = (f"Linux >= 6.6: scaling_ratio {tcp.scaling_ratio}/256 = MSS {tcp.mss} // "
               f"rx_truesize {tcp.rx_truesize}")
    return (f"W = min({tcp.rcv_fraction:.3f} x tcp_rmem max {_mib(tcp.rmem_max)}, tcp_wmem max "
            f"{_mib(tcp.wmem_max)}) = {_mib(tcp.window_bytes)} ({how})")


def tcp_settings(spec: Spec) -> list[TcpParams]:
    """The distinct TcpParams the runner uses over every variant and TCP flow of the spec."""
    from dataplane.whatif.variants import flow_params

    found = [flow_params(spec, v, f)[1] for v in spec.variants() for f in spec.flows
             if f.protocol == "tcp"]
    return list(dict.fromkeys(found)) or [spec.tcp]


def tcp_assumption(spec: Spec) -> str:
    first = tcp_settings(spec)[0]
    return ("whatif-tcp-linux: each TCP connection's window is the receive window the kernel "
            "advertises (tcp_win_from_space of tcp_rmem max) capped by tcp_wmem max; "
            f"Linux defaults tcp_rmem max 6 MiB, tcp_wmem max 4 MiB (ip-sysctl.rst); MSS "
            f"{first.mss} at MTU {first.mtu}, initial window {first.initial_window} (RFC 6928); "
            "docs/whatif.md derives it. Windows used: "
            + "; ".join(window_text(t) for t in tcp_settings(spec)) + ".")


def assumptions(spec: Spec) -> list[str]:
    from dataplane.timing.firewall_capacity import firewall_assumption

    base = spec.base_topology()
    firewall = [firewall_assumption()] if base.azure_firewalls else []
    return [*WHATIF_ASSUMPTIONS, tcp_assumption(spec), *firewall, *_engine_assumptions()]


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
        "targets": dict(spec.targets),
        "assumptions": assumptions(spec),
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
    return "\n".join([table(cols, body), *target_verdicts(spec, rows)])


# -- report -------------------------------------------------------------------------------------

def target_verdicts(spec: Spec, rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per target of the spec: which variants meet it, which do not, and which
    have no value to compare (a variant Azure rejects, a metric not measured)."""
    checks = {"throughput": ("throughput_mbps_total", lambda v, t: v * 1e6 >= t,
                             lambda t: f"total goodput at least {figures.plain_number(t / 1e6)} "
                                       "Mbit/s"),
              "latency": ("latency_p99_ms", lambda v, t: v <= t,
                          lambda t: f"p99 one-way latency at most {figures.plain_number(t)} ms"),
              "cost": ("monthly_cost_usd", lambda v, t: v <= t,
                       lambda t: f"monthly peering cost at most ${t:,.2f}")}
    out = []
    for name, target in spec.targets:
        column, ok, words = checks[name]
        valued = [r for r in rows if isinstance(r.get(column), (int, float))
                  and not isinstance(r.get(column), bool) and math.isfinite(r[column])]
        met = [r["variant"] for r in valued if ok(r[column], target)]
        missed = [r["variant"] for r in valued if not ok(r[column], target)]
        unknown = [r["variant"] for r in rows if all(r is not v for v in valued)]
        out.append(f"Target: {words(target)} ({column}). Met by: "
                   + (", ".join(met) if met else "no variant") + ". Not met by: "
                   + (", ".join(missed) if missed else "no variant") + "."
                   + (f" No value: {', '.join(unknown)}." if unknown else ""))
    return out


def _table(cols: list[str], rows: list[dict[str, Any]]) -> str:
    """A table in its own sideways-scrolling box; headers may break after each dot."""
    head = "".join("<th>" + html.escape(c).replace(".", ".<wbr>") + "</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(_cell(r.get(c))))}</td>"
                                    for c in cols) + "</tr>" for r in public_rows(rows))
    hint = (f'<p class="hint">{len(cols)} columns: the table scrolls sideways in its box; '
            "every column is in results.csv.</p>" if len(cols) > 8 else "")
    return f'{hint}<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


CSS = """body{font-family:sans-serif;margin:2em auto;max-width:1200px;padding:0 1em}
.scroll{overflow-x:auto;max-width:100%;border:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#eee;text-align:left;vertical-align:bottom;min-width:4em;max-width:12em}
td{white-space:nowrap}img{max-width:100%}.caveat{background:#fff4d6;padding:.6em}
.target{background:#e8f5e9;padding:.6em}.hint{color:#555;font-size:12px;margin:.2em 0}"""


def _html(spec: Spec, rows: list[dict[str, Any]], images: list[Path]) -> str:
    imgs = "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{html.escape(p.name)}'
        "</figcaption></figure>" for p in images)
    targets = "".join(f'<p class="target">{html.escape(v)}</p>'
                      for v in target_verdicts(spec, rows))
    windows = "".join(f"<li>{html.escape(window_text(t))}</li>" for t in tcp_settings(spec))
    items = "".join(f"<li>{html.escape(a)}</li>" for a in assumptions(spec))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>what-if: {html.escape(spec.name)}</title>
<style>{CSS}</style>
</head><body>
<h1>what-if: {html.escape(spec.name)}</h1>
<p>{html.escape(spec.description)}</p>
<p>Base topology: <code>{html.escape(spec.base)}</code>; seed {spec.seed};
{len(rows)} variant(s). Full rows: results.csv / results.json.</p>
{targets}
<h2>Summary</h2>{_table(summary_columns(spec, rows), rows)}
<p>TCP window used by the model (from TcpParams, per distinct setting):</p><ul>{windows}</ul>
<h2>Plots</h2>{imgs}
<h2>Pricing</h2><p class="caveat">{html.escape(PRICING_CAVEAT)}</p>
<h2>Assumptions</h2><ul>{items}</ul>
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
        for name, draw in figures.FIGURES.items():
            fig = draw(spec, rows)
            if fig is not None:
                figures.save(fig, out / name)
                images.append(out / name)
    report = out / "report.html"
    report.write_text(_html(spec, rows, images))
    return [*written, *images, report]

