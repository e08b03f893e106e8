"""mkdocs hook: adds the pages generated from the code (plugins, recipes, command options) to the site.

The pages do not exist in ``docs/``: they are written at build time from the plugin registry, the recipe
folders and the commands' parsers (``foleyzoo.cli.catalogue``), so they cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from foleyzoo.cli.catalogue import commands_markdown, plugins_markdown, recipes_markdown

GENERATED: dict[str, Callable[[], str]] = {
    "reference/plugin-catalogue.md": plugins_markdown,
    "reference/recipe-catalogue.md": recipes_markdown,
    "reference/command-options.md": commands_markdown,
}
"""Page path inside the site → the function that writes its Markdown."""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add each generated page before the navigation is built, so ``nav`` can list it."""
    for src_uri, write in GENERATED.items():
        files.append(File.generated(config, src_uri, content=write()))
    return files
