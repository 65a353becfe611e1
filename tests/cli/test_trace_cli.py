"""`dataplane trace`: consistent with `explain` and with the engine both ways; durations carry
units; nothing is printed for a packet that did not arrive (issue 18, item 2)."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))


def _json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _consistent(answer: dict) -> None:
    hops = answer["hops"]
    denied = [h for h in hops if h.get("access") == "Deny" or h.get("result") == "Deny"]
    if answer["disposition"] == "DELIVERED":
        assert hops[-1]["step"] == "deliver" and not denied
        assert answer["latencyNs"] > 0 and answer["legs"]
    elif answer["disposition"].startswith("EXITS_"):  # arrived at the network's edge
        assert not denied and answer["latencyNs"] > 0
    else:
        assert "latencyNs" not in answer and "legs" not in answer
    if answer["disposition"] in ("DENIED_IN", "DENIED_OUT"):
        assert hops[-1] in denied


@pytest.mark.parametrize("vm, to, answers", [
    ("web1", "10.2.1.4:1433", ["DELIVERED", "DELIVERED"]),   # through the NVA, global
    ("jumpbox", "10.1.1.100:443", ["DELIVERED", "DELIVERED"]),  # load balancer
    ("web1", "10.2.1.4:22", ["DENIED_IN"]),
    ("web1", "8.8.8.8:443", ["EXITS_INTERNET"]),
])
def test_trace_agrees_with_engine_and_itself(capsys, vm, to, answers):
    got = _json(capsys, "trace", DEMO, "--vm", vm, "--to", to, "-o", "json")
    assert [a["disposition"] for a in got] == answers
    for answer in got:
        _consistent(answer)


def test_forward_hops_are_explains_hops(capsys):
    trace = _json(capsys, "trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433", "-o", "json")
    explain = _json(capsys, "explain", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433", "-o",
                    "json")
    forward = [h for h in trace[0]["hops"] if h["step"] != "source"]
    assert forward == explain["hops"] and explain["engineDisposition"] == "DELIVERED"


def test_return_meets_the_requests_state(capsys):
    """The reply passes as an established flow: no NSG row on its path may say Deny."""
    got = _json(capsys, "trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433", "-o", "json")
    back = got[1]
    assert back["sourceVm"] == "db1" and back["destinationPort"] == 49152
    assert back["hops"][0]["step"] == "source" and back["hops"][0].get("established") is True


def test_text_durations_have_units_and_drops_have_none(capsys):
    assert main(["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4", "--port", "1433"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"latency \d+(\.\d+)? ms", text) and "µs" in text
    assert "-1" not in text and not re.search(r"\d{5,} ?ns", text)
    assert main(["trace", DEMO, "--from", "web1", "--to", "10.2.1.4", "--port", "22"]) == 0
    text = capsys.readouterr().out
    assert "latency" not in text and "propagation" not in text and "-1" not in text
    assert "return: not sent" in text
