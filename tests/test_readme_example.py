"""The README's pcap-replay example is real: it is quoted verbatim from examples/replay_test/
and it passes against the built-in demo topology."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "replay_test" / "test_network.py"


def test_readme_quotes_the_example_verbatim():
    assert EXAMPLE.read_text().strip() in (ROOT / "README.md").read_text()


def test_example_passes(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "test_network.py")
    demo = subprocess.run([sys.executable, "-m", "dataplane", "demo", "--show-yaml"],
                          capture_output=True, text=True, check=True)
    (tmp_path / "hub-spoke.yaml").write_text(demo.stdout)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_network.py"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
