"""Catalogues of what is installed, written as Markdown from the code itself.

The documentation site builds three pages from these functions (``docs/hooks/catalogues.py``): every
registered plugin per entry-point group with its constructor options, every recipe, and every
command's ``--help``. Generating them from the registry, the signatures and the parsers keeps the
pages true when a class, an option or a recipe changes.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foleyzoo.plugins.records import PluginRecord
from foleyzoo.plugins.registry import RECIPES_GROUP, known_groups, load_plugins

if TYPE_CHECKING:
    from foleyzoo.plugins.recipes import Recipe

__all__ = [
    "HELP_COMMANDS",
    "Option",
    "class_options",
    "command_help",
    "commands_markdown",
    "plugins_markdown",
    "recipes_markdown",
    "summary_line",
]

HELP_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("plugins",),
    ("recipes", "list"),
    ("recipes", "show"),
    ("recipes", "copy"),
    ("summarize",),
    ("synth", "make"),
    ("synth", "score"),
    ("synth", "calibrate"),
    ("extract",),
    ("codec", "encode"),
    ("codec", "decode"),
    ("codec", "reconstruct"),
    ("export",),
    ("convert", "mmaudio"),
    ("generate",),
    ("demo",),
    ("models",),
    ("eval",),
    ("quickstart",),
)
"""The commands whose ``--help`` the command-line reference prints, in the order a user meets them."""

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


@dataclass(frozen=True)
class Option:
    """One constructor argument of a plugin: its name, its type as written, and its default (or None)."""

    name: str
    annotation: str
    default: str | None


def summary_line(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring as one Markdown line (reST roles become code spans)."""
    doc = inspect.getdoc(obj) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    paragraph = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", paragraph)
    return _RST_LITERAL.sub(r"`\1`", paragraph)


def _format_default(value: Any) -> str:
    """A default value as a short string (a class or function by its name, long reprs cut)."""
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    lazy_class = getattr(value, "_lazy_class_type", None)  # a jsonargparse lazy_instance, not built yet
    if lazy_class is not None:
        arguments = ", ".join(f"{key}={item!r}" for key, item in value._lazy_kwargs.items())
        return f"{lazy_class.__name__}({arguments})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def class_options(cls: type) -> list[Option]:
    """The constructor arguments of ``cls`` a recipe can set (``self``, ``*args`` and ``**kwargs`` left out)."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    options = []
    for parameter in list(signature.parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = parameter.annotation
        if annotation is parameter.empty:
            written = ""
        elif isinstance(annotation, str):
            written = annotation
        else:
            written = inspect.formatannotation(annotation)
        default = None if parameter.default is parameter.empty else _format_default(parameter.default)
        options.append(Option(parameter.name, written, default))
    return options


def _option_line(option: Option) -> str:
    """One option as a Markdown list item: name, type and default (or that it is required)."""
    kind = f": `{option.annotation}`" if option.annotation else ""
    default = "required" if option.default is None else f"default `{option.default}`"
    return f"- `{option.name}`{kind}, {default}"


def _plugin_section(record: PluginRecord) -> list[str]:
    """The Markdown of one plugin: heading, summary, where it comes from, and its options."""
    lines = [f"### {record.name}", ""]
    lines.append(
        f"`{record.class_path}` from package `{record.package}` {record.version}, status `{record.status.value}`."
    )
    if not record.ok:
        return [*lines, "", f"Not usable here: {record.error}", ""]
    summary = summary_line(record.obj)
    if summary:
        lines += ["", summary]
    options = class_options(record.obj)
    lines += ["", "Options (`init_args`):" if options else "No options.", ""]
    lines += [_option_line(option) for option in options]
    return [*lines, ""]


def plugins_markdown() -> str:
    """A page of every registered plugin, group by group, each with its constructor options."""
    registry = load_plugins()
    groups = known_groups()
    lines = [
        "# Plugin catalogue",
        "",
        "Every plugin registered in the environment that built this page, by entry-point group, with the",
        "options a recipe sets under its `init_args`. This page is generated from the plugin registry and",
        "the classes' signatures and docstrings each time the site is built; `foleyzoo plugins` prints the",
        "same list for your own environment. A recipe names a plugin by the name in its heading",
        "(`class_path: EulerSampler`) or by its full class path.",
        "",
    ]
    for group, base in groups.items():
        if group == RECIPES_GROUP:
            continue
        records = registry.records(group)
        lines += [f"## {group}", ""]
        if base is not None:
            lines += [f"Plugins of this group subclass `{base.__module__}.{base.__qualname__}`.", ""]
        if not records:
            lines += ["No plugin is registered in this group.", ""]
        for record in records:
            lines += _plugin_section(record)
    return "\n".join(lines).rstrip() + "\n"


def _run_command(recipe: Recipe, builtin: Path) -> str:
    """How a user runs ``recipe``: its path in the repository, or a plugin recipe's name; an overlay after a recipe."""
    if recipe.package == "foleyzoo" and recipe.path.is_relative_to(builtin):
        path = f"recipes/{recipe.name}.yaml"
    else:
        path = recipe.name  # a recipe's name works wherever a config path does
    return (
        f"foleyzoo fit --config RECIPE --config {path}"
        if recipe.is_overlay
        else f"foleyzoo fit --config {path}"
    )


