"""One grammar (issue 18, item 4): shared options on every command, inputs paired with their
own parameters, -o json|table|tsv and --query as az, camelCase keys, one protocol spelling,
output that fits 100 columns."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

import dataplane
from dataplane.cli import build_parser, main
from dataplane.cli.options import SHARED, load_inputs, parse_args

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"name": {"type": "string"}, "prefix": {"type": "string"}},
    "resources": [{
        "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01",
        "name": "[parameters('name')]", "location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["[parameters('prefix')]"]},
                       "subnets": []}}],
}


def _commands():
    parser = build_parser()
    return parser._subparsers._group_actions[0].choices  # noqa: SLF001


def _args(argv: list[str]):
    return parse_args(_commands()[argv[0]], argv[1:])


def test_every_command_takes_the_shared_options():
    flags = {flag for shared in SHARED for flag in shared.flags}
    assert {"--allow-path", "-o", "--output", "--query"} <= flags
    for name, sub in _commands().items():
        assert flags <= set(sub._option_string_actions), name  # noqa: SLF001


@pytest.mark.parametrize("extra, expected", [
    ([], {"allow_paths": [], "bgp_routes": None}),
    (["--allow-path", "/x", "--allow-path", "/y", "--bgp-routes", "r.json"],
     {"allow_paths": ["/x", "/y"], "bgp_routes": "r.json"})])
def test_shared_inputs_reach_load(monkeypatch, extra, expected):
    seen = {}

    def fake_load(paths, parameters=None, **shared):
        seen.update(shared)
        return real_load(paths, parameters)

    real_load = dataplane.load
    monkeypatch.setattr(dataplane, "load", fake_load)
    load_inputs(_args(["check", DEMO, *extra]))
    assert seen == expected


def test_vm_cap_and_service_tags_reach_the_topology(tmp_path):
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"changeNumber": 7, "cloud": "Public", "values": [
        {"name": "Storage", "properties": {"addressPrefixes": ["20.60.0.0/16"]}}]}))
    topology = load_inputs(_args(["check", DEMO, "--vm-cap", "web1=2000000000",
                                  "--service-tags", str(tags)]))
    assert {vm.name: vm.egress_cap_bps for vm in topology.virtual_machines}["web1"] == 2_000_000_000
    assert topology.service_tags is not None and topology.service_tags.change_number == "7"


def test_each_input_has_its_own_parameters(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "b.parameters.json").write_text(json.dumps({"parameters": {
        "name": {"value": "vnet-b"}, "prefix": {"value": "10.2.0.0/16"}}}))
    args = _args(["check", str(tmp_path / "a.json"), "-p", "name=vnet-a", "-p",
                  "prefix=10.1.0.0/16", str(tmp_path / "b.json"), "--parameters",
                  str(tmp_path / "b.parameters.json")])
    topology = load_inputs(args)
    spaces = {v.name: [str(p) for p in v.address_space] for v in topology.virtual_networks}
    assert spaces == {"vnet-a": ["10.1.0.0/16"], "vnet-b": ["10.2.0.0/16"]}


def test_parameters_before_any_input_apply_to_every_template(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(TEMPLATE))
    args = _args(["check", "-p", "name=v", "-p", "prefix=10.9.0.0/16", str(tmp_path / "a.json")])
    (vnet,) = load_inputs(args).virtual_networks
    assert vnet.name == "v" and str(vnet.address_space[0]) == "10.9.0.0/16"


def test_output_formats_and_query(capsys):
    assert main(["check", DEMO, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["check", DEMO, "--query", "peerings[].name"]) == 0  # --query implies json
    assert json.loads(capsys.readouterr().out) == [p["name"] for p in report["peerings"]]
    assert main(["check", DEMO, "--query", "peerings[].[vnet, name]", "-o", "tsv"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{p['vnet']}\t{p['name']}"
                                                    for p in report["peerings"]]
    assert main(["check", DEMO, "--query", "peerings[].{link: name, state: peeringState}",
                 "-o", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["link", "state"] and len(lines) == 2 + len(report["peerings"])


def _keys(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k
            yield from _keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v, path)


CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")
DATA_KEYED = ("byVmPair", "byDecidingRule", "bytesPerPeeringLink", "pcapFiles",
              "pcapFilesByLinkType", "dispositions",
              "reasons", "shaperDropsByVm", "timing", "tagMap", "latencyNs")


def _camel(document) -> list[str]:
    return [f"{path}.{key}" for path, key in _keys(document)
            if not any(part in DATA_KEYED for part in path.split("."))
            and not CAMEL.match(key)]


def test_json_keys_are_camel_case(capsys, tmp_path):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    assert main(["check", DEMO, "-o", "json"]) == 0
    assert _camel(json.loads(capsys.readouterr().out)) == []
    assert main(["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433", "-o", "json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert [k for k in _camel(trace) if not k.startswith(".hops")] == []
    capture = tmp_path / "c.pcap"
    wrpcap(str(capture), [Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(dport=1433)])
    assert main(["replay", DEMO, str(capture), "--out", str(tmp_path / "o"), "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((tmp_path / "o" / "summary.json").read_text())
    assert _camel(summary) == []


def test_one_protocol_spelling(capsys):
    outputs = []
    for spelling in ("TCP", "tcp", "Tcp"):
        assert main(["explain", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433", "--protocol",
                     spelling, "-o", "json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
        assert main(["ip-flow-verify", DEMO, "--vm", "db1", "--direction", "inbound",
                     "--protocol", spelling, "--local", "10.2.1.4:1433", "--remote",
                     "10.1.1.4:5000", "-o", "json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0::2] == [outputs[0]] * 3 and outputs[1::2] == [outputs[1]] * 3
    assert outputs[1]["access"] == "Allow"


@pytest.mark.parametrize("argv", [
    ["check", DEMO], ["routes", DEMO, "--nic", "web1-nic"], ["rules", DEMO, "--nic", "web1-nic"],
    ["next-hop", DEMO, "--vm", "web1", "--source-ip", "10.1.1.4", "--dest-ip", "10.2.1.4"],
    ["explain", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433"],
    ["trace", DEMO, "--vm", "web1", "--to", "10.2.1.4:1433"],
])
def test_text_fits_100_columns(capsys, monkeypatch, argv):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line) for line in lines) <= 100


def test_demo_and_replay_fit_100_columns(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100 and "Throughput" in "\n".join(lines)
    assert main(["replay", DEMO, str(tmp_path / "d" / "demo-traffic.pcap"), "--out",
                 str(tmp_path / "r")]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 100


def test_table_layouts():
    from dataplane.textable import table

    wide = table(["name", "rule"], [["a " * 30, "nsg x/securityRules/deny-vnet-in"]],
                 max_width=50)
    assert max(len(line) for line in wide.splitlines()) <= 50
    assert "nsg x/securityRules/deny-vnet-in" in wide  # wrapped at spaces, the label kept
    records = table([f"c{i}" for i in range(20)], [["v" * 9] * 20], max_width=60)
    assert records.splitlines()[0].strip() == "-- 1 --" and len(records.splitlines()) == 21


@pytest.mark.parametrize("unit", ["ns", "µs", "ms", "s", "packet(s)", "Mbps"])
def test_fit_never_parts_a_number_from_its_unit(unit):
    """A wrapped line breaks before the number, not between '500' and its unit."""
    from dataplane.textable import fit

    for pad in range(80, 100):
        line = "x" * pad + f" latency 500 {unit}; more words after it"
        wrapped = fit(line, 100).splitlines()
        assert max(len(w) for w in wrapped) <= 100
        assert not any(w.rstrip().endswith(" 500") for w in wrapped), (pad, wrapped)
        assert f"500 {unit}" in "\n".join(wrapped), pad


WHATIF = """name: g
base: demo
metrics: [cost, throughput, latency]
workload: {flows: [{from: web1, to: db1, port: 1433, size: 1MB, rate: 1Mbit/s}]}
vary: {region: {spoke2: [eastus, westeurope]}}
"""


def test_whatif_rows_as_json_and_its_table_fits(capsys, monkeypatch, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(WHATIF)
    base = ["whatif", str(spec), "--serial", "--quiet", "--no-plots"]
    assert main([*base, "--out", str(tmp_path / "a"), "-o", "json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert len(rows) == 2 and "2 variant(s)" in err
    monkeypatch.setenv("COLUMNS", "100")
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
