"""Replay through a policy-firewall hub (~200 Firewall Policy rules) vs the NVA hub, same
capture, same run (issue 11: target >= 0.8x the NVA-hub rate).

Run (about a minute on the shared 2-core VM):
    pytest bench/test_firewall_policy_bench.py -p no:cacheprovider \
        --benchmark-json /tmp/fwpol.json -s

Workload: captures/gen_hub_spoke.py (numpy, seed 7), PACKETS packets for the demo
(dataplane/data/demo.yaml). NVA hub: the demo as is (hub NVA nva1, 10.0.1.4). Policy hub: the
demo with nva1 replaced by an Azure Firewall at the same address whose Firewall Policy holds
RULES network rules: two rule collection groups, Deny and Allow collections of rules that the
capture never matches (random 172.16/12 sources, 10.128/9 destinations, random ports), and last
the collection that allows the capture's spoke traffic (SPOKE_RULES, the rules of
bench/test_pipeline.py's classic firewall hub). A third hub, the same firewall with only
SPOKE_RULES as a classic collection, checks the verdicts (equal counts) and gives the cost of
the 200-rule policy over 3 rules. Both: `Emulator(t).replay(capture, auto_map=False, keep=False)` from a
reset emulator (cold flow state and decision cache), rounds alternated NVA / policy so machine
load hits both alike; ratio = policy rate / NVA rate (means of ROUNDS).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import dataplane
from dataplane.engine import Emulator
from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import _Where

PACKETS = 300_000
ROUNDS = 3
RULES = 200
RG = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.Network/"

_spec = importlib.util.spec_from_file_location(
    "gen_hub_spoke", Path(__file__).resolve().parents[1] / "captures" / "gen_hub_spoke.py")
gen = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(gen)  # type: ignore[union-attr]

# The capture's spoke traffic the firewall allows: (name, protocols, sources, destinations, ports)
SPOKE_RULES = (
    ("sql-web", ["TCP"], ["10.1.0.0/16", "10.2.0.0/16"], ["10.0.0.0/8"], ["1433", "80", "443"]),
    ("https-out", ["TCP"], ["10.1.0.0/16"], ["*"], ["443"]),
    ("branch", ["UDP"], ["10.1.0.0/16"], ["192.168.0.0/16"], ["*"]),
)


def firewall_yaml(classic_rules: bool) -> str:
    """The hub firewall (scenario YAML); with classic_rules, SPOKE_RULES as a classic network
    rule collection, else no rules (the policy is attached afterwards)."""
    text = "firewalls:\n  hub-fw:\n    subnet: hub/nva\n    ip: 10.0.1.4\n"
    if classic_rules:
        rules = ", ".join(f"{{name: {n}, protocols: {p}, source: {s}, destination: {d}, "
                          f"ports: {[str(x) for x in ports]}}}"
                          for n, p, s, d, ports in SPOKE_RULES)
        text += f"    collections: [{{name: spokes, priority: 100, action: Allow, rules: [{rules}]}}]\n"
    return text.replace("'*'", '"*"')


def _rule(name: str, protocols: list[str], src: list[str], dst: list[str],
          ports: list[str]) -> dict:
    return {"ruleType": "NetworkRule", "name": name, "ipProtocols": protocols,
            "sourceAddresses": src, "destinationAddresses": dst, "destinationPorts": ports}


def _collection(name: str, priority: int, action: str, rules: list[dict]) -> dict:
    return {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": name,
            "priority": priority, "action": {"type": action}, "rules": rules}


def policy_document(rules: int = RULES, seed: int = 11) -> dict:
    """A firewallPolicies resource: rules - 3 never-matching rules in 10-rule collections over
    two groups, then the 3 rules that allow the capture's traffic."""
    rng = np.random.default_rng(seed)
    filler = []
    for i in range(rules - 3):
        src = f"172.{16 + int(rng.integers(0, 16))}.{int(rng.integers(0, 256))}.0/24"
        dst = f"10.{128 + int(rng.integers(0, 128))}.{int(rng.integers(0, 256))}.0/24"
        port = str(int(rng.integers(1024, 65000)))
        filler.append(_rule(f"r{i}", [["TCP"], ["UDP"], ["TCP", "UDP"]][i % 3], [src], [dst],
                            [port]))
    chunks = [filler[i:i + 10] for i in range(0, len(filler), 10)]
    half = len(chunks) // 2
    groups = []
    for g, part in enumerate((chunks[:half], chunks[half:])):
        cols = [_collection(f"g{g}c{j}", 100 + 10 * j, "Deny" if j % 2 else "Allow", c)
                for j, c in enumerate(part)]
        if g == 1:
            cols.append(_collection("spokes", 4000, "Allow",
                                    [_rule(*r) for r in SPOKE_RULES]))
        groups.append({"name": f"group{g}", "properties": {"priority": 200 + 100 * g,
                                                           "ruleCollections": cols}})
    return {"type": "Microsoft.Network/firewallPolicies", "name": "hub-policy",
            "id": RG + "firewallPolicies/hub-policy", "location": "westeurope",
            "properties": {"sku": {"tier": "Standard"}, "ruleCollectionGroups": groups}}


