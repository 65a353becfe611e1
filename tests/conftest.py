"""Shared test setup: hypothesis profiles and the path to the shared real inputs.

Profiles: "ci" (default, modest so the suite stays fast) and "thorough" (HYPOTHESIS_PROFILE=thorough).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# ../shared/real holds public ARM templates and captures; absent on a user's fresh clone.
# (VNET_DATAPLANE_REAL overrides it, for worktrees that sit elsewhere).
REAL = Path(os.environ.get("VNET_DATAPLANE_REAL")
            or Path(__file__).resolve().parents[1].parent / "shared" / "real")


@pytest.fixture
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip("../shared/real is not present")
    return REAL
