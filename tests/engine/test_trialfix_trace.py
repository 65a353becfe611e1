"""Trial findings (trialfix): `trace` prints the caveats and assumptions `explain` prints
(item 3: the same keys and texts, dataplane/watcher.py walk_notes), and without --sni/--host
its label says so rather than speaking of a capture (item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_app_rules_cli import YAML

from dataplane.cli import main
from dataplane.engine.payload import NOT_IN_CAPTURE

# the hub and spokes with the application rule, plus a service tag the built-in set stands for
TAGGED = YAML.replace("collections: []", """collections:
      - {name: tagged, priority: 100, action: Allow, rules: [
          {name: storage, protocols: TCP, source: 10.1.0.0/16, destination: Storage, ports: "445"}]}""", 1)


@pytest.fixture()
def topo(tmp_path: Path) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(TAGGED)
    return str(path)


def _json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("to, name", [("10.2.1.4:443", ()), ("10.2.1.4:443",
                                                              ("--sni", "www.contoso.com"))])
def test_trace_carries_explains_assumptions_and_caveats(capsys, topo, to, name) -> None:
    traced = _json(capsys, "trace", topo, "--vm", "app1", "--to", to, *name, "-o", "json")
    explained = _json(capsys, "explain", topo, "--vm", "app1", "--to", to, *name, "-o", "json")
    forward = traced[0]
    assert forward["assumptions"] == explained["assumptions"]
    assert forward["caveats"] == explained["caveats"]
    assert any(a.startswith("firewall-classic:") for a in forward["assumptions"])
    for answer in traced:
        assert answer["assumptions"] and "caveats" in answer
    assert main(["trace", topo, "--vm", "app1", "--to", to, *name]) == 0
    text = capsys.readouterr().out
    assert "\nAssumptions:\n" in text and max(len(line) for line in text.splitlines()) <= 100
    words = " ".join(text.split())
    for note in forward["assumptions"]:
        assert " ".join(note.split()) in words


def test_trace_caveats_name_the_service_tag(capsys, topo) -> None:
    traced = _json(capsys, "trace", topo, "--vm", "app1", "--to", "10.2.1.4:445", "-o", "json")
    explained = _json(capsys, "explain", topo, "--vm", "app1", "--to", "10.2.1.4:445", "-o",
                      "json")
    assert traced[0]["caveats"] == explained["caveats"]
    # the tag is resolved now (built-in set, as for NSGs): the caveat names the partial set
    assert any(c.startswith("service-tag-prefixes-not-loaded: tag Storage ")
               for c in traced[0]["caveats"])


def test_trace_without_a_name_says_none_was_given(capsys, topo) -> None:
    traced = _json(capsys, "trace", topo, "--vm", "app1", "--to", "10.2.1.4:443", "-o", "json")
    assert traced[0]["disposition"] == "FIREWALL_NAME_UNKNOWN"
    assert "no --sni or --host given" in traced[0]["deciding"]
    assert NOT_IN_CAPTURE not in json.dumps(traced)
    explained = _json(capsys, "explain", topo, "--vm", "app1", "--to", "10.2.1.4:443", "-o",
                      "json")
    assert "no --sni or --host given" in json.dumps(explained)