def _demo_text() -> str:
    return resources.files("dataplane.data").joinpath("demo.yaml").read_text()


@pytest.fixture(scope="module")
def topologies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fwpol")
    nva = dataplane.load(str(resources.files("dataplane.data").joinpath("demo.yaml")))
    lines = [ln for ln in _demo_text().splitlines() if not ln.lstrip().startswith("nva1:")]
    loaded = {}
    for classic in (True, False):
        path = folder / f"demo-fw-{classic}.yaml"
        path.write_text("\n".join(lines) + "\n" + firewall_yaml(classic))
        loaded[classic] = dataplane.load(str(path))
    bare = loaded[False]
    raw = policy_document()
    policy = firewall_policy(raw, _Where(raw, "bench"))
    assert sum(len(c.rules) for g in policy.rule_collection_groups
               for c in g.rule_collections) == RULES
    (fw,) = bare.azure_firewalls
    fw_topo = replace(bare, firewall_policies=(policy,),
                      azure_firewalls=(replace(fw, firewall_policy=policy.id),))
    return {"nva": nva, "policy": fw_topo, "classic": loaded[True]}


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return gen.generate(tmp_path_factory.mktemp("fwpol") / "hub_spoke.pcap", PACKETS)


def test_policy_firewall_hub_vs_nva_hub(benchmark, topologies, capture) -> None:
    emulators = {k: Emulator(t) for k, t in topologies.items()}
    seconds: dict[str, list[float]] = {"nva": [], "policy": [], "classic": []}
    results = {}

    def one(kind: str) -> None:
        em = emulators[kind]
        em.reset()
        t0 = time.perf_counter()
        results[kind] = em.replay(capture, auto_map=False, progress=False, keep=False)
        seconds[kind].append(time.perf_counter() - t0)

    def run():
        one("nva")
        one("policy")
        one("classic")

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    for kind, r in results.items():
        assert r.read == PACKETS and r.check_accounting(), kind
    counts = {k: r.counts() for k, r in results.items()}
    # the policy's 197 filler rules change nothing: same verdicts as the 3 classic rules
    assert counts["policy"] == counts["classic"], counts
    assert counts["policy"].get("FIREWALL_DENIED", 0) > 0 and counts["nva"].get("DELIVERED")
    rate = {k: PACKETS * ROUNDS / sum(v) for k, v in seconds.items()}
    ratio = rate["policy"] / rate["nva"]
    benchmark.extra_info.update(ops=3 * PACKETS, unit="packet", rules=RULES, counts=counts,
                                seconds=seconds, rates=rate, ratio=ratio)
    print(f"\nNVA hub: {rate['nva']:,.0f} packets/s; policy-firewall hub ({RULES} rules): "
          f"{rate['policy']:,.0f} packets/s; classic 3-rule firewall hub: "
          f"{rate['classic']:,.0f} packets/s (means of {ROUNDS}); policy / NVA "
          f"{ratio:.2f}x (target >= 0.8x)\n{counts}")
