"""The what-if experiment spec (YAML): parsed and validated once, errors name key paths.

    name: spoke2-to-westeurope            # required
    description: free text
    base: demo                            # built-in demo, or a topology file (any loader
                                          # format) relative to the spec
    seed: 0                               # latency-probe arrivals (Poisson) per variant
    metrics: [latency, throughput, cost]  # default: all three
    timing: {nva_ns: 50000}               # TimingParams overrides (dataplane/timing)
    tcp: {rmem_max: 6MiB, wmem_max: 4MiB, rcv_window_model: scaling_ratio, mss: 1448, mtu: 1500,
          initial_window: 10, loss: 0, handshake: true}          # whatif/tcp.py defaults
    cost: {hours_per_month: 730, zones: {swedencentral: Zone 1}}
    workload:
      packets: 200                        # latency probes per flow (default)
      flows:
        - name: api                       # default FROM->TO
          from: web1                      # VM name
          to: db1                         # VM name or IPv4 address
          port: 1433                      # destination port (default 443)
          protocol: tcp                   # tcp | udp
          rate: 200Mbit/s                 # average offered load: probe rate, monthly volume
          monthly: 2TB                    # or the monthly volume directly
          size: 10MB                      # transfer size -> completion time
          parallel: 1                     # TCP connections sharing the transfer
          packet_bytes: 1400              # IP length of latency probes
          packets: 200
          extra_rtt_ms: 0                 # beyond the emulated network (on-premises leg)
          loss: 0.0001                    # overrides tcp.loss for this flow
      capture: {path: x.pcap, map: {IP: VM}, map_subnet: {CIDR: VNET/SUBNET}}   # optional
    vary:                                 # cartesian product of every value list
      region:      {spoke2: [eastus, westeurope]}         # move a VNet (and its VMs)
      vm_size:     {nva1: [Standard_D4s_v3, Standard_D8s_v3]}
      peering:     {"hub,spoke2": [{allow_forwarded_traffic: false}]}   # both links
      routing:     {"spoke1,spoke2": [nva1, direct]}       # via an NVA (UDRs) or peered
      gateway_sku: {hub: [VpnGw1, VpnGw2]}                 # VNet or gateway name
      firewall_sku: {fw: [Basic, Standard, Premium]}       # Azure Firewall name: its tier
      parallel:    [1, 4]                                  # or {FLOW: [...]}
      tcp:         {buffers: [default, 16MiB]}             # or any tcp field
      timing:      {nva_ns: [50000, 200000]}
      loss:        {api: [0, 0.0001]}                      # or a list for every flow
    cases:                                # listed variants (each crossed with vary)
      - {name: today}
      - {name: moved, region: {spoke2: westeurope}}
    targets:                              # what the question asks for: a line on the plot,
      throughput: 5Gbit/s                 #   total goodput of all flows, at least
      latency: 10ms                       #   p99 one-way latency of all probes, at most
      cost: 2000                          #   monthly peering cost in USD, at most

Sizes: integers (bytes) or "64KiB", "10MB", "1.5GB"; rates: bit/s or "200Mbit/s", "5Gbps",
"100MB/s". Every error is an InputError naming the spec file and the key path.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dataplane.errors import InputError
from dataplane.load.scenario_keys import did_you_mean
from dataplane.timing.params import TimingParams
from dataplane.whatif.tcp import TcpParams

if TYPE_CHECKING:
    from dataplane.model import Topology

METRICS = ("latency", "throughput", "cost")
KINDS = ("region", "vm_size", "peering", "routing", "gateway_sku", "firewall_sku", "parallel",
         "tcp", "timing", "loss")
TOP_KEYS = ("name", "description", "base", "seed", "metrics", "timing", "tcp", "cost",
            "workload", "vary", "cases", "targets")
TARGETS = ("throughput", "latency", "cost")  # bit/s (at least), ms (at most), USD (at most)
FLOW_KEYS = ("name", "from", "to", "port", "protocol", "rate", "monthly", "size", "parallel",
             "packet_bytes", "packets", "extra_rtt_ms", "loss")
PEERING_OPTIONS = ("allow_virtual_network_access", "allow_forwarded_traffic",
                   "allow_gateway_transit", "use_remote_gateways")

_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
          "tib": 1024 ** 4}
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)(bit/s|bps|b/s|bytes/s)"
                   r"\s*$", re.I)
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.I)
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|us|µs|s)?\s*$")
_TO_MS = {None: 1.0, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3}


class SpecError(InputError):
    pass


def err(source: str, path: str, message: str) -> InputError:
    return InputError(message, file=source, property=path)


def parse_bytes(value: Any, source: str, path: str) -> int:
    if isinstance(value, bool):
        raise err(source, path, f"expected a size (bytes, '64KiB', '10MB'), not {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise err(source, path, "a size cannot be negative")
        return int(value)
    m = _SIZE.match(str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise err(source, path, f"cannot read size {value!r} (use bytes, '64KiB', '10MB', "
                                "'1.5GB')")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_rate(value: Any, source: str, path: str) -> float:
    """bit/s from a number or '200Mbit/s', '5Gbps', '100MB/s' (bytes)."""
    if isinstance(value, bool):
        raise err(source, path, f"expected a rate, not {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise err(source, path, "a rate must be positive")
        return float(value)
    text = str(value).strip()
    m2 = re.match(r"^([0-9]*\.?[0-9]+)\s*([kKMGT]?)B/s$", text)  # bytes: capital B
    if m2:
        return float(m2.group(1)) * _UNITS[m2.group(2).lower()] * 8
    m = _RATE.match(text)
    if not m:
        raise err(source, path, f"cannot read rate {value!r} (use '200Mbit/s', '5Gbps', "
                                "'100MB/s')")
    scale = _UNITS[m.group(2).lower()]
    unit = m.group(3).lower()
    bits = 8 if unit == "bytes/s" else 1
    rate = float(m.group(1)) * scale * bits
    if rate <= 0:
        raise err(source, path, "a rate must be positive")
    return rate


def parse_ms(value: Any, source: str, path: str) -> float:
    """Milliseconds from a number (ms) or '10ms', '500us', '0.2s'."""
    m = None if isinstance(value, bool) else _DURATION.match(str(value))
    if m is None or float(m.group(1)) <= 0:
        raise err(source, path, f"cannot read duration {value!r} (use '10ms', '500us', '0.2s')")
    return float(m.group(1)) * _TO_MS[m.group(2)]


def _targets(doc: Any, source: str) -> tuple[tuple[str, float], ...]:
    body = _mapping(doc, source, "targets")
    _unknown(body, TARGETS, source, "targets")
    out = []
    if "throughput" in body:
        out.append(("throughput", parse_rate(body["throughput"], source, "targets.throughput")))
    if "latency" in body:
        out.append(("latency", parse_ms(body["latency"], source, "targets.latency")))
    if "cost" in body:
        usd = body["cost"]
        if isinstance(usd, bool) or not isinstance(usd, (int, float)) or usd <= 0:
            raise err(source, "targets.cost", "expected a positive number of USD per month")
        out.append(("cost", float(usd)))
    return tuple(out)


def _int(value: Any, source: str, path: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise err(source, path, f"expected an integer >= {low}, not {value!r}")
    return value


def _prob(value: Any, source: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise err(source, path, f"expected a probability in [0, 1), not {value!r}")
    return float(value)


def _mapping(value: Any, source: str, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise err(source, path, f"expected a mapping, not {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _unknown(keys: Any, known: tuple[str, ...], source: str, path: str) -> None:
    for k in keys:
        if k not in known:
            where = f"{path}.{k}" if path else str(k)
            raise err(source, where, f"unknown key '{k}'{did_you_mean(str(k), known)}")


@dataclass(frozen=True)
class FlowSpec:
    name: str
    src: str
    dst: str
    port: int = 443
    protocol: str = "tcp"
    rate_bps: float | None = None
    monthly_bytes: float | None = None
    size_bytes: int | None = None
    parallel: int = 1
    packet_bytes: int = 1400
    packets: int = 200
    extra_rtt_ns: int = 0
    loss: float | None = None


@dataclass(frozen=True)
class CaptureSpec:
    path: str
    map: tuple[tuple[str, str], ...] = ()
    map_subnet: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Setting:
    """One change of a variant: kind (KINDS), target (VNet, VM, pair, flow, field), value."""

    kind: str
    target: str
    value: Any

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.target}"

    def text(self) -> str:
        v = self.value
        if isinstance(v, dict):
            v = ",".join(f"{k}={str(x).lower()}" for k, x in sorted(v.items()))
        return f"{self.key}={v}"


@dataclass(frozen=True)
class Variant:
    index: int
    name: str
    settings: tuple[Setting, ...]

    def get(self, kind: str, target: str, default: Any = None) -> Any:
        for s in self.settings:
            if s.kind == kind and s.target == target:
                return s.value
        return default


@dataclass(frozen=True)
class Spec:
    name: str
    base: str
    source: str = "<spec>"
    description: str = ""
    seed: int = 0
    metrics: tuple[str, ...] = METRICS
    timing: tuple[tuple[str, int], ...] = ()
    tcp: TcpParams = field(default_factory=TcpParams)
    zones: tuple[tuple[str, str], ...] = ()
    hours_per_month: float = 730.0
    flows: tuple[FlowSpec, ...] = ()
    capture: CaptureSpec | None = None
    axes: tuple[tuple[Setting, ...], ...] = ()  # each axis: its alternative settings
    cases: tuple[tuple[str, tuple[Setting, ...]], ...] = (("base", ()),)
    targets: tuple[tuple[str, float], ...] = ()  # (TARGETS name, bit/s | ms | USD)
    allow_paths: tuple[str, ...] = ()  # --allow-path: where the base may read linked files
    bgp_routes: str | None = None  # --bgp-routes: the BGP sidecar applied to the base
    service_tags: str | None = None  # --service-tags: Microsoft's service tags file
    vm_caps: tuple[str, ...] = ()  # --vm-cap VM=BPS overrides of the base's VMs

    def base_topology(self) -> Topology:
        """The base topology with the run's shared inputs (whatif/variants.py load_base)."""
        from dataplane.whatif.variants import load_base

        return load_base(self.base, self.allow_paths, self.bgp_routes, self.service_tags,
                         self.vm_caps)

    def target(self, name: str) -> float | None:
        return dict(self.targets).get(name)

    def variants(self) -> list[Variant]:
        out = []
        for case_name, case_settings in self.cases:
            for combo in itertools.product(*self.axes) if self.axes else [()]:
                settings = (*case_settings, *combo)
                parts = [case_name] if case_name and (len(self.cases) > 1 or not combo) else []
                parts += [s.text() for s in combo]
                out.append(Variant(len(out), " ".join(parts) or "base", settings))
        return out

    def flow(self, name: str) -> FlowSpec | None:
        return next((f for f in self.flows if f.name == name), None)


