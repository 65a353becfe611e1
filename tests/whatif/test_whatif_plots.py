"""The what-if figures and report page, checked on the drawn figures themselves.

On the rows of every example spec (small workloads): each legend's box lies outside its axes'
data area; no tick label uses an offset or scientific notation; a spec's target is drawn as a
line at its value; the report's tables sit in a sideways-scrolling box; the TCP window factor
the report states is the one the model computes.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from whatif_examples import example_results

from dataplane.whatif import plots
from dataplane.whatif.report import tcp_assumption, write_report
from dataplane.whatif.tcp import TcpParams

SCIENTIFIC = re.compile(r"[0-9.]e[+-]?[0-9]|\\times|×\s*10|x\s*10\^|10\^\{|\\mathdefault\{10")


@pytest.fixture(scope="module")
def results():
    return example_results()


def drawn_figures(results):
    """(spec name, figure name, Figure) for every figure the report would write."""
    for name, (spec, rows) in results.items():
        for fig_name, draw in plots.FIGURES.items():
            fig = draw(spec, rows)
            if fig is not None:
                fig.canvas.draw()
                yield name, fig_name, fig


def test_every_example_draws_its_figures(results):
    drawn = {(s, f) for s, f, fig in drawn_figures(results) if not plots._plt().close(fig)}
    for name in results:
        assert (name, "latency_cdf.png") in drawn and (name, "throughput.png") in drawn
    # RTTs differ across variants only where a region moves
    assert ("spoke2-to-westeurope", "throughput_vs_rtt.png") in drawn
    assert ("nva-size-5g", "throughput_vs_rtt.png") not in drawn


def test_legends_lie_outside_the_data_area(results):
    checked = 0
    for name, fig_name, fig in drawn_figures(results):
        renderer = fig.canvas.get_renderer()
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:  # outside every panel's data area, not only its own
                data = ax.get_window_extent(renderer)
                outside = (box.x0 >= data.x1 or box.x1 <= data.x0 or box.y0 >= data.y1
                           or box.y1 <= data.y0)
                assert outside, f"{name}/{fig_name}: legend {box} overlaps the axes {data}"
            checked += 1
        plots._plt().close(fig)
    assert checked >= 8


def test_every_latency_curve_is_visible_in_its_panel(results):
    """hub-nva-vs-direct: four variants at ~0.1, ~0.27, ~42.5 and ~42.67 ms; each curve spans
    a visible part of its panel's x range and has its own legend entry."""
    spec, rows = results["hub-nva-vs-direct"]
    fig = plots.FIGURES["latency_cdf.png"](spec, rows)
    assert len(fig.axes) == 2
    curves = [(ax, line) for ax in fig.axes for line in ax.get_lines() if line.get_gid() is None]
    assert len(curves) == len(rows) == 4
    for ax, line in curves:
        lo, hi = ax.get_xlim()
        x = line.get_xdata()
        assert lo <= min(x) and max(x) <= hi
        assert line.get_label() in [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
        # apart from every other curve of its panel by a tenth of the panel's width at least
        for other in ax.get_lines():
            if other is not line and other.get_gid() is None:
                gap = abs(float(np.median(x)) - float(np.median(other.get_xdata())))
                assert gap > 0.1 * (hi - lo)
    plots._plt().close(fig)
    # identical samples (global-tcp-parallel varies only TCP settings) share one entry
    spec, rows = results["global-tcp-parallel"]
    fig = plots.FIGURES["latency_cdf.png"](spec, rows)
    texts = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert texts == ["all variants (identical samples)"]
    plots._plt().close(fig)


def test_variant_labels_are_the_values_under_the_settings_name():
    labels, title = plots.variant_axis(["regional vm_size.nva1=Standard_D4s_v3",
                                        "regional vm_size.nva1=Standard_F4s_v2"])
    assert labels == ["Standard_D4s_v3", "Standard_F4s_v2"] and title == "vm_size.nva1"
    labels, title = plots.variant_axis(["a x.y=1", "b x.y=2 z.w=3"])
    assert labels == ["a x.y=1", "b x.y=2 z.w=3"] and title == "variant"


def test_tick_labels_are_plain_numbers(results):
    for name, fig_name, fig in drawn_figures(results):
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                assert axis.get_major_formatter().get_offset() in ("", None), (name, fig_name)
                assert axis.get_offset_text().get_text() == "", (name, fig_name)
                labels = [t.get_text() for t in axis.get_ticklabels(which="both")]
                bad = [t for t in labels if SCIENTIFIC.search(t)]
                assert bad == [], f"{name}/{fig_name}: {bad}"
        plots._plt().close(fig)


def test_the_scientific_pattern_catches_what_matplotlib_prints():
    for text in ("1e+03", "$\\mathdefault{10^{1}}$", "4.26675×10^1", "2.5e-05"):
        assert SCIENTIFIC.search(text)
    for text in ("0.2", "1,000", "42.5", "Standard_D4s_v3"):
        assert not SCIENTIFIC.search(text)


def target_lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "target"]


