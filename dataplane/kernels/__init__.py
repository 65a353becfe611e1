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
- A process that falls back without being asked (neither variable set) says so once, on
  stderr, with the reason and the fix (`FALLBACK_NOTICE`); asking for the twins is silent.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

KERNELS: tuple[str, ...] = ("overlap", "lpm", "acl", "flows", "shaper", "headers", "pcapscan",
                            "pipeline", "records", "servername", "legs", "openers",
                            "dkeys", "rowdiff", "unnat", "entrystate", "reopenscan", "dtake")


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


def fallback_notice() -> str | None:
    """The one-line notice for an unrequested fallback, or None (all compiled, or asked)."""
    if not LOAD_ERRORS or not EXPECT_COMPILED:
        return None
    missing = ", ".join(sorted(LOAD_ERRORS))
    reason = next(iter(LOAD_ERRORS.values()))
    return (f"dataplane: compiled kernels not loaded ({missing}: {reason}); running on the "
            "plain-Python twins, about 1000x slower. Fix: build them with `pip install -e .` "
            "in the source tree (or `pip install .` and run from outside it, so the installed "
            "package is imported); set DATAPLANE_PURE_PYTHON=1 to use the twins on purpose.")


FALLBACK_NOTICE: str | None = fallback_notice()
if FALLBACK_NOTICE is not None:  # module code runs once per process: said once
    print(FALLBACK_NOTICE, file=sys.stderr)


def compiled(name: str) -> ModuleType | None:
    """The compiled module for kernel `name`, or None when the twin is in use."""
    if name not in KERNELS:
        raise KeyError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}")
    return _MODULES.get(name)


__all__ = ["COMPILED", "EXPECT_COMPILED", "FALLBACK_NOTICE", "KERNELS", "LOAD_ERRORS",
           "PURE_PYTHON", "compiled", "fallback_notice"]
