"""``foleyzoo models``: the bundles in the local model folder (``$FOLEYZOO_HOME``, else ~/.cache/foleyzoo/models)."""

from __future__ import annotations

import sys

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import FoleyzooError
from foleyzoo.pipeline.home import model_home

__all__ = ["main", "model_home"]


def main(argv: list[str]) -> int:
    """List each bundle's name, architecture, training data, licence and scores."""
    from rich.table import Table

    from foleyzoo.cli.output import console
    from foleyzoo.pipeline import Bundle

    parser = CommandParser(prog="foleyzoo models", description=__doc__)
    parser.parse_args(argv)
    home = model_home()
    folders = sorted(path for path in home.iterdir() if path.is_dir()) if home.is_dir() else []
    table = Table("name", "architecture", "trained on", "licence", "scores", title=f"models in {home}")
    for folder in folders:
        try:
            card = Bundle.open(folder).card
        except FoleyzooError as exc:
            print(f"foleyzoo models: skipping {folder}: {exc}", file=sys.stderr)
            continue
        scores = ", ".join(f"{key} {value:.3g}" for key, value in card.scores.items())
        table.add_row(folder.name, card.architecture, card.trained_on, card.licence, scores)
    console().print(table if table.row_count else f"no bundles in {home} (make one with `foleyzoo export`)")
    return 0