def demo_path() -> str:
    return str(resources.files("dataplane.data").joinpath("demo.yaml"))


def _tcp(doc: dict[str, Any], source: str, path: str, base: TcpParams) -> TcpParams:
    known = (*TcpParams.names(), "buffers")
    _unknown(doc, known, source, path)
    values: dict[str, Any] = {}
    for k, v in doc.items():
        values.update(tcp_value(k, v, source, f"{path}.{k}"))
    return replace(base, **values)


def tcp_value(key: str, value: Any, source: str, path: str) -> dict[str, Any]:
    """One tcp setting -> TcpParams fields ('buffers' sets rmem_max and wmem_max)."""
    default = TcpParams()
    if key == "buffers":
        if value == "default":
            return {"rmem_max": default.rmem_max, "wmem_max": default.wmem_max}
        size = parse_bytes(value, source, path)
        if size <= 0:
            raise err(source, path, "buffer size must be positive")
        return {"rmem_max": size, "wmem_max": size}
    if key not in TcpParams.names():
        raise err(source, path, f"unknown tcp setting '{key}'; known: "
                                f"{', '.join((*TcpParams.names(), 'buffers'))}")
    if value == "default":
        return {key: getattr(default, key)}
    if key in ("rmem_max", "wmem_max"):
        size = parse_bytes(value, source, path)
        if size <= 0:
            raise err(source, path, "buffer size must be positive")
        return {key: size}
    if key in ("mss", "mtu", "initial_window"):
        return {key: _int(value, source, path, 1)}
    if key == "rcv_window_fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise err(source, path, "expected a fraction in (0, 1]")
        return {key: float(value)}
    if key == "rcv_window_model":
        models = ("scaling_ratio", "adv_win_scale")
        if value not in models:
            raise err(source, path, f"expected one of {', '.join(models)}")
        return {key: value}
    if key == "tcp_adv_win_scale":
        if isinstance(value, bool) or not isinstance(value, int) or not -31 <= value <= 31:
            raise err(source, path, "expected an integer in -31..31 (net.ipv4.tcp_adv_win_scale)")
        return {key: value}
    if key == "rx_truesize":
        return {key: _int(value, source, path, 1)}
    if key == "loss":
        return {key: _prob(value, source, path)}
    if key == "handshake":
        if not isinstance(value, bool):
            raise err(source, path, "expected true or false")
        return {key: value}
    raise err(source, path, f"unsupported tcp setting '{key}'")  # pragma: no cover


