"""Run every variant of a spec and collect one row per variant.

Takes: a Spec (whatif/spec.py). Emits rows (plain dicts, JSON-ready; `_samples` holds the
latency samples for plots). Per variant (`evaluate`, a pure function of (spec, variant)):
1. the variant's topology (whatif/variants.py) and its own Emulator (its own compiled
   Program; dataplane/engine) with the variant's timing overrides;
2. path probes: one SYN per flow and the SYN-ACK back, far apart in time (no queueing):
   disposition, hops, one-way latencies -> RTT (+ the flow's extra_rtt_ms), the NVAs and
   gateways on the path, the peerings crossed;
3. the metrics, in order (METRICS; each a function of the Context, pluggable):
   cost (whatif/cost.py), throughput (whatif/tcp.py), latency (the packet pipeline: Poisson
   probe packets at each flow's rate through the same Emulator, queueing at the caps
   included; p50/p90/p99 per flow, drops by reason; or a capture replayed).
Determinism: probe arrivals come from numpy's generator seeded with (spec.seed, flow index),
the same in every variant (common random numbers) and on every process, so serial, local
parallel (concurrent.futures processes) and Dask runs give identical rows.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataplane.dispositions import PASSED as PASSED_DISPOSITIONS
from dataplane.dispositions import PASSED_CODES
from dataplane.errors import DataplaneError
from dataplane.timing.firewall_capacity import firewall_profile
from dataplane.whatif.cost import Pricing, monthly_bytes
from dataplane.whatif.spec import Spec, Variant
from dataplane.whatif.tcp import (
    completion_time_ns,
    gateway_cap_bps,
    mathis_bps,
    max_min_share,
    window_limit_bps,
)
from dataplane.whatif.variants import apply, flow_params, timing_overrides

PASSED = tuple(sorted(d.name for d in PASSED_DISPOSITIONS))


@dataclass
class PathInfo:
    disposition: str
    hops: list[str]
    one_way_ns: int
    rtt_ns: int
    sender: str | None
    resources: list[str]  # capacity names crossed: vm:NAME (sender, NVAs), gw:NAME, fw:NAME
    crossings: list[tuple[str, str, str, str]]  # (vnet a, region a, vnet b, region b)
    # the lowest single-TCP-connection figure of the Azure Firewalls crossed (bit/s)
    connection_cap_bps: float = math.inf


@dataclass
class Context:
    spec: Spec
    variant: Variant
    emulator: Any
    paths: dict[str, PathInfo]
    capacities: dict[str, float]
    row: dict[str, Any]
    samples: dict[str, list[float]] = field(default_factory=dict)


def _ms(ns: float) -> float:
    return round(ns / 1e6, 4)


def _mbps(bps: float) -> float:
    return round(bps / 1e6, 3) if math.isfinite(bps) else math.inf


def _packet(em: Any, src: str, dst: str, sport: int, dport: int, proto: str, length: int,
            flags: str = "") -> Any:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.packet import Raw

    s = em.net.nic_ip(em.net.nic_by_vm(src))
    d = em.address_of(dst)
    import ipaddress

    ip = IP(src=str(ipaddress.IPv4Address(s)), dst=str(ipaddress.IPv4Address(d)))
    l4 = TCP(sport=sport, dport=dport, flags=flags or "A") if proto == "tcp" else \
        UDP(sport=sport, dport=dport)
    pkt = ip / l4
    pad = length - len(pkt)
    # Raw IPv4 bytes, built once per flow: Emulator.send takes them as IP-layer frames
    # (linktype RAW) and scapy's per-packet build is the slow part of a probe run.
    return bytes(pkt / Raw(b"\0" * pad) if pad > 0 else pkt)


def _is_vm(em: Any, name: str) -> bool:
    return em.topology.find("virtual_machines", name) is not None


def probe_paths(ctx_spec: Spec, em: Any) -> tuple[dict[str, PathInfo], dict[str, float]]:
    net = em.net
    topo = em.topology
    pkts, times, sources = [], [], []
    gap = 1_000_000_000
    for i, f in enumerate(ctx_spec.flows):
        sport = 40000 + i
        pkts.append(_packet(em, f.src, f.dst, sport, f.port, f.protocol, 60, "S"))
        times.append(2 * i * gap)
        sources.append(f.src)
        if _is_vm(em, f.dst):
            pkts.append(_packet(em, f.dst, f.src, f.port, sport, f.protocol, 60, "SA"))
            times.append((2 * i + 1) * gap)
            sources.append(f.dst)
    result = em.send(pkts, source=sources, times_ns=times)
    rows = result.rows()
    em.reset()
    nvm = len(topo.virtual_machines)  # shaper slots after the VMs are firewalls (engine)
    caps: dict[str, float] = {f"vm:{n}": float(c) for n, c in
                              zip(net.vm_names[:nvm], net.vm_cap_bps[:nvm].tolist(),
                                  strict=True)}
    for gw in topo.virtual_network_gateways:
        caps[f"gw:{gw.name}"] = float(gateway_cap_bps(gw.sku))
    per_connection: dict[str, float] = {}
    for fw in topo.azure_firewalls:
        cap = firewall_profile(topo, fw).capacity
        caps[f"fw:{fw.name}"] = float(cap.aggregate_bps)
        per_connection[f"fw:{fw.name}"] = float(cap.single_connection_bps)
    vnets = topo.virtual_networks
    out: dict[str, PathInfo] = {}
    k = 0
    for f in ctx_spec.flows:
        fwd = rows[k]
        nodes = [int(x) for x in result.nodes[k] if x >= 0]
        k += 1
        rev = None
        if _is_vm(em, f.dst):
            rev = rows[k]
            k += 1
        ok = fwd["disposition"] in PASSED
        one_way = fwd["latency_ns"] if ok else -1
        back = rev["latency_ns"] if rev is not None and rev["disposition"] in PASSED else \
            one_way
        rtt = one_way + back + f.extra_rtt_ns if ok else -1
        sender = f.src
        res = [f"vm:{net.vm_names[net.node_vm[nodes[0]]]}"] if nodes and \
            net.node_vm[nodes[0]] >= 0 else []
        for n in nodes[1:]:
            kind = net.node_kind[n]
            if kind == "nic" and net.node_vm[n] >= 0 and n != nodes[-1]:
                res.append(f"vm:{net.vm_names[net.node_vm[n]]}")  # an NVA forwards it
            elif kind == "gateway":
                res.append(f"gw:{net.node_names[n].removeprefix('gateway ')}")
            elif kind == "firewall":
                res.append(f"fw:{net.node_names[n]}")
        crossings = []
        vn = [int(net.node_vnet[n]) for n in nodes]
        for a, b in zip(vn, vn[1:], strict=False):
            if a >= 0 and b >= 0 and a != b:
                crossings.append((vnets[a].name, vnets[a].location, vnets[b].name,
                                  vnets[b].location))
        out[f.name] = PathInfo(fwd["disposition"], fwd["hops"].split(" > "), one_way, rtt,
                               sender, res, crossings,
                               min([per_connection[r] for r in res if r in per_connection],
                                   default=math.inf))
    return out, caps


# -- metrics ------------------------------------------------------------------------------------

def metric_cost(ctx: Context) -> None:
    spec = ctx.spec
    pricing = Pricing(dict(spec.zones))
    total = 0.0
    for f in spec.flows:
        p = ctx.paths[f.name]
        volume = f.monthly_bytes if f.monthly_bytes is not None else (
            monthly_bytes(f.rate_bps, spec.hours_per_month) if f.rate_bps else 0.0)
        if p.disposition not in PASSED:
            volume = 0.0
        per_gb = sum(pricing.crossing_usd_per_gb(ra, rb) for _, ra, _, rb in p.crossings)
        usd = volume / 1e9 * per_gb
        total += usd
        ctx.row[f"{f.name}.peerings"] = " ; ".join(
            f"{a}->{b} ({'global' if pricing.is_global(ra, rb) else 'regional'})"
            for a, ra, b, rb in p.crossings)
        ctx.row[f"{f.name}.monthly_gb"] = round(volume / 1e9, 3)
        ctx.row[f"{f.name}.usd_per_gb"] = round(per_gb, 4)
        ctx.row[f"{f.name}.monthly_usd"] = round(usd, 2)
    ctx.row["monthly_cost_usd"] = round(total, 2)


def metric_throughput(ctx: Context) -> None:
    spec = ctx.spec
    limits, uses, owner, own_kind, params = [], [], [], [], {}
    for f in spec.flows:
        p = ctx.paths[f.name]
        parallel, tcp = flow_params(spec, ctx.variant, f)
        params[f.name] = (parallel, tcp)
        if p.disposition not in PASSED or not p.resources:
            continue
        # wire rate the application offers (its rate is payload: TCP adds headers)
        app = (f.rate_bps or math.inf) / parallel / (tcp.efficiency if f.protocol == "tcp"
                                                      else 1.0)
        if f.protocol == "udp" or (f.size_bytes is None and f.rate_bps is not None):
            # a stream with a rate and no transfer size is application-limited
            w = m = math.inf
        else:
            w = window_limit_bps(tcp.window_bytes, p.rtt_ns) / tcp.efficiency
            m = mathis_bps(tcp.mss, p.rtt_ns, tcp.loss) / tcp.efficiency
            app = math.inf
        # one TCP connection through an Azure Firewall: the SKU's single-connection figure
        # ("Azure Firewall performance", section "Throughput for single connections",
        # timing/firewall_capacity.py); UDP streams are not limited by it (not published)
        conn = p.connection_cap_bps if f.protocol == "tcp" else math.inf
        lim = min(w, m, app, conn)  # payload ceilings -> wire rate
        kind = ("window" if lim == w else "loss" if lim == m else "offered rate" if lim == app
                else "firewall connection")
        for _ in range(parallel):
            limits.append(lim)
            uses.append(p.resources)
            owner.append(f.name)
            own_kind.append(kind)
    rates = max_min_share(limits, uses, ctx.capacities) if limits else []
    used: dict[str, float] = {}
    for r, u in zip(rates, uses, strict=True):
        for name in u:
            used[name] = used.get(name, 0.0) + r
    total = 0.0
    for f in spec.flows:
        p = ctx.paths[f.name]
        parallel, tcp = params[f.name]
        mine = [i for i, o in enumerate(owner) if o == f.name]
        eff = tcp.efficiency if f.protocol == "tcp" else 1.0
        wire = sum(rates[i] for i in mine)
        good = wire * eff
        total += good
        ctx.row[f"{f.name}.parallel"] = parallel
        ctx.row[f"{f.name}.rtt_ms"] = _ms(p.rtt_ns) if p.rtt_ns >= 0 else None
        ctx.row[f"{f.name}.window_bytes"] = tcp.window_bytes if f.protocol == "tcp" else None
        ctx.row[f"{f.name}.throughput_mbps"] = _mbps(good)
        limit = "blocked: " + p.disposition if p.disposition not in PASSED else ""
        if mine:
            i = mine[0]
            if rates[i] >= limits[i] * (1 - 1e-9):
                limit = own_kind[i]
            else:
                sat = [n for n in uses[i] if used[n] >= ctx.capacities[n] * (1 - 1e-9)]
                limit = "cap " + (sat[0] if sat else "?")
        ctx.row[f"{f.name}.limited_by"] = limit
        if f.size_bytes is not None:
            if mine and good > 0:
                per = math.ceil(f.size_bytes / parallel)
                fct = max(completion_time_ns(per, rates[i] * eff, p.rtt_ns, tcp)
                          if f.protocol == "tcp" else per * 8e9 / (rates[i] * eff) +
                          p.rtt_ns / 2 for i in mine)
                ctx.row[f"{f.name}.completion_ms"] = _ms(fct)
            else:
                ctx.row[f"{f.name}.completion_ms"] = None
    ctx.row["throughput_mbps_total"] = _mbps(total)


def metric_latency(ctx: Context) -> None:
    """Pipeline-backed: Poisson probe packets per flow through the variant's Emulator."""

    spec, em = ctx.spec, ctx.emulator
    pkts, times, sources, flow_of = [], [], [], []
    for i, f in enumerate(spec.flows):
        if f.packets <= 0:
            continue
        rate = f.rate_bps or 10e6
        rng = np.random.default_rng([spec.seed, i])
        gaps = rng.exponential(f.packet_bytes * 8 / rate * 1e9, f.packets)
        t = np.cumsum(gaps).astype(np.int64)
        pkt = _packet(em, f.src, f.dst, 40000 + i, f.port, f.protocol, f.packet_bytes)
        pkts += [pkt] * f.packets
        times += t.tolist()
        sources += [f.src] * f.packets
        flow_of += [i] * f.packets
    drops: dict[str, int] = {}
    all_lat: list[np.ndarray] = []
    if pkts:
        order = sorted(range(len(pkts)), key=lambda j: (times[j], flow_of[j]))
        em.reset()
        result = em.send([pkts[j] for j in order], source=[sources[j] for j in order],
                         times_ns=[times[j] for j in order])
        em.reset()
        c = result.columns
        fidx = np.array([flow_of[j] for j in order])
        disp = c["disposition"]
        passed = np.isin(disp, PASSED_CODES)
        lat = (c["time_out"] - c["time_in"]).astype(np.float64)
        for name, n in result.counts().items():
            if name not in PASSED:
                drops[name] = drops.get(name, 0) + n
        for i, f in enumerate(spec.flows):
            sel = (fidx == i) & passed
            v = lat[sel]
            ctx.row[f"{f.name}.probes"] = int((fidx == i).sum())
            ctx.row[f"{f.name}.delivered"] = int(sel.sum())
            if v.size:
                all_lat.append(v)
                ctx.samples[f.name] = [_ms(x) for x in v.tolist()]
                for q in (50, 90, 99):
                    ctx.row[f"{f.name}.p{q}_ms"] = _ms(np.percentile(v, q, method="lower"))
    if spec.capture is not None:
        _capture_latency(ctx, all_lat, drops)
    if all_lat:
        v = np.concatenate(all_lat)
        for q in (50, 90, 99):
            ctx.row[f"latency_p{q}_ms"] = _ms(np.percentile(v, q, method="lower"))
    for name, n in sorted(drops.items()):
        ctx.row[f"drops.{name}"] = n


