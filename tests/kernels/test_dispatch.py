"""Kernel dispatch: the compiled kernels must be loaded when they are expected.

Expected unless DATAPLANE_PURE_PYTHON=1 (twins forced) or DATAPLANE_REQUIRE_COMPILED=0 (a user
without a C compiler runs the suite on the twins).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import dataplane.kernels as kernels


def test_compiled_kernels_loaded_when_expected() -> None:
    if not kernels.EXPECT_COMPILED:
        pytest.skip("compiled kernels not required (DATAPLANE_PURE_PYTHON=1 or "
                    "DATAPLANE_REQUIRE_COMPILED=0)")
    assert kernels.COMPILED, (
        "compiled kernels expected but not loaded; build them with `pip install -e .` "
        f"(errors: {kernels.LOAD_ERRORS}) or set DATAPLANE_REQUIRE_COMPILED=0")


def test_pure_python_flag_forces_twins() -> None:
    code = ("import dataplane.kernels as k, dataplane.lpm as l, dataplane.kernels.lpm_py as t;"
            "assert not k.COMPILED and k.compiled('lpm') is None;"
            "assert l.LpmTable is t.LpmTablePy; print('ok')")
    env = {"DATAPLANE_PURE_PYTHON": "1", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_kernel_name() -> None:
    with pytest.raises(KeyError):
        kernels.compiled("nope")
