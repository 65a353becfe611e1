"""VM sizes: published bandwidth per size, the stated default for the rest, --vm-cap.

Figures: the "Network" tab ("Max NICs", "Max Bandwidth (Mbps)") of Microsoft's size pages,
e.g. "Dasv5 sizes series", https://learn.microsoft.com/azure/virtual-machines/sizes/
general-purpose/dasv5-series; "B-series v1", .../sizes/general-purpose/bv1-series (bandwidth
column blank). The cap is per VM on egress ("Virtual machine network bandwidth",
https://learn.microsoft.com/azure/virtual-network/virtual-machine-network-throughput).
"""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from dataplane.errors import InputError
from dataplane.model import Topology, VirtualMachine
from dataplane.timing.bandwidth import (
    DEFAULT_CAP_BPS,
    cap_caveats,
    close_sizes,
    max_nics,
    parse_vm_caps,
    published_cap_bps,
    vm_egress_caps,
    with_vm_caps,
)

# (size, published Mbps or None, max NICs) as the size pages print them
ISSUE_SIZES = [("Standard_D2as_v5", 12500, 2), ("Standard_DS2_v2", 1500, 2),
               ("Standard_D2ds_v5", 12500, 2), ("Standard_D2s_v4", 5000, 2),
               ("Standard_E4ds_v5", 12500, 2), ("Standard_B2ms", None, 3)]


@pytest.mark.parametrize("size,mbps,nics", ISSUE_SIZES)
def test_issue_sizes_resolve_to_their_published_figures(size, mbps, nics):
    assert published_cap_bps(size) == (None if mbps is None else mbps * 1_000_000)
    assert published_cap_bps(size.upper()) == published_cap_bps(size)
    assert max_nics(size) == nics


def test_every_row_names_its_page_and_date():
    text = resources.files("dataplane.data").joinpath("vm-bandwidth.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 100
    for row in rows:
        assert row["source_path"].startswith(("MicrosoftDocs/azure-docs:articles/",
                                              "learn.microsoft.com/azure/")), row
        assert row["source_ms_date"].strip(), row
    series = {r["series"] for r in rows}
    assert {"Bv1", "Dsv4", "Dv5", "Dasv5", "Ddsv5", "Esv4", "Ev5", "Edsv5", "Fsv2", "Lsv3",
            "NCasT4_v3", "DSv2", "Dv3", "Av2", "M"} <= series


def topo(*vms: tuple[str, str]) -> Topology:
    return Topology(virtual_machines=tuple(
        VirtualMachine(f"/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/"
                       f"virtualMachines/{name}", name, "westeurope", size) for name, size in vms))


def test_unknown_or_unpublished_size_never_blocks_and_is_named():
    t = topo(("web1", "Standard_B2ms"), ("app1", "Standard_Z9_v9"), ("db1", "Standard_D2s_v4"))
    caps = sorted(vm_egress_caps(t).values())
    assert caps == [DEFAULT_CAP_BPS, DEFAULT_CAP_BPS, 5_000_000_000]
    lines = cap_caveats(t)
    assert len(lines) == 2
    assert "web1" in lines[0] and "publishes no bandwidth" in lines[0]
    assert "app1" in lines[1] and "not in vm-bandwidth.csv" in lines[1]


def test_vm_caps_override_and_clear_the_caveat():
    t = with_vm_caps(topo(("web1", "Standard_B2ms"), ("db1", "Standard_D2s_v4")),
                     parse_vm_caps(["WEB1=2e9"]))
    assert sorted(vm_egress_caps(t).values()) == [2_000_000_000, 5_000_000_000]
    assert cap_caveats(t) == []
    with pytest.raises(InputError, match="unknown VM.*nope.*known: db1, web1"):
        with_vm_caps(t, {"nope": 1})
    for bad in ("web1", "web1=", "web1=-5", "=5", "web1=fast"):
        with pytest.raises(InputError, match="VM=BPS"):
            parse_vm_caps([bad])


def test_close_sizes_for_a_misspelt_size():
    assert "Standard_D2as_v5" in close_sizes("Standard_D2as_v6")
    assert close_sizes("Completely_Different") == []


SIZES_SCENARIO = """
vnets:
  v: {region: westeurope, address_space: [10.0.0.0/16], subnets: {s: 10.0.1.0/24}}
vms:
  web1: {subnet: v/s, ip: 10.0.1.4, size: Standard_B2ms}
  web2: {subnet: v/s, ip: 10.0.1.5, size: Standard_D2as_v5}
"""


def test_emulator_runs_with_an_unpublished_size():
    """The issue's symptom: Emulator refused Standard_B2ms; now it runs at the stated default
    and Standard_D2as_v5 at its published 12,500 Mbps."""
    from dataplane.engine.emulator import Emulator
    from dataplane.load.scenario import load_scenario_text

    topology = load_scenario_text(SIZES_SCENARIO)
    em = Emulator(topology)
    caps = dict(zip(em.net.vm_names, em.net.vm_cap_bps.tolist(), strict=True))
    assert caps == {"web1": DEFAULT_CAP_BPS, "web2": 12_500_000_000}
    capped = Emulator(with_vm_caps(topology, {"web1": 3_000_000_000}))
    assert capped.net.vm_cap_bps.tolist()[capped.net.vm_names.index("web1")] == 3_000_000_000


def test_platform_inputs_in_one_call(tmp_path):
    """dataplane.with_platform_inputs: what --service-tags FILE and --vm-cap VM=BPS call."""
    import json

    from dataplane import with_platform_inputs

    tags = tmp_path / "ServiceTags_Public.json"
    tags.write_text(json.dumps({"changeNumber": 9, "cloud": "Public", "values": [
        {"name": "Storage", "properties": {"addressPrefixes": ["20.60.0.0/16"]}}]}))
    t = with_platform_inputs(topo(("web1", "Standard_B2ms")), service_tags=tags,
                             vm_caps=["web1=4e9"])
    assert t.service_tags.change_number == "9"
    assert list(vm_egress_caps(t).values()) == [4_000_000_000]
    same = with_platform_inputs(topo(("web1", "Standard_B2ms")), vm_caps={"web1": 4_000_000_000})
    assert list(vm_egress_caps(same).values()) == [4_000_000_000]
