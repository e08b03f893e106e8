"""The pages generated from the code list what is registered and installed, and nothing stale."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from jsonargparse import lazy_instance
from tests.conftest import REPO_ROOT

from foleyzoo.api import Sampler
from foleyzoo.cli.catalogue import (
    Option,
    class_options,
    command_help,
    plugins_markdown,
    recipes_markdown,
    summary_line,
)
from foleyzoo.plugins.recipes import discover_recipes
from foleyzoo.plugins.registry import RECIPES_GROUP, load_plugins
from foleyzoo.samplers import EulerSampler


def load_hook(name: str) -> ModuleType:
    """A module of ``docs/hooks/`` (mkdocs loads them by path, so they are not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"docs_hook_{name}", REPO_ROOT / "docs" / "hooks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sections(markdown: str, level: str) -> dict[str, str]:
    """Heading text → the Markdown under it, for headings of one level (``##`` or ``###``)."""
    parts = re.split(rf"^{level} (.+)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_registered_plugin_appears_under_its_group_with_its_options() -> None:
    groups = sections(plugins_markdown(), "##")
    records = [record for record in load_plugins().records() if record.group != RECIPES_GROUP]
    assert records
    for record in records:
        plugins = sections(groups[record.group], "###")
        assert record.name in plugins, f"{record.group} {record.name}"
        assert f"`{record.class_path}`" in plugins[record.name]
    euler = sections(groups["foleyzoo.samplers"], "###")["EulerSampler"]
    assert "- `steps`: `int`" in euler


def test_every_recipe_is_listed_with_how_to_run_it_and_overlays_are_marked() -> None:
    page = recipes_markdown()
    recipes = discover_recipes()
    assert recipes
    for recipe in recipes:
        assert f"[`{recipe.name}`]" in page
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| [`")}
    fsdp = next(row for name, row in rows.items() if "strategies/fsdp" in name)
    assert "overlay" in fsdp and "--config RECIPE --config recipes/strategies/fsdp.yaml" in fsdp
    toy = next(row for name, row in rows.items() if "toy/flow-2d" in name)
    assert "`foleyzoo fit --config recipes/toy/flow-2d.yaml`" in toy


class _Example(Sampler):
    """An example sampler for :class:`~foleyzoo.api.Sampler` with ``steps``.

    Second paragraph, left out of the summary.
    """

    def __init__(
        self, steps: int, inner: Sampler = lazy_instance(EulerSampler, steps=4), scale: float = 1.0
    ) -> None:
        super().__init__(steps=steps)

    def sample(self, velocity, noise):  # pragma: no cover - not called
        return noise


def test_options_come_from_the_signature_and_the_summary_from_the_docstring() -> None:
    assert class_options(_Example) == [
        Option("steps", "int", None),
        Option("inner", "Sampler", "EulerSampler(steps=4)"),
        Option("scale", "float", "1.0"),
    ]
    assert summary_line(_Example) == "An example sampler for `Sampler` with `steps`."


def test_command_options_are_the_parsers_own_help() -> None:
    export = command_help(("export",))
    assert export.startswith("usage: foleyzoo export") and "--renderer-checkpoint" in export
    make = command_help(("synth", "make"))
    assert "--clean-wav" in make and "--clips" in make


def test_a_figure_is_shown_where_its_file_exists_and_explained_where_it_does_not() -> None:
    figures = load_hook("figures")
    page = "Text\n\n<!-- figure: onsets.png | Onsets -->\n"
    shown = figures.figure_markdown(page, "tutorials/quickstart.md", lambda uri: uri == "images/onsets.png")
    assert "![Onsets](../images/onsets.png)" in shown
    missing = figures.figure_markdown(page, "tutorials/quickstart.md", lambda uri: False)
    assert (
        "docs/images/onsets.png" in missing and "scripts/docs_figures.py" in missing and "![" not in missing
    )
