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

# The workspace's shared real inputs (public ARM templates and captures, beside the repository;
# absent on a user's fresh clone).
# DATAPLANE_SHARED_REAL points elsewhere (a git worktree sits one folder deeper than main).
REAL = Path(os.environ.get("DATAPLANE_SHARED_REAL")
            or Path(__file__).resolve().parents[1].parent / "shared" / "real")


@pytest.fixture
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"the shared real inputs are not present ({REAL})")
    return REAL
