"""The shared real templates that use Azure Firewall DNAT: for each flow their rules describe,
the verdict their authors intended (issue 11), with the caveats named.

* ans_azfw-private-ip-dnat-overlapped (Azure-Network-Security, "Private IP DNAT"): two hubs
  whose spokes overlap (192.168.0.0/24 twice). VM1 reaches VM2 -- same address as itself --
  through the private address of firewall 1 (10.10.0.4), whose DNAT rules send it to the
  private address of firewall 2 (10.10.2.4), whose rules accept sources from firewall 1's
  AzureFirewallSubnet (10.10.0.0/26: the authors rely on the DNAT source translation) and send
  it to VM2; VM1 reaches VM3 in the branch; the Internet reaches VM1's RDP through firewall 1's
  public IP. Anything else to the firewall is denied.
* ans_netsec-demo-lab-standard (2019-06-01 preview FirewallPolicyNatRule): the Internet reaches
  three VMs' RDP/SSH and the Application Gateway's HTTPS through the firewall's public IP.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from batch_harness import assert_batch_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

import dataplane
from dataplane.control.public_addresses import public_address
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline

CLIENT = "198.51.100.7"


def _send(topology, packets, sources):
    result = Emulator(topology).send(packets, source=sources)
    return [result.row(i) for i in range(len(packets))]


@pytest.fixture
def overlapped(real_dir: Path):
    return dataplane.load(real_dir / "arm" /
                          "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json")


# (what the rule says, source VM or None for the Internet, destination port at fw1, expected
#  disposition, path, final destination, final destination port)
OVERLAPPED = [
    ("ToVM1-Rdp: Internet -> fw1 public :53389 -> VM1:3389", None, 53389, "DELIVERED",
     "internet > azfw-hub-vnet-1 > win-vm-1", "192.168.0.4", 3389),
    ("ToVM2-Http: VM1 -> fw1 :80 -> fw2 :80 -> VM2:80", "win-vm-1", 80, "DELIVERED",
     "win-vm-1 > azfw-hub-vnet-1 > azfw-hub-vnet-2 > win-vm-2", "192.168.0.4", 80),
    ("ToVM2-Rdp: VM1 -> fw1 :53388 -> fw2 :3389 -> VM2:3389", "win-vm-1", 53388, "DELIVERED",
     "win-vm-1 > azfw-hub-vnet-1 > azfw-hub-vnet-2 > win-vm-2", "192.168.0.4", 3389),
    ("ToVM3-Http: VM1 -> fw1 :8080 -> VM3:80", "win-vm-1", 8080, "DELIVERED",
     "win-vm-1 > azfw-hub-vnet-1 > win-vm-3", "172.16.0.4", 80),
    ("ToVM3-Rdp: VM1 -> fw1 :53389 -> VM3:3389", "win-vm-1", 53389, "DELIVERED",
     "win-vm-1 > azfw-hub-vnet-1 > win-vm-3", "172.16.0.4", 3389),
    ("no rule: VM1 -> fw1 :22", "win-vm-1", 22, "FIREWALL_DENIED",
     "win-vm-1 > azfw-hub-vnet-1", "10.10.0.4", 22),
    ("no rule for the branch: VM3 -> fw1 :80", "win-vm-3", 80, "FIREWALL_DENIED",
     "win-vm-3 > azfw-hub-vnet-1", "10.10.0.4", 80),
]


def test_private_ip_dnat_between_overlapping_spokes(overlapped) -> None:
    fw1 = overlapped.azure_firewalls[0]
    public = str(public_address(overlapped, fw1.public_ip_addresses[0]))
    vm_ip = {"win-vm-1": "192.168.0.4", "win-vm-3": "172.16.0.4"}
    packets = [IP(src=vm_ip[vm] if vm else CLIENT, dst=public if vm is None else "10.10.0.4")
               / TCP(sport=40000 + i, dport=port)
               for i, (_, vm, port, *_) in enumerate(OVERLAPPED)]
    rows = _send(overlapped, packets, [vm for _, vm, *_ in OVERLAPPED])
    for (flow, _, _, disposition, path, dst, dport), row in zip(OVERLAPPED, rows, strict=True):
        assert (row["disposition"], row["hops"], row["final_dst"], row["final_dport"]) == (
            disposition, path, dst, dport), flow
    # the two-firewall path arrives from firewall 2's instance address (10.10.2.0/26)
    assert rows[1]["final_src"].startswith("10.10.2.")
    assert "default-deny (no DNAT rule matches)" in rows[5]["deciding"]


def test_private_ip_dnat_replies_return_to_vm1_through_both_firewalls(overlapped) -> None:
    em = Emulator(overlapped)
    first = em.send(IP(src="192.168.0.4", dst="10.10.0.4") / TCP(sport=40000, dport=80),
                    source="win-vm-1").row(0)
    assert any(c.startswith("firewall-dnat-chain:") for c in first["caveats"])
    result = em.send(IP(src="192.168.0.4", dst=first["final_src"]) / TCP(
        sport=80, dport=first["final_sport"]), source="win-vm-2")
    reply = result.row(0)
    assert (reply["disposition"], reply["hops"]) == (
        "DELIVERED", "win-vm-2 > azfw-hub-vnet-2 > azfw-hub-vnet-1 > win-vm-1")
    assert (reply["final_src"], reply["final_sport"], reply["final_dst"], reply["final_dport"]) \
        == ("10.10.0.4", 80, "192.168.0.4", 40000)
    # explained hop by hop: each firewall undoes its own translation
    hops = em.explain_row(result, 0)["hops"]
    assert [h["at"] for h in hops if h["step"] == "nat"] == ["azfw-hub-vnet-2",
                                                              "azfw-hub-vnet-1"]


def _chained_flows(net) -> list[tuple]:
    """VM1's flows through both firewalls (and one through firewall 1 only) with the replies
    to their translated tuples, as (src, dst, proto, sport, dport, nic index + 1)."""
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    vm1, vm2 = net.node_names.index("win-vm-1"), net.node_names.index("win-vm-2")
    vm3 = net.node_names.index("win-vm-3")
    forward = [(ip("192.168.0.4"), ip("10.10.0.4"), 6, 40000 + k, port)
               for k, port in enumerate((80, 53388, 8080, 22))] + [
        (ip("192.168.0.4"), ip("10.10.0.4"), 17, 40010, 80)]
    out = [(*f, vm1 + 1) for f in forward]
    for f in forward:
        (w,) = ReferencePipeline(net).run([Packet(vm1, *f)])
        if w.out is not None and w.disposition.name == "DELIVERED":
            s, d, sp, dp = w.out
            sender = {"win-vm-2": vm2, "win-vm-3": vm3}[net.node_names[w.nodes[-1]]]
            out.append((d, s, f[2], dp, sp, sender + 1))
            out.append((d, s, f[2], dp, sp, vm1 + 1))  # the same tuple from the wrong VM
    return out


def test_chained_dnat_reply_is_restored_firewall_by_firewall(overlapped) -> None:
    """Reference form: firewall 2 restores the tuple firewall 1 sent it (source 10.10.2.4:80,
    destination firewall 1's instance address), firewall 1 restores VM1's own tuple."""
    net = build_network(overlapped)
    rp = ReferencePipeline(net)
    vm1, vm2 = net.node_names.index("win-vm-1"), net.node_names.index("win-vm-2")
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    (w,) = rp.run([Packet(vm1, ip("192.168.0.4"), ip("10.10.0.4"), 6, 40000, 80)])
    s, d, sp, dp = w.out
    (r,) = rp.run([Packet(vm2, d, s, 6, dp, sp)])
    restores = [h for h in r.hops if h.get("kind") == "restore (firewall, chained DNAT)"]
    assert [h["at"] for h in restores] == ["azfw-hub-vnet-2", "azfw-hub-vnet-1"]
    middle = restores[0]["translated"]
    assert (middle["sourceIp"], middle["sourcePort"]) == ("10.10.2.4", 80)
    assert middle["destinationIp"] in ("10.10.0.5", "10.10.0.6")  # firewall 1's instances
    assert restores[1]["original"] == middle
    assert restores[1]["translated"] == {"sourceIp": "10.10.0.4", "sourcePort": 80,
                                         "destinationIp": "192.168.0.4", "destinationPort": 40000}
    assert (r.disposition.name, r.out) == ("DELIVERED", (ip("10.10.0.4"), ip("192.168.0.4"), 80,
                                                        40000))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_chained_dnat_reference_equals_batch(overlapped, data) -> None:
    """Random sequences of chained-DNAT flows and replies, any batch split: both forms agree."""
    net = build_network(overlapped, caps=False)
    flows = _chained_flows(net)
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=24))
    assert_batch_matches_reference(net, pkts, data.draw(st.integers(1, 24)))


def test_single_firewall_dnat_reply_leaves_from_the_public_address(overlapped) -> None:
    fw1 = overlapped.azure_firewalls[0]
    public = str(public_address(overlapped, fw1.public_ip_addresses[0]))
    em = Emulator(overlapped)
    first = em.send(IP(src=CLIENT, dst=public) / TCP(sport=50000, dport=53389)).row(0)
    reply = em.send(IP(src="192.168.0.4", dst=first["final_src"]) / TCP(
        sport=3389, dport=first["final_sport"]), source="win-vm-1").row(0)
    assert (reply["disposition"], reply["final_src"], reply["final_sport"], reply["final_dst"],
            reply["final_dport"]) == ("EXITS_INTERNET", public, 53389, CLIENT, 50000)
    # no route table sends VM1's traffic to the firewall: the reply to its instance address
    # returns through it all the same (the DNAT source translation's purpose)
    assert reply["hops"] == "win-vm-1 > azfw-hub-vnet-1 > internet"


def test_netsec_lab_dnat_from_the_internet(real_dir: Path) -> None:
    topology = dataplane.load(real_dir / "arm" / "ans_netsec-demo-lab-standard.AzNetSecdeploy.json")
    (fw,) = topology.azure_firewalls
    public = str(public_address(topology, fw.public_ip_addresses[0]))
    ports = {"APPGW-WEBAPP": 443, "VM-Win11": 33891, "VM-Kali": 22, "VM-Win2019": 33890,
             "none": 3389}
    rows = dict(zip(ports, _send(topology, [IP(src=CLIENT, dst=public) / TCP(sport=50000 + i,
                                                                          dport=p)
                                            for i, p in enumerate(ports.values())],
                                 [None] * len(ports)), strict=True))
    for vm, dst, port in (("VM-Win11", "10.0.27.4", 3389), ("VM-Kali", "10.0.27.68", 22),
                          ("VM-Win2019", "10.0.28.4", 3389)):
        row = rows[vm]
        assert (row["disposition"], row["hops"].split(" > ")[-1], row["final_dst"],
                row["final_dport"]) == ("DELIVERED", vm, dst, port), vm
        assert row["final_src"] in ("10.0.25.5", "10.0.25.6")  # firewall-dnat-snat
        assert any(c.startswith("firewall-dnat-runtime-address:") for c in row["caveats"])
    # The Application Gateway is not emulated: the flow ends where the routes leave it, and the
    # answer says why
    gateway = rows["APPGW-WEBAPP"]
    assert gateway["final_dst"] == "10.0.25.70" and gateway["disposition"] == "NO_DESTINATION"
    assert any(c.startswith("firewall-dnat-target: firewall SOC-NS-FW/DefaultDnatRuleCollection"
                            "Group/APPGW-WEBAPP") for c in gateway["caveats"])
    assert rows["none"]["disposition"] == "FIREWALL_DENIED"