def test_the_target_line_is_drawn_where_the_spec_names_one(results):
    spec, rows = results["nva-size-5g"]
    assert spec.target("throughput") == 5e9
    fig = plots.FIGURES["throughput.png"](spec, rows)
    lines = target_lines(fig)
    assert len(lines) == 1
    ax = fig.axes[0]
    # the axis is in Gbit/s (the label says so) and the line sits at 5 of them
    assert "Gbit/s" in ax.get_xlabel()
    assert list(lines[0].get_xdata()) == [5.0, 5.0]
    assert ax.get_xlim()[1] > 5.0
    # one bar label per variant, the NVA size in it
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(rows) and all("Standard_" in t for t in labels)
    plots._plt().close(fig)
    # a spec without targets draws none
    spec2, rows2 = results["global-tcp-parallel"]
    assert not spec2.targets
    for draw in plots.FIGURES.values():
        fig = draw(spec2, rows2)
        if fig is not None:
            assert target_lines(fig) == []
            plots._plt().close(fig)


@pytest.mark.parametrize("kind, figure, value", [("latency", "latency_cdf.png", 0.5),
                                                 ("cost", "cost.png", 3000.0)])
def test_latency_and_cost_targets_are_drawn_too(results, kind, figure, value):
    spec, rows = results["spoke2-to-westeurope"]
    fig = plots.FIGURES[figure](replace(spec, targets=((kind, value),)), rows)
    lines = target_lines(fig)
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [value, value]
    plots._plt().close(fig)


def stated_factors(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"W = min\(([0-9.]+) x tcp_rmem max", text)]


@pytest.mark.parametrize("tcp", [{}, {"rcv_window_model": "adv_win_scale"},
                                 {"rx_truesize": 2048}, {"rcv_window_fraction": 0.8}])
def test_the_stated_window_factor_is_the_models(results, tcp, tmp_path):
    spec, rows = results["global-tcp-parallel"]
    spec = replace(spec, tcp=replace(spec.tcp, **tcp))
    model = replace(TcpParams(), **tcp).rcv_fraction
    # the spec varies the buffer sizes: one window per setting, all with the model's factor
    stated = stated_factors(tcp_assumption(spec))
    assert len(stated) == 2 and set(stated) == {round(model, 3)}
    write_report(spec, rows, tmp_path, plots=False)
    html = (tmp_path / "report.html").read_text()
    assert round(model, 3) in stated_factors(html)
    assert "rmem max x 0.5" not in html or model == 0.5


def test_the_default_window_factor_is_the_kernels_scaling_ratio(results):
    spec, _ = results["global-tcp-parallel"]
    text = tcp_assumption(spec)
    ratio = TcpParams().scaling_ratio
    assert f"scaling_ratio {ratio}/256" in text
    assert set(stated_factors(text)) == {round(ratio / 256, 3)}
    assert "W = min(0.625 x tcp_rmem max 6 MiB, tcp_wmem max 4 MiB) = 3.75 MiB" in text


def test_report_tables_scroll_inside_their_box(results, tmp_path):
    for name, (spec, rows) in results.items():
        write_report(spec, rows, tmp_path / name, plots=False)
        html = (tmp_path / name / "report.html").read_text()
        css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
        assert re.search(r"\.scroll\{[^}]*overflow-x:auto", css)
        tables = re.findall(r"(<[^<>]*>)\s*<table", html)
        assert tables and all('class="scroll"' in opener for opener in tables), name
        assert html.count("<table") == len(tables)


def test_the_report_answers_the_target(results, tmp_path):
    spec, rows = results["nva-size-5g"]
    write_report(spec, rows, tmp_path, plots=False)
    html = (tmp_path / "report.html").read_text()
    verdict = re.search(r'<p class="target">(.*?)</p>', html).group(1)
    meets = [r["variant"] for r in rows if r["throughput_mbps_total"] >= 5000]
    misses = [r["variant"] for r in rows if r["throughput_mbps_total"] < 5000]
    assert meets and misses
    met, _, missed = verdict.partition("Not met by:")  # both lists, each in its own part
    assert all(v in met for v in meets) and not any(v in met for v in misses)
    assert all(v in missed for v in misses) and not any(v in missed for v in meets)
