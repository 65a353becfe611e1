"""IPv6 fragments of real captures decided end to end (issue 17, "Done when"): the first
fragment goes through the IPv6 stages, its later fragments follow it (engine/fragments.py).

The topology holds the captures' own addresses (no address map needed):
one dual-stack VNet, a /64 subnet per captured IPv6 host, an NSG admitting DNS.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.load.scenario import load_scenario_text

CLIENT_A = "2001:470:1f11:81f:d138:5f55:6d4:1fe2"  # zeek__ipv6-fragmented-dns
CLIENT_B = "2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb"  # zeek__dns-edns-ecs
RESOLVER_B = "2001:470:765b::a25:53"
SCENARIO = f"""
vnets:
  v:
    region: westeurope
    address_space: [10.0.0.0/16, '2001:470:1f11:81f::/64', '2001:470:1f0b:16b0::/64',
                    '2001:470:765b::/64']
    subnets:
      a: {{prefix: '2001:470:1f11:81f::/64', nsg: dns}}
      b: {{prefix: '2001:470:1f0b:16b0::/64', nsg: dns}}
      r: {{prefix: '2001:470:765b::/64', nsg: dns}}
nsgs:
  dns:
    rules:
      - {{name: dns-replies-in, priority: 100, direction: Inbound, access: Allow, protocol: Udp,
         source: '*', destination: '*', source_ports: '53'}}
      - {{name: dns-in, priority: 110, direction: Inbound, access: Allow, protocol: Udp,
         source: '*', destination: '*', destination_ports: '53'}}
public_ips:  # IPv6 Internet only when requested (ipv6-overview): each host has a public IPv6
  a-ip6: {{version: IPv6}}
  b-ip6: {{version: IPv6}}
  r-ip6: {{version: IPv6}}
vms:
  client-a: {{subnet: v/a, ip: '{CLIENT_A}', public_ip: a-ip6}}
  client-b: {{subnet: v/b, ip: '{CLIENT_B}', public_ip: b-ip6}}
  resolver-b: {{subnet: v/r, ip: '{RESOLVER_B}', public_ip: r-ip6}}
"""
NOT_BY_STAGES = {D.UNSUPPORTED.name, D.UNMAPPED.name, D.UNPARSED.name}


@pytest.fixture(scope="module")
def dual_stack():
    return load_scenario_text(SCENARIO)


@pytest.fixture
def ipv6_engine(dual_stack):
    return dual_stack


def _capture(real_dir: Path, name: str) -> Path:
    return real_dir / "pcap" / name


def test_ipv6_fragmented_dns(ipv6_engine, real_dir: Path):
    """Datagram 0x1: only its last fragment (offset 362) was captured -> one
    FRAGMENT_OUT_OF_ORDER; datagram 0x2: three fragments in order, decided by the stages on
    its first fragment and followed by the other two."""
    em = Emulator(ipv6_engine)
    out = em.replay(_capture(real_dir, "zeek__ipv6-fragmented-dns.pcap"))
    rows = out.rows()
    assert out.check_accounting()
    assert Counter(r["disposition"] for r in rows)[D.FRAGMENT_OUT_OF_ORDER.name] == 1
    assert not NOT_BY_STAGES & {r["disposition"] for r in rows}
    chain = [i for i, r in enumerate(rows) if r["status"] == "NON_FIRST_FRAGMENT"
             and r["disposition"] != D.FRAGMENT_OUT_OF_ORDER.name]
    assert len(chain) == 2
    first = rows[chain[0] - 1]
    for i in chain:
        assert (rows[i]["disposition"], rows[i]["deciding"], rows[i]["hops"]) == (
            first["disposition"], first["deciding"], first["hops"])
    assert first["deciding"]
    assert em.batch.fragments.counts["completed"] == 1


def test_dns_edns_ecs_ipv6_rows_are_decided(ipv6_engine, real_dir: Path):
    """zeek__dns-edns-ecs: its 43 IPv6 packets are decided by the stages (none UNSUPPORTED;
    sources that are no emulated NIC enter at the Internet edge), its 4 fragmented IPv4
    datagrams open and complete their chains."""
    em = Emulator(ipv6_engine)
    out = em.replay(_capture(real_dir, "zeek__dns-edns-ecs.pcap"))
    assert out.check_accounting()
    c = out.columns
    v6 = [r for i, r in enumerate(out.rows()) if int(c["family"][i]) == 6]
    assert len(v6) == 43
    assert D.UNSUPPORTED.name not in {r["disposition"] for r in v6}
    assert em.batch.fragments.counts["opened"] == 4
