"""End to end: the example specs on small workloads, serial == parallel == Dask, the CLI."""

from __future__ import annotations

import json

import pytest
import yaml
from whatif_examples import EXAMPLES, example_results, small

from dataplane.whatif.report import write_report
from dataplane.whatif.runner import run
from dataplane.whatif.spec import parse_spec


@pytest.fixture(scope="module")
def results():
    return example_results()


def test_every_example_runs(results, tmp_path):
    assert set(results) == {"spoke2-to-westeurope", "global-tcp-parallel", "hub-nva-vs-direct",
                            "nva-size-5g", "firewall-sku"}
    for name, (spec, rows) in results.items():
        assert rows and all(r["error"] == "" for r in rows), name
        files = write_report(spec, rows, tmp_path / name)
        assert {p.name for p in files} >= {"results.csv", "results.json", "report.html"}
        html = (tmp_path / name / "report.html").read_text()
        assert "data:image/png;base64," in html and "NOT confirmed" in html
        doc = json.loads((tmp_path / name / "results.json").read_text())
        assert len(doc["rows"]) == len(rows) and doc["pricing_caveat"]


def by(rows, key, value):
    return next(r for r in rows if r.get(key) == value)


def test_spoke2_move_answers_latency_and_bill(results):
    _, rows = results["spoke2-to-westeurope"]
    today = by(rows, "set.region.spoke2", "eastus")
    moved = by(rows, "set.region.spoke2", "westeurope")
    # West Europe <-> East US P50 RTT is 83/85 ms (docs/azure-behaviour.md §1): one way ~42 ms
    assert 40 < today["latency_p50_ms"] < 45
    assert moved["latency_p99_ms"] < 1
    assert today["queries-web1.peerings"] == "spoke1->hub (regional) ; hub->spoke2 (global)"
    assert today["queries-web1.usd_per_gb"] == pytest.approx(0.09)
    assert moved["queries-web1.usd_per_gb"] == pytest.approx(0.04)
    assert moved["monthly_cost_usd"] < today["monthly_cost_usd"]


def test_global_tcp_default_buffers_vs_parallel(results):
    _, rows = results["global-tcp-parallel"]
    one = by(rows, "variant", "parallel.*=1 tcp.buffers=default")
    four = by(rows, "variant", "parallel.*=4 tcp.buffers=default")
    assert one["copy.limited_by"] == "window"
    # default window (6 MiB * 160 >> 8, whatif/tcp.py) / 84.3 ms RTT, goodput:
    # 8 * 3932160 / 0.0843011 s = 373.1 Mbit/s
    assert one["copy.throughput_mbps"] == pytest.approx(8 * 3932160 / 0.0843011 / 1e6, rel=1e-3)
    assert four["copy.limited_by"] == "cap vm:web1"
    assert four["copy.throughput_mbps"] == pytest.approx(1000 * 1448 / 1500, rel=1e-6)
    assert four["copy.completion_ms"] < one["copy.completion_ms"]


def test_hub_nva_vs_direct(results):
    _, rows = results["hub-nva-vs-direct"]
    for region in ("eastus", "westeurope"):
        nva = by([r for r in rows if r["set.region.spoke2"] == region],
                 "set.routing.spoke1,spoke2", "nva1")
        direct = by([r for r in rows if r["set.region.spoke2"] == region],
                    "set.routing.spoke1,spoke2", "direct")
        assert nva["queries.path"] == "web1 > nva1 > db1"
        assert direct["queries.path"] == "web1 > db1"
        assert direct["latency_p50_ms"] < nva["latency_p50_ms"]
        assert direct["monthly_cost_usd"] < nva["monthly_cost_usd"]


def test_nva_size_for_5_gbit(results):
    _, rows = results["nva-size-5g"]
    total = {r["set.vm_size.nva1"]: r["throughput_mbps_total"] for r in rows}
    assert total["Standard_D4s_v3"] == pytest.approx(2000 * 1448 / 1500)
    assert total["Standard_F2s_v2"] < 5000 < total["Standard_D16s_v3"]  # 5 Gbit/s wire cap
    assert all(r["feed-web1.limited_by"] == "cap vm:nva1" for r in rows)


def two_variant_spec():
    return small(EXAMPLES / "spoke2-to-westeurope.yaml", packets=10)


def strip(rows):
    return json.dumps(rows, sort_keys=True, default=str)


def test_serial_equals_parallel():
    spec = two_variant_spec()
    serial = run(spec, serial=True, progress=False)
    parallel = run(spec, workers=2, progress=False)
    assert strip(serial) == strip(parallel)


def test_dask_local_cluster_equals_local():
    pytest.importorskip("distributed")
    spec = two_variant_spec()
    serial = run(spec, serial=True, progress=False)
    dask_rows = run(spec, scheduler="local", workers=2, progress=False)
    assert strip(serial) == strip(dask_rows)


def test_cli(tmp_path, capsys):
    from dataplane.cli import main

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "cli", "base": "demo", "metrics": ["cost", "throughput"],
        "workload": {"flows": [{"from": "web1", "to": "db1", "port": 1433, "size": "1MB",
                                "rate": "1Mbit/s"}]},
        "vary": {"region": {"spoke2": ["eastus", "westeurope"]}}}))
    assert main(["whatif", str(spec), "--out", str(tmp_path / "o"), "--serial", "--quiet",
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "monthly_cost_usd" in out and "NOT confirmed" in out
    assert (tmp_path / "o" / "results.csv").read_text().count("\n") == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbase: demo\nworkload: {flows: [{from: web1, to: db1}]}\n"
                   "vary: {region: {spoke2: [mars]}}\n")
    assert main(["whatif", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "region.spoke2" in capsys.readouterr().err


def test_capture_workload(tmp_path):
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap

    pkts = []
    for i in range(20):
        p = IP(src="172.16.0.1", dst="172.16.0.2") / TCP(sport=40000, dport=1433, flags="A")
        p.time = 1_700_000_000 + i * 0.001
        pkts.append(p)
    wrpcap(str(tmp_path / "c.pcap"), pkts)
    spec = parse_spec({"name": "cap", "base": "demo",
                       "workload": {"capture": {"path": "c.pcap",
                                                "map": {"172.16.0.1": "web1",
                                                        "172.16.0.2": "db1"}}},
                       "vary": {"region": {"spoke2": ["eastus", "westeurope"]}}},
                      "s.yaml", tmp_path)
    rows = run(spec, serial=True, progress=False)
    assert [r["error"] for r in rows] == ["", ""]
    assert rows[0]["capture.packets"] == 20
    assert rows[0]["capture.p50_ms"] > 40 > rows[1]["capture.p50_ms"]
    assert rows[0]["capture.monthly_usd"] > rows[1]["capture.monthly_usd"] > 0