def _flow(doc: Any, i: int, source: str, default_packets: int) -> FlowSpec:
    path = f"workload.flows[{i}]"
    body = _mapping(doc, source, path)
    _unknown(body, FLOW_KEYS, source, path)
    for key in ("from", "to"):
        if not body.get(key):
            raise err(source, f"{path}.{key}", "required (a VM name" +
                      (" or an IPv4 address)" if key == "to" else ")"))
    src, dst = str(body["from"]), str(body["to"])
    protocol = str(body.get("protocol", "tcp")).lower()
    if protocol not in ("tcp", "udp"):
        raise err(source, f"{path}.protocol", f"expected tcp or udp, not '{protocol}'")
    port = _int(body.get("port", 443), source, f"{path}.port", 1)
    if port > 65535:
        raise err(source, f"{path}.port", "a port is at most 65535")
    rate = parse_rate(body["rate"], source, f"{path}.rate") if "rate" in body else None
    monthly = (float(parse_bytes(body["monthly"], source, f"{path}.monthly"))
               if "monthly" in body else None)
    size = parse_bytes(body["size"], source, f"{path}.size") if "size" in body else None
    pb = _int(body.get("packet_bytes", 1400), source, f"{path}.packet_bytes", 40)
    if pb > 1500:
        raise err(source, f"{path}.packet_bytes", "probes are at most 1500 bytes (Azure MTU)")
    extra = body.get("extra_rtt_ms", 0)
    if isinstance(extra, bool) or not isinstance(extra, (int, float)) or extra < 0:
        raise err(source, f"{path}.extra_rtt_ms", "expected a non-negative number (ms)")
    return FlowSpec(
        name=str(body.get("name") or f"{src}->{dst}"), src=src, dst=dst, port=port,
        protocol=protocol, rate_bps=rate, monthly_bytes=monthly, size_bytes=size,
        parallel=_int(body.get("parallel", 1), source, f"{path}.parallel", 1),
        packet_bytes=pb,
        packets=_int(body.get("packets", default_packets), source, f"{path}.packets", 0),
        extra_rtt_ns=round(float(extra) * 1e6),
        loss=_prob(body["loss"], source, f"{path}.loss") if "loss" in body else None)


