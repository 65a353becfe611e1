"""`whatif` applies the shared inputs to its base as every other command does (new-user
trial: --bgp-routes, --service-tags and --vm-cap were accepted and silently ignored)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dataplane.whatif.spec import parse_spec

SPEC = {"name": "shared", "base": "demo",
        "workload": {"flows": [{"name": "sql", "from": "web1", "to": "db1", "port": 1433}]}}


def test_vm_cap_reaches_the_base_and_every_variant():
    spec = parse_spec(SPEC, "s.yaml", vm_caps=("web1=2e8",))
    web1 = next(v for v in spec.base_topology().virtual_machines if v.name == "web1")
    assert web1.egress_cap_bps == 200_000_000
    plain = parse_spec(SPEC, "s.yaml")
    assert next(v for v in plain.base_topology().virtual_machines
                if v.name == "web1").egress_cap_bps is None


def test_bgp_routes_reach_the_base(tmp_path):
    sidecar = tmp_path / "bgp.json"
    sidecar.write_text(json.dumps({"bgpRoutes": [{"peer": "branch",
                                                  "prefixes": ["10.50.0.0/16"]}]}))
    base = parse_spec(SPEC, "s.yaml", bgp_routes=str(sidecar)).base_topology()
    assert [(a.peer, [str(p) for p in a.prefixes]) for a in base.bgp_advertisements] == [
        ("branch", ["10.50.0.0/16"])]
    assert parse_spec(SPEC, "s.yaml").base_topology().bgp_advertisements == ()


@pytest.mark.parametrize(("flag", "value", "needle"), [
    ("--vm-cap", "nosuchvm=1e9", "nosuchvm"),
    ("--service-tags", "missing-tags.json", "missing-tags.json"),
    ("--bgp-routes", "missing-bgp.json", "missing-bgp.json"),
])
def test_whatif_reads_the_shared_inputs_before_any_variant(tmp_path, flag, value, needle):
    spec = tmp_path / "s.yaml"
    spec.write_text(json.dumps(SPEC))
    p = subprocess.run([sys.executable, "-m", "dataplane", "whatif", str(spec), "--out",
                        str(tmp_path / "out"), "--serial", "--quiet", flag,
                        str(tmp_path / value) if value.endswith(".json") else value],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, (p.stdout, p.stderr)
    (line,) = p.stderr.strip().splitlines()
    assert needle in line and "Traceback" not in p.stderr
    assert not (tmp_path / "out" / "results.csv").exists()
