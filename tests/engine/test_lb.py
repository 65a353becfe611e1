"""Internal load balancers (issue 5): frontend DNAT with backend port, HA ports ILB as the next
hop of a UDR in front of NVAs, 5-tuple hash, Basic SKU across global peering (docs/azure-behaviour.md
§4.4), the AzureLoadBalancer probe source; reference == batch on an ILB topology."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from test_differential import _compare  # the differential harness (batch == reference)

from dataplane import watcher
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.stages.loadbalancer import flow_hash, flow_hash_np

LB_TOPO = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {nva: 10.0.1.0/24, lb: 10.0.2.0/24, shared: 10.0.3.0/24,
              locked: {prefix: 10.0.4.0/24, nsg: locked-nsg}}
  spoke1:
    region: westeurope
    address_space: [10.1.0.0/16]
    subnets: {web: {prefix: 10.1.1.0/24, route_table: rt1}}
  spoke2:
    region: eastus
    address_space: [10.2.0.0/16]
    subnets: {app: {prefix: 10.2.1.0/24, route_table: rt2, nsg: app-nsg}}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
  - {between: [hub, spoke2], allow_forwarded_traffic: true}
nsgs:
  app-nsg:
    rules:
      - {name: allow-8080, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: VirtualNetwork, destination: "*", destination_ports: "8080"}
      - {name: deny-80, priority: 110, direction: Inbound, access: Deny, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "80"}
  locked-nsg:
    rules:
      - {name: deny-all-in, priority: 4000, direction: Inbound, access: Deny, protocol: "*",
         source: "*", destination: "*"}
route_tables:
  rt1: {routes: [{name: to-spoke2-via-ilb, prefix: 10.2.0.0/16, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.2.100}]}
  rt2: {routes: [{name: to-spoke1-via-ilb, prefix: 10.1.0.0/16, next_hop: VirtualAppliance,
                  next_hop_ip: 10.0.2.100}]}
vms:
  nva1: {subnet: hub/nva, ip: 10.0.1.4, size: Standard_D2s_v3, ip_forwarding: true}
  nva2: {subnet: hub/nva, ip: 10.0.1.5, size: Standard_D2s_v3, ip_forwarding: true}
  jumpbox: {subnet: hub/shared, ip: 10.0.3.4, size: Standard_D2s_v3}
  vault: {subnet: hub/locked, ip: 10.0.4.4, size: Standard_D2s_v3}
  web1: {subnet: spoke1/web, ip: 10.1.1.4, size: Standard_D2s_v3}
  app1: {subnet: spoke2/app, ip: 10.2.1.4, size: Standard_D2s_v3}
  app2: {subnet: spoke2/app, ip: 10.2.1.5, size: Standard_D2s_v3}
load_balancers:
  nva-ilb: {sku: Standard, frontend: {subnet: hub/lb, ip: 10.0.2.100}, backends: [nva1, nva2],
            rules: [{name: ha-ports, protocol: All, frontend_port: 0, backend_port: 0}]}
  app-ilb: {sku: Standard, frontend: {subnet: spoke2/app, ip: 10.2.1.100},
            backends: [app1, app2],
            rules: [{name: http, protocol: Tcp, frontend_port: 80, backend_port: 8080}]}
  basic-ilb: {sku: Basic, frontend: {subnet: hub/lb, ip: 10.0.2.200}, backends: [jumpbox],
              rules: [{name: https, protocol: Tcp, frontend_port: 443, backend_port: 443}]}
  empty-ilb: {sku: Standard, frontend: {subnet: hub/lb, ip: 10.0.2.201}, backends: [],
              rules: [{name: any, protocol: All, frontend_port: 0, backend_port: 0}]}
"""


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    import dataplane

    path = tmp_path_factory.mktemp("lb") / "lb.yaml"
    path.write_text(LB_TOPO)
    return dataplane.load(str(path))


