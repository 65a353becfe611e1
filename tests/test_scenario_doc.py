"""docs/scenario.md documents the scenario YAML the loader reads, and its examples load.

Every key that dataplane/load/scenario.py reads (its SECTIONS, peering OPTIONS and each
literal `.get("key")` / `["key"]` of the source) must appear in the document in backticks;
every ```yaml block of the document must load and check without errors.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from dataplane.control.validate import validate
from dataplane.load import scenario
from dataplane.load.scenario import load_scenario_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario.md"
TEXT = DOC.read_text(encoding="utf-8")


def loader_keys() -> set[str]:
    source = inspect.getsource(scenario)
    keys = set(re.findall(r"""(?:\.get\(|\w\[)"([a-z][a-z_]*)"[,)\]]""", source))
    keys |= {f"{side}_{what}" for side in ("source", "destination")
             for what in ("ports", "asgs")}  # built as f"{side}_ports" / f"{side}_asgs"
    keys |= set(scenario.SECTIONS) | set(scenario._Builder.OPTIONS)
    return keys - {"properties", "id"}  # read back from the ARM dicts the builder made


def test_the_key_list_is_read_from_the_loader():
    keys = loader_keys()
    assert {"vnets", "address_space", "next_hop_ip", "use_remote_gateways",
            "source_ports", "egress_cap_bps", "connect_to"} <= keys


@pytest.mark.parametrize("key", sorted(loader_keys()))
def test_every_key_is_documented(key: str):
    assert re.search(rf"`[^`]*\b{re.escape(key)}\b[^`]*`", TEXT), f"`{key}` not in {DOC.name}"


YAML = re.findall(r"^```yaml\n(.*?)^```", TEXT, re.M | re.S)


def test_the_document_has_an_example():
    assert YAML


@pytest.mark.parametrize("block", YAML)
def test_examples_load_and_validate(block: str):
    topology = load_scenario_text(block, "docs/scenario.md")
    errors = [f for f in validate(topology) if f.severity == "error"]
    assert errors == []
    assert topology.virtual_networks
