"""mkdocs hook: shows a figure made by ``scripts/docs_figures.py`` where its PNG exists, and says how to
make it where it does not.

A page marks a figure with ``<!-- figure: NAME.png | alt text -->``. The figures come from a trained
quickstart, which a docs build does not run, so a fresh checkout may lack them; the page then says
which command writes the file instead of showing a broken image.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

FIGURE = re.compile(r"<!--\s*figure:\s*(?P<name>[\w.-]+\.png)\s*\|\s*(?P<alt>[^>]*?)\s*-->")
COMMAND = "python scripts/docs_figures.py --bundle runs/quickstart/pipeline --runs runs --output docs/images"


def figure_markdown(markdown: str, page_uri: str, exists: Callable[[str], bool]) -> str:
    """``markdown`` with each figure marker replaced by the image, or by a note naming the missing file."""

    def replace(match: re.Match[str]) -> str:
        source = f"images/{match['name']}"
        if exists(source):
            return f"![{match['alt']}]({posixpath.relpath(source, posixpath.dirname(page_uri) or '.')})"
        return (
            f'!!! note "Figure not generated in this build"\n'
            f"    `docs/{source}` ({match['alt']}) is written by `{COMMAND}` after `foleyzoo quickstart`."
        )

    return FIGURE.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the page's figure markers before the Markdown is rendered."""
    return figure_markdown(markdown, page.file.src_uri, lambda uri: files.get_file_from_path(uri) is not None)
