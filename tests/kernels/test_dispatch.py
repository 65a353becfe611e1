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


_BLOCK_EXT = (
    "import sys, importlib.abc\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.startswith('dataplane._ext.'):\n"
    "            raise ImportError('blocked for the test: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
    "import dataplane.kernels as k, dataplane.lpm, dataplane.kernels.acl\n"
    "import importlib; importlib.import_module('dataplane.kernels')\n"
    "print('fallback' if not k.COMPILED else 'compiled')\n")


@pytest.mark.parametrize("env, notice", [({}, True), ({"DATAPLANE_PURE_PYTHON": "1"}, False),
                                         ({"DATAPLANE_REQUIRE_COMPILED": "0"}, False)])
def test_unrequested_fallback_says_so_once(env, notice) -> None:
    out = subprocess.run([sys.executable, "-c", _BLOCK_EXT], env={"PATH": "", **env},
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fallback"
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    if notice:
        assert len(lines) == 1 and "compiled kernels not loaded" in lines[0]
        assert "blocked for the test" in lines[0] and "pip install -e ." in lines[0]
    else:
        assert lines == []
