"""Recipe YAML files shipped with foleyzoo-example, exposed through the ``foleyzoo.recipes`` entry point."""

from __future__ import annotations

from pathlib import Path


def recipe_dir() -> Path:
    """The folder holding this package's recipe YAML files (``toy-rk4.yaml``).

    foleyzoo calls this with no arguments; ``foleyzoo recipes list`` then shows the files in it.
    """
    return Path(__file__).resolve().parent