def _setting(kind: str, target: str, value: Any, spec_flows: tuple[FlowSpec, ...], source: str,
             path: str) -> Setting:
    """Type-check one value; topology references are checked by variants.validate."""
    if kind in ("region", "vm_size", "gateway_sku", "firewall_sku", "routing"):
        if not isinstance(value, str) or not value:
            raise err(source, path, f"expected a name, not {value!r}")
    elif kind == "peering":
        body = _mapping(value, source, path)
        if not body:
            raise err(source, path, "expected a mapping of peering options")
        _unknown(body, PEERING_OPTIONS, source, path)
        for k, v in body.items():
            if not isinstance(v, bool):
                raise err(source, f"{path}.{k}", "expected true or false")
        value = dict(sorted(body.items()))
    elif kind == "parallel":
        value = _int(value, source, path, 1)
    elif kind == "loss":
        value = _prob(value, source, path)
    elif kind == "tcp":
        tcp_value(target, value, source, path)
    elif kind == "timing":
        try:
            TimingParams.from_kwargs(**{target: value})
        except InputError as e:
            raise err(source, path, e.message) from None
    if kind in ("parallel", "loss") and target != "*" and not any(
            f.name == target for f in spec_flows):
        raise err(source, path, f"no flow named '{target}' in workload.flows (or use '*')")
    if kind in ("peering", "routing"):
        parts = [p.strip() for p in target.split(",")]
        if len(parts) != 2 or not all(parts):
            raise err(source, path, f"'{target}' is not a VNet pair 'A,B'")
    return Setting(kind, target, value)


