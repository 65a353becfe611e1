"""Spec `targets`: parsed into canonical units, errors name the key path."""

from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.whatif.spec import parse_ms, parse_spec

BASE = {"name": "t", "base": "demo",
        "workload": {"flows": [{"from": "web1", "to": "db1", "port": 1433}]}}


def spec(targets):
    return parse_spec({**BASE, "targets": targets}, "s.yaml", check_topology=False)


def test_targets_in_canonical_units():
    s = spec({"throughput": "5Gbit/s", "latency": "500us", "cost": 1200})
    assert s.target("throughput") == 5e9
    assert s.target("latency") == pytest.approx(0.5)
    assert s.target("cost") == 1200.0
    assert parse_spec(BASE, "s.yaml", check_topology=False).target("throughput") is None


@pytest.mark.parametrize("text, ms", [("10ms", 10.0), (10, 10.0), ("0.2s", 200.0),
                                      ("250 us", 0.25), ("3µs", 0.003)])
def test_durations(text, ms):
    assert parse_ms(text, "s.yaml", "x") == pytest.approx(ms)


@pytest.mark.parametrize("targets, where", [
    ({"speed": "1Gbit/s"}, "targets"), ({"latency": "fast"}, "targets.latency"),
    ({"cost": -1}, "targets.cost"), ({"throughput": "lots"}, "targets.throughput"),
    ({"latency": 0}, "targets.latency")])
def test_bad_targets_name_their_key(targets, where):
    with pytest.raises(InputError) as e:
        spec(targets)
    assert e.value.property.startswith(where)
