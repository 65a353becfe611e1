"""Kernel dispatch: compiled Cython kernels (dataplane._ext.*) or their plain-Python twins.

Contract
- Every kernel exists twice: the compiled version in ext/NAME.pyx (module dataplane._ext.NAME)
  and a readable plain-Python twin in dataplane/kernels/NAME_py.py with the same signature.
  The public wrappers (dataplane.kernels.NAME) pick one at import time.
- `DATAPLANE_PURE_PYTHON=1` forces the twins everywhere (the compiled modules are not imported).
- Otherwise each compiled module is used when it imports; a kernel whose module is missing falls
  back to its twin and the reason is kept in `LOAD_ERRORS`.
- `COMPILED` is True when every kernel in `KERNELS` was loaded compiled.
- `EXPECT_COMPILED` is True unless DATAPLANE_PURE_PYTHON=1 or DATAPLANE_REQUIRE_COMPILED=0;
  tests/kernels/test_dispatch.py fails when compiled kernels were expected but not loaded.
  Users without a C compiler set DATAPLANE_REQUIRE_COMPILED=0 to run the suite on the twins.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

KERNELS: tuple[str, ...] = ("overlap", "lpm", "acl", "flows", "shaper", "headers", "pcapscan",
                            "pipeline", "servername")


def _flag(name: str) -> str:
    return os.environ.get(name, "").strip().lower()


PURE_PYTHON: bool = _flag("DATAPLANE_PURE_PYTHON") not in ("", "0", "false", "no")
EXPECT_COMPILED: bool = not PURE_PYTHON and _flag("DATAPLANE_REQUIRE_COMPILED") not in (
    "0", "false", "no")

_MODULES: dict[str, ModuleType] = {}
LOAD_ERRORS: dict[str, str] = {}

if not PURE_PYTHON:
    for _name in KERNELS:
        try:
            _MODULES[_name] = importlib.import_module(f"dataplane._ext.{_name}")
        except ImportError as exc:  # not built, or built for another interpreter
            LOAD_ERRORS[_name] = f"{type(exc).__name__}: {exc}"

COMPILED: bool = not PURE_PYTHON and len(_MODULES) == len(KERNELS)


def compiled(name: str) -> ModuleType | None:
    """The compiled module for kernel `name`, or None when the twin is in use."""
    if name not in KERNELS:
        raise KeyError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}")
    return _MODULES.get(name)


__all__ = ["COMPILED", "EXPECT_COMPILED", "KERNELS", "LOAD_ERRORS", "PURE_PYTHON", "compiled"]
