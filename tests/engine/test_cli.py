from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataplane", *args], capture_output=True,
                          text=True, timeout=120)


def test_trace_both_ways():
    p = _run("trace", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--port", "1433")
    assert p.returncode == 0, p.stderr
    assert "forward:" in p.stdout and "return:" in p.stdout and "global" in p.stdout


def test_replay_outputs(tmp_path, real_dir):
    out = tmp_path / "out"
    p = _run("replay", DEMO, str(real_dir / "pcap" / "tcpreplay__test.pcap"), "--out", str(out),
             "--timing", "asap", "--csv")
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accountingOk"] and summary["read"] == 179
    assert (out / "packets.csv").read_text().count("\n") == 180
    assert (out / "dropped.pcapng").exists()


def test_replay_bad_map(tmp_path, real_dir):
    p = _run("replay", DEMO, str(real_dir / "pcap" / "tcpreplay__test.pcap"), "--out",
             str(tmp_path), "--map", "nonsense")
    assert p.returncode == 2 and "expected A=B" in p.stderr


def test_help():
    for cmd in ("replay", "trace"):
        assert _run(cmd, "--help").returncode == 0