def _ip(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


def send(em, vm, dst, dport, sport=40000, proto=TCP, t=None):
    src = _ip(em.address_of(vm)) if vm else "168.63.129.16"
    return em.send(IP(src=src, dst=dst) / proto(sport=sport, dport=dport), source=vm,
                   times_ns=None if t is None else [t])


def path(out, i=0):
    return out.row(i)["hops"].split(" > ")


def test_frontend_dnat_to_backend_port_and_the_nsg_sees_it(topo):
    em = Emulator(topo)
    seen = set()
    for sport in range(40000, 40032):
        out = send(em, "jumpbox", "10.2.1.100", 80, sport)
        row = out.row(0)
        # app-nsg denies port 80 but allows 8080: delivery proves the DNAT to backendPort
        assert row["disposition"] == "DELIVERED" and row["deciding"] == "lb app-ilb/http"
        backend = path(out)[-1]
        expected = ["app1", "app2"][flow_hash(em.address_of("jumpbox"),
                                              int(ipaddress.IPv4Address("10.2.1.100")), 6,
                                              sport, 80) % 2]
        assert backend == expected
        seen.add(backend)
    assert seen == {"app1", "app2"}  # the hash spreads flows over the pool
    out = watcher.explain(topo, "jumpbox", "10.2.1.100:80")
    lb = next(h for h in out["hops"] if h["step"] == "loadbalancer")
    assert lb["translated"]["destinationPort"] == 8080 and lb["rule"] == "http"
    assert out["disposition"] == "Delivered" and "app-ilb" in out["reason"]
    assert any(a.startswith("lb-hash") for a in out["assumptions"])


def test_no_rule_no_backend_and_basic_sku_across_global_peering(topo):
    em = Emulator(topo)
    assert send(em, "jumpbox", "10.2.1.100", 443).dispositions() == [D.LB_NO_RULE]
    assert send(em, "jumpbox", "10.2.1.100", 80, proto=UDP).dispositions() == [D.LB_NO_RULE]
    assert send(em, "jumpbox", "10.0.2.201", 22).dispositions() == [D.LB_NO_BACKEND]
    # Basic frontend in West Europe: reachable over regional peering, not over global
    out = send(em, "web1", "10.0.2.200", 443)
    assert out.dispositions() == [D.DELIVERED] and path(out) == ["web1", "jumpbox"]
    out = send(em, "app1", "10.0.2.200", 443)
    assert out.dispositions() == [D.LB_BASIC_GLOBAL]
    assert "Basic SKU" in out.row(0)["deciding"]
    ex = watcher.explain(topo, "app1", "10.0.2.200:443")
    assert ex["reason"] == "BasicLoadBalancerAcrossGlobalPeering"


def test_ha_ports_ilb_as_udr_next_hop_in_front_of_nvas_is_symmetric(topo):
    em = Emulator(topo)
    used = set()
    for sport in range(50000, 50016):
        em.reset()  # each send() starts its clock at 0: fresh shaper clocks per flow
        out = send(em, "web1", "10.2.1.4", 8080, sport)
        assert out.dispositions() == [D.DELIVERED]
        hops = path(out)
        assert hops[0] == "web1" and hops[-1] == "app1" and hops[1] in ("nva1", "nva2")
        assert out.row(0)["deciding"] == "route System 10.2.0.0/16 VNetGlobalPeering"  # NVA
        back = em.send(IP(src="10.2.1.4", dst="10.1.1.4") / TCP(sport=8080, dport=sport),
                       source="app1")
        assert back.dispositions() == [D.DELIVERED]
        assert path(back)[1] == hops[1]  # the reply crosses the same NVA (flow symmetry)
        used.add(hops[1])
    assert used == {"nva1", "nva2"}
    # HA ports: every protocol and port goes through; the destination is not rewritten
    em.reset()
    out = send(em, "web1", "10.2.1.5", 8080, proto=TCP)
    assert out.row(0)["dst"] == "10.2.1.5" and path(out)[-1] == "app2"


def test_probe_source_allowed_by_default_rule_unless_denied(topo):
    em = Emulator(topo)
    out = em.send(IP(src="168.63.129.16", dst="10.2.1.4") / TCP(sport=60000, dport=8080))
    assert out.dispositions() == [D.DELIVERED]
    assert out.row(0)["deciding"] == "probe AzureLoadBalancer 168.63.129.16"
    # a custom deny-all at priority 4000 beats AllowAzureLoadBalancerInBound (65001)
    out = em.send(IP(src="168.63.129.16", dst="10.0.4.4") / TCP(sport=60000, dport=80))
    assert out.dispositions() == [D.DENIED_IN]
    assert out.row(0)["deciding"] == "nsg locked-nsg/securityRules/deny-all-in"
    # port 80 is denied by app-nsg before the default rule is reached
    out = em.send(IP(src="168.63.129.16", dst="10.2.1.4") / TCP(sport=60000, dport=80))
    assert out.dispositions() == [D.DENIED_IN]


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                          st.sampled_from([1, 6, 17, 50]), st.integers(0, 65535),
                          st.integers(0, 65535)), min_size=1, max_size=30))
def test_hash_python_equals_numpy_and_is_symmetric(rows):
    a = np.array(rows, dtype=np.int64)
    h = flow_hash_np(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])
    assert h.tolist() == [flow_hash(*r) for r in rows]
    assert [flow_hash(s, d, p, sp, dp) for s, d, p, sp, dp in rows] == \
        [flow_hash(d, s, p, dp, sp) for s, d, p, sp, dp in rows]


LB_IPS = [int(ipaddress.IPv4Address(a)) for a in (
    "10.0.1.4", "10.0.1.5", "10.0.3.4", "10.0.4.4", "10.1.1.4", "10.2.1.4", "10.2.1.5",
    "10.2.1.100", "10.0.2.100", "10.0.2.200", "10.0.2.201", "168.63.129.16", "8.8.8.8")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 6), st.sampled_from(LB_IPS), st.sampled_from(LB_IPS),
                          st.sampled_from([6, 17, 1]), st.sampled_from([80, 8080, 40000]),
                          st.sampled_from([22, 80, 443, 8080, 40000])),
                min_size=1, max_size=30))
def test_ilb_batch_equals_reference(topo, pkts):
    _compare(build_network(topo), pkts)
