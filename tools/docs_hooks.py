"""mkdocs hook: reference tables generated at build time from the code, so they cannot drift.

<!-- reference:cli -->         every `visionpipe` command's --help
<!-- reference:parameters -->  template.yaml's Parameters
<!-- reference:outputs -->     template.yaml's Outputs
"""

from __future__ import annotations

import argparse
import os

from visionpipe.cli import build_parser
from visionpipe.template import load_template


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def parameters_table() -> str:
    rows = ["| parameter | default | allowed | description |", "|---|---|---|---|"]
    for name, p in load_template()["Parameters"].items():
        allowed = ", ".join(f"`{v}`" for v in p.get("AllowedValues", [])) or p.get("AllowedPattern", "")
        default = f"`{p['Default']}`" if "Default" in p and p["Default"] != "" else "(empty)"
        rows.append(f"| `{name}` | {_cell(default)} | {_cell(allowed)} | {_cell(p.get('Description', ''))} |")
    return "\n".join(rows)


def outputs_table() -> str:
    rows = ["| output | description |", "|---|---|"]
    for name, o in load_template()["Outputs"].items():
        rows.append(f"| `{name}` | {_cell(o.get('Description', ''))} |")
    rows.append("| `EndpointUrl` | local stack only: added by `visionpipe local outputs` (the endpoint) |")
    return "\n".join(rows)


def _commands(parser: argparse.ArgumentParser, path: list[str]):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, [*path, name])


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"  # stable wrapping
    parts = []
    for path, parser in _commands(build_parser(), ["visionpipe"]):
        level = "#" * min(len(path) + 1, 4)
        parts.append(f"{level} `{' '.join(path)}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


GENERATORS = {
    "<!-- reference:cli -->": cli_reference,
    "<!-- reference:parameters -->": parameters_table,
    "<!-- reference:outputs -->": outputs_table,
}


def on_page_markdown(markdown: str, **_kwargs) -> str:
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
