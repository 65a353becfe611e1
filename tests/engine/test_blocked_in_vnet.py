"""What a VNet does not carry ("Azure Virtual Network frequently asked questions",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "What protocols can I use
within VNets?": multicast, broadcast, IP-in-IP and GRE are blocked within VNets): such packets
end BLOCKED_IN_VNET at their source, before any NSG names itself the reason."""

from __future__ import annotations

import pytest
from scapy.layers.inet import GRE, IP, TCP, UDP

from dataplane.engine import Emulator


@pytest.mark.parametrize(("packet", "label"), [
    (IP(src="10.1.1.4", dst="224.0.0.251") / UDP(sport=5353, dport=5353), "multicast"),
    (IP(src="10.1.1.4", dst="255.255.255.255") / UDP(sport=68, dport=67), "broadcast"),
    (IP(src="10.1.1.4", dst="10.2.1.4") / GRE() / IP(src="1.1.1.1", dst="2.2.2.2"), "GRE"),
    (IP(src="10.1.1.4", dst="10.2.1.4", proto=4) / IP(src="1.1.1.1", dst="2.2.2.2"), "IP-in-IP"),
])
def test_blocked_within_vnets(demo_topology, packet, label) -> None:
    row = Emulator(demo_topology).send(packet).row(0)
    assert (row["disposition"], row["deciding"]) == ("BLOCKED_IN_VNET", f"blocked in VNet: {label}")


def test_unicast_of_the_same_flow_is_not_blocked(demo_topology) -> None:
    row = Emulator(demo_topology).send(IP(src="10.1.1.4", dst="10.2.1.4") /
                                       TCP(sport=40000, dport=1433)).row(0)
    assert row["disposition"] == "DELIVERED"
