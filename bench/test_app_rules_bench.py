"""Replay through Azure Firewall application rules (issue 12) vs the same capture through network
rules, in the same run.

One capture: 4,000 TCP flows of 6 packets (SYN, SYN-ACK, ACK, first payload, server ACK, FIN)
from app1 through the hub firewall to db1 (tests/engine/test_firewall_policy.py's hub and
spokes); half of them HTTPS to 443 with a TLS 1.2 ClientHello (a third with an ML-KEM-sized key
share, spread over two segments), half TLS to 8443. Two policies:
- `application`: a network rule allows 8443; application rules (5 FQDN rules, one wildcard)
  decide the 443 half by SNI;
- `network`: network rules allow 443 and 8443 (the same verdicts by addresses and ports only).
Each replay is of the whole capture (`Emulator.replay`, keep=False) with a fresh emulator. The
two variants alternate within each round (application then network, then the other way round)
so that load swings on a shared machine hit both; the benchmark's own figures are per round
(both replays, ops = 2 x packets), `extra_info` holds each variant's mean and min seconds and
the ratio network / application time (= application / network packets/s). Target: >= 0.8."""

from __future__ import annotations

import statistics
import struct
import time
from dataclasses import replace
from pathlib import Path

import pytest

import dataplane
from dataplane.engine import Emulator
from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import Where

HUB_AND_SPOKES = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
  spoke1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {app: {prefix: 10.1.1.0/24, route_table: to-fw}}}
  spoke2: {region: westeurope, address_space: [10.2.0.0/16], subnets: {db: {prefix: 10.2.1.0/24, route_table: to-fw}}}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
  - {between: [hub, spoke2], allow_forwarded_traffic: true}
route_tables:
  to-fw: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}]}
firewalls:
  fw: {subnet: hub/AzureFirewallSubnet, ip: 10.0.1.4, collections: []}
vms:
  app1: {subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D2s_v3}
  db1: {subnet: spoke2/db, ip: 10.2.1.4, size: Standard_D2s_v3}
"""
RG = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/"
FLOWS = 4000
APP, DB = bytes([10, 1, 1, 4]), bytes([10, 2, 1, 4])
TARGETS = ["www.contoso.com", "login.contoso.com", "*.blob.core.windows.net", "api.fabrikam.com",
           "cdn.example.org"]


def _net(name: str, port: str) -> dict:
    return {"ruleType": "NetworkRule", "name": name, "ipProtocols": ["TCP"],
            "sourceAddresses": ["10.1.0.0/16"], "destinationAddresses": ["10.2.0.0/16"],
            "destinationPorts": [port]}


def _policy(with_apps: bool) -> dict:
    nets = [_net("alt", "8443")] + ([] if with_apps else [_net("tls", "443")])
    collections = [{"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "nets",
                    "priority": 100, "action": {"type": "Allow"}, "rules": nets}]
    if with_apps:
        collections.append({
            "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web",
            "priority": 200, "action": {"type": "Allow"},
            "rules": [{"ruleType": "ApplicationRule", "name": f"r{i}",
                       "sourceAddresses": ["10.1.0.0/16"], "targetFqdns": [t],
                       "protocols": [{"protocolType": "Https", "port": 443}]}
                      for i, t in enumerate(TARGETS)]})
    name = "apps" if with_apps else "nets"
    return {"type": "Microsoft.Network/firewallPolicies", "name": name, "id": RG + name,
            "location": "westeurope", "properties": {"ruleCollectionGroups": [
                {"name": "g", "properties": {"priority": 100, "ruleCollections": collections}}]}}


def _hello(i: int) -> bytes:
    name = (f"host{i}.blob.core.windows.net" if i % 2 else TARGETS[i % 4 // 2]).encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    key_share = bytes(36 + (i % 3 == 0) * 1184)
    ext = struct.pack("!HH", 51, len(key_share)) + key_share + struct.pack("!HH", 0, len(sni)) + sni
    body = (b"\x03\x03" + bytes(32) + b"\x20" + bytes(32) + struct.pack("!H", 32) + bytes(32)
            + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int,
            data: bytes = b"") -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0x4000, 64, 6, 0, src, dst)
    return ip + tcp + data


def capture(path: Path) -> int:
    """The pcap (LINKTYPE_RAW); returns its packet count."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    n = 0
    for i in range(FLOWS):
        sport, dport = 20000 + i, 443 if i % 2 else 8443
        payload = _hello(i // 2)
        segments = [payload] if len(payload) <= 1460 else [payload[:1460], payload[1460:]]
        frames = [_packet(APP, DB, sport, dport, 0, 0x02), _packet(DB, APP, dport, sport, 0, 0x12),
                  _packet(APP, DB, sport, dport, 1, 0x10)]
        seq = 1
        for seg in segments:
            frames.append(_packet(APP, DB, sport, dport, seq, 0x18, seg))
            seq += len(seg)
        frames += [_packet(DB, APP, dport, sport, 1, 0x10), _packet(APP, DB, sport, dport, seq, 0x11)]
        for f in frames:
            us = 20 * n  # 20 µs apart: within a D2s_v3's egress cap, no shaper drops
            out.append(struct.pack("<IIII", us // 10**6, us % 10**6, len(f), len(f)) + f)
            n += 1
    path.write_bytes(b"".join(out))
    return n


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, int, dict]:
    return build(tmp_path_factory.mktemp("apprules"))


def build(base: Path) -> tuple[Path, int, dict]:
    """The capture (written into `base`), its packet count and the two topologies by name
    ("application", "network"); shared by the benchmark and bench/callgrind_app_rules.py."""
    (base / "t.yaml").write_text(HUB_AND_SPOKES)
    topology = dataplane.load(str(base / "t.yaml"))
    (fw,) = topology.azure_firewalls
    topologies = {}
    for with_apps in (True, False):
        raw = _policy(with_apps)
        policy = firewall_policy(raw, Where(raw, "bench"))
        topologies["application" if with_apps else "network"] = replace(
            topology, firewall_policies=(policy,),
            azure_firewalls=(replace(fw, firewall_policy=policy.id),))
    n = capture(base / "flows.pcap")
    return base / "flows.pcap", n, topologies


def _replay(path: Path, topology) -> dict:
    result = Emulator(topology).replay(path, auto_map=False, keep=False, progress=False)
    return result.counts()


def test_replay_half_https_alternating(benchmark, setup) -> None:
    path, n, topologies = setup
    seconds: dict[str, list[float]] = {"application": [], "network": []}
    orders = [("application", "network"), ("network", "application")]

    def one_round() -> None:
        for rules in orders[len(seconds["network"]) % 2]:
            start = time.perf_counter()
            counts = _replay(path, topologies[rules])
            seconds[rules].append(time.perf_counter() - start)
            # the same verdicts both ways: every packet delivered (443 by SNI in `application`)
            assert counts.get("DELIVERED") == n, (rules, counts)

    benchmark.extra_info.update(ops=2 * n, unit="packet")
    benchmark.pedantic(one_round, rounds=9, iterations=1, warmup_rounds=1)
    app, net = (seconds[k][1:] for k in ("application", "network"))  # without the warm-up
    benchmark.extra_info.update(
        application_mean_s=statistics.mean(app), application_min_s=min(app),
        network_mean_s=statistics.mean(net), network_min_s=min(net),
        ratio_by_mean=statistics.mean(net) / statistics.mean(app),
        ratio_by_min=min(net) / min(app))
