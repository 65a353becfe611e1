"""`dataplane trace` on IPv6 (issue 17): the request leaves from the VM's IPv6 ip
configuration and, when delivered to a VM, the reply is sent back as for IPv4 -- through an
internal load balancer's IPv6 frontend the reply leaves un-DNATed from the frontend
("Azure Load Balancer components", https://learn.microsoft.com/azure/load-balancer/
components, "Frontend IP configuration")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dataplane.cli import main

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from test_ipv6_lb import lb_topo  # noqa: E402  (the dual-stack ILB topology of the engine tests)


def test_ipv6_trace_sends_the_reply_through_the_ilb(tmp_path, capsys) -> None:
    topo = tmp_path / "lb6.yaml"
    topo.write_text(lb_topo())
    assert main(["trace", str(topo), "--vm", "a1", "--to", "[fd00:db8:1:1::100]:443",
                 "-o", "json"]) == 0
    forward, back = json.loads(capsys.readouterr().out)
    assert (forward["disposition"], forward["deciding"]) == ("DELIVERED", "lb ilb6/https")
    assert forward["sourceIp"] == "fd00:db8:0:1::4"
    receiver = forward["hops"][-1]["at"]
    assert receiver in ("b1", "b2") and back["sourceVm"] == receiver
    assert (back["direction"], back["disposition"], back["destinationIp"]) == (
        "return", "DELIVERED", "fd00:db8:0:1::4")
    assert back["sourcePort"] == 8443  # from the backend port the DNAT chose
    nat = next(h for h in back["hops"] if h["step"] == "nat")
    assert (nat["kind"], nat["translated"]["sourceIp"], nat["translated"]["sourcePort"]) == (
        "un-DNAT", "fd00:db8:1:1::100", 443)


def test_ipv6_trace_text_brackets_ipv6_endpoints(tmp_path, capsys) -> None:
    topo = tmp_path / "lb6.yaml"
    topo.write_text(lb_topo())
    assert main(["trace", str(topo), "--vm", "a1", "--to", "[fd00:db8:1:1::100]:443"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100, out
    flat = " ".join(out.split())
    assert "un-DNAT [fd00:db8:1:1::" in flat and "]:8443 -> [fd00:db8:1:1::100]:443" in flat
    assert "return: fd00:db8:1:1::" in flat and "return: not sent" not in flat