def _axes(doc: Any, flows: tuple[FlowSpec, ...], source: str) -> tuple[tuple[Setting, ...], ...]:
    body = _mapping(doc, source, "vary")
    _unknown(body, KINDS, source, "vary")
    axes = []
    for kind, targets in body.items():
        if isinstance(targets, list) and kind in ("parallel", "loss"):
            targets = {"*": targets}
        if isinstance(targets, list) and kind == "tcp":
            targets = {"buffers": targets}
        targets = _mapping(targets, source, f"vary.{kind}")
        if not targets:
            raise err(source, f"vary.{kind}", "expected TARGET: [values]")
        for target, values in targets.items():
            path = f"vary.{kind}.{target}"
            if not isinstance(values, list) or not values:
                raise err(source, path, "expected a non-empty list of values")
            axes.append(tuple(_setting(kind, str(target), v, flows, source, f"{path}[{i}]")
                              for i, v in enumerate(values)))
    return tuple(axes)


def _cases(doc: Any, flows: tuple[FlowSpec, ...], source: str
           ) -> tuple[tuple[str, tuple[Setting, ...]], ...]:
    if doc is None:
        return (("base", ()),)
    if not isinstance(doc, list) or not doc:
        raise err(source, "cases", "expected a non-empty list of cases")
    out = []
    names = set()
    for i, case in enumerate(doc):
        path = f"cases[{i}]"
        body = _mapping(case, source, path)
        _unknown(body, ("name", *KINDS), source, path)
        settings = []
        for kind, targets in body.items():
            if kind == "name":
                continue
            if kind in ("parallel", "loss") and not isinstance(targets, dict):
                targets = {"*": targets}
            if kind == "tcp" and not isinstance(targets, dict):
                targets = {"buffers": targets}
            for target, value in _mapping(targets, source, f"{path}.{kind}").items():
                settings.append(_setting(kind, target, value, flows, source,
                                         f"{path}.{kind}.{target}"))
        name = str(body.get("name") or " ".join(s.text() for s in settings) or f"case{i}")
        if name in names:
            raise err(source, f"{path}.name", f"duplicate case name '{name}'")
        names.add(name)
        out.append((name, tuple(settings)))
    return tuple(out)


