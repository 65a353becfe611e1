"""Error codes the validator and the peering lifecycle report, with where each comes from.

Azure publishes no complete list (docs/azure-behaviour.md §4.6, "Not found"). Codes seen in real ARM
responses are marked with their evidence; codes vnet-dataplane had to name itself are marked
`ours` so nobody mistakes them for Azure's. `dataplane check --json` prints the code only.
"""

from __future__ import annotations

AZURE = "seen in ARM responses"
OURS = "named by vnet-dataplane (Azure's code not documented)"

CODES: dict[str, str] = {
    # VNets and subnets (docs/azure-behaviour.md §8, 4.6)
    "NetcfgSubnetRangeOutsideVnet": AZURE,
    "NetcfgSubnetRangesOverlap": AZURE,
    "InvalidCIDRNotation": AZURE,
    "VnetAddressSpaceReserved": OURS,
    "VnetAddressSpaceOverlapsItself": OURS,
    "SubnetPrefixLengthOutOfRange": OURS,
    "AddressSpaceInUseBySubnets": OURS,
    # NICs
    "PrivateIPAddressNotInSubnet": OURS,
    "PrivateIPAddressInReservedRange": AZURE,  # terraform-provider-azurerm#4225
    "PrivateIPAddressIsAllocated": AZURE,  # acs-engine-terraform#10
    "InvalidResourceReference": AZURE,
    # NSGs (docs/azure-behaviour.md §2.1)
    "SecurityRuleInvalidPriority": OURS,
    "SecurityRuleConflict": AZURE,  # "Rules cannot have the same Priority and Direction."
    # Platform names (control/platform.py)
    "SecurityRuleInvalidAddressPrefix": AZURE,  # azure-powershell#391, #4557
    "LocationNotAvailableForResourceType": AZURE,  # azure-service-operator#781
    # Routes (docs/azure-behaviour.md §3.3)
    "NextHopIpAddressNotAllowed": OURS,
    "NextHopIpAddressRequired": OURS,
    # Peering (docs/azure-behaviour.md §4.4, 4.6)
    "VnetAddressSpacesOverlap": AZURE,
    "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet": AZURE,
    "AnotherPeeringAlreadyReferencesRemoteVnet": AZURE,
    "RemotePeeringIsDisconnected": AZURE,
    "RemoteVnetHasNoGateways": AZURE,
    "ChangingRemoteVirtualNetworkNotAllowed": AZURE,
    "UseRemoteGatewaysWithLocalGateway": OURS,
    "MultiplePeeringsUseRemoteGateways": OURS,
    "PeeringLimitReached": OURS,
    "ClassicVnetsCannotPeer": OURS,
    "PeeringLinkOnClassicVnet": OURS,
    "AddressSpaceChangeWithClassicPeer": OURS,
    "AuthorizationFailed": AZURE,
    "LinkedAuthorizationFailed": AZURE,
    # Gateways, BGP, Route Server, ExpressRoute (control/bgp_validate.py)
    "GatewayLimitPerVnetExceeded": OURS,
    "CoexistenceRequiresRouteBasedVpn": OURS,
    "CoexistenceGatewaySubnetTooSmall": OURS,
    "ConnectionTypeNotSupportedByGateway": OURS,
    "BgpAsnReserved": OURS,
    # warnings
    "BgpNotSupportedOnGateway": OURS,
    "BgpSameAsn": OURS,
    "ExpressRouteRoutesNotDescribed": OURS,
    "VnetToVnetConnectionIncomplete": OURS,
    "VirtualHubNotModelled": OURS,
    "RouteServerVpnGatewayNotSupported": OURS,
    "UserRouteToGatewayWithoutVpnGateway": OURS,
    "BgpPeerNotFound": OURS,
    "PeeringNotConnected": OURS,
    "PeeringNotInSync": OURS,
    "GatewayTransitNotAllowedByRemote": OURS,
    "GatewayTransitBasicSku": OURS,
    "RemoteVnetNotInTopology": OURS,
    "UnknownResourceType": OURS,
    "FirewallForcedTunnelingWithoutManagement": OURS,  # control/firewall_tunnel.py
    "NatGatewayStandardSkuIPv6": OURS,  # control/validate.py: IPv6 needs StandardV2 (nat-sku)
    "PropertyNameNearMiss": OURS,  # load/near_misses.py: a property a spelling away from one read
    "PropertyNotModelled": OURS,  # load/unread.py: a verdict-changing property not evaluated
    "ServiceTagPrefixesNotLoaded": OURS,
    "RegionLatencyNotPublished": OURS,
    "RegionPricingZoneMissing": OURS,
    "VmSizeUnknown": OURS,
    "VmSizeBandwidthNotPublished": OURS,
    # firewall rule items that match no address (control/firewall_addresses.py)
    "FirewallRuleFqdnNotResolved": OURS,
    "FirewallRuleIpGroupMissing": OURS,
    "FirewallRuleServiceTagUnknown": OURS,
    "FirewallRuleServiceTagNotSupported": OURS,
}

PEERING_LIMIT = 500  # docs/azure-behaviour.md §4.5
