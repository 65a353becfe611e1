from __future__ import annotations

from importlib import resources

import pytest

import dataplane
from dataplane.engine import Emulator


@pytest.fixture(scope="session")
def demo_topology():
    return dataplane.load(str(resources.files("dataplane.data").joinpath("demo.yaml")))


@pytest.fixture
def demo(demo_topology):
    return Emulator(demo_topology)


@pytest.fixture(scope="session")
def make_topology(tmp_path_factory):
    def build(text: str):
        path = tmp_path_factory.mktemp("topo") / "t.yaml"
        path.write_text(text)
        return dataplane.load(str(path))
    return build
