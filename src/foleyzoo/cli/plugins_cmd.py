"""``foleyzoo plugins``: every registered plugin with its package, version and status (and errors)."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from foleyzoo.cli.output import CommandParser, console
from foleyzoo.plugins.records import PluginRecord
from foleyzoo.plugins.registry import GROUP_PREFIX, PluginRegistry, load_plugins
from foleyzoo.plugins.requirements import unavailable_reason
from foleyzoo.training.parse_errors import close_matches

UNAVAILABLE = "unavailable"
"""The status of a plugin that loads but whose optional package is not installed (see ``requires``)."""


def record_row(record: PluginRecord) -> dict[str, str]:
    """One plugin as plain strings (the JSON output and the table share it)."""
    status, error = record.status.value, record.error
    if record.ok:
        missing = unavailable_reason(record.obj, record.package)
        if missing:
            status, error = UNAVAILABLE, missing
    return {
        "group": record.group,
        "name": record.name,
        "class": record.class_path,
        "package": record.package,
        "version": record.version,
        "status": status,
        "error": error,
    }


def group_problem(group: str, registry: PluginRegistry) -> str | None:
    """Why ``--group`` names no group foleyzoo reads (with the closest group and the valid ones), or None."""
    groups = sorted(registry.groups())
    if group in groups:
        return None
    short = [name.removeprefix(GROUP_PREFIX) for name in groups]
    close = close_matches(group.removeprefix(GROUP_PREFIX), short)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"argument --group: unknown group {group.removeprefix(GROUP_PREFIX)!r}; {hint}groups: {', '.join(short)}"


def main(argv: list[str]) -> int:
    parser = CommandParser(prog="foleyzoo plugins", description=__doc__)
    parser.add_argument(
        "--group", help="only this entry-point group, e.g. samplers or foleyzoo.samplers (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--problems", action="store_true", help="only plugins that are not usable (or miss a package)"
    )
    options = parser.parse_args(argv)

    registry = load_plugins()
    group = options.group
    if group and not group.startswith(GROUP_PREFIX):
        group = f"{GROUP_PREFIX}{group}"
    if group and (problem := group_problem(group, registry)):
        parser.error(problem)
    rows = [record_row(record) for record in registry.records(group)]
    if options.problems:
        rows = [row for row in rows if row["status"] != "ok"]
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0

    table = Table(title=f"foleyzoo plugins ({len(rows)})")
    for column in ("group", "name", "class", "package", "version", "status", "error"):
        table.add_column(column, overflow="fold" if column == "error" else "ellipsis")
    for row in rows:
        style = "" if row["status"] == "ok" else "yellow" if row["status"] == UNAVAILABLE else "red"
        table.add_row(*(escape(row[key]) for key in row), style=style)  # `foleyzoo[x]` is no markup
    console().print(table)
    return 0