def _capture_latency(ctx: Context, all_lat: list[np.ndarray], drops: dict[str, int]) -> None:

    cap = ctx.spec.capture
    assert cap is not None
    em = ctx.emulator
    em.reset()
    result = em.replay(cap.path, mapping=dict(cap.map), subnet_mapping=dict(cap.map_subnet),
                       timing="capture", progress=False)
    em.reset()
    c = result.columns
    if not c:
        return
    passed = np.isin(c["disposition"], PASSED_CODES)
    v = (c["time_out"] - c["time_in"])[passed].astype(np.float64)
    ctx.row["capture.packets"] = int(result.read)
    if v.size:
        all_lat.append(v)
        ctx.samples["capture"] = [_ms(x) for x in v.tolist()]
        for q in (50, 90, 99):
            ctx.row[f"capture.p{q}_ms"] = _ms(np.percentile(v, q, method="lower"))
    for name, n in result.counts().items():
        if name not in PASSED:
            drops[name] = drops.get(name, 0) + n
    # monthly projection of the capture's peering bytes
    span = (int(c["time_in"].max()) - int(c["time_in"].min())) / 1e9
    if "cost" in ctx.spec.metrics and span > 0:
        pricing = Pricing(dict(ctx.spec.zones))
        regions = {v.name: v.location for v in em.topology.virtual_networks}
        scale = ctx.spec.hours_per_month * 3600 / span
        usd = 0.0
        for key, nbytes in result.peering_bytes().items():
            a, b = key.split(" -> ")
            usd += nbytes * scale / 1e9 * pricing.crossing_usd_per_gb(regions[a], regions[b])
        ctx.row["capture.monthly_usd"] = round(usd, 2)
        ctx.row["monthly_cost_usd"] = round(ctx.row.get("monthly_cost_usd", 0.0) + usd, 2)


