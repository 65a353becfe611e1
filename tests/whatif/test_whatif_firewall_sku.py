"""The Azure Firewall tier as a what-if variation: Basic < Standard < Premium in the throughput a
flow through the firewall achieves, with the limit named; spec errors; the report as a person
sees it (headless Chromium).

Figures: "Azure Firewall performance" (https://learn.microsoft.com/azure/firewall/
firewall-performance), sections "Throughput for single connections" and "Total throughput for
initial firewall deployment" (timing/firewall_capacity.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from whatif_examples import EXAMPLES, example_results

from dataplane.errors import InputError
from dataplane.whatif.report import write_report
from dataplane.whatif.spec import parse_spec

CHROMIUM = "/usr/bin/chromium"
MSS_SHARE = 1448 / 1500  # goodput per wire bit (whatif/tcp.py: MSS 1448 at MTU 1500)


@pytest.fixture(scope="module")
def firewall_sku():
    return example_results()["firewall-sku"]


def _row(rows, tier):
    return next(r for r in rows if r["set.firewall_sku.fw"] == tier)


def test_tiers_order_the_throughput_through_the_firewall(firewall_sku):
    _, rows = firewall_sku
    basic, standard, premium = (_row(rows, t) for t in ("Basic", "Standard", "Premium"))
    assert all(r["error"] == "" for r in rows)
    assert all("fw" in r["replica.path"] for r in rows)
    got = [r["replica.throughput_mbps"] for r in (basic, standard, premium)]
    assert got[0] < got[1] < got[2]
    # Basic: 250 Mbit/s shared max-min by the replica's one connection and the stream's 8
    assert basic["replica.limited_by"] == "cap fw:fw"
    assert basic["replica.throughput_mbps"] == pytest.approx(250 / 9 * MSS_SHARE, rel=1e-3)
    assert basic["throughput_mbps_total"] == pytest.approx(250 * MSS_SHARE, rel=1e-3)
    # Standard / Premium: one TCP connection gets at most 1.5 / 9 Gbit/s
    assert standard["replica.limited_by"] == premium["replica.limited_by"] == \
        "firewall connection"
    assert standard["replica.throughput_mbps"] == pytest.approx(1500 * MSS_SHARE, rel=1e-6)
    assert premium["replica.throughput_mbps"] == pytest.approx(9000 * MSS_SHARE, rel=1e-6)
    assert [r["firewall.fw.cap_mbps"] for r in (basic, standard, premium)] == [250, 3000, 18000]
    assert premium["replica.completion_ms"] < standard["replica.completion_ms"] < \
        basic["replica.completion_ms"]
    # the engine shapes the firewall too: Basic queues the latency probes
    assert basic["latency_p99_ms"] > standard["latency_p99_ms"]


def test_unknown_tier_or_firewall_is_a_spec_error():
    import yaml

    path = EXAMPLES / "firewall-sku.yaml"
    for vary, words in (({"fw": ["Gold"]}, "unknown Azure Firewall tier 'Gold'"),
                        ({"fw9": ["Basic"]}, "no Azure Firewall named 'fw9'")):
        doc = yaml.safe_load(path.read_text())
        doc["vary"] = {"firewall_sku": vary}
        with pytest.raises(InputError) as e:
            parse_spec(doc, "spec.yaml", path.parent)
        assert words in str(e.value) and "firewall_sku" in str(e.value)


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                    reason="needs headless Chromium")
def test_report_shows_the_firewall_variation(firewall_sku, tmp_path):
    from PIL import Image

    spec, rows = firewall_sku
    write_report(spec, rows, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "firewall_sku.fw=Premium" in html and "firewall connection" in html
    assert "firewall-throughput" in html and "learn.microsoft.com/azure/firewall/" in html
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1400,2400", f"--screenshot={shot}",
                    (tmp_path / "report.html").as_uri()], check=True, timeout=120,
                   capture_output=True)
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (2400, 1400)
    # not blank: text and plots drawn (a share of dark pixels, many grey levels)
    assert (pixels < 128).mean() > 0.01 and len(np.unique(pixels)) > 50


def test_terminal_summary_says_which_tiers_meet_the_target(firewall_sku):
    """New-user trial: the terminal report of a firewall_sku variation did not say, per
    target, which variants meet it (only report.html did)."""
    from dataplane.textable import fit
    from dataplane.whatif.report import summary_table

    spec, rows = firewall_sku
    text = fit(summary_table(spec, rows), 100)
    assert max(len(line) for line in text.splitlines()) <= 100
    verdict = " ".join(text[text.index("Target: "):].split())
    met = [r["variant"] for r in rows if r["throughput_mbps_total"] * 1e6 >= 5e9]
    missed = [r["variant"] for r in rows if r["throughput_mbps_total"] * 1e6 < 5e9]
    assert met and missed  # the example separates the tiers
    assert f"Met by: {', '.join(met)}. Not met by: {', '.join(missed)}." in verdict
