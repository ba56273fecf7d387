"""`visionpipe`: development and ops tooling (never shipped inside a Lambda package).

Each module in visionpipe.commands adds one subcommand through register(subparsers); its parser
sets `func`, which receives the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from visionpipe import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionpipe", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module_info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