# The metrics in the order they run; the pipeline-backed latency metric last.
METRICS: dict[str, Callable[[Context], None]] = {
    "cost": metric_cost,
    "throughput": metric_throughput,
    "latency": metric_latency,
}


def evaluate(spec: Spec, variant: Variant) -> dict[str, Any]:
    """One variant -> one row. Errors of the variant (Azure rejects it) become its row."""
    from dataplane.engine import Emulator

    row: dict[str, Any] = {"index": variant.index, "variant": variant.name}
    for s in variant.settings:
        row[f"set.{s.key}"] = s.text().split("=", 1)[1]
    row["error"] = ""
    try:
        topo = apply(spec.base_topology(), variant.settings)
        em = Emulator(topo, seed=spec.seed, **timing_overrides(spec, variant))
        paths, caps = probe_paths(spec, em) if spec.flows else ({}, {})
        for fw in topo.azure_firewalls:  # the SKU the throughput metric used
            prof = firewall_profile(topo, fw)
            row[f"firewall.{fw.name}.sku_tier"] = prof.sku_tier + (
                " (assumed)" if prof.tier_from == "assumed" else "")
            row[f"firewall.{fw.name}.cap_mbps"] = _mbps(prof.capacity.aggregate_bps)
            row[f"firewall.{fw.name}.connection_mbps"] = _mbps(
                prof.capacity.single_connection_bps)
        ctx = Context(spec, variant, em, paths, caps, row)
        for f in spec.flows:
            p = paths[f.name]
            row[f"{f.name}.path"] = " > ".join(p.hops)
            row[f"{f.name}.disposition"] = p.disposition
        for name, fn in METRICS.items():
            if name in spec.metrics:
                fn(ctx)
        row["_samples"] = ctx.samples
    except DataplaneError as e:
        row["error"] = str(e)
        row["_samples"] = {}
    return row


