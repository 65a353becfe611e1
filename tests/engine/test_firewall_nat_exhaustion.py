"""Azure Firewall SNAT port exhaustion (issue 11; engine/stages/firewall_nat.py, assumption
firewall-snat-port): "2,496 SNAT ports per public IP address configured per backend virtual
machine scale set instance" ("Scale SNAT ports with Azure NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway), counted per
(public IP, instance, protocol, destination IP:port) over live connection-table entries: a new
flow beyond it is FIREWALL_SNAT_EXHAUSTED; an entry idle past the timeout frees its port
(engine/conntrack.py, conntrack-idle). Reference == batch over random splits."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from test_conntrack_expiry import _compare
from test_firewall_nat import FW_PUBLIC, _hub

from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.stages import firewall_nat

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
APP1, GOOGLE = IP_("10.1.1.4"), IP_("8.8.8.8")


def _instance(net, sport: int, dst: int = GOOGLE, dport: int = 443) -> int:
    """The firewall instance app1's TCP flow from `sport` is on (the pool it draws from)."""
    nat = net.firewall_rules[0].nat
    return int(nat.instance_np(*(np.array([v]) for v in (APP1, dst, 6, sport, dport)))[0])


def test_the_pool_of_each_instance_fills_at_2496_flows(make_topology, tmp_path) -> None:
    """5,200 new flows from app1 to 8.8.8.8:443, all at once: each instance's pool of the one
    public IP gives 2,496 ports; each further flow of that instance is dropped at the firewall
    naming the limit. Flows to another destination port still pass (ports are per
    destination). Replayed in batches of 700 and 65,536: the same answers."""
    from scapy.utils import wrpcap

    topology = _hub(make_topology)
    net = build_network(topology, caps=False)
    sports = list(range(10000, 15200))
    packets = [IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=s, dport=443) for s in sports]
    packets.append(IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=10000, dport=1433))
    expected, seen = [], {0: 0, 1: 0}
    for s in sports:
        seen[_instance(net, s)] += 1
        expected.append("EXITS_INTERNET" if seen[_instance(net, s)] <= 2496 else
                        "FIREWALL_SNAT_EXHAUSTED")
    expected.append("EXITS_INTERNET")
    assert min(seen.values()) > 2496  # both pools are exceeded by this traffic
    result = Emulator(topology).send(packets, source="app1")
    got = [D(int(d)).name for d in result.columns["disposition"]]
    assert got == expected
    drop = got.index("FIREWALL_SNAT_EXHAUSTED")
    row = result.row(drop)
    assert row["deciding"] == ("firewall fw/SNAT ports exhausted (2,496 per public IP per "
                               "instance to one destination IP:port)")
    assert row["hops"] == "app1 > fw"
    for i, p in enumerate(packets):
        p.time = 1000 + i * 1e-6
    wrpcap(str(tmp_path / "many.pcap"), packets)
    for size in (700, 65536):
        replayed = Emulator(topology).replay(tmp_path / "many.pcap", auto_map=False, batch=size)
        assert [D(int(d)).name for d in replayed.columns["disposition"]] == expected, size


def _same_pool_sports(net, k: int) -> list[int]:
    first = _instance(net, 20000)
    return [s for s in range(20000, 20200) if _instance(net, s) == first][:k]