def _header_comment(recipe: Recipe) -> str:
    """The comment lines at the top of a recipe file, without their ``#``, as written."""
    lines = []
    for line in recipe.path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines).strip()


def recipes_markdown() -> str:
    """A page of every recipe of foleyzoo and installed plugins: name, package, kind, command and header."""
    from foleyzoo.plugins.recipes import builtin_recipe_dir, discover_recipes

    builtin, recipes = builtin_recipe_dir(), discover_recipes()
    lines = [
        "# Recipe catalogue",
        "",
        "Every recipe shipped by foleyzoo and by the plugins installed where this page was built, as",
        "`foleyzoo recipes list` shows them, generated from the recipe folders each time the site is built.",
        "Print one with `foleyzoo recipes show NAME`, run one by its name (`foleyzoo fit --config NAME`) and",
        "copy one to edit with `foleyzoo recipes copy NAME`. An overlay names no model: stack it after a",
        "recipe with a second `--config`.",
        "",
        "| recipe | package | kind | run it with |",
        "| --- | --- | --- | --- |",
    ]
    for recipe in recipes:
        kind = "overlay" if recipe.is_overlay else "recipe"
        command = _run_command(recipe, builtin)
        lines.append(f"| [`{recipe.name}`](#{_anchor(recipe)}) | `{recipe.package}` | {kind} | `{command}` |")
    lines.append("")
    for recipe in recipes:
        lines += [
            f"## {recipe.name} {{#{_anchor(recipe)}}}",
            "",
            f"`{recipe.qualified_name}`, run with `{_run_command(recipe, builtin)}`.",
            "",
        ]
        header = _header_comment(recipe)
        if header:
            lines += ["The recipe's own header:", "", "```text", header, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _anchor(recipe: Recipe) -> str:
    """A stable HTML id for a recipe's section (``PACKAGE:NAME`` with other characters as dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", recipe.qualified_name.lower()).strip("-")


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    """Fix the terminal width argparse formats help for, so the generated page does not depend on it."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def command_help(command: tuple[str, ...], width: int = 100) -> str:
    """What ``foleyzoo COMMAND --help`` prints, captured from the command's real parser."""
    from foleyzoo.cli.main import run

    buffer = io.StringIO()
    with _columns(width), contextlib.redirect_stdout(buffer):
        try:
            run([*command, "--help"])
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"foleyzoo {' '.join(command)} --help exited with {exc.code}") from exc
    return buffer.getvalue().rstrip()


def commands_markdown() -> str:
    """A page with every command's ``--help``, as the installed foleyzoo prints it."""
    lines = [
        "# Command options",
        "",
        "Each command's `--help`, captured from its parser each time this site is built, so the options",
        "below are exactly the installed ones. [Command line](../cli.md) explains the commands;",
        "`foleyzoo fit|validate|test|predict` are LightningCLI subcommands whose options come from the",
        "recipe's classes (`foleyzoo fit --config RECIPE --help`, or `--print_config` for the resolved",
        "config).",
        "",
    ]
    for command in HELP_COMMANDS:
        name = " ".join(command)
        lines += [f"## foleyzoo {name}", "", "```text", command_help(command), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
