"""Documented behaviours with scapy packets through the Emulator (docs/azure-behaviour.md §1-5, 9)."""

from __future__ import annotations

from scapy.layers.inet import ICMP, IP, TCP, UDP

from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.timing.latency import LatencyTable


def tcp(src, dst, dport, sport=40000, size=0):
    return IP(src=src, dst=dst) / TCP(sport=sport, dport=dport) / (b"x" * size)


def test_regional_vs_global_latency_exact(demo_topology):
    em = Emulator(demo_topology, nva_ns=0)
    r = em.send([tcp("10.1.1.4", "10.1.1.5", 443), tcp("10.1.1.4", "10.2.1.4", 1433)],
                times_ns=[0, 10**9])
    assert r.dispositions() == [D.DELIVERED, D.DELIVERED]
    lat = r.latencies().tolist()
    ser = [40 * 8 * 10**9 // 10**9, 40 * 8 * 10**9 // (2 * 10**9)]  # web1 1G, nva1 2G caps
    intra = em.params.intra_region_ns
    assert lat[0] == ser[0] + intra + ser[1] + intra  # regional peering = same as in a VNet
    global_one_way = LatencyTable().rtt_ns("westeurope", "eastus") // 2
    assert global_one_way == 85 * 1_000_000 // 2
    assert lat[1] == ser[0] + intra + ser[1] + global_one_way


def test_non_transitive_without_nva(make_topology):
    topo = make_topology("""
vnets:
  a: {region: westeurope, address_space: [10.0.0.0/16], subnets: {s: 10.0.1.0/24}}
  b: {region: westeurope, address_space: [10.1.0.0/16], subnets: {s: 10.1.1.0/24}}
  c: {region: westeurope, address_space: [10.2.0.0/16], subnets: {s: 10.2.1.0/24}}
peerings:
  - {between: [a, b]}
  - {between: [b, c]}
vms:
  x: {subnet: a/s, ip: 10.0.1.4, size: Standard_D2s_v3}
  y: {subnet: b/s, ip: 10.1.1.4, size: Standard_D2s_v3}
  z: {subnet: c/s, ip: 10.2.1.4, size: Standard_D2s_v3}
""")
    r = Emulator(topo).send([tcp("10.0.1.4", "10.1.1.4", 80), tcp("10.0.1.4", "10.2.1.4", 80)])
    assert r.dispositions()[0] == D.DELIVERED
    assert r.dispositions()[1] == D.NULL_ROUTED  # 10/8 None route: no transit through b


def _chain(make_topology, fwd: bool):
    return make_topology(f"""
vnets:
  hub: {{region: westeurope, address_space: [10.0.0.0/16], subnets: {{nva: 10.0.1.0/24}}}}
  s1: {{region: westeurope, address_space: [10.1.0.0/16], subnets: {{s: {{prefix: 10.1.1.0/24, route_table: rt}}}}}}
  s2: {{region: westeurope, address_space: [10.2.0.0/16], subnets: {{s: {{prefix: 10.2.1.0/24, route_table: rt}}}}}}
peerings:
  - {{vnet: hub, remote: s1, allow_forwarded_traffic: true}}
  - {{vnet: s1, remote: hub, allow_forwarded_traffic: true}}
  - {{vnet: hub, remote: s2, allow_forwarded_traffic: true}}
  - {{vnet: s2, remote: hub, allow_forwarded_traffic: {str(fwd).lower()}}}
route_tables:
  rt: {{routes: [{{name: spokes, prefix: 10.0.0.0/8, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}}]}}
vms:
  nva: {{subnet: hub/nva, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}}
  a: {{subnet: s1/s, ip: 10.1.1.4, size: Standard_D2s_v3}}
  b: {{subnet: s2/s, ip: 10.2.1.4, size: Standard_D2s_v3}}
""")


def test_service_chaining_with_and_without_forwarded_traffic(make_topology):
    ok = Emulator(_chain(make_topology, True)).send(tcp("10.1.1.4", "10.2.1.4", 80))
    assert ok.dispositions() == [D.DELIVERED]
    assert ok.row(0)["hops"] == "a > nva > b"
    blocked = Emulator(_chain(make_topology, False)).send(tcp("10.1.1.4", "10.2.1.4", 80))
    assert blocked.dispositions() == [D.FORWARDING_BLOCKED]
    assert blocked.row(0)["deciding"] == "peering hub->s2"


def test_gateway_transit(demo):
    r = demo.send(tcp("10.2.1.4", "192.168.10.1", 22))
    assert r.dispositions() == [D.EXITS_ON_PREMISES]
    assert r.row(0)["hops"] == "db1 > gateway hub-gw"


def test_nsg_deny_each_level_and_stateful_return(demo):
    r = demo.send([tcp("10.1.1.4", "10.0.2.4", 23),           # subnet NSG inbound deny
                   tcp("10.1.1.4", "10.2.1.4", 5432),          # db-nsg deny-vnet-in
                   tcp("10.1.1.4", "10.2.1.4", 40000, 443),    # reply before request: denied
                   tcp("10.2.1.4", "10.1.1.4", 443, 40000),    # db1 -> web1:443 allowed
                   tcp("10.1.1.4", "10.2.1.4", 40000, 443)])   # reply: established
    d = r.dispositions()
    assert d == [D.DENIED_IN, D.DENIED_IN, D.DENIED_IN, D.DELIVERED, D.DELIVERED]
    assert r.row(0)["deciding"] == "nsg shared-nsg/securityRules/deny-telnet"
    assert r.row(1)["deciding"] == "nsg db-nsg/securityRules/deny-vnet-in"


def test_outbound_nsg_deny(make_topology):
    topo = make_topology("""
vnets:
  a: {region: westeurope, address_space: [10.0.0.0/16], subnets: {s: {prefix: 10.0.1.0/24, nsg: n}}}
nsgs:
  n: {rules: [{name: no-udp-out, priority: 100, direction: Outbound, access: Deny, protocol: Udp, source: "*", destination: "*"}]}
vms:
  x: {subnet: a/s, ip: 10.0.1.4, size: Standard_D2s_v3}
  y: {subnet: a/s, ip: 10.0.1.5, size: Standard_D2s_v3}
""")
    r = Emulator(topo).send([IP(src="10.0.1.4", dst="10.0.1.5") / UDP(dport=53),
                             IP(src="10.0.1.4", dst="10.0.1.5") / ICMP()])
    assert r.dispositions() == [D.DENIED_OUT, D.DELIVERED]
    assert r.row(0)["deciding"] == "nsg n/securityRules/no-udp-out"


def test_spoofing_and_ip_forwarding(demo):
    r = demo.send([tcp("10.1.1.4", "10.0.2.4", 80), tcp("10.1.1.4", "10.0.2.4", 80)],
                  source=["web2", "nva1"])
    assert r.dispositions() == [D.SPOOFED, D.DELIVERED]


def test_unmapped_source(demo):
    assert demo.send(tcp("1.2.3.4", "10.0.2.4", 80)).dispositions() == [D.UNMAPPED]


def test_routing_loop(make_topology):
    topo = make_topology("""
vnets:
  a: {region: westeurope, address_space: [10.0.0.0/16], subnets: {s1: {prefix: 10.0.1.0/24, route_table: r1}, s2: {prefix: 10.0.2.0/24, route_table: r2}, s3: 10.0.3.0/24}}
route_tables:
  r1: {routes: [{name: to2, prefix: 10.0.9.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.4}]}
  r2: {routes: [{name: to1, prefix: 10.0.9.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}]}
vms:
  n1: {subnet: a/s1, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}
  n2: {subnet: a/s2, ip: 10.0.2.4, size: Standard_D2s_v3, ip_forwarding: true}
  x: {subnet: a/s3, ip: 10.0.3.4, size: Standard_D2s_v3}
""")
    r = Emulator(topo).send(tcp("10.0.1.4", "10.0.9.9", 80))
    assert r.dispositions() == [D.LOOP]


def test_burst_serialised_at_1gbps(demo):
    n, size = 200, 1460
    pkts = [tcp("10.0.2.4", "10.1.1.4", 443, size=size) for _ in range(n)]  # jumpbox: D2s_v3
    r = demo.send(pkts)
    assert set(r.dispositions()) == {D.DELIVERED}
    out = r.columns["time_out"]
    wire = len(bytes(pkts[0]))
    gap = wire * 8  # ns per packet at exactly 1 Gbit/s
    assert (out[1:] - out[:-1]).tolist() == [gap] * (n - 1)
    assert int(out[-1] - out[0]) * 10**9 // ((n - 1) * wire * 8) == 10**9


def test_flow_query(demo):
    r = demo.send([tcp("10.1.1.4", "10.2.1.4", 1433)] * 3)
    ans = r.flow("web1", "db1", 1433, "tcp")
    assert ans.was_delivered and ans.packets == 3
    assert ans.max_latency_ns > 40_000_000
    assert r.check_accounting()
