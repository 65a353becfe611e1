"""The what-if figures, drawn to be read at a glance.

Takes the Spec and the rows from runner.run (one per variant); each `figure_*` function returns
a matplotlib Figure (Agg backend, no display) or None when the rows hold nothing to draw.
Conventions every figure follows (tests/whatif/test_whatif_plots.py checks them):
* legends sit to the right of the axes, never over the data;
* axis labels are plain words with their unit; tick labels are plain numbers (no offset, no
  scientific notation; log axes label 1-2-5 steps);
* a spec's `targets` (total goodput, p99 latency, monthly cost) are drawn as a red dashed line
  with gid "target" on the figure that shows that quantity;
* the TCP window curve is labelled with the window the model computed (TcpParams), not a
  constant.
* variants are labelled by the values of the settings they vary, the settings named in the
  axis or legend title (variant_axis): `Standard_D4s_v3` under `vm_size.nva1`.
Figures: latency_cdf (per variant, all probe packets; one linear panel per latency range, so
0.2 ms and 42 ms variants are both readable; identical curves merged into one labelled
entry), throughput (total goodput per variant, stacked by flow, with what limits it: "which size
carries X"), throughput_vs_rtt (per flow and variant against the window limit; only when the
RTTs differ), cost (monthly peering cost per variant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dataplane.whatif.spec import Spec

TARGET_STYLE = {"color": "#c62828", "linestyle": "--", "linewidth": 1.5}
MARKERS = "osD^vP*Xh<>p"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_number(value: float) -> str:
    """A tick label without scientific notation: 3 significant digits, thousands separated."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{float(f'{value:.3g}'):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def plain_ticks(axis: Any, log: bool) -> None:
    """Plain-number tick labels on one axis (an x or y Axis object)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

    if log:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: plain_number(v)))
        axis.set_minor_formatter(NullFormatter())
    else:
        formatter = ScalarFormatter(useOffset=False)
        formatter.set_scientific(False)
        axis.set_major_formatter(formatter)


def legend_outside(ax: Any, **kwargs: Any) -> Any:
    """The legend to the right of the axes, top-aligned, outside the data area."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize=8, frameon=False, **kwargs)


def target_line(ax: Any, value: float, label: str, vertical: bool) -> None:
    line = (ax.axvline if vertical else ax.axhline)(value, label=label, **TARGET_STYLE)
    line.set_gid("target")


def variant_axis(names: Sequence[str]) -> tuple[list[str], str]:
    """Short labels for variants, and the axis title they need.

    Words every variant shares are dropped (a single case's name). When what is left is the
    same settings in every variant (`kind.target=value` words, same keys in the same order),
    the labels are the values and the title names the settings: `Standard_D4s_v3` under
    `vm_size.nva1`. Otherwise the labels are the remaining words, titled "variant"."""
    words = [n.split() for n in names]
    common = set.intersection(*(set(w) for w in words)) if len(words) > 1 else set()
    left = [[w for w in ws if w not in common] or ws for ws in words]
    keys = {tuple(w.partition("=")[0] for w in ws) for ws in left}
    if len(keys) == 1 and all("=" in w for ws in left for w in ws):
        return ([" · ".join(w.partition("=")[2] for w in ws) for ws in left],
                " · ".join(next(iter(keys))))
    return [" ".join(ws) for ws in left], "variant"