def evaluate_indexed(args: tuple[Spec, Variant]) -> dict[str, Any]:
    return evaluate(*args)


def _bar(total: int, progress: bool, desc: str) -> Any:
    from tqdm import tqdm

    # a progress bar only on a terminal: redirected output stays line-oriented
    return tqdm(total=total, desc=desc, unit="variant",
                disable=not progress or not sys.stderr.isatty())


def run(spec: Spec, *, serial: bool = False, scheduler: str | None = None,
        workers: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Rows in variant order. scheduler: None (local processes), 'local' (a Dask
    LocalCluster) or 'tcp://HOST:PORT' (a running Dask scheduler)."""
    variants = spec.variants()
    if scheduler:
        return _run_dask(spec, variants, scheduler, workers, progress)
    workers = workers or os.cpu_count() or 1
    if serial or workers <= 1 or len(variants) <= 1:
        bar = _bar(len(variants), progress, spec.name)
        rows = []
        for v in variants:
            rows.append(evaluate(spec, v))
            bar.update()
        bar.close()
        return rows
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver: workers fork from a clean server that has imported the engine once (no fork
    # of this process's threads, no per-worker import cost as with spawn).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["dataplane.whatif.runner", "dataplane.engine"])
    out: dict[int, dict[str, Any]] = {}
    bar = _bar(len(variants), progress, spec.name)
    with ProcessPoolExecutor(max_workers=min(workers, len(variants)), mp_context=ctx) as pool:
        futures = {pool.submit(evaluate, spec, v): v.index for v in variants}
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
            bar.update()
    bar.close()
    return [out[v.index] for v in variants]


def _run_dask(spec: Spec, variants: Iterable[Variant], scheduler: str, workers: int | None,
              progress: bool) -> list[dict[str, Any]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise DataplaneError("--scheduler needs Dask: pip install 'vnet-dataplane[dask]'") \
            from None
    variants = list(variants)
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers or min(os.cpu_count() or 1, len(variants)),
                               threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(evaluate, [spec] * len(variants), variants, pure=False)
        index = {f.key: v.index for f, v in zip(futures, variants, strict=True)}
        out: dict[int, dict[str, Any]] = {}
        bar = _bar(len(variants), progress, f"{spec.name} (dask)")
        for fut in as_completed(futures):
            out[index[fut.key]] = fut.result()
            bar.update()
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [out[v.index] for v in variants]


__all__ = ["METRICS", "Context", "evaluate", "run"]