def test_an_expired_flow_frees_its_port(make_topology, monkeypatch) -> None:
    """With one port per pool: a second flow on the same pool is dropped while the first is
    alive (its reply keeps it alive), passes once the first has been idle for more than the
    timeout; the first flow, sent again, re-opens its entry and keeps its port."""
    monkeypatch.setattr(firewall_nat, "SNAT_PORTS_PER_PUBLIC_IP", 1)
    net = build_network(_hub(make_topology), caps=False)
    a, b = _same_pool_sports(net, 2)
    ref = ReferencePipeline(net)
    (out_a,) = ref.run([Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, a, 443, 64, 0)])
    back = Packet(-1, GOOGLE, IP_(FW_PUBLIC), 6, 443, out_a.out[2], 64, 0)
    minute = 60 * 10**9
    timeline = [(back._replace(time_ns=3 * minute), "DELIVERED"),
                (Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, b, 443, 64, 5 * minute),
                 "FIREWALL_SNAT_EXHAUSTED"),  # a was touched 2 minutes ago
                (Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, b, 443, 64,
                        3 * minute + IDLE_TIMEOUT_NS + 1), "EXITS_INTERNET"),
                (Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, a, 443, 64, 20 * minute),
                 "EXITS_INTERNET")]  # a's entry is re-opened: it keeps its port
    walks = ref.run([p for p, _ in timeline])
    assert [w.disposition.name for w in walks] == [d for _, d in timeline]
    assert walks[1].deciding.startswith("firewall fw/SNAT ports exhausted (1 per public IP")
    assert [h.get("result") for h in walks[1].hops][-1] == "SnatPortsExhausted"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_exhaustion_reference_equals_batch(make_topology, data) -> None:
    """Random new flows on a few pools (limits 1-2, public and instance addresses), their
    replies, idle gaps around a tiny timeout, any batch split: same answers."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(firewall_nat, "SNAT_PORTS_PER_PUBLIC_IP", data.draw(st.integers(1, 2)))
        mp.setattr(firewall_nat, "INSTANCE_SNAT_PORTS", data.draw(st.integers(1, 2)))
        net = build_network(_hub(make_topology, "255.255.255.255/32"), caps=False)
        flows = []
        for sport in range(30000, 30006):
            for dst, dport in ((GOOGLE, 443), (IP_("10.2.1.4"), 1433)):
                f = (APP1, dst, 6, sport, dport)
                flows.append((*f, 0))
                (w,) = ReferencePipeline(net).run([Packet(net.ip_nic[APP1], *f)])
                s, d, sp, dp = w.out
                flows.append((d, s, 6, dp, sp, 0))  # its reply, to the translated tuple
        pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=40))
        gaps = data.draw(st.lists(st.integers(0, 4), min_size=len(pkts), max_size=len(pkts)))
        _compare(net, pkts, gaps, data.draw(st.integers(1, 40)), data.draw(st.integers(0, 6)))


def test_min_capacity_sets_the_instances_and_so_the_ports(make_topology, tmp_path) -> None:
    """autoscaleConfiguration.minCapacity ("Azure Firewall prescaling": capacity units always
    provisioned) is the instance count: 4 instances at the addresses after the firewall's,
    flows spread over the 4 and each instance's pool counted alone; a value outside 2-50 is
    one input error naming the property."""
    import json

    import dataplane
    from dataplane.errors import InputError

    def template(min_capacity) -> str:
        fw = {"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01",
              "name": "fw", "location": "westeurope", "properties": {
                  "ipConfigurations": [{"name": "c", "properties": {
                      "privateIPAddress": "10.0.1.4", "subnet": {"id": "[resourceId("
                      "'Microsoft.Network/virtualNetworks/subnets', 'hub', "
                      "'AzureFirewallSubnet')]"}}}],
                  "autoscaleConfiguration": {"minCapacity": min_capacity}}}
        vnet = {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01",
                "name": "hub", "location": "westeurope", "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [{"name": "AzureFirewallSubnet",
                                 "properties": {"addressPrefix": "10.0.1.0/26"}}]}}
        path = tmp_path / f"fw{min_capacity}.json"
        path.write_text(json.dumps({"$schema": "https://schema.management.azure.com/schemas/"
                                    "2019-04-01/deploymentTemplate.json#",
                                    "contentVersion": "1.0.0.0", "resources": [vnet, fw]}))
        return str(path)

    topology = dataplane.load(template(4))
    assert topology.azure_firewalls[0].min_capacity == 4
    nat = build_network(topology, caps=False).firewall_rules[0].nat
    assert nat.instances.tolist() == [IP_(f"10.0.1.{k}") for k in (5, 6, 7, 8)]
    spread = nat.instance_np(*(np.full(400, v) for v in (APP1, GOOGLE, 6)),
                             np.arange(20000, 20400), np.full(400, 443))
    assert sorted(set(spread.tolist())) == [0, 1, 2, 3]
    keys = {nat.snat_key(0, IP_("10.0.1.5"), APP1, GOOGLE, 6, s, 443)[2]
            for s in range(20000, 20050)}
    assert keys == {0, 1, 2, 3}
    with pytest.raises(InputError, match="autoscaleConfiguration.minCapacity"):
        dataplane.load(template(1))


def test_every_public_ip_and_instance_pair_draws_ports(make_topology) -> None:
    """Two public IPs on two instances give four pools of 2,496 ports ("2,496 SNAT ports per
    public IP address configured per backend virtual machine scale set instance"): flows to one
    destination spread over all four (address, instance) pairs. The new-user trial found the
    address and the instance chosen by the same hash digit (address k always on instance k),
    so a second public IP added no ports."""
    from dataclasses import replace

    nat = build_network(_hub(make_topology), caps=False).firewall_rules[0].nat
    assert nat.instances.size == 2
    two = replace(nat, public=np.array([IP_("198.19.0.1"), IP_("198.19.0.2")], np.int64))
    sports = np.arange(10000, 12000, dtype=np.int64)
    n = sports.size
    args = (np.full(n, APP1, np.int64), np.full(n, GOOGLE, np.int64), np.full(n, 6, np.int64),
            sports, np.full(n, 443, np.int64))
    address, _ = two.snat_np(np.ones(n, bool), *args)
    instance = two.instance_np(*args)
    pairs = {(int(a), int(i)) for a, i in zip(address, instance, strict=True)}
    assert pairs == {(a, i) for a in two.public.tolist() for i in (0, 1)}
