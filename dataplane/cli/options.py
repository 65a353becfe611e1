"""One grammar for every command: shared options, inputs with their own parameters, output.

Contract
- `command(subparsers, name, help, handler, inputs=...)` makes a subcommand that takes the
  shared options (`SHARED`, added to every command at once: `--allow-path DIR`, `--bgp-routes
  FILE`, `--service-tags FILE`, `--vm-cap VM=BPS`, `--fragments-out-of-order drop|forward`
  (read by replay: engine/fragments.py), `-o/--output
  json|table|tsv`, `--query JMESPATH`, `--json`), and, unless `inputs=None`, positional INPUT
  files. `server_name_options(parser)` adds --sni/--host (validated DNS names) to
  the commands that send a synthetic flow (explain, trace) only. A flag another issue adds goes into `SHARED` once and appears on every command.
- Inputs pair with the parameters that follow them, as `az deployment ... --parameters` does
  per template: `a.json --parameters a.params.json -p size=3 b.json` gives a.json its own
  parameters file and `size`, b.json none. `--parameters`/`-p` before any input apply to every
  template input. `parse_args(parser, argv)` parses the subcommand with argparse's intermixed
  parsing and records the pairing in `args.inputs` [(path, parameters or None)].
- `load_inputs(args, paths=None)` loads the topology from `args.inputs` (one `dataplane.load`
  call, each input with its own parameters) and applies the shared inputs.
- `emit(args, value, text)`: `-o json` prints `value` (after `--query`, JMESPath through the
  jmespath library, as az does), `-o tsv` prints az's tsv (one line per row, scalars only),
  `-o table` (the default) prints `text` (prose wrapped to the terminal, tables fitted:
  dataplane/textable.py), or with `--query` a table of the query's result.
- `destination(text, port=None, sni=None)` reads a flow's --to (an IPv4 address or VM name,
  optionally :PORT; an IPv6 address bare or as [ADDRESS]:PORT) for every command that sends
  one (explain, trace); `destination_ip(topology, dest)` gives a VM name's primary address.
- Usage checks, run before any work: `out_dir(flag, path)` (a folder that is or can be made and
  written), `positive_finite(text)`, `protocol(text)` (one spelling: Tcp|Udp|Icmp|Esp|Ah|*,
  any case), `scheduler_reachable(flag, address)`. Each failure is an InputError naming the
  flag: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from dataplane.errors import InputError
from dataplane.model import Topology
from dataplane.textable import fit, reflow, table

OUTPUT_FORMATS = ("table", "json", "tsv")
PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah", "*": "*",
             "any": "*"}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (the usage is in --help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class Shared:
    """One option every command takes: argparse's add_argument arguments."""

    flags: tuple[str, ...]
    options: dict[str, Any]


SHARED: tuple[Shared, ...] = (
    Shared(("--allow-path",), dict(
        action="append", default=[], metavar="DIR", dest="allow_paths",
        help="also read files an input names (linked templates, parameter files) inside DIR; "
             "repeatable (default: only inside each input's own folder)")),
    Shared(("--bgp-routes",), dict(
        metavar="FILE", default=None, dest="bgp_routes",
        help="routes BGP peers advertise that ARM does not hold (Route Server NVAs, on-premises "
             "BGP peers, ExpressRoute circuits): the JSON sidecar of docs/bgp-sidecar.md")),
    Shared(("--service-tags",), dict(
        metavar="FILE", default=None, dest="service_tags",
        help="Microsoft's service tags file (ServiceTags_Public_*.json or az network "
             "list-service-tags -o json); default: $VNET_DATAPLANE_SERVICE_TAGS, else a small "
             "built-in subset with a caveat on answers that use it")),
    Shared(("--vm-cap",), dict(
        action="append", default=[], metavar="VM=BPS", dest="vm_caps",
        help="a VM's egress cap in bits per second (overrides its size's published bandwidth); "
             "repeatable")),
    Shared(("--fragments-out-of-order",), dict(
        choices=("drop", "forward"), default="drop", dest="fragments_out_of_order",
        help="IP fragments that arrive out of order (replay): drop (Azure's default) or "
             "forward (as for a subscription where Microsoft support enabled fragment "
             "reordering; named in summary.json's assumptions)")),
    Shared(("-o", "--output"), dict(
        choices=OUTPUT_FORMATS, default="table",
        help="output format, as az: table (default, readable), json, tsv")),
    Shared(("--query",), dict(
        metavar="JMESPATH", default=None,
        help="JMESPath query over the JSON answer, as az --query (implies -o json unless "
             "-o is given)")),
    Shared(("--json",), dict(action="store_true", help="same as -o json")),
)
APPLICATION_RULE_HINT = ("an Azure Firewall application rule would decide this flow by its "
                         "server name: give --sni NAME (Https) or --host NAME (Http)")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


