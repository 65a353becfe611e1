"""`check` on every real template of the shared real inputs (tests/conftest.py REAL, arm/)
reports no error from the platform names (service tags, locations, VM sizes, regions): these
templates deploy on Azure, so an error there would be ours, not theirs. Required parameters without a value get a dummy of
their declared type (names and passwords do not reach the data plane)."""

from __future__ import annotations

from pathlib import Path

from dataplane.control.platform import platform_findings
from dataplane.control.validate import validate
from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.jsonfile import read_json

PLATFORM_ERRORS = {"SecurityRuleInvalidAddressPrefix", "LocationNotAvailableForResourceType"}
DUMMY = {"string": "Dummy-Value-1", "securestring": "Dummy-Value-1!", "int": 1, "bool": False,
         "array": [], "object": {}}


def _parameters(template: Path) -> Path | dict | None:
    given = template.with_name(template.name.replace(".json", ".parameters.json"))
    if given.exists():
        return given
    doc = read_json(template)
    return {name: DUMMY.get(str(spec.get("type", "string")).lower(), "x")
            for name, spec in (doc.get("parameters") or {}).items()
            if isinstance(spec, dict) and "defaultValue" not in spec}


def templates(real_dir: Path) -> list[Path]:
    return [p for p in sorted((real_dir / "arm").glob("*.json"))
            if not p.name.endswith(".parameters.json") and not p.name.startswith("restapispec")]


def test_no_platform_error_on_real_templates(real_dir):
    checked = 0
    for template in templates(real_dir):
        try:
            topology = load(template, _parameters(template))
        except InputError:
            continue  # the loader's own refusals are tested in tests/load
        errors = [f for f in validate(topology) if f.severity == "error"]
        assert not [f for f in errors if f.code in PLATFORM_ERRORS], template.name
        assert all(f.severity == "warning" for f in platform_findings(topology)), template.name
        checked += 1
    assert checked >= 7


def test_true_warnings_on_real_templates(real_dir):
    """The warnings these templates earn are true: GatewayManager/AzureCloud prefixes are not
    loaded without Microsoft's file; their sizes (Standard_D2_v3) resolve to the published
    1,000 Mbps, so no size warning."""
    arm = real_dir / "arm"
    fw = load(arm / "aqt_fwm-docs-qs.azuredeploy.json",
              arm / "aqt_fwm-docs-qs.azuredeploy.parameters.json")
    assert {vm.vm_size for vm in fw.virtual_machines} == {"Standard_D2_v3"}
    assert not [f for f in platform_findings(fw) if f.code.startswith("VmSize")]
    hub = load(arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json",
               arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json")
    tags = sorted(f.message.split(" uses service tag ")[1].split(",")[0]
                  for f in platform_findings(hub) if f.code == "ServiceTagPrefixesNotLoaded")
    assert tags == ["AzureCloud", "GatewayManager"]