def latency_panels(series: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Series grouped into panels of similar latency: a new panel starts where the next
    series (by its median) lies beyond 3x the largest latency of the panel so far, so a
    0.2 ms and a 42 ms cluster each get a linear axis of their own."""
    import numpy as np

    ordered = sorted(series, key=lambda s: float(np.median(s[1])))
    panels: list[list[tuple[str, Any]]] = []
    for item in ordered:
        if panels and float(np.median(item[1])) <= 3 * max(float(s[-1]) for _, s in panels[-1]):
            panels[-1].append(item)
        else:
            panels.append([item])
    return panels


def figure_latency_cdf(rows: list[dict[str, Any]], target_ms: float | None = None) -> Any:
    """Per-variant CDF of every probe's one-way latency; one linear panel per latency cluster;
    variants with identical samples share one curve (their labels joined)."""
    import numpy as np

    names, title = variant_axis([r["variant"] for r in rows])
    curves: dict[bytes, tuple[list[str], Any]] = {}
    for r, label in zip(rows, names, strict=True):
        s = np.sort(np.array([x for v in (r.get("_samples") or {}).values() for x in v],
                             dtype=float))
        if s.size:
            curves.setdefault(s.tobytes(), ([], s))[0].append(label)
    if not curves:
        return None
    series = [(labels[0] if len(labels) == 1 else "all variants (identical samples)"
               if len(labels) == len(rows) else ", ".join(labels) + " (identical samples)", s)
              for labels, s in curves.values()]
    panels = latency_panels(series)
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(9 + 1.5 * (len(panels) - 1), 4.5),
                             sharey=True, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = [label for label, _ in series]
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, s in panel:
            ax.step(s, np.arange(1, s.size + 1) / s.size, where="post", label=label,
                    color=colors[order.index(label) % len(colors)])
        lo, hi = float(panel[0][1][0]), max(float(s[-1]) for _, s in panel)
        if target_ms is not None and lo / 3 <= target_ms <= hi * 3:
            target_line(ax, target_ms, f"target p99 ≤ {plain_number(target_ms)} ms",
                        vertical=True)
        plain_ticks(ax.xaxis, False)
        ax.xaxis.set_major_locator(_few_ticks())
        ax.set_xlabel("one-way latency (ms)")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("fraction of probe packets")
    axes[0][0].set_ylim(0, 1.02)
    plain_ticks(axes[0][0].yaxis, False)
    fig.suptitle("Latency per variant (cumulative distribution"
                 + (", one panel per latency range)" if len(panels) > 1 else ")"))
    entries = {lb: h for ax in axes[0] for h, lb in zip(*ax.get_legend_handles_labels(),
                                                         strict=True)}
    ordered = sorted(entries, key=lambda lb: order.index(lb) if lb in order else len(order))
    legend_outside(axes[0][-1], handles=[entries[lb] for lb in ordered], labels=ordered,
                   title=title)
    return fig


def _few_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def _unit(max_mbps: float) -> tuple[float, str]:
    return (1000.0, "Gbit/s") if max_mbps >= 1000 else (1.0, "Mbit/s")


def figure_throughput(spec: Spec, rows: list[dict[str, Any]],
                      target_bps: float | None = None) -> Any:
    """Total goodput per variant as horizontal bars, one segment per flow."""
    flows = [f.name for f in spec.flows]
    values = [[r.get(f"{f}.throughput_mbps") for f in flows] for r in rows]
    if not any(isinstance(v, (int, float)) and math.isfinite(v) for vs in values for v in vs):
        return None
    values = [[v if isinstance(v, (int, float)) and math.isfinite(v) else 0.0 for v in vs]
              for vs in values]
    totals = [sum(vs) for vs in values]
    top = max([*totals, (target_bps or 0) / 1e6])
    scale, unit = _unit(top)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.8))
    left = [0.0] * len(rows)
    for j, flow in enumerate(flows):
        seg = [vs[j] / scale for vs in values]
        ax.barh(range(len(rows)), seg, left=left, label=flow, height=0.6)
        left = [a + b for a, b in zip(left, seg, strict=True)]
    for i, (r, total) in enumerate(zip(rows, totals, strict=True)):
        limits = dict.fromkeys(str(r.get(f"{f}.limited_by") or "") for f in flows)
        why = ", ".join(x for x in limits if x)
        ax.text(total / scale, i, f" {plain_number(total / scale)}"
                + (f" (limit: {why})" if why else ""), va="center", fontsize=7,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    if target_bps is not None:
        target_line(ax, target_bps / 1e6 / scale,
                    f"target ≥ {plain_number(target_bps / 1e6 / scale)} {unit}", vertical=True)
    labels, title = variant_axis([r["variant"] for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel(title)
    ax.invert_yaxis()
    ax.set_xlim(0, top / scale * 1.45)  # room for the value and what limits it
    plain_ticks(ax.xaxis, False)
    ax.set_xlabel(f"modelled TCP goodput, all flows ({unit})")
    ax.set_title("Throughput per variant")
    ax.grid(True, axis="x", alpha=0.3)
    legend_outside(ax, title="flow")
    return fig


def figure_throughput_vs_rtt(spec: Spec, rows: list[dict[str, Any]]) -> Any:
    """Each flow's goodput against its RTT, with the window limit 8 W / RTT of the model's W.

    Drawn only when the RTTs differ (otherwise figure_throughput says it all)."""
    import numpy as np

    pts = []
    for r in rows:
        for f in spec.flows:
            rtt, thr = r.get(f"{f.name}.rtt_ms"), r.get(f"{f.name}.throughput_mbps")
            if rtt and isinstance(thr, (int, float)) and math.isfinite(thr) and thr > 0:
                pts.append((rtt, thr, r["variant"], f.name, r.get(f"{f.name}.window_bytes")))
    rtts = [p[0] for p in pts]
    if not pts or max(rtts) <= min(rtts) * 1.01:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.8))
    variants = list(dict.fromkeys(p[2] for p in pts))
    short, title = variant_axis(variants)
    labels = dict(zip(variants, short, strict=True))
    flows = list(dict.fromkeys(p[3] for p in pts))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n = len(variants) * len(flows)
    for rtt, thr, variant, flow, _ in pts:
        i, j = variants.index(variant), flows.index(flow)
        # hollow, a shape per variant, a colour per flow, every series a size of its own:
        # points that coincide (same RTT and goodput) show as concentric rings
        k = i * len(flows) + j
        ax.scatter([rtt], [thr], marker=MARKERS[i % len(MARKERS)],
                   s=20 + 140 * (1 - k / (n - 1)) if n > 1 else 60, facecolors="none",
                   edgecolors=colors[j % len(colors)], linewidths=1.5,
                   label=f"{labels[variant]} / {flow}")
    x = np.geomspace(min(rtts) / 2, max(rtts) * 2, 100)
    for w in sorted({p[4] for p in pts if p[4]}):
        ax.plot(x, 8 * w / (x / 1e3) / 1e6, "k--", lw=1,
                label=f"window limit 8·W/RTT, W = {w / 2**20:.2f} MiB")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_ticks(ax.xaxis, True)
    plain_ticks(ax.yaxis, True)
    ax.set_xlabel("round-trip time (ms, log scale)")
    ax.set_ylabel("modelled TCP goodput (Mbit/s, log scale)")
    ax.set_title("Throughput against round-trip time, per flow")
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax, title=f"{title} / flow")
    return fig


def figure_cost(rows: list[dict[str, Any]], target_usd: float | None = None) -> Any:
    vals = [(r["variant"], r.get("monthly_cost_usd")) for r in rows]
    vals = [(n, v) for n, v in vals if isinstance(v, (int, float))]
    if not vals:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(vals) + 1.8))
    ax.barh(range(len(vals)), [v for _, v in vals], color="#4a7ab5", height=0.6)
    labels, title = variant_axis([n for n, _ in vals])
    ax.set_yticks(range(len(vals)), labels, fontsize=8)
    ax.set_ylabel(title)
    ax.invert_yaxis()
    for i, (_, v) in enumerate(vals):
        ax.text(v, i, f"  ${v:,.2f}", va="center", fontsize=8)
    top = max([v for _, v in vals] + [target_usd or 0])
    if target_usd is not None:
        target_line(ax, target_usd, f"target ≤ ${target_usd:,.0f}", vertical=True)
        legend_outside(ax)
    ax.set_xlim(0, (top or 1) * 1.2)
    plain_ticks(ax.xaxis, False)
    ax.set_xlabel("projected monthly peering data-transfer cost (USD)")
    ax.set_title("Peering cost per variant (prices undated: see the report)")
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# file name -> how to draw it from (spec, rows); the report writes them in this order
FIGURES = {
    "latency_cdf.png": lambda spec, rows: figure_latency_cdf(rows, spec.target("latency")),
    "throughput.png": lambda spec, rows: figure_throughput(spec, rows, spec.target("throughput")),
    "throughput_vs_rtt.png": figure_throughput_vs_rtt,
    "cost.png": lambda spec, rows: figure_cost(rows, spec.target("cost")),
}


def save(fig: Any, path: Any) -> None:
    """Write the PNG with the outside legend included, then free the figure."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
