"""A replay whose capture was taken on the Internet side of a VM's public IPv6 address, mapped
with `--map CAPTURE_IPV6=VM:public` (issue 17 leftover 3, v6fix): the Internet client's packets
reach the public IPv6 and are DNATed at the edge (stages/public_edge6.py), the VM's answers
leave from its private IPv6 and get the public source back from the connection table, as in
Azure ("What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/
virtual-network/ip-services/ipv6-overview, "Capabilities": "Instance-level public IP provides
IPv6 Internet connectivity directly to individual VMs").
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from test_ipv6_edge import TOPO

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.errors import InputError

CLIENT, SERVER = "2a01:4f8::99", "2a01:111::5"  # as the capture saw them


def _capture(tmp_path, dport: int):
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    path = tmp_path / f"edge{dport}.pcap"
    frames = [Ether() / IPv6(src=CLIENT, dst=SERVER) / TCP(sport=40000, dport=dport, flags="S"),
              Ether() / IPv6(src=SERVER, dst=CLIENT) / TCP(sport=dport, dport=40000, flags="SA")]
    for i, f in enumerate(frames):
        f.time = 1.0 + i * 0.001
    wrpcap(str(path), frames)
    return path


def _v6(hi: int, lo: int) -> str:
    return str(ipaddress.IPv6Address((int(hi) << 64) | int(lo)))


def test_inbound_to_the_mapped_public_ipv6_and_its_reply(tmp_path, make_topology) -> None:
    em = Emulator(make_topology(TOPO))
    result = em.replay(_capture(tmp_path, 443), mapping={SERVER: "web1:public"},
                       timing="asap", auto_map=False)
    c = result.columns
    assert [D(d) for d in c["disposition"]] == [D.DELIVERED, D.EXITS_INTERNET]
    # in: to the public address, DNATed to the private one; out: from the private address,
    # leaving with the public one
    assert _v6(c["dst_hi"][0], c["dst_lo"][0]) == "2001:db8:e0::10"
    assert _v6(c["final_dst_hi"][0], c["final_dst_lo"][0]) == "fd00:db8:0:1::4"
    assert _v6(c["src_hi"][1], c["src_lo"][1]) == "fd00:db8:0:1::4"
    assert _v6(c["final_src_hi"][1], c["final_src_lo"][1]) == "2001:db8:e0::10"
    assert result.check_accounting()
    assert any("web1 public 2001:db8:e0::10" in line for line in result.mapping)


def test_the_nsg_still_decides_the_mapped_public_flow(tmp_path, make_topology) -> None:
    em = Emulator(make_topology(TOPO))  # web-nsg allows 443 from 2000::/3 only
    result = em.replay(_capture(tmp_path, 22), mapping={SERVER: "web1:public"},
                       timing="asap", auto_map=False)
    assert D(int(result.columns["disposition"][0])) == D.DENIED_IN
    assert np.count_nonzero(result.columns["disposition"] == int(D.DELIVERED)) == 0


def test_a_vm_without_public_ipv6_is_refused_before_any_work(make_topology) -> None:
    em = Emulator(make_topology(TOPO))
    with pytest.raises(InputError, match="VM 'web2' has no instance-level public IPv6"):
        em.address_map({SERVER: "web2:public"}, None, auto=False)
