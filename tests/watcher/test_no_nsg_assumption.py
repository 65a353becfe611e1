"""Assumption `no-nsg-inbound-internet` ("No NSG on the subnet nor the NIC allows the flow at
the NSG layer ...") is printed only with the answers it is about: `ip-flow-verify` when no NSG
applies to the NIC (no ruleName), `rules` when the NIC has no effective NSG. Where an NSG
decided, it is not printed."""

from __future__ import annotations

from pathlib import Path

from dataplane import watcher
from dataplane.cli import main
from dataplane.load import load

SCENARIO = """
vnets:
  v: {region: westeurope, address_space: [10.1.0.0/16],
      subnets: {app: 10.1.1.0/24, db: 10.1.2.0/24}}
nsgs:
  app-nsg:
    rules:
      - {name: allow-https, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "443"}
vms:
  app1: {subnet: v/app, ip: 10.1.1.4, nsg: app-nsg, size: Standard_D2s_v3}
  db1: {subnet: v/db, ip: 10.1.2.4, size: Standard_D2s_v3}
"""
KEY = "no-nsg-inbound-internet"


def _keys(answer: dict) -> list[str]:
    return [a.split(":", 1)[0] for a in answer["assumptions"]]


def _scenario(tmp: Path) -> Path:
    path = tmp / "s.yaml"
    path.write_text(SCENARIO)
    return path


def test_ip_flow_verify_names_the_assumption_only_without_an_nsg(tmp_path):
    topology = load(_scenario(tmp_path))
    decided = watcher.ip_flow_verify(topology, "app1", "Inbound", "TCP", "10.1.1.4:443",
                                     "203.0.113.9:50000")
    assert decided["ruleName"] and KEY not in _keys(decided)
    denied = watcher.ip_flow_verify(topology, "app1", "Inbound", "TCP", "10.1.1.4:22",
                                    "203.0.113.9:50000")
    assert (denied["access"], KEY in _keys(denied)) == ("Deny", False)
    open_ = watcher.ip_flow_verify(topology, "db1", "Inbound", "TCP", "10.1.2.4:22",
                                   "203.0.113.9:50000")
    assert "ruleName" not in open_ and KEY in _keys(open_)


def test_rules_names_the_assumption_only_without_an_nsg(tmp_path):
    topology = load(_scenario(tmp_path))
    assert KEY not in _keys(watcher.effective_security_rules(topology, "app1-nic"))
    assert KEY in _keys(watcher.effective_security_rules(topology, "db1-nic"))


def test_the_cli_prints_it_only_when_no_nsg_applies(tmp_path, capsys):
    path = str(_scenario(tmp_path))
    for vm, local, printed in (("app1", "10.1.1.4:443", False), ("db1", "10.1.2.4:443", True)):
        assert main(["ip-flow-verify", path, "--vm", vm, "--direction", "Inbound",
                     "--protocol", "Tcp", "--local", local, "--remote", "203.0.113.9:50000"]) == 0
        out = capsys.readouterr().out
        assert (f"- {KEY}:" in out) is printed, out
