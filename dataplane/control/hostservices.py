"""Azure's platform addresses and the services behind them: vocabulary for the engine's stages.

Takes: a direction, the remote address, protocol number and port of a flow. Emits the
`HostService` it reaches (or None) and whether NSG rules and user routes apply to it.
Nothing here is wired into the packet stages yet (the engine-redesign issue does that); the
table and its exemptions are what those stages are to read.

Sources:
* NSG overview, "Azure platform considerations",
  https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#azure-platform-considerations:
  "Basic infrastructure services like DHCP, DNS, IMDS, and health monitoring are provided
  through the virtualized host IP addresses 168.63.129.16 and 169.254.169.254 ... these
  services aren't subject to the configured network security groups unless targeted by
  service tags specific to each service" (AzurePlatformDNS, AzurePlatformIMDS, AzurePlatformLKM).
* "What is IP address 168.63.129.16?",
  https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16
  (ms.date 05/15/2019): VM Agent "Ready" signalling and WireServer ("ports at least must be
  opened ...: 80, 443 and 32526"), DNS, Load Balancer health probes ("originates from this IP
  address"), DHCP, guest agent heartbeat.
* Health probes are inbound FROM 168.63.129.16 and ARE judged by NSGs, through the
  AzureLoadBalancer tag (default rule AllowAzureLoadBalancerInBound) and the VirtualNetwork tag
  (control/tags.py); service-tags-overview, AzureLoadBalancer and VirtualNetwork rows.
Assumption `platform-routes`: Microsoft's pages say nothing in the material read about user
routes for these addresses; they are answered by the host (the address is "the virtual IP
address of the host"), so a user route (0.0.0.0/0 to an NVA, say) does not carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.net import IPAddress, parse_ip

HOST_IP = parse_ip("168.63.129.16")
IMDS_IP = parse_ip("169.254.169.254")
TCP, UDP = 6, 17


@dataclass(frozen=True)
class HostService:
    name: str
    address: IPAddress
    direction: str  # the VM's side: "Outbound" = the VM calls the service
    protocols: tuple[int, ...]
    ports: tuple[int, ...]  # the service's ports; () = any
    service_tag: str | None  # the tag an NSG rule names to govern it; None = never governed
    nsg_exempt: bool  # True: NSG rules do not apply unless they name `service_tag`
    route_exempt: bool = True  # assumption platform-routes


SERVICES: tuple[HostService, ...] = (
    HostService("AzureDNS", HOST_IP, "Outbound", (UDP, TCP), (53,), "AzurePlatformDNS", True),
    HostService("DHCP", HOST_IP, "Outbound", (UDP,), (67,), None, True),
    HostService("WireServer", HOST_IP, "Outbound", (TCP,), (80, 443, 32526), None, True),
    HostService("IMDS", IMDS_IP, "Outbound", (TCP,), (80,), "AzurePlatformIMDS", True),
    HostService("HealthProbe", HOST_IP, "Inbound", (TCP, UDP), (), "AzureLoadBalancer", False,
                route_exempt=True),
)


def host_service(direction: str, remote: IPAddress, protocol: int, port: int
                 ) -> HostService | None:
    """The platform service a flow reaches: `remote` is the far end seen from the VM, `port`
    the service's port (destination outbound; for inbound probes any port)."""
    for service in SERVICES:
        if (service.direction == direction and service.address == remote
                and protocol in service.protocols
                and (not service.ports or port in service.ports)):
            return service
    return None


def nsg_applies(service: HostService, rule_tags: set[str]) -> bool:
    """Whether NSG evaluation decides this service's flow: always for health probes; for the
    exempt services only when some rule names their own service tag (case-insensitive)."""
    if not service.nsg_exempt:
        return True
    return service.service_tag is not None and service.service_tag.lower() in {
        t.lower() for t in rule_tags}
