"""``foleyzoo plugins``: every registered plugin with its package, version and status (and errors)."""

from __future__ import annotations

import json

from rich.table import Table

from foleyzoo.cli.output import CommandParser, console
from foleyzoo.plugins.records import PluginRecord
from foleyzoo.plugins.registry import load_plugins


def record_row(record: PluginRecord) -> dict[str, str]:
    """One plugin as plain strings (the JSON output and the table share it)."""
    return {
        "group": record.group,
        "name": record.name,
        "class": record.class_path,
        "package": record.package,
        "version": record.version,
        "status": record.status.value,
        "error": record.error,
    }


def main(argv: list[str]) -> int:
    parser = CommandParser(prog="foleyzoo plugins", description=__doc__)
    parser.add_argument("--group", help="only this entry-point group, e.g. foleyzoo.samplers or samplers")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--problems", action="store_true", help="only plugins that are not usable")
    options = parser.parse_args(argv)

    group = options.group
    if group and not group.startswith("foleyzoo."):
        group = f"foleyzoo.{group}"
    records = load_plugins().records(group)
    if options.problems:
        records = [record for record in records if not record.ok]
    rows = [record_row(record) for record in records]
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0

    table = Table(title=f"foleyzoo plugins ({len(rows)})")
    for column in ("group", "name", "class", "package", "version", "status", "error"):
        table.add_column(column, overflow="fold" if column == "error" else "ellipsis")
    for row in rows:
        style = "" if row["status"] == "ok" else "red"
        table.add_row(*(row[key] for key in row), style=style)
    console().print(table)
    return 0
