"""``foleyzoo recipes list|show|copy``: the recipes of foleyzoo and its plugins (see :mod:`foleyzoo.plugins.recipes`)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from foleyzoo.cli.output import CommandParser, console
from foleyzoo.plugins.recipes import copy_recipe, discover_recipes, find_recipe


def main(argv: list[str]) -> int:
    parser = CommandParser(prog="foleyzoo recipes", description="Find, read and copy recipes.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list every recipe with its package and description")
    show = commands.add_parser("show", help="print a recipe")
    show.add_argument("name")
    copy = commands.add_parser("copy", help="copy a recipe to edit it")
    copy.add_argument("name")
    copy.add_argument("destination", nargs="?", default=".", type=Path, help="file or folder (default: .)")
    copy.add_argument("--force", action="store_true", help="overwrite an existing file")
    options = parser.parse_args(argv)

    if options.command == "list":
        table = Table(title="foleyzoo recipes")
        for column in ("name", "package", "description"):
            table.add_column(column, overflow="fold" if column == "description" else "ellipsis")
        for recipe in discover_recipes():
            kind = "(overlay: add after a recipe) " if recipe.is_overlay else ""
            table.add_row(recipe.name, recipe.package, kind + recipe.description())
        console().print(table)
    elif options.command == "show":
        print(find_recipe(options.name).path.read_text(), end="")
    else:
        target = copy_recipe(find_recipe(options.name), options.destination, options.force)
        print(f"copied to {target}; run it with: foleyzoo fit --config {target}")
    return 0
