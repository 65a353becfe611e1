"""The README is a runnable document: every shell block and Python example in it runs.

A fresh clone is stood for by a temporary folder holding the repository's README.md and
examples/ (everything the README's commands read); the installed package is the one under test.
* every ```sh block runs line by line with bash in that folder and each line must exit 0.
  Lines that install (`pip install ... &&`) have the install part dropped, and a bare `pytest`
  (the whole suite: CI runs it, .ci/run) is not re-run from inside the suite;
* every ```python block that defines tests must be one of the repository's example files,
  verbatim, and that file passes under pytest in the clone; every other ```python block runs
  as a script there.
The test executes what the README says, so whoever changes a command's flags changes the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
INSTALL = re.compile(r"^pip install [^&]*&&\s*")
TIMEOUT_S = 300


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def shell_lines(block: str) -> list[str]:
    """The block's commands: continuations joined, install prefixes dropped, the suite left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = INSTALL.sub("", line.strip())
        if not line or line.startswith("#") or line.startswith("pip install"):
            continue
        if line.split("#")[0].strip() == "pytest":
            continue
        out.append(line)
    return out


def env() -> dict[str, str]:
    """The interpreter running the suite (and its `dataplane` script) comes first on PATH."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e.pop("PYTHONPATH", None)
    e["MPLBACKEND"] = "Agg"
    return e


def run(command: list[str] | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, shell=isinstance(command, str),
                          executable="/bin/bash" if isinstance(command, str) else None,
                          env=env(), capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    shutil.copy(README, tmp_path / "README.md")
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", "out"))
    return tmp_path


TEXT = README.read_text(encoding="utf-8")
SHELL = [b for b in blocks(TEXT, "sh") if shell_lines(b)]
PYTHON = blocks(TEXT, "python")
EXAMPLES = sorted((ROOT / "examples").rglob("*.py"))


def test_the_readme_has_runnable_blocks():
    assert len(SHELL) >= 3 and len(PYTHON) >= 2
    # a block in another language would be skipped silently: write it as sh or python
    assert {lang for lang, _ in FENCE.findall(TEXT)} <= {"sh", "python"}


@pytest.mark.parametrize("block", SHELL, ids=[f"sh{i}" for i in range(len(SHELL))])
def test_shell_block_runs(block: str, clone: Path):
    for line in shell_lines(block):
        done = run(line, clone)
        assert done.returncode == 0, f"$ {line}\nexit {done.returncode}\n{done.stdout[-3000:]}" \
                                     f"\n{done.stderr[-3000:]}"


def _example_quoted(block: str) -> Path | None:
    return next((p for p in EXAMPLES if p.read_text(encoding="utf-8").strip() == block.strip()),
                None)


@pytest.mark.parametrize("block", PYTHON, ids=[f"py{i}" for i in range(len(PYTHON))])
def test_python_block_runs(block: str, clone: Path):
    if re.search(r"^def test_", block, re.M):
        example = _example_quoted(block)
        assert example is not None, "a README test example must quote a file under examples/"
        target = clone / example.relative_to(ROOT)
        done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
                   clone)
        assert done.returncode == 0, done.stdout + done.stderr
        assert " passed" in done.stdout
    else:
        script = clone / "readme_block.py"
        script.write_text(block, encoding="utf-8")
        done = run([sys.executable, str(script)], clone)
        assert done.returncode == 0, done.stdout + done.stderr
