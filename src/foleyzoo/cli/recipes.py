"""``foleyzoo recipes list|show|copy``: the recipes of foleyzoo and its plugins (see :mod:`foleyzoo.plugins.recipes`)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from foleyzoo.cli.output import CommandParser, console
from foleyzoo.plugins.recipes import Recipe, copy_recipe, discover_recipes, find_recipe


def recipe_table(recipes: list[Recipe]) -> Table:
    """One line a recipe: name, package and the first sentence of its description (cut to the width)."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("recipe", no_wrap=True)
    table.add_column("package", no_wrap=True)
    table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=100)
    for recipe in recipes:
        kind = "(overlay) " if recipe.is_overlay else ""
        table.add_row(escape(recipe.name), escape(recipe.package), escape(kind + recipe.summary()))
    return table


def main(argv: list[str]) -> int:
    parser = CommandParser(prog="foleyzoo recipes", description="Find, read and copy recipes.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list every recipe, one line each (`recipes show NAME` prints one)")
    show = commands.add_parser("show", help="print a recipe")
    show.add_argument("name", help="a recipe's name (toy/flow-2d) or PACKAGE:NAME")
    copy = commands.add_parser("copy", help="copy a recipe to edit it")
    copy.add_argument("name", help="a recipe's name (toy/flow-2d) or PACKAGE:NAME")
    copy.add_argument("destination", nargs="?", default=".", type=Path, help="file or folder (default: .)")
    copy.add_argument("--force", action="store_true", help="overwrite an existing file")
    options = parser.parse_args(argv)

    if options.command == "list":
        console().print(recipe_table(discover_recipes()))
    elif options.command == "show":
        print(find_recipe(options.name).path.read_text(), end="")
    else:
        target = copy_recipe(find_recipe(options.name), options.destination, options.force)
        print(f"copied to {target}; run it with: foleyzoo fit --config {target}")
    return 0