def parse_spec(doc: dict[str, Any], source: str = "<spec>", base_dir: Path | None = None,
               check_topology: bool = True, allow_paths: tuple[str, ...] = (), *,
               bgp_routes: str | None = None, service_tags: str | None = None,
               vm_caps: tuple[str, ...] = ()) -> Spec:
    """Validate a spec document. With check_topology, loads the base and checks targets.
    `allow_paths`: folders the base template may read linked files from (--allow-path);
    `bgp_routes`, `service_tags`, `vm_caps`: the run's --bgp-routes, --service-tags and
    --vm-cap, applied to the base (Spec.base_topology)."""
    if not isinstance(doc, dict):
        raise err(source, "", "the spec must be a YAML mapping")
    _unknown(doc, TOP_KEYS, source, "")
    if not doc.get("name"):
        raise err(source, "name", "required: a short name for the experiment")
    base = doc.get("base")
    if not base:
        raise err(source, "base", "required: 'demo' or a topology file")
    if isinstance(base, (list, dict)):
        raise err(source, "base", "one topology file or folder, not a list: to combine files "
                                  "(a template and a scenario of test VMs), put them in one "
                                  "folder and name the folder")
    if base == "demo":
        base_path = demo_path()
    else:
        p = Path(str(base))
        if not p.is_absolute():
            p = (base_dir or Path.cwd()) / p
        if not p.exists():
            raise err(source, "base", f"no such topology file: {p}")
        base_path = str(p)
    metrics = doc.get("metrics", list(METRICS))
    if not isinstance(metrics, list) or not metrics:
        raise err(source, "metrics", f"expected a list out of {', '.join(METRICS)}")
    for i, m in enumerate(metrics):
        if m not in METRICS:
            raise err(source, f"metrics[{i}]", f"unknown metric '{m}'; known: "
                                               f"{', '.join(METRICS)}")
    timing = _mapping(doc.get("timing"), source, "timing")
    try:
        TimingParams.from_kwargs(**timing)
    except InputError as e:
        raise err(source, "timing", e.message) from None
    tcp = _tcp(_mapping(doc.get("tcp"), source, "tcp"), source, "tcp", TcpParams())
    cost = _mapping(doc.get("cost"), source, "cost")
    _unknown(cost, ("zones", "hours_per_month"), source, "cost")
    zones = _mapping(cost.get("zones"), source, "cost.zones")
    hours = cost.get("hours_per_month", 730)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
        raise err(source, "cost.hours_per_month", "expected a positive number")
    workload = _mapping(doc.get("workload"), source, "workload")
    _unknown(workload, ("flows", "capture", "packets"), source, "workload")
    default_packets = _int(workload.get("packets", 200), source, "workload.packets", 0)
    flows_doc = workload.get("flows") or []
    if not isinstance(flows_doc, list):
        raise err(source, "workload.flows", "expected a list of flows")
    flows = tuple(_flow(f, i, source, default_packets) for i, f in enumerate(flows_doc))
    seen: set[str] = set()
    for i, f in enumerate(flows):
        if f.name in seen:
            raise err(source, f"workload.flows[{i}].name", f"duplicate flow name '{f.name}'")
        seen.add(f.name)
    capture = None
    if workload.get("capture") is not None:
        cap = _mapping(workload["capture"], source, "workload.capture")
        _unknown(cap, ("path", "map", "map_subnet"), source, "workload.capture")
        if not cap.get("path"):
            raise err(source, "workload.capture.path", "required")
        cp = Path(str(cap["path"]))
        if not cp.is_absolute():
            cp = (base_dir or Path.cwd()) / cp
        if not cp.is_file():
            raise err(source, "workload.capture.path", f"no such capture file: {cp}")
        capture = CaptureSpec(str(cp), tuple(
            (str(k), str(v)) for k, v in _mapping(cap.get("map"), source,
                                                  "workload.capture.map").items()),
            tuple((str(k), str(v)) for k, v in _mapping(
                cap.get("map_subnet"), source, "workload.capture.map_subnet").items()))
    if not flows and capture is None:
        raise err(source, "workload", "needs flows (workload.flows) or a capture")
    seed = _int(doc.get("seed", 0), source, "seed")
    spec = Spec(name=str(doc["name"]), base=base_path, source=source,
                description=str(doc.get("description") or ""), seed=seed,
                metrics=tuple(metrics), timing=tuple(sorted(timing.items())), tcp=tcp,
                zones=tuple(sorted((str(k), str(v)) for k, v in zones.items())),
                hours_per_month=float(hours), flows=flows, capture=capture,
                axes=_axes(doc.get("vary"), flows, source),
                cases=_cases(doc.get("cases"), flows, source),
                targets=_targets(doc.get("targets"), source), allow_paths=tuple(allow_paths),
                bgp_routes=bgp_routes, service_tags=service_tags, vm_caps=tuple(vm_caps))
    if check_topology:
        from dataplane.whatif.variants import validate

        validate(spec, spec.base_topology())
    return spec


def load_spec(path: str | Path, check_topology: bool = True,
              allow_paths: tuple[str, ...] = (), **shared: Any) -> Spec:
    """`shared`: parse_spec's bgp_routes, service_tags and vm_caps (the run's shared inputs)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such spec file")
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise InputError(f"not valid YAML: {e}", file=str(p)) from None
    return parse_spec(doc, str(p), p.parent.resolve(), check_topology, allow_paths, **shared)
