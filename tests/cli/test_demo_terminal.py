"""What a person sees of the demos at 100 columns (new-user trial): every traffic name on one
line, the named caveats and assumptions under the table, the files written listed."""

from __future__ import annotations

import json

import pytest

from dataplane.cli import main
from dataplane.cli.demo_dual_stack import FLOWS
from dataplane.textable import table


def test_a_kept_column_stays_whole_while_another_wraps():
    rows = [("sql over IPv6: web1 -> db1:1433 via hub NVA", "12",
             "nsg db-nsg/securityRules/deny-ssh and a long tail of words to wrap")]
    lines = table(["traffic", "n", "decided by"], rows, max_width=70, keep=(0,)).splitlines()
    assert lines[2].startswith("  sql over IPv6: web1 -> db1:1433 via hub NVA  12")
    assert len(lines) > 3 and max(len(x) for x in lines) <= 70
    unkept = table(["traffic", "n", "decided by"], rows, max_width=70).splitlines()
    assert "via hub NVA" not in unkept[2]  # without keep the name is what wraps


def test_a_kept_column_narrows_when_nothing_else_can():
    lines = table(["name", "x"], [("a" * 30 + " " + "b" * 30, "y")], max_width=40,
                  keep=(0,)).splitlines()
    assert max(len(x) for x in lines) <= 40 and len(lines) == 4


@pytest.fixture(scope="module")
def dual_stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "100")
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["demo", "--dual-stack", "--out", str(out)]) == 0
    return buffer.getvalue(), out


def test_dual_stack_traffic_names_one_line_each(dual_stack):
    text, _ = dual_stack
    rows = text[text.index("  traffic"):].splitlines()
    for name, *_ in FLOWS:
        assert any(line.startswith(f"  {name}  ") for line in rows), name
    assert max(len(line) for line in text.splitlines()) <= 100


def test_dual_stack_names_its_caveats_and_assumptions_under_the_table(dual_stack):
    text, out = dual_stack
    summary = json.loads((out / "summary.json").read_text())
    words = " ".join(text[text.index("  traffic"):].split())
    assert summary["caveats"]
    for caveat in summary["caveats"]:
        if caveat["packets"]:
            assert (f"caveat {caveat['key']} ({caveat['packets']} packet(s)): "
                    f"{' '.join(caveat['text'].split())}") in words
        else:
            assert caveat["key"] in words[words.index("caveats touching no replayed packet"):]
    keys = [a.split(":", 1)[0] for a in summary["assumptions"]]
    assert "ipv6-nd-host" in keys
    assert (f"assumptions ({len(keys)}; full texts in {out}/summary.json): "
            + ", ".join(keys)) in words


def test_dual_stack_lists_the_files_it_wrote(dual_stack):
    text, out = dual_stack
    summary = json.loads((out / "summary.json").read_text())
    words = " ".join(text.split())
    assert f"outputs in {out}/: {', '.join(summary['files'])}" in words
    assert all((out / name).exists() for name in summary["files"])
    assert {"summary.json", "db1.pcap", "web1.pcap"} <= set(summary["files"])
