"""The `dataplane` command line.

Each module in this package that defines `register(subparsers)` adds its subcommands through
cli/options.py (one grammar: shared options, inputs paired with their parameters, -o/--query);
the module's handler returns an exit status. User mistakes (DataplaneError) end in a one-line
message and status 2 (bad usage, input unreadable) or 1 (found errors), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from dataplane import __version__
from dataplane.cli.options import OneLineParser, parse_args
from dataplane.errors import AzureError, DataplaneError, InputError


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dataplane",
        description="Emulate the Azure virtual-network data plane offline: load templates, "
                    "check them, ask what Azure would do with a packet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineParser)
    subparsers.required = False
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    try:
        if argv and argv[0] in commands:
            args = parse_args(commands[argv[0]], argv[1:])
        else:  # --help, --version, or argparse's own message for an unknown command
            args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        return int(args.handler(args) or 0)
    except InputError as error:
        print(f"dataplane: error: {error.one_line()}", file=sys.stderr)
        return 2
    except AzureError as error:
        print(f"dataplane: error: {error}", file=sys.stderr)
        return 1
    except DataplaneError as error:
        print(f"dataplane: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dataplane: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
