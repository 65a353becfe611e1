"""Estate-scale costs (issue 15): `check` (load + validate) and the Emulator build on hub-and-spoke
estates, and ARM deployment ordering over a long dependsOn chain; times and peak memory.

Run (short: one round each; about a minute on the shared 2-core machine):

    pytest bench/test_scale.py -p no:cacheprovider --benchmark-json /tmp/scale.json

Estates (bench/_estate.py): 1 hub x 500 / 1,000 / 2,000 spokes and 10 hubs x 500 spokes;
the 1,000- and 2,000-spoke hubs are over Azure's 500-peerings-per-VNet limit, so `check` must
report PeeringLimitReached once for every link past the 500th (500 and 1,500 findings). The
chain: 2,500 / 5,000 / 10,000 network security groups, each dependsOn the one before it
(declared in reverse order). Azure caps a template at 800 resources; the bench lifts that cap
(monkeypatch) to measure the ordering's growth, the loader keeps it. Peak memory is traced
(tracemalloc, numpy included) in a second run of the same call and kept in extra_info.
"""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter

import pytest
from _estate import depends_on_chain, hub_spoke_estate

import dataplane
from dataplane.control.validate import validate
from dataplane.engine import Emulator
from dataplane.load.arm import limits, template

ESTATES = {"1x500": (1, 500), "1x1000": (1, 1000), "1x2000": (1, 2000),
           "10x500": (10, 500)}


@pytest.fixture(scope="module")
def estate_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("estates")
    made: dict[str, str] = {}

    def path(name: str) -> str:
        if name not in made:
            p = folder / f"{name}.json"
            p.write_text(json.dumps(hub_spoke_estate(*ESTATES[name])))
            made[name] = str(p)
        return made[name]
    return path


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", list(ESTATES))
def test_check(benchmark, estate_files, name):
    path = estate_files(name)

    def check():
        return validate(dataplane.load(path))

    findings = benchmark.pedantic(check, rounds=1, iterations=1)
    hubs, spokes = ESTATES[name]
    codes = Counter(f.code for f in findings if f.severity == "error")
    assert codes == ({"PeeringLimitReached": hubs * (spokes - 500)} if spokes > 500 else {})
    _, peak = _peak(check)
    benchmark.extra_info.update(vnets=hubs * (spokes + 1), links=2 * hubs * spokes,
                                peak_bytes=peak)


@pytest.mark.parametrize("name", list(ESTATES))
def test_emulator_build(benchmark, estate_files, name):
    topology = dataplane.load(estate_files(name))
    em = benchmark.pedantic(lambda: Emulator(topology), rounds=1, iterations=1)
    hubs, spokes = ESTATES[name]
    assert len(em.net.vnet_names) == hubs * (spokes + 1)
    _, peak = _peak(lambda: Emulator(topology))
    benchmark.extra_info.update(vnets=hubs * (spokes + 1), peak_bytes=peak)


@pytest.mark.parametrize("n", [2500, 5000, 10000])
def test_depends_on_chain(benchmark, tmp_path, monkeypatch, n):
    monkeypatch.setattr(limits, "MAX_RESOURCES", n)
    monkeypatch.setattr(template, "MAX_RESOURCES", n)
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(depends_on_chain(n)))
    result = benchmark.pedantic(lambda: template.evaluate_template(path), rounds=1,
                                iterations=1)
    names = [r["name"] for r in result.resources]
    assert names == [f"nsg{i}" for i in range(n)]  # each after the one it dependsOn
    _, peak = _peak(lambda: template.evaluate_template(path))
    benchmark.extra_info.update(resources=n, peak_bytes=peak)
