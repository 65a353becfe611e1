"""Usage mistakes end in one line naming the flag, exit status 2, no traceback, before any work
(issue 18, item 3): --out, --scheduler, --speed; the shared grammar's own mistakes."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
from importlib import resources

import pytest

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
SPEC = """name: t
base: demo
metrics: [latency]
workload: {flows: [{from: web1, to: db1, port: 1433, size: 1MB, rate: 1Mbit/s}]}
vary: {region: {spoke2: [eastus, westeurope]}}
"""


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataplane", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _one_line_usage_error(p: subprocess.CompletedProcess, flag: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], p.stderr


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    path = tmp_path_factory.mktemp("cap") / "c.pcap"
    wrpcap(str(path), [Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(dport=1433)])
    return path


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "existing-file"
    path.write_text("x")
    return path


def test_replay_out_is_a_file(capture, a_file):
    p = _run("replay", DEMO, str(capture), "--out", str(a_file))
    _one_line_usage_error(p, "--out")
    assert a_file.read_text() == "x"


def test_replay_out_cannot_be_made(capture, a_file):
    p = _run("replay", DEMO, str(capture), "--out", str(a_file / "sub"))
    _one_line_usage_error(p, "--out")


def test_demo_out_is_a_file(a_file):
    p = _run("demo", "--out", str(a_file))
    _one_line_usage_error(p, "--out")
    assert p.stdout == ""  # checked before the demo printed anything


def test_whatif_out_checked_before_variants_run(tmp_path, a_file):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    p = _run("whatif", str(spec), "--out", str(a_file), "--serial", "--quiet")
    _one_line_usage_error(p, "--out")
    assert "variant" not in p.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_whatif_scheduler_unreachable(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    p = _run("whatif", str(spec), "--out", str(tmp_path / "o"), "--quiet",
             "--scheduler", f"tcp://127.0.0.1:{_closed_port()}")
    _one_line_usage_error(p, "--scheduler")


def test_whatif_scheduler_malformed(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    p = _run("whatif", str(spec), "--out", str(tmp_path / "o"), "--scheduler", "tcp://nohost")
    _one_line_usage_error(p, "--scheduler")


@pytest.mark.parametrize("speed", ["0", "-2", "nan", "inf", "1e-9", "abc"])
def test_replay_speed_positive_finite(tmp_path, capture, speed):
    p = _run("replay", DEMO, str(capture), "--out", str(tmp_path / "o"), "--speed", speed)
    _one_line_usage_error(p, "--speed")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, flag", [
    (["check", DEMO, "--query", "[?"], "--query"),
    (["check", DEMO, "-o", "xml"], "--output"),
    (["explain", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--protocol", "gre"], "--protocol"),
    (["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--protocol", "esp"], "--protocol"),
    (["check", DEMO, "-p", "novalue"], "--parameter"),
    (["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:x"], "--to"),
    (["demo", "-o", "json"], "--output"),
    # new-user trial: --sni/--host belong to explain and trace only, and take DNS names
    (["explain", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--sni", "bad name!"], "--sni"),
    (["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--host", "a..example.com"],
     "--host"),
    (["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--host", "example.com:0"], "--host"),
    (["explain", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--sni", "a.com", "--host",
      "b.com"], "--host"),
    (["check", DEMO, "--sni", "example.com"], "--sni"),
])
def test_grammar_mistakes(argv, flag):
    _one_line_usage_error(_run(*argv), flag)


@pytest.mark.parametrize("protocol", ["Udp", "Icmp"])
def test_a_server_name_needs_tcp(protocol):
    """Application rules read TLS/HTTP over TCP: --sni with another protocol is a mistake,
    not something to ignore (new-user trial)."""
    _one_line_usage_error(_run("explain", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--sni",
                               "a.example.com", "--protocol", protocol), "--sni")


@pytest.mark.parametrize(("flag", "value"), [("--allow-path", "/tmp"), ("--vm-cap", "web1=1e9")])
def test_the_demo_refuses_flags_it_cannot_apply(flag, value):
    """The demo runs its built-in topology: flags naming other inputs are refused (new-user
    trial: --allow-path was silently ignored)."""
    _one_line_usage_error(_run("demo", flag, value), flag)


def test_replay_needs_a_capture_and_a_topology(tmp_path, capture):
    _one_line_usage_error(_run("replay", DEMO, "--out", str(tmp_path / "o")), "capture")
    _one_line_usage_error(_run("replay", str(capture), "--out", str(tmp_path / "o")),
                          "topology")


PCAP_RECORD = struct.pack("<IIII", 1, 0, 54, 54) + bytes(54)


@pytest.mark.parametrize(("content", "message"), [
    (b"hello, not a capture", "not a pcap or pcapng file"),
    (None, "capture file not found"),
    # new-user trial: a capture damaged at its file header replayed nothing with exit 0
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 1, 4, 0, 0, 65535, 1) + PCAP_RECORD,
     "damaged at its file header: unsupported pcap version 1.4"),
    (b"\xd4\xc3\xb2\xa1" + bytes(10), "damaged at its file header: truncated pcap file header"),
    (b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 30) + bytes(22),
     "damaged at its file header: section header at offset 0: bad byte-order magic"),
])
def test_a_bad_capture_is_named(tmp_path, capsys, content, message):
    capture = tmp_path / "traffic.pcap"
    if content is not None:
        capture.write_bytes(content)
    demo = str(resources.files("dataplane.data").joinpath("demo.yaml"))
    assert main(["replay", demo, str(capture), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(capture) in err[0] and message in err[0]
    assert "Traceback" not in err[0] and not (tmp_path / "out").exists()


def test_real_capture_damaged_at_its_header_is_exit_2(real_dir, tmp_path, capsys):
    capture = real_dir / "pcap" / "libpcap__pcap-invalid-version-1.pcap"
    assert main(["replay", DEMO, str(capture), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and capture.name in err[0] and "file header" in err[0]


def test_damage_after_the_file_header_still_replays(tmp_path, capsys):
    """A damaged record further in is counted and reported; the records before it replay."""
    capture = tmp_path / "t.pcap"
    capture.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                        + PCAP_RECORD + PCAP_RECORD[:10])
    assert main(["replay", DEMO, str(capture), "--out", str(tmp_path / "out"), "-o",
                 "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["read"] == 1 and "record 1" in summary["captures"][0]["damage"]


def test_parameters_given_to_a_scenario_are_refused(tmp_path, capsys):
    demo = str(resources.files("dataplane.data").joinpath("demo.yaml"))
    assert main(["check", demo, "--parameters", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only apply to ARM templates" in err[0] and demo in err[0]