def server_name(flag: str) -> Callable[[str], str]:
    """An argparse type: a DNS host name as TLS SNI carries it (RFC 6066 section 3: "the
    fully qualified DNS hostname", ASCII, no trailing dot) and HTTP Host names it (RFC 9110
    section 7.2; --host may add :PORT). Labels of letters, digits, '-' (not first or last)
    and '_' (found in real names), 1-63 characters; 253 in all (RFC 1035 section 2.3.4)."""
    def parse(text: str) -> str:
        name, colon, port = text.rpartition(":") if flag == "--host" else ("", "", "")
        name = name if colon else text
        if colon and not (port.isdigit() and 0 < int(port) <= 65535):
            raise argparse.ArgumentTypeError(f"{text!r}: the port after ':' must be 1-65535")
        if not name or len(name) > 253 or not all(_LABEL.match(label)
                                                  for label in name.split(".")):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a DNS host name (labels of letters, digits, '-' and '_', "
                "separated by dots, as in www.example.com)")
        return text
    parse.__name__ = flag
    return parse


def server_name_options(parser: argparse.ArgumentParser) -> None:
    """--sni / --host, for the commands that send a synthetic flow (explain, trace); giving
    both is refused by engine/payload.synthetic ("give --sni or --host, not both")."""
    parser.add_argument("--sni", metavar="NAME", default=None, type=server_name("--sni"),
                       help="the TLS server name (SNI) the flow asks for, read by Azure "
                            "Firewall application rules (Https); the port defaults to 443")
    parser.add_argument("--host", metavar="NAME", default=None, type=server_name("--host"),
                       help="the HTTP Host the flow asks for, read by Azure Firewall "
                            "application rules (Http); the port defaults to 80")


def default_port(sni: str | None) -> int:
    """The destination port of a synthetic flow given none: 443 with --sni (HTTPS), else 80
    (the same defaults as dataplane.watcher.explain)."""
    from dataplane.control.explain import DEFAULT_PORT, HTTPS_PORT

    return HTTPS_PORT if sni else DEFAULT_PORT


