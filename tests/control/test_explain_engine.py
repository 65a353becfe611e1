"""`dataplane explain` answers from the engine's reference walk: one stage logic, so explain and
the emulator agree on every flow (issue 3's contract, issue 5's pipeline)."""

from __future__ import annotations

import json

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP

from dataplane import watcher
from dataplane.cli import main
from dataplane.cli.demo import demo_topology
from dataplane.engine import Emulator
from dataplane.load.scenario import load_scenario_text

# A user route sends 10.50.0.0/16 (RFC 1918, outside every VNet) to the Internet next hop.
EDGE = """
vnets:
  v: {region: westeurope, address_space: [10.0.0.0/16],
      subnets: {a: {prefix: 10.0.1.0/24, route_table: rt}}}
route_tables:
  rt: {routes: [{name: private-to-internet, prefix: 10.50.0.0/16, next_hop: Internet}]}
vms:
  src: {subnet: v/a, ip: 10.0.1.4, size: Standard_D2s_v3}
"""


def _engine(topo, vm, dst, dport=80, proto="Tcp"):
    em = Emulator(topo)
    l4 = {"Tcp": TCP(sport=49152, dport=dport), "Udp": UDP(sport=49152, dport=dport),
          "Icmp": ICMP()}[proto]
    out = em.send(IP(src=_ip(em.address_of(vm)), dst=dst) / l4,
                  source=vm)
    row = out.row(0)
    return row["disposition"], row["deciding"]


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


def test_private_destination_on_internet_route_is_dropped_at_the_edge():
    topo = load_scenario_text(EDGE)
    out = watcher.explain(topo, "src", "10.50.1.1:443")
    assert (out["disposition"], out["reason"]) == ("Dropped", "InternetRoutePrivateDestination")
    assert out["engineDisposition"] == "NON_ROUTABLE"
    assert out["deciding"] == "route rt/private-to-internet"
    route = next(h for h in out["hops"] if h["step"] == "route")
    assert route["nextHopType"] == "Internet" and route["routeName"] == "private-to-internet"
    assert route["routeTableId"].endswith("/routeTables/rt")
    assert any("internet-non-routable" in a for a in out["assumptions"])
    # the emulator agrees, and a public destination still leaves
    assert _engine(topo, "src", "10.50.1.1", 443) == ("NON_ROUTABLE",
                                                      "route rt/private-to-internet")
    assert _engine(topo, "src", "8.8.8.8", 443)[0] == "EXITS_INTERNET"
    assert watcher.explain(topo, "src", "8.8.8.8:443")["disposition"] == "LeftNetwork"
    # 10.9.0.1 hits the None system route first (docs/azure-behaviour.md §3.1)
    out = watcher.explain(topo, "src", "10.9.0.1")
    assert (out["disposition"], out["reason"]) == ("Dropped", "NextHopNone")


FLOWS = [("web1", "10.2.1.4", 1433, "Tcp"), ("web1", "10.2.1.4", 22, "Tcp"),
         ("web1", "10.1.1.5", 443, "Tcp"), ("web1", "192.168.1.10", 22, "Tcp"),
         ("web1", "8.8.8.8", 443, "Tcp"), ("db1", "10.1.1.4", 80, "Tcp"),
         ("jumpbox", "10.1.1.4", 443, "Tcp"), ("jumpbox", "10.9.9.9", 80, "Tcp"),
         ("web2", "10.0.2.4", 23, "Tcp"), ("db1", "8.8.4.4", 53, "Udp"),
         ("nva1", "10.2.1.4", 1433, "Tcp"), ("web1", "10.2.1.4", 0, "Icmp")]


@pytest.mark.parametrize("vm,dst,port,proto", FLOWS)
def test_explain_and_emulator_agree_on_the_demo(vm, dst, port, proto):
    topo = demo_topology()
    out = watcher.explain(topo, vm, f"{dst}:{port}" if proto != "Icmp" else dst, proto)
    assert (out["engineDisposition"], out["deciding"]) == _engine(topo, vm, dst, port, proto)


def test_explain_text_and_json(tmp_path, capsys):
    path = tmp_path / "edge.yaml"
    path.write_text(EDGE)
    assert main(["explain", str(path), "--vm", "src", "--to", "10.50.1.1:443"]) == 0
    text = capsys.readouterr().out
    assert "=> Dropped: InternetRoutePrivateDestination" in text
    assert "decided by route rt/private-to-internet" in text
    assert "Azure edge: NonRoutableDestination" in text and "Assumptions:" in text
    assert main(["explain", str(path), "--vm", "src", "--to", "10.50.1.1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["flow"]["portsAssumed"] is True and data["flow"]["destinationPort"] == 80
    assert [h["step"] for h in data["hops"]] == ["nsg-outbound", "route", "edge"]
