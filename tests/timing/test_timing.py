from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.model import VirtualMachine
from dataplane.timing import LatencyTable, TimingParams
from dataplane.timing.bandwidth import vm_cap_bps


def test_global_is_half_directed_rtt():
    t = LatencyTable()
    assert t.one_way_ns("West Europe", "eastus") == 85 * 500_000
    assert t.one_way_ns("eastus", "westeurope") == 83 * 500_000
    assert t.one_way_ns("westeurope", "WestEurope") == TimingParams().intra_region_ns


def test_unknown_region_pair():
    with pytest.raises(InputError):
        LatencyTable().one_way_ns("westeurope", "moon")


def test_caps():
    assert vm_cap_bps(VirtualMachine("i", "v", "x", "Standard_D2s_v3")) == 1_000_000_000
    assert vm_cap_bps(VirtualMachine("i", "v", "x", "Standard_B1s", egress_cap_bps=5)) == 5


def test_params_validation():
    assert TimingParams.from_kwargs(nva_ns=5).nva_ns == 5
    with pytest.raises(InputError):
        TimingParams.from_kwargs(bogus=1)
