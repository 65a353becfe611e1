"""`dataplane explain` / `trace` as a network engineer reads them at 100 columns (findings of the
new-user trial): a bare IPv6 address is one address and the output says how to give a port;
resource ids break only after '/'; no doubled words; assumptions only where the answer used
them; --sni defaults to HTTPS's port."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
DUAL = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_minimal.json"


def _explain(capsys, *argv: str) -> str:
    assert main(["explain", *argv]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100, out
    return out


def test_gateway_hop_reads_once(capsys):
    """web2 -> the branch office crosses the hub's VPN gateway: 'gateway hub-gw', once."""
    out = _explain(capsys, DEMO, "--vm", "web2", "--to", "192.168.10.20:443")
    assert re.search(r"^\s+\d+\. gateway hub-gw \(instance", out, re.M), out
    assert not re.search(r"\b(\w+) \1\b", out), out  # no doubled word anywhere


def test_resource_ids_break_only_after_a_slash(capsys):
    """web1 -> 8.8.8.8 follows two user routes, printed with their route tables' ids (longer
    than a line): each id is whole once the line breaks are taken out after its '/'."""
    out = _explain(capsys, DEMO, "--vm", "web1", "--to", "8.8.8.8:443")
    lines = out.splitlines()
    broken = [i for i, line in enumerate(lines) if "/subscriptions/" in line
              and "routeTables/" not in line]
    assert broken, out  # the ids do need breaking at 100 columns
    for i in broken:
        assert lines[i].endswith("/"), lines[i]
        joined = lines[i].lstrip() + "".join(part.strip() for part in lines[i + 1:i + 3])
        assert re.search(r"/subscriptions/[0-9a-f-]{36}/resourceGroups/vnet-dataplane-rg/"
                         r"providers/Microsoft\.Network/routeTables/(spoke-rt|hub-nva-rt)",
                         joined), joined


