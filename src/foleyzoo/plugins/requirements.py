"""Optional packages a plugin needs, declared on its class, and how to install the missing ones.

A plugin class whose work needs a package foleyzoo does not depend on declares it::

    class XFormersAttention(AttentionBackend):
        requires = ("xformers",)  # import names; {"open_clip": "open_clip_torch"} where pip's name differs

``foleyzoo plugins`` then lists it as ``unavailable`` while the package is missing (found with
:func:`importlib.util.find_spec`, so nothing is imported), with the command that installs it: the
plugin package's extra that provides it (``pip install "foleyzoo[xformers]"``) where one exists, else
the package itself. The class still loads and a recipe may still name it: only its use needs the package.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = ["declared_requirements", "install_hint", "missing_requirements", "unavailable_reason"]

_REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["'](?P<extra>[^"']+)["']""")
DEVELOPMENT_EXTRAS = ("dev", "test", "tests", "docs")
"""Extras that are not meant for users: an install hint names one only when no other extra provides the package."""


def _normalize(name: str) -> str:
    """PEP 503 normalisation of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_requirements(obj: Any) -> dict[str, str]:
    """A plugin's ``requires``: import name → pip distribution name (the same unless a mapping says otherwise)."""
    declared = getattr(obj, "requires", ()) or ()
    if isinstance(declared, str):
        declared = (declared,)
    if isinstance(declared, Mapping):
        return {str(module): str(dist) for module, dist in declared.items()}
    return {str(module): str(module) for module in declared}


def _installed(module: str) -> bool:
    """Whether the top-level package of ``module`` can be imported (looked up, not imported)."""
    try:
        return importlib.util.find_spec(module.split(".", 1)[0]) is not None
    except (ImportError, ValueError):
        return False


def missing_requirements(obj: Any) -> dict[str, str]:
    """The declared requirements of ``obj`` whose package is not installed (import name → pip name)."""
    return {module: dist for module, dist in declared_requirements(obj).items() if not _installed(module)}


def _extras_providing(package: str, distribution: str) -> list[str]:
    """The extras of the installed ``package`` that install ``distribution``, user-facing ones first."""
    try:
        requirements = metadata.requires(package) or []
    except metadata.PackageNotFoundError:
        return []
    extras = []
    for requirement in requirements:
        name, extra = _REQUIREMENT.match(requirement), _EXTRA.search(requirement)
        if name and extra and _normalize(name["name"]) == _normalize(distribution):
            extras.append(extra["extra"])
    return sorted(dict.fromkeys(extras), key=lambda extra: extra in DEVELOPMENT_EXTRAS)


def install_hint(distributions: list[str], package: str) -> str:
    """``pip install "PACKAGE[extra]"`` when an extra of the plugin's package provides them all, else the names."""
    extras = [_extras_providing(package, distribution) for distribution in distributions]
    common = [extra for extra in (extras[0] if extras else []) if all(extra in found for found in extras)]
    if common:
        return f'pip install "{package}[{common[0]}]"'
    return "pip install " + " ".join(distributions)


def unavailable_reason(obj: Any, package: str) -> str:
    """``""`` when every package ``obj`` declares is installed, else what is missing and how to install it."""
    missing = missing_requirements(obj)
    if not missing:
        return ""
    names = ", ".join(sorted(missing))
    return f"needs {names}: {install_hint(sorted(set(missing.values())), package)}"
