"""Instance public IPs inbound and outbound access in the engine (engine/stages/public_edge.py),
both forms. From Microsoft's pages:
* "Public IP addresses" (https://learn.microsoft.com/azure/virtual-network/ip-services/
  public-ip-addresses, "SKU"): Standard is closed to inbound until an NSG allows it, Basic is open;
* "Network security groups" (network-security-groups-overview): NSGs judge inbound traffic after
  Azure translates the public address to the private one; return traffic of an allowed flow;
* "Default outbound access in Azure" (default-outbound-access): a private subnet without an
  explicit outbound method has no Internet access; a NAT gateway gives it."""

from __future__ import annotations

import ipaddress

from batch_harness import assert_batch_matches_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.load.scenario import load_scenario_text


def _topology(sku: str = "Standard", nsg: str = "", private: bool = False, nat: bool = False):
    nsgs = ""
    if nsg:
        nsgs = f"""
nsgs:
  web-nsg: {{rules: [{{name: allow, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
                      source: Internet, destination: '*', destination_ports: '{nsg}'}}]}}
"""
    subnet = "{prefix: 10.0.1.0/24" + (", nsg: web-nsg" if nsg else "") + "}"
    private_subnet = "{prefix: 10.0.2.0/24, default_outbound_access: false" + (
        ", nat_gateway: nat" if nat else "") + "}"
    return load_scenario_text(f"""
vnets:
  v: {{region: westeurope, address_space: 10.0.0.0/16, subnets: {{web: {subnet}, db: {private_subnet}}}}}
{nsgs}
public_ips:
  web-ip: {{sku: {sku}, address: 20.0.0.10}}
  nat-ip: {{address: 20.0.0.20}}
nat_gateways:
  nat: {{public_ips: [nat-ip]}}
vms:
  web: {{subnet: v/web, ip: 10.0.1.4, public_ip: web-ip}}
  db: {{subnet: v/db, ip: 10.0.2.4}}
""")


def _from_internet(emulator: Emulator, dport: int = 443):
    return emulator.send(IP(src="198.51.100.7", dst="20.0.0.10") / TCP(sport=50000, dport=dport))


def test_standard_without_nsg_is_closed() -> None:
    out = _from_internet(Emulator(_topology("Standard")))
    assert out.dispositions() == [D.PUBLIC_IP_CLOSED]
    assert out.row(0)["deciding"] == "public IP web-ip (Standard): closed to inbound, no NSG allows it"


def test_standard_opens_with_an_nsg_rule_and_is_dnated() -> None:
    emulator = Emulator(_topology("Standard", nsg="443"))
    out = _from_internet(emulator)
    assert out.dispositions() == [D.DELIVERED]
    assert (out.row(0)["dst"], out.row(0)["final_dst"]) == ("20.0.0.10", "10.0.1.4")
    # the NSG still decides other ports (its default DenyAllInBound)
    assert _from_internet(emulator, dport=22).dispositions() == [D.DENIED_IN]


def test_a_capture_after_translation_meets_the_same_closed_rule() -> None:
    """A capture taken at the VM holds the private address (NSGs run after inbound NAT): a
    Standard public IP without an NSG is closed to it too; an NSG rule or Basic opens it."""
    packet = IP(src="198.51.100.7", dst="10.0.1.4") / TCP(sport=50000, dport=443)
    closed = Emulator(_topology("Standard")).send(packet)
    assert closed.dispositions() == [D.PUBLIC_IP_CLOSED]
    assert closed.row(0)["deciding"] == ("public IP web-ip (Standard): closed to inbound, "
                                         "no NSG allows it")
    assert Emulator(_topology("Standard", nsg="443")).send(packet).dispositions() == [
        D.DELIVERED]
    assert Emulator(_topology("Basic")).send(packet).dispositions() == [D.DELIVERED]


def test_basic_is_open_without_nsg() -> None:
    out = _from_internet(Emulator(_topology("Basic")))
    assert out.dispositions() == [D.DELIVERED]
    assert out.row(0)["final_dst"] == "10.0.1.4"


def test_the_reply_leaves_from_the_public_address() -> None:
    emulator = Emulator(_topology("Basic"))
    _from_internet(emulator)
    reply = emulator.send(IP(src="10.0.1.4", dst="198.51.100.7") / TCP(sport=443, dport=50000),
                          source="web")
    assert reply.dispositions() == [D.EXITS_INTERNET]
    assert reply.row(0)["final_src"] == "20.0.0.10"


def test_a_private_subnet_without_outbound_method_drops_new_internet_flows() -> None:
    out = Emulator(_topology()).send(IP(src="10.0.2.4", dst="8.8.8.8") / TCP(sport=40000, dport=443),
                                     source="db")
    assert out.dispositions() == [D.NO_OUTBOUND_ACCESS]
    assert "subnet db is private" in out.row(0)["deciding"]


def test_a_private_subnet_with_a_nat_gateway_reaches_the_internet() -> None:
    out = Emulator(_topology(nat=True)).send(
        IP(src="10.0.2.4", dst="8.8.8.8") / TCP(sport=40000, dport=443), source="db")
    assert out.dispositions() == [D.EXITS_INTERNET]


IPS = [int(ipaddress.IPv4Address(a)) for a in
       ("10.0.1.4", "10.0.2.4", "20.0.0.10", "198.51.100.7", "8.8.8.8")]
flows = st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from([6, 17]),
                  st.sampled_from([443, 50000]), st.sampled_from([443, 50000]),
                  st.sampled_from([0, 0, 1]))


@settings(max_examples=40, deadline=None)
@given(sku=st.sampled_from(["Standard", "Basic"]), nsg=st.sampled_from(["", "443"]),
       nat=st.booleans(), pkts=st.lists(flows, min_size=1, max_size=30), split=st.integers(1, 30))
def test_reference_equals_batch_at_the_public_edge(sku, nsg, nat, pkts, split) -> None:
    net = Emulator(_topology(sku, nsg, nat=nat)).net
    assert_batch_matches_reference(net, pkts, split)


def test_standardv2_is_read_as_standard_with_the_assumption_printed() -> None:
    """A StandardV2 public IP (the SKU StandardV2 NAT gateways take: "Azure NAT Gateway SKUs",
    https://learn.microsoft.com/azure/nat-gateway/nat-sku) loads (it was refused) and, under
    assumption public-ip-standardv2, is closed to inbound like Standard until an NSG allows it."""
    closed = Emulator(_topology("StandardV2"))
    out = _from_internet(closed)
    assert out.dispositions() == [D.PUBLIC_IP_CLOSED]
    # the label names the rule applied (Standard's), as the assumption says
    assert out.row(0)["deciding"] == ("public IP web-ip (Standard): closed to inbound, no NSG "
                                      "allows it")
    assert any(a.startswith("public-ip-standardv2: ") for a in closed.assumptions())
    assert not any(a.startswith("public-ip-standardv2")
                   for a in Emulator(_topology("Standard")).assumptions())
    opened = _from_internet(Emulator(_topology("StandardV2", nsg="443")))
    assert opened.dispositions() == [D.DELIVERED]