def command(subparsers: argparse._SubParsersAction, name: str, help_text: str,
            handler: Callable[[argparse.Namespace], int], inputs: str | None = "TOPOLOGY",
            description: str | None = None,
            inputs_help: str = "ARM template, az JSON dump(s), scenario YAML, or a folder of "
                               "them") -> argparse.ArgumentParser:
    """A subcommand with the shared options (and INPUT... positionals unless inputs=None)."""
    text = reflow(description or help_text, 100)  # a docstring's paragraphs re-flowed
    parser = subparsers.add_parser(name, help=help_text, description=text,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
    if inputs is not None:
        parser.add_argument("paths", nargs="+", metavar=inputs,
                            help=inputs_help + "; each may be followed by its own "
                                               "--parameters/-p")
        parser.add_argument("--parameters", action="append", default=[], metavar="FILE",
                            help="ARM parameters file for the input it follows (before any "
                                 "input: for every template)")
        parser.add_argument("-p", "--parameter", action="append", default=[],
                            metavar="NAME=VALUE",
                            help="one template parameter for the input it follows (VALUE is "
                                 "read as JSON when it parses, else as a string); repeatable")
    for shared in SHARED:
        parser.add_argument(*shared.flags, **shared.options)
    parser.set_defaults(handler=handler, _has_inputs=inputs is not None)
    return parser


# -- parsing: inputs paired with the parameters that follow them --

def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    args = parser.parse_intermixed_args(list(argv))
    if getattr(args, "_has_inputs", False):
        args.inputs = _paired_inputs(parser, list(argv), args.paths)
    if args.json and args.output == "table":
        args.output = "json"
    if args.query is not None:
        _compile_query(args.query)
        if "-o" not in argv and "--output" not in argv and not any(
                a.startswith("--output=") for a in argv):
            args.output = "json"
    return args


def _paired_inputs(parser: argparse.ArgumentParser, argv: list[str], paths: list[str]
                   ) -> list[tuple[str, dict[str, Any] | str | None]]:
    """Walk argv as argparse did, attaching each --parameters/-p to the input before it."""
    actions = parser._option_string_actions
    files: dict[int, str] = {}
    values: dict[int, list[str]] = {}
    seen = 0  # positionals so far
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            seen += len(argv) - i - 1
            break
        flag, eq, inline = token.partition("=")
        action = actions.get(flag if token.startswith("--") else token)
        if action is None and token.startswith("-") and not token.startswith("--") \
                and len(token) > 2:
            action, inline, eq = actions.get(token[:2]), token[2:], "="
        if action is None:
            if not token.startswith("-") or token == "-":
                seen += 1
            i += 1
            continue
        takes = 0 if action.nargs == 0 else 1
        value = inline if eq else (argv[i + 1] if takes and i + 1 < len(argv) else "")
        if action.dest == "parameters":
            if seen - 1 in files:
                raise InputError(f"--parameters {value}: the input {paths[seen - 1]} has a "
                                 f"parameters file already")
            files[seen - 1] = value
        elif action.dest == "parameter":
            values.setdefault(seen - 1, []).append(value)
        i += 1 + (takes if not eq else 0)
    out: list[tuple[str, dict[str, Any] | str | None]] = []
    for index, path in enumerate(paths):
        file = files.get(index, files.get(-1))
        pairs = values.get(-1, []) + values.get(index, [])
        out.append((path, _parameters(file, pairs) if pairs else file))
    return out


def _parameters(file: str | None, pairs: list[str]) -> dict[str, Any]:
    from dataplane.load.arm.template import supplied_parameters

    values = dict(supplied_parameters(file))
    for item in pairs:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise InputError(f"--parameter expects NAME=VALUE, got '{item}'")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def load_inputs(args: argparse.Namespace,
                inputs: list[tuple[str, dict[str, Any] | str | None]] | None = None
                ) -> Topology:
    """The topology of the inputs, each read with its own parameters, with the shared inputs
    (--allow-path, --bgp-routes, --service-tags, --vm-cap) applied."""
    from dataplane import load, with_platform_inputs

    items = args.inputs if inputs is None else inputs
    topology = load(list(items), bgp_routes=getattr(args, "bgp_routes", None),
                    allow_paths=list(getattr(args, "allow_paths", None) or ()))
    return with_platform_inputs(topology, service_tags=getattr(args, "service_tags", None),
                                vm_caps=getattr(args, "vm_caps", None) or ())


# -- a flow's destination (explain, trace: one parser) --

@dataclass(frozen=True)
class Destination:
    """A flow's --to: `host` an IP address or a VM name, `port` given or the default (then
    `assumed`), `six` for an IPv6 address."""

    host: str
    port: int
    assumed: bool
    six: bool


def destination(text: str, port: int | None = None, sni: str | None = None,
                flag: str = "--to") -> Destination:
    """--to as explain and trace read it: 'IP', 'VM', 'IP:PORT', 'VM:PORT', an IPv6 address
    (never split at its last colon: dataplane/watcher.py parse_endpoint) or '[IPv6]:PORT'.
    `port` (trace's --port) wins over the one in `text`; with neither, the default
    (`default_port`: 443 with --sni, else 80) and `assumed`."""
    from dataplane.watcher import parse_endpoint

    raw = text.strip()
    six = raw.startswith("[") or raw.count(":") > 1  # IPv6 (issue 17)
    if six:
        address, given = parse_endpoint(raw, flag, port_required=False)
        host = str(address)
    else:
        host, sep, port_text = raw.rpartition(":")
        if not sep:
            host, port_text = raw, ""
        if not host or (port_text and not port_text.isdigit()):
            raise InputError(f"{flag} {text}: expected IP[:PORT] or VM[:PORT] with a numeric "
                             "port")
        given = int(port_text) if port_text else None
    chosen = port if port is not None else given
    resolved = chosen if chosen is not None else default_port(sni)
    if not 0 <= resolved <= 65535:
        raise InputError(f"{'--port' if port is not None else flag} {resolved}: the port "
                         "must be 0..65535")
    return Destination(host, resolved, chosen is None, six)


def destination_ip(topology: Topology, dest: Destination) -> str:
    """The destination's address: an IP as given, a VM name as its primary NIC's primary
    IPv4 address (the address trace and explain send to)."""
    from dataplane.net import parse_ip
    from dataplane.watcher import nic_for

    if dest.six:
        return dest.host
    try:
        return str(parse_ip(dest.host))
    except (InputError, ValueError):
        pass
    address = nic_for(topology, dest.host).primary_ip
    if address is None or address.version != 4:
        raise InputError(f"--to {dest.host}: the VM has no private IPv4 address")
    return str(address)


# -- output, as az prints it --

def _compile_query(text: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"--query {text!r}: not a JMESPath expression ({first})") from None


def emit(args: argparse.Namespace, value: Any, text: str | Callable[[], str]) -> None:
    """Print the answer in the chosen format (see the module doc)."""
    query = getattr(args, "query", None)
    if query is not None:
        value = _compile_query(query).search(value)
    fmt = getattr(args, "output", "table")
    if fmt == "json":
        print(json.dumps(value, indent=2, default=str))
    elif fmt == "tsv":
        sys.stdout.write(tsv(value))
    elif query is not None:
        print(query_table(value))
    else:
        print(fit(text() if callable(text) else text))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    return "" if value is None else str(value)


def tsv(value: Any) -> str:
    """az's tsv: a list gives one line per item; an object one line of its scalar values in
    key order (nested objects and lists are left out); a scalar itself. Every line ends in a
    newline (an empty list prints nothing), so the output pipes as lines."""
    rows = value if isinstance(value, list) else [value]
    lines = []
    for row in rows:
        if isinstance(row, dict):
            lines.append("\t".join(_scalar(v) for v in row.values()
                                   if not isinstance(v, (dict, list))))
        elif isinstance(row, list):
            lines.append("\t".join(_scalar(v) for v in row if not isinstance(v, (dict, list))))
        else:
            lines.append(_scalar(row))
    return "".join(line + "\n" for line in lines)


def query_table(value: Any) -> str:
    """A query's result as a table: objects give columns by key (scalars only)."""
    rows = value if isinstance(value, list) else [value]
    if rows and all(isinstance(r, dict) for r in rows):
        keys = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))]
        return table(keys, [[_scalar(r.get(k)) for k in keys] for r in rows])
    return table(["Result"], [[json.dumps(r) if isinstance(r, (dict, list)) else _scalar(r)]
                              for r in rows])


