"""`replay --map CAPTURE_IPV6=VM:public` and `--map-subnet` reserved IPv6 offsets (issue 17
leftovers 3 and 4, v6fix; io/mapping.py).

A capture taken on the Internet side sees a VM's instance-level public IPv6 address: mapped with
VM:public, the address becomes the public IPv6 as destination (stages/public_edge6.py DNATs it to
the private address, "What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/
azure/virtual-network/ip-services/ipv6-overview, "Capabilities": "Instance-level public IP
provides IPv6 Internet connectivity directly to individual VMs") and the private IPv6 as source
(the VM answers from its private address; the connection table gives the reply the public
source back). A --map-subnet keeps host offsets; an IPv6 address landing on ::0-::3 stays as
captured (assumption map-subnet-reserved-ipv6: Microsoft lists reserved addresses for IPv4 only).
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from test_mapping_ipv6 import NICS4, NICS6, WEB1_V6, run6

from dataplane.errors import InputError
from dataplane.io.mapping import MAP_SUBNET_RESERVED6, AddressMap

V6 = ipaddress.IPv6Address
WEB1_PUBLIC = int(V6("2001:db8:e0::10"))
PUBLIC6 = [("web1", WEB1_PUBLIC, WEB1_V6)]


def test_public_map_is_the_public_address_as_destination_and_private_as_source() -> None:
    m = AddressMap(NICS4, auto=False, nic_ips6=NICS6, public_ips6=PUBLIC6)
    m.add_host("[2a01:111::5]", "web1:public")
    src, dst = run6(m, [("2001:4860::1", "2a01:111::5"), ("2a01:111::5", "2001:4860::1")])
    assert dst == ["2001:db8:e0::10", "2001:4860::1"]
    assert src == ["2001:4860::1", "ace:cab:deca:deed::4"]
    assert m.printable()[1:] == [
        "capture 2a01:111::5 -> web1 public 2001:db8:e0::10 as destination, private "
        "ace:cab:deca:deed::4 as source (--map, translated at the edge)"]


@pytest.mark.parametrize("capture, vm, message", [
    ("2a01:111::5", "web2:public", "VM 'web2' has no instance-level public IPv6 address"),
    ("2a01:111::5", "nobody:public", "no VM named 'nobody'"),
    ("203.0.113.5", "web1:public", "not an IPv6 address"),
])
def test_public_map_errors_name_the_entry(capture: str, vm: str, message: str) -> None:
    m = AddressMap(NICS4, nic_ips6=NICS6, public_ips6=PUBLIC6)
    with pytest.raises(InputError, match=f"--map {capture}={vm}: {message}"):
        m.add_host(capture, vm)


def test_map_subnet_leaves_the_first_four_ipv6_offsets_as_captured() -> None:
    m = AddressMap(NICS4, auto=False, nic_ips6=NICS6)
    m.add_subnet("fd00:9::/64", int(V6("ace:cab:deca:deed::")), 2**64, "v/s", target_version=6)
    src, dst = run6(m, [("fd00:9::1", "fd00:9::3"), ("fd00:9::4", "fd00:9::ffff:ffff:ffff:ffff")])
    assert src == ["fd00:9::1", "ace:cab:deca:deed::4"]
    # no broadcast in IPv6: the subnet's last address is mapped
    assert dst == ["fd00:9::3", "ace:cab:deca:deed:ffff:ffff:ffff:ffff"]
    assert m.printable()[-1] == (
        f"not mapped by --map-subnet: fd00:9::1, fd00:9::3 ({MAP_SUBNET_RESERVED6})")


def test_public_entries_are_not_auto_mapped_over() -> None:
    m = AddressMap(NICS4, auto=True, nic_ips6=NICS6, public_ips6=PUBLIC6)
    m.add_host("fd00:77::5", "web1:public")
    src, dst = run6(m, [("fd00:66::1", "fd00:77::5"), ("fd00:77::5", "fd00:66::1")])
    assert dst[0] == "2001:db8:e0::10" and src[1] == "ace:cab:deca:deed::4"
    # the other unique-local address takes the next free NIC (web2), not web1's again
    assert src[0] == dst[1] == "ace:cab:deca:deed::5"
    assert np.array_equal(np.array(src[:1]), np.array(dst[1:]))
