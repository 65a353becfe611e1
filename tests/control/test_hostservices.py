"""Platform addresses vocabulary (control/hostservices.py), per the NSG overview's "Azure
platform considerations" (https://learn.microsoft.com/azure/virtual-network/
network-security-groups-overview#azure-platform-considerations) and "What is IP address
168.63.129.16?" (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16).
"""

from __future__ import annotations

from dataplane.control.hostservices import TCP, UDP, host_service, nsg_applies
from dataplane.net import parse_ip

HOST, IMDS = parse_ip("168.63.129.16"), parse_ip("169.254.169.254")


def test_services_by_direction_address_protocol_port():
    assert host_service("Outbound", HOST, UDP, 53).name == "AzureDNS"
    assert host_service("Outbound", HOST, TCP, 32526).name == "WireServer"
    assert host_service("Outbound", IMDS, TCP, 80).name == "IMDS"
    assert host_service("Inbound", HOST, TCP, 8080).name == "HealthProbe"
    assert host_service("Outbound", HOST, TCP, 22) is None
    assert host_service("Outbound", parse_ip("8.8.8.8"), UDP, 53) is None


def test_nsg_exemption_unless_the_service_tag_is_named():
    dns = host_service("Outbound", HOST, UDP, 53)
    assert not nsg_applies(dns, {"VirtualNetwork", "Internet"})
    assert nsg_applies(dns, {"azureplatformdns"})
    dhcp = host_service("Outbound", HOST, UDP, 67)
    assert not nsg_applies(dhcp, {"AzurePlatformDNS"})  # no tag governs DHCP
    probe = host_service("Inbound", HOST, TCP, 80)
    assert nsg_applies(probe, set())  # probes are judged (AzureLoadBalancer, VirtualNetwork)
