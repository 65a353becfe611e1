"""The `dataplane` command line.

Each module in this package that defines `register(subparsers)` adds its subcommands; the
module's handler returns an exit status. User mistakes (DataplaneError) end in a one-line
message and status 2 (input unreadable) or 1 (found errors), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from dataplane import __version__
from dataplane.errors import AzureError, DataplaneError, InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dataplane",
        description="Emulate the Azure virtual-network data plane offline: load templates, "
                    "check them, ask what Azure would do with a packet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
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
