"""Spec parsing: clear InputErrors naming the key path; variants (product, cases)."""

from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.whatif.spec import parse_bytes, parse_rate, parse_spec

FLOW = {"name": "api", "from": "web1", "to": "db1", "port": 1433, "rate": "20Mbit/s"}


def doc(**extra):
    d = {"name": "t", "base": "demo", "workload": {"flows": [dict(FLOW)]}}
    d.update(extra)
    return d


def error(d) -> str:
    with pytest.raises(InputError) as info:
        parse_spec(d, "spec.yaml")
    return str(info.value)


def test_units():
    assert parse_rate("200Mbit/s", "s", "p") == 200e6
    assert parse_rate("5Gbps", "s", "p") == 5e9
    assert parse_rate("100MB/s", "s", "p") == 800e6
    assert parse_bytes("64KiB", "s", "p") == 65536
    assert parse_bytes("10MB", "s", "p") == 10_000_000
    assert parse_bytes(1500, "s", "p") == 1500


@pytest.mark.parametrize("mutate, path, words", [
    (lambda d: d.pop("name"), "property 'name'", "required"),
    (lambda d: d.pop("base"), "property 'base'", "required"),
    (lambda d: d.update(bogus=1), "property 'bogus'", "unknown key"),
    (lambda d: d.update(base="nope.yaml"), "property 'base'", "no such topology"),
    (lambda d: d.update(metrics=["speed"]), "property 'metrics[0]'", "unknown metric"),
    (lambda d: d["workload"]["flows"][0].update(rate="fast"),
     "property 'workload.flows[0].rate'", "cannot read rate"),
    (lambda d: d["workload"]["flows"][0].pop("from"), "workload.flows[0].from", "required"),
    (lambda d: d["workload"]["flows"][0].update(to="nosuchvm"),
     "workload.flows[0].to", "neither a VM"),
    (lambda d: d["workload"]["flows"][0].update(protocol="sctp"),
     "workload.flows[0].protocol", "tcp or udp"),
    (lambda d: d.update(tcp={"rmem_max": "lots"}), "property 'tcp.rmem_max'", "cannot read"),
    (lambda d: d.update(timing={"nva_ms": 3}), "property 'timing'", "unknown timing"),
    (lambda d: d.update(vary={"region": {"spoke9": ["westeurope"]}}),
     "region.spoke9", "no VNet named 'spoke9'"),
    (lambda d: d.update(vary={"region": {"spoke2": ["atlantis"]}}),
     "region.spoke2", "not in azure-latency.csv"),
    (lambda d: d.update(vary={"vm_size": {"nva1": ["Standard_B1s"]}}),
     "vm_size.nva1", "publishes no bandwidth"),
    (lambda d: d.update(vary={"parallel": {"nope": [1, 2]}}), "vary.parallel.nope[0]",
     "no flow named"),
    (lambda d: d.update(vary={"parallel": [0]}), "vary.parallel.*[0]", "integer >= 1"),
    (lambda d: d.update(vary={"routing": {"spoke1": ["direct"]}}), "vary.routing.spoke1[0]",
     "VNet pair"),
    (lambda d: d.update(vary={"routing": {"spoke1,spoke2": ["nva9"]}}), "routing.spoke1,spoke2",
     "neither 'direct'"),
    (lambda d: d.update(vary={"peering": {"hub,spoke1": [{"allow_magic": True}]}}),
     "vary.peering.hub,spoke1[0].allow_magic", "unknown key"),
    (lambda d: d.update(vary={"gateway_sku": {"hub": ["VpnGw9"]}}), "gateway_sku.hub",
     "unknown gateway SKU"),
    (lambda d: d.update(vary={"region": {"spoke2": []}}), "vary.region.spoke2",
     "non-empty list"),
    (lambda d: d.update(cases=[{"name": "a"}, {"name": "a"}]), "cases[1].name", "duplicate"),
    (lambda d: d.update(workload={}), "property 'workload'", "needs flows"),
    (lambda d: d.update(base=["smallest.json", "vms.yaml"]), "property 'base'",
     "put them in one folder"),
])
def test_errors_name_the_key_path(mutate, path, words):
    d = doc()
    mutate(d)
    message = error(d)
    assert "spec.yaml" in message
    assert path in message
    assert words in message


def test_cartesian_product_and_cases():
    spec = parse_spec(doc(vary={"region": {"spoke2": ["eastus", "westeurope"]},
                                "parallel": [1, 4], "tcp": {"buffers": ["default", "16MiB"]}}))
    variants = spec.variants()
    assert len(variants) == 8
    assert [v.index for v in variants] == list(range(8))
    assert variants[0].name == "region.spoke2=eastus parallel.*=1 tcp.buffers=default"
    assert len({v.name for v in variants}) == 8
    listed = parse_spec(doc(cases=[{"name": "today"},
                                   {"name": "moved", "region": {"spoke2": "westeurope"}}],
                            vary={"parallel": [1, 2]}))
    names = [v.name for v in listed.variants()]
    assert names == ["today parallel.*=1", "today parallel.*=2", "moved parallel.*=1",
                     "moved parallel.*=2"]
    assert listed.variants()[2].get("region", "spoke2") == "westeurope"


def test_defaults():
    spec = parse_spec(doc())
    assert spec.metrics == ("latency", "throughput", "cost")
    assert [v.name for v in spec.variants()] == ["base"]
    f = spec.flows[0]
    assert (f.rate_bps, f.parallel, f.packets, f.protocol) == (20e6, 1, 200, "tcp")


def test_kernel_window_settings_parse_and_reject():
    from dataplane.whatif.spec import tcp_value
    from dataplane.whatif.tcp import TcpParams

    assert tcp_value("rcv_window_model", "adv_win_scale", "s", "p") == {
        "rcv_window_model": "adv_win_scale"}
    params = TcpParams(**tcp_value("tcp_adv_win_scale", 2, "s", "p"),
                       **tcp_value("rcv_window_model", "adv_win_scale", "s", "p"))
    assert params.tcp_adv_win_scale == 2
    for key, bad in (("rcv_window_model", "guess"), ("tcp_adv_win_scale", 1.5),
                     ("rx_truesize", 0)):
        with pytest.raises(InputError, match="vary.tcp"):
            tcp_value(key, bad, "s.yaml", "vary.tcp[0]")
