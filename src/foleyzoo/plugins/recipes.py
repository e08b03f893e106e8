"""Recipes: LightningCLI YAML files shipped by foleyzoo and by plugins, found by name.

Every ``foleyzoo.recipes`` entry point names a folder of ``*.yaml`` files; foleyzoo registers its own
``recipes/`` folder the same way. A recipe's name is its path inside that folder without ``.yaml``
(``toy/flow-2d``); where two packages ship the same name, ``PACKAGE:NAME`` picks one.
"""

from __future__ import annotations

import difflib
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from foleyzoo.errors import ConfigError
from foleyzoo.plugins.registry import RECIPES_GROUP, load_plugins, recipe_dir_of

__all__ = [
    "Recipe",
    "builtin_recipe_dir",
    "copy_recipe",
    "discover_recipes",
    "find_recipe",
    "resolve_config_path",
]


def builtin_recipe_dir() -> Path:
    """foleyzoo's own recipes: packaged inside the wheel, or the repository's ``recipes/`` in a source checkout."""
    packaged = resources.files("foleyzoo") / "recipes"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "recipes"


@dataclass(frozen=True)
class Recipe:
    """One recipe file and the package that ships it."""

    name: str
    package: str
    path: Path

    @property
    def qualified_name(self) -> str:
        return f"{self.package}:{self.name}"

    @property
    def is_overlay(self) -> bool:
        """True for a file that names no model: it is stacked after a full recipe (a second ``--config``),
        as ``strategies/fsdp.yaml`` is, and does not run alone."""
        content = yaml.safe_load(self.path.read_text())
        return not (isinstance(content, dict) and "model" in content)

    def description(self) -> str:
        """The comment lines at the top of the file, joined."""
        lines = []
        for line in self.path.read_text().splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        return " ".join(line for line in lines if line)

    def summary(self) -> str:
        """The description's first sentence: one line for ``foleyzoo recipes list``."""
        return _FIRST_SENTENCE.split(self.description(), maxsplit=1)[0]


_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")
"""Where a description's first sentence ends: a full stop followed by a capital (not ``e.g. --x``)."""


def discover_recipes() -> list[Recipe]:
    """Every recipe of every usable ``foleyzoo.recipes`` entry point, sorted by name."""
    recipes = []
    for record in load_plugins().records(RECIPES_GROUP):
        if not record.ok:
            continue
        folder = recipe_dir_of(record.obj)
        for path in sorted(folder.rglob("*.yaml")):
            name = path.relative_to(folder).with_suffix("").as_posix()
            recipes.append(Recipe(name=name, package=record.package, path=path))
    return sorted(recipes, key=lambda recipe: (recipe.name, recipe.package))


def find_recipe(name: str, recipes: list[Recipe] | None = None) -> Recipe:
    """The recipe called ``name`` or ``PACKAGE:NAME``; a clear error for an unknown or ambiguous name."""
    recipes = discover_recipes() if recipes is None else recipes
    name = name.removesuffix(".yaml")
    matches = [r for r in recipes if name in (r.name, r.qualified_name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        choices = ", ".join(r.qualified_name for r in matches)
        raise ConfigError(f"recipe {name!r} is shipped by several packages; name one of: {choices}")
    close = difflib.get_close_matches(name, [r.name for r in recipes], n=5)
    hint = f" Did you mean: {', '.join(close)}?" if close else " `foleyzoo recipes list` shows them all."
    raise ConfigError(f"no recipe named {name!r}.{hint}")


def resolve_config_path(value: str | Path, option: str = "--config") -> Path:
    """A config file given by path or by recipe name (``toy/flow-2d``, ``toy/flow-2d.yaml``, ``PACKAGE:NAME``).

    An existing path wins over a recipe of the same name. A path into the repository's ``recipes/``
    folder that is not there (``recipes/toy/flow-2d.yaml`` outside a source checkout) is the packaged
    recipe of that name. A value that is neither is one error naming ``option``, with the close names.
    """
    path = Path(value).expanduser()
    if path.exists():
        return path
    recipes = discover_recipes()
    name = str(value).removesuffix(".yaml")
    for candidate in (name, name.removeprefix("recipes/")):
        if any(candidate in (recipe.name, recipe.qualified_name) for recipe in recipes):
            return find_recipe(candidate, recipes).path
    close = difflib.get_close_matches(name, [recipe.name for recipe in recipes], n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else " (`foleyzoo recipes list` shows the recipes)"
    raise ConfigError(f"{option} {value}: no such file, and no recipe of that name{hint}")


def copy_recipe(recipe: Recipe, destination: Path, force: bool = False) -> Path:
    """Copy a recipe to a file or into a folder; refuses to overwrite unless ``force``."""
    target = destination / recipe.path.name if destination.is_dir() else destination
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe.path, target)
    return target
