"""Forced tunnelling on an Azure Firewall without a management IP configuration.

Takes a Topology and one AzureFirewall. Emits `unmanaged_tunnel(topology, firewall)`: the route
(its route table's name and route name) by which the AzureFirewallSubnet sends 0.0.0.0/0
somewhere other than the Internet, when the firewall has no `managementIpConfiguration`;
None otherwise. Microsoft's page: "Azure Firewall forced tunneling",
https://learn.microsoft.com/azure/firewall/forced-tunneling: forced tunnelling needs the
firewall's management NIC (AzureFirewallManagementSubnet); without it, "UDR configurations on
the AzureFirewallSubnet that have a default route not going directly to the Internet are
disabled" ("Azure Firewall FAQ": the firewall "must have direct Internet connectivity").
The emulator routes by the input's routes as written (it cannot know which state Azure left
the deployment in): `dataplane check` warns (FirewallForcedTunnelingWithoutManagement, our
code) and every answer crossing the firewall carries caveat `firewall-forced-tunnel` naming
the route (engine/stages/firewall.py puts it among the firewall's caveats).
"""

from __future__ import annotations

from dataplane.model import AzureFirewall, Prefix, RouteTable, Topology

PAGE = ("'Azure Firewall forced tunneling', https://learn.microsoft.com/azure/firewall/"
        "forced-tunneling")


def unmanaged_tunnel(topology: Topology, firewall: AzureFirewall) -> tuple[str, str] | None:
    """(route table name, route name) of the AzureFirewallSubnet's 0.0.0.0/0 route to a next
    hop other than the Internet when the firewall has no management IP configuration, else
    None."""
    if firewall.management_ip_configuration or not firewall.subnet:
        return None
    subnet = topology.get(firewall.subnet)
    table = topology.get(getattr(subnet, "route_table", None)) if subnet is not None else None
    if not isinstance(table, RouteTable):
        return None
    for route in table.routes:
        if (isinstance(route.address_prefix, Prefix) and route.address_prefix.version == 4
                and route.address_prefix.length == 0
                and route.next_hop_type.lower() != "internet"):
            return table.name, route.name
    return None


def caveat(firewall: AzureFirewall, where: tuple[str, str]) -> str:
    """The caveat `firewall-forced-tunnel` on the firewall's answers."""
    return (f"firewall-forced-tunnel: firewall {firewall.name}'s subnet sends 0.0.0.0/0 by "
            f"route {where[0]}/{where[1]}, not to the Internet, and the firewall has no "
            "management IP configuration: Azure disables such a route on the "
            f"AzureFirewallSubnet ({PAGE}); answers here follow it as written")


__all__ = ["PAGE", "caveat", "unmanaged_tunnel"]
