"""A NAT gateway's IPv6 public address at the Internet edge, and the Standard SKU's refusal.

* Unsolicited inbound to a NAT gateway's IPv6 address ends NAT_OUTBOUND_ONLY with the label the
  IPv4 address gets (stages/public_edge6.py; "Azure NAT Gateway resource",
  https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource: outbound only, inbound
  only as the response to an outbound flow), in both engine forms; it used to end UNMAPPED.
  The reply to a flow the NAT gateway translated still comes in.
* Only a StandardV2 NAT gateway takes IPv6 ("Azure NAT Gateway SKUs",
  https://learn.microsoft.com/azure/nat-gateway/nat-sku, "SKU comparison"): a Standard one
  with IPv6 public IPs or prefixes is a `check` error (control/validate.py).
"""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path

import pytest
from ipv6_harness import compare

from dataplane.cli import main
from dataplane.control.validate import NAT_GATEWAY_IPV6_SKU, validate
from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages.public_edge import outbound_only_label
from dataplane.load import read_resources
from dataplane.load.resources import resources_to_topology

DUAL = """
vnets:
  v:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8:0::/48"]
    subnets:
      natted: {prefix: 10.0.1.0/24, prefix6: "fd00:db8:0:1::/64", nat_gateway: ng}
public_ips:
  ng-ip4: {address: 198.51.100.4}
nat_gateways:
  ng: {public_ips: [ng-ip4]}
vms:
  a: {subnet: v/natted, ip: 10.0.1.4, ip6: "fd00:db8:0:1::4", size: Standard_D2s_v3}
"""
NAT6 = "2001:db8:e0::66"
CLIENT6 = int(ipaddress.IPv6Address("2001:4860:4860::8888"))
A6 = int(ipaddress.IPv6Address("fd00:db8:0:1::4"))
TCP = 6


def _resources(tmp: Path, sku: str, where: str = "publicIpAddressesV6") -> list[dict]:
    """DUAL with an IPv6 public IP ng-ip6 (NAT6) on the NAT gateway, SKU `sku`, listed under
    `where`."""
    (tmp / "t.yaml").write_text(DUAL)
    resources = copy.deepcopy(read_resources(tmp / "t.yaml")[0])
    for r in resources:
        r.pop("source", None)
    nat = next(r for r in resources if r["type"] == "Microsoft.Network/natGateways")
    base = nat["id"].rsplit("/natGateways/", 1)[0]
    nat["sku"] = {"name": sku}
    nat["properties"].setdefault(where, []).append({"id": f"{base}/publicIPAddresses/ng-ip6"})
    resources.append({"type": "Microsoft.Network/publicIPAddresses", "name": "ng-ip6",
                      "location": "westeurope", "sku": {"name": "StandardV2"},
                      "id": f"{base}/publicIPAddresses/ng-ip6",
                      "properties": {"publicIPAddressVersion": "IPv6", "ipAddress": NAT6}})
    return resources


def _net(tmp: Path, sku: str = "StandardV2"):
    return build_network(resources_to_topology(_resources(tmp, sku), "t.json"))


@pytest.mark.parametrize("sku", ["StandardV2", "Standard"])
def test_unsolicited_inbound_to_the_ipv6_address_is_outbound_only(tmp_path, sku):
    net = _net(tmp_path, sku)
    nat6 = int(ipaddress.IPv6Address(NAT6))
    (six,) = compare(net, [Packet(-1, CLIENT6, nat6, TCP, 443, 40000, family=6)])
    (four,) = compare(net, [Packet(-1, int(ipaddress.IPv4Address("203.0.113.9")),
                                   int(ipaddress.IPv4Address("198.51.100.4")), TCP, 443,
                                   40000)])
    assert (six.disposition, six.deciding) == (D.NAT_OUTBOUND_ONLY, outbound_only_label("ng"))
    assert (six.disposition, six.deciding) == (four.disposition, four.deciding)
    assert six.hops[-1]["result"] == "OutboundOnly"


def test_the_reply_to_a_translated_flow_still_comes_in(tmp_path):
    net = _net(tmp_path)
    (out,) = compare(net, [Packet(0, A6, CLIENT6, TCP, 50000, 443, family=6)])
    public, _dst, sport, _dport = out.out
    assert public == int(ipaddress.IPv6Address(NAT6))
    _first, reply = compare(net, [Packet(0, A6, CLIENT6, TCP, 50000, 443, family=6),
                                  Packet(-1, CLIENT6, public, TCP, 443, sport, family=6)])
    assert (reply.disposition, reply.nodes) == (D.DELIVERED, [0])


@pytest.mark.parametrize("where", ["publicIpAddressesV6", "publicIpAddresses"])
def test_a_standard_nat_gateway_with_ipv6_is_a_check_error(tmp_path, where, capsys):
    topology = resources_to_topology(_resources(tmp_path, "Standard", where), "t.json")
    (finding,) = [f for f in validate(topology) if f.code == NAT_GATEWAY_IPV6_SKU]
    assert finding.severity == "error" and "ng-ip6" in finding.message
    v2 = resources_to_topology(_resources(tmp_path, "StandardV2"), "t.json")
    assert not [f for f in validate(v2) if f.code == NAT_GATEWAY_IPV6_SKU]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_resources(tmp_path, "Standard", where)))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert (f"{NAT_GATEWAY_IPV6_SKU}: NAT gateway 'ng' is Standard SKU and has IPv6 public IPs "
            "or prefixes (ng-ip6): only a StandardV2 NAT gateway supports IPv6.") in " ".join(
                out.split())
    assert out.rstrip().endswith("INVALID")
