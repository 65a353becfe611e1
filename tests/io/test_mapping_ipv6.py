"""The replay address map on IPv6 endpoints (io/mapping.py; issue 17, part 4).

IPv6 follows the IPv4 mapping rule (issue 18, item 1): explicit host and subnet maps; auto-mapping
only for a capture that uses none of the topology's NIC addresses (decided once, for both
families), and then only private addresses (unique-local fc00::/7 for IPv6) outside every spoken
range, onto NICs in order of first appearance. The IPv4 learner is the oracle: the same capture
written in IPv6 maps the same way.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.io.mapping import AddressMap

V6 = ipaddress.IPv6Address
BASE = int(V6("fd00:1:2:3::"))  # unique-local: mappable by default
WEB1_V6, WEB2_V6 = int(V6("ace:cab:deca:deed::4")), int(V6("ace:cab:deca:deed::5"))
NICS4 = [("web1", int(ipaddress.IPv4Address("10.0.0.4"))),
         ("web2", int(ipaddress.IPv4Address("10.0.0.5"))),
         ("legacy", int(ipaddress.IPv4Address("10.0.0.6")))]
NICS6 = [("web1", WEB1_V6), ("web2", WEB2_V6)]
VNET6 = (int(V6("ace:cab:deca::")), int(V6("ace:cab:deca:ffff:ffff:ffff:ffff:ffff")), "VNet v")


def halves(addresses: list[str]) -> tuple[np.ndarray, np.ndarray]:
    values = [int(V6(a)) for a in addresses]
    return (np.array([v >> 64 for v in values], np.uint64),
            np.array([v & (2**64 - 1) for v in values], np.uint64))


def texts(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    return [str(V6((int(h) << 64) | int(v))) for h, v in zip(hi, lo, strict=True)]


def run6(m: AddressMap, flows: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    sh, sl = halves([s for s, _ in flows])
    dh, dl = halves([d for _, d in flows])
    out = m.apply6(sh, sl, dh, dl)
    return texts(out[0], out[1]), texts(out[2], out[3])


def test_explicit_host_map_takes_the_vms_ipv6_address() -> None:
    m = AddressMap(NICS4, auto=False, nic_ips6=NICS6)
    m.add_host("fd00::99", "web2")
    m.add_host("[2001:db8::7]", "WEB1")
    src, dst = run6(m, [("fd00::99", "2001:db8::7"), ("fd00::98", "fd00::99")])
    assert src == ["ace:cab:deca:deed::5", "fd00::98"]
    assert dst == ["ace:cab:deca:deed::4", "ace:cab:deca:deed::5"]
    assert m.printable()[1:] == ["capture fd00::99 -> web2 ace:cab:deca:deed::5 (--map)",
                                 "capture 2001:db8::7 -> WEB1 ace:cab:deca:deed::4 (--map)"]


@pytest.mark.parametrize("capture, vm, message", [
    ("fd00::1", "legacy", "VM 'legacy' has no IPv6 address"),
    ("fd00::1", "nobody", "no VM named 'nobody'"),
    ("fd00::zz", "web1", "not an IP address"),
])
def test_explicit_host_map_errors(capture: str, vm: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AddressMap(NICS4, nic_ips6=NICS6).add_host(capture, vm)


def test_subnet_map_keeps_the_offset_in_the_ipv6_prefix() -> None:
    m = AddressMap(NICS4, auto=False, nic_ips6=NICS6)
    m.add_subnet("fd00:9::/64", int(V6("ace:cab:deca:deed::")), 2**64, "v/s", target_version=6)
    src, dst = run6(m, [("fd00:9::1:2", "fd00:8::1")])
    assert (src, dst) == (["ace:cab:deca:deed::1:2"], ["fd00:8::1"])
    assert m.printable()[-1] == ("capture fd00:9::-fd00:9::ffff:ffff:ffff:ffff -> v/s "
                                 "(--map-subnet, offset kept)")
    with pytest.raises(InputError, match="needs the subnet's IPv6 prefix"):
        m.add_subnet("fd00:9::/64", int(ipaddress.IPv4Address("10.0.0.0")), 256, "v/s")
    with pytest.raises(InputError, match="larger than the subnet"):
        m.add_subnet("fd00::/63", int(V6("ace:cab:deca:deed::")), 2**64, "v/s",
                     target_version=6)


def test_foreign_capture_maps_only_unique_local_outside_spoken() -> None:
    m = AddressMap(NICS4, nic_ips6=NICS6, spoken6=[VNET6])
    flows = [("fd00::5", "fe80::1"),              # link-local stays
             ("fd00::6", "2001:4860:4860::8888"),  # global stays
             ("ace:cab:deca:1::9", "ff02::1"),     # spoken VNet space and multicast stay
             ("fd00::7", "fd00::5")]               # third ULA: no NIC IPv6 address left
    src, dst = run6(m, flows)
    assert src == ["ace:cab:deca:deed::4", "ace:cab:deca:deed::5", "ace:cab:deca:1::9",
                   "fd00::7"]
    assert dst == ["fe80::1", "2001:4860:4860::8888", "ff02::1", "ace:cab:deca:deed::4"]
    assert m.printable()[0].startswith("auto-map on")


def test_one_decision_for_both_families() -> None:
    """A capture whose IPv6 packets use a NIC's IPv6 address speaks the topology: its IPv4
    private addresses are not auto-mapped either (and the other way round)."""
    m = AddressMap(NICS4, nic_ips6=NICS6)
    src4 = np.array([int(ipaddress.IPv4Address("172.20.0.5"))], np.int64)
    dst4 = np.array([int(ipaddress.IPv4Address("172.20.0.6"))], np.int64)
    sh, sl = halves(["ace:cab:deca:deed::4"])
    dh, dl = halves(["fd00::5"])
    out = m.apply_dual(src4, dst4, sh, sl, dh, dl)
    assert out[0].tolist() == src4.tolist() and out[1].tolist() == dst4.tolist()
    assert texts(out[4], out[5]) == ["fd00::5"]
    assert not m.auto and "ace:cab:deca:deed::4" in m.printable()[0]
    n = AddressMap(NICS4, nic_ips6=NICS6)
    sh, sl = halves(["fd00::5"])
    out = n.apply_dual(np.array([NICS4[0][1]], np.int64), dst4, sh, sl, dh, dl)
    assert texts(out[2], out[3]) == ["fd00::5"] and not n.auto


# -- the IPv4 learner as the oracle ------------------------------------------------------------

NICS = [("a", 100), ("b", 101), ("c", 102), ("d", 103)]
SPOKEN = [(7, 7, "VNet x"), (300, 310, "on-premises y")]
MAPPABLE = ((0, 9), (100, 299))


def shift(pairs, by: int):
    return [(a + by, b + by, *rest) for a, b, *rest in pairs]


addr = st.sampled_from([100, 101, 102, 103, 5, 6, 7, 8, 9, 200, 201, 300, 301])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.tuples(addr, addr), max_size=8), max_size=5), st.booleans(),
       st.booleans())
def test_ipv6_learner_equals_ipv4_learner(batches, host_map, subnet_map) -> None:
    four = AddressMap(NICS, spoken=SPOKEN, mappable=MAPPABLE)
    six = AddressMap([], nic_ips6=[(n, ip + BASE) for n, ip in NICS],
                     spoken6=shift(SPOKEN, BASE), mappable6=tuple(shift(MAPPABLE, BASE)))
    if host_map:
        four.add_host("0.0.0.6", "b")
        six.add_host(str(V6(BASE + 6)), "b")
    if subnet_map:
        four.nets.append((200, 201, 100, "v/s"))
        six.nets6.append((BASE + 200, BASE + 201, BASE + 100, "v/s"))
    for batch in batches:
        src = np.array([x for x, _ in batch], dtype=np.int64)
        dst = np.array([y for _, y in batch], dtype=np.int64)
        want = [c.tolist() for c in four.apply(src, dst)]
        got = run6(six, [(str(V6(x + BASE)), str(V6(y + BASE))) for x, y in batch])
        assert [[int(V6(a)) - BASE for a in col] for col in got] == want
    assert [k - BASE for k in six.order6] == four.order
    assert six.auto == four.auto
    assert {k - BASE: v - BASE for k, v in six.hosts6.items()} == four.hosts


def test_dual_stack_topology_spoken_ipv6_ranges_stay() -> None:
    from pathlib import Path

    from dataplane.control.spoken import spoken_ranges
    from dataplane.load import load

    topology = load(Path(__file__).parents[1] / "load" / "fixtures" / "arm" /
                    "dual_stack_minimal.json")
    assert spoken_ranges(topology, 6) == [VNET6[:2] + ("VNet VNET",)]
    assert spoken_ranges(topology) == [(int(ipaddress.IPv4Address("10.0.0.0")),
                                        int(ipaddress.IPv4Address("10.0.255.255")), "VNet VNET")]
    nics6 = [(n.name, c.private_ip_address.value) for n in topology.network_interfaces
             for c in n.ip_configurations if c.private_ip_address_version == "IPv6"]
    m = AddressMap([], nic_ips6=nics6, spoken6=spoken_ranges(topology, 6))
    src, dst = run6(m, [("fd12::1", "ace:cab:deca:deed::77")])
    assert (src, dst) == (["ace:cab:deca:deed::4"], ["ace:cab:deca:deed::77"])


def test_replay_with_an_ipv6_map_maps_and_decides_ipv6(tmp_path, capsys) -> None:
    """`replay --map IPv6=VM` and an IPv6 --map-subnet are applied (issue 17: the engine
    decides IPv6 packets, Emulator.address_map passes the NICs' IPv6 addresses): the IPv6
    packet leaves VM0's IPv6 address and is delivered at VM1's."""
    import json
    from pathlib import Path

    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from dataplane.cli import main

    dual = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_minimal.json"
    capture = tmp_path / "dual.pcap"
    wrpcap(str(capture), [Ether() / IP(src="10.0.0.4", dst="10.0.0.5") / TCP(dport=22),
                          Ether() / IPv6(src="fd00::5", dst="ace:cab:deca:deed::5") / TCP(dport=22)])
    out = tmp_path / "out"
    assert main(["replay", str(dual), str(capture), "--out", str(out), "--map", "fd00::5=VM0",
                 "--map-subnet", "fd00:9::/64=VNET/DualStackSubnet"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "map: capture fd00::5 -> VM0 ace:cab:deca:deed::4" in printed
    assert "fd00:9::-fd00:9::ffff:ffff:ffff:ffff -> VNET/DualStackSubnet" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dispositions"] == {"DELIVERED": 2}
    assert (out / "VM1.pcap").exists()