# -- usage checks (before any work) --

def out_dir(flag: str, path: str | Path) -> Path:
    """`path` as an output folder: it is one or can be made, and a file can be written in it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{flag} {folder}: cannot write there ({error.strerror or error})"
                         ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {folder}: cannot write there (permission denied)")
    return folder


def positive_finite(flag: str, low: float = 1e-6, high: float = 1e6
                    ) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} must be a finite number from {low:g} to {high:g}")
        return value
    parse.__name__ = flag
    return parse


def protocol(text: str) -> str:
    """An argparse type: one protocol spelling everywhere (Azure's: Tcp, Udp, Icmp, ...)."""
    found = PROTOCOLS.get(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a protocol (Tcp, Udp, Icmp, Esp, Ah or *; any case)")
    return found


def scheduler_reachable(flag: str, address: str | None, timeout_s: float = 3.0) -> None:
    """A tcp://HOST:PORT scheduler answers within `timeout_s`; 'local' and None pass."""
    if address is None or address == "local":
        return
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls") or not colon or not port.isdigit():
        raise InputError(f"{flag} {address}: expected tcp://HOST:PORT or 'local'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else (error.strerror or
                                                                      str(error))
        raise InputError(f"{flag} {address}: no scheduler reachable within {timeout_s:g} s "
                         f"({reason})") from None
