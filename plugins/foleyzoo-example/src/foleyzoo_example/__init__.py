"""foleyzoo-example: a small third-party foleyzoo plugin, written as a template for your own.

It provides, through entry points (see ``pyproject.toml``):

* :class:`foleyzoo_example.samplers.RK4Sampler` in ``foleyzoo.samplers``,
* :class:`foleyzoo_example.text.HashedTrigramTextEncoder` in ``foleyzoo.text_encoders``,
* the recipe folder :func:`foleyzoo_example.recipes.recipe_dir` in ``foleyzoo.recipes``.

foleyzoo discovers these by itself once the package is installed; nothing needs importing by hand.

The classes are deliberately *not* re-exported here: jsonargparse writes a class into a saved config
under the shortest import path that reaches it, and keeping one path per class
(``foleyzoo_example.samplers.RK4Sampler``) makes that path the same as the entry point's target.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("foleyzoo-example")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
