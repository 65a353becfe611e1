"""Emulator.assumptions (summary.json, the replay's terminal): only the assumptions that can
touch an answer for the topology -- none about a kind of resource it holds none of (new-user
trial: a replay through a firewall hub listed load-balancer and ExpressRoute assumptions)."""

from __future__ import annotations

from pathlib import Path

from test_firewall_nat import HUB

import dataplane
from dataplane.engine import Emulator

DEMO = Path(dataplane.__file__).parent / "data" / "demo.yaml"


def _keys(em: Emulator) -> set[str]:
    return {a.partition(":")[0] for a in em.assumptions()}


def test_the_demo_lists_no_firewall_assumption_and_keeps_its_own(tmp_path) -> None:
    keys = _keys(Emulator(dataplane.load(DEMO)))  # a load balancer and a VPN gateway, no firewall
    assert not {k for k in keys if k.startswith("firewall-")}
    assert {"lb-hash", "ingress-onprem", "conntrack-idle", "engine-stateful", "engine-global",
            "snat-port"} <= keys  # two regions, a load balancer
    assert "expressroute-ipv6" not in keys and "route-server-nva-egress" not in keys


def test_a_firewall_hub_lists_its_firewall_assumptions_and_no_load_balancer_one(tmp_path) -> None:
    (tmp_path / "hub.yaml").write_text(HUB.replace("    SNAT\n", ""))
    keys = _keys(Emulator(dataplane.load(tmp_path / "hub.yaml")))
    assert {"firewall-stateful", "firewall-dnat-snat", "firewall-reply-return"} <= keys
    assert not {k for k in keys if k.startswith("lb-")} and "ingress-onprem" not in keys
    assert "engine-global" not in keys  # one region
