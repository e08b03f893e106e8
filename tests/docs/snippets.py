"""The code blocks of the documentation, and how each command or YAML snippet in them is exercised.

Conventions (the tests in this folder enforce them):

* Every fenced block names its language. ``bash`` and ``yaml`` blocks are checked; ``text``, ``python``,
  ``toml`` and ``json`` blocks are not commands (``text`` holds output, file listings and synopses).
* A ``bash`` block holds command lines. Each line (``\\`` continuations joined, ``&&`` split, ``#``
  comments dropped) is checked by its program: ``foleyzoo`` commands through the real command-line
  parsers (``foleyzoo fit`` through LightningCLI with every ``--config`` resolved, the others through
  their argparse/jsonargparse parsers, which stop before running), cheap listing commands
  (``plugins``, ``recipes``, ``models``, ``--help``) by running them, ``python benchmarks/…`` and
  ``python scripts/…`` through their own parsers, and the few programs of other projects (pip,
  pytest, twine, …) by the paths they name. A program nothing knows fails the test.
* A ``yaml`` block with a top-level ``model`` is a whole recipe and parses alone through
  ``foleyzoo fit``. Any other YAML block needs a marker comment on the line before it:

  - ``<!-- check: overlay RECIPE [at KEY.PATH] [as FILE] -->``: the snippet (nested under KEY.PATH
    when given) is stacked on RECIPE as a second ``--config`` and the pair parses through
    ``foleyzoo fit``; ``as FILE`` saves it under that name, for the page's later commands;
  - ``<!-- check: extract -->``: the snippet is a ``foleyzoo extract --config`` file (a video folder
    data module is added when it names none);
  - ``<!-- check: recipe as FILE -->``: a whole recipe, saved under FILE for the page's later commands.

Commands of a page are checked in page order in one sandbox folder holding links to the repository's
``recipes``, ``benchmarks``, ``scripts`` and ``plugins``, so a file a page writes (``foleyzoo recipes
copy … my.yaml``, a snippet saved ``as`` a file) is there for its later commands.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import re
import runpy
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonargparse
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = (*sorted((REPO_ROOT / "docs").rglob("*.md")), REPO_ROOT / "README.md")
CHECKED_LANGUAGES = ("bash", "yaml")
OTHER_LANGUAGES = ("text", "python", "toml", "json")
SANDBOX_LINKS = ("recipes", "benchmarks", "scripts", "plugins", "constraints")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*check:\s*(?P<spec>.*?)\s*-->\s*$")
_ENV = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*)=")

KNOWN_ENVIRONMENT = {
    "FOLEYZOO_PLUGINS",
    "FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD",
    "FOLEYZOO_HOME",
    "FOLEYZOO_VERBOSE",
    "FOLEYZOO_FUZZ_EXAMPLES",
    "HF_HUB_OFFLINE",
    "REQUIRE_GPU",
}
"""Environment variables a command line may set: the ones foleyzoo, its scripts or its dependencies read."""

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
RUN_FOR_REAL = ("plugins", "recipes", "models", "--help", "--version")
"""foleyzoo commands cheap enough to run in the fast tests instead of only parsing them."""

EXTERNAL_PROGRAMS = {
    "hf": "downloads weights from the Hugging Face hub (encoders page)",
    "huggingface-cli": "the older name of hf",
    "twine": "uploads a plugin to PyPI (plugin tutorial)",
    "mkdocs": "builds this site",
    "tensorboard": "shows the TensorBoard logs the recipes write",
}
"""Programs of other projects that the docs show, with why; nothing of foleyzoo's runs in them."""


@dataclass(frozen=True)
class Snippet:
    """One fenced code block of a documentation page."""

    path: Path
    line: int
    language: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def read_snippets(path: Path) -> list[Snippet]:
    """The fenced blocks of one Markdown file, with the ``check:`` marker on the line before each."""
    lines = path.read_text().splitlines()
    snippets, index = [], 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, start = match["indent"], index
        body, index = [], index + 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index])
            index += 1
        previous = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marker = _MARKER.match(previous)
        snippets.append(
            Snippet(path, start + 1, match["lang"], "\n".join(body), marker["spec"] if marker else None)
        )
        index += 1
    return snippets


def all_snippets() -> list[Snippet]:
    """Every fenced block of every documentation page and of the README, in page order."""
    return [snippet for path in DOC_FILES for snippet in read_snippets(path)]


def command_lines(text: str) -> list[list[str]]:
    """The command lines of a bash block as token lists: continuations joined, comments gone, ``&&`` split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        tokens = shlex.split(line, comments=True)
        current: list[str] = []
        for token in [*tokens, "&&"]:
            if token == "&&":
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
    return commands


def strip_redirect(tokens: list[str]) -> list[str]:
    """The tokens without a trailing ``> FILE`` redirection."""
    return tokens[: tokens.index(">")] if ">" in tokens else tokens


def program_and_arguments(tokens: list[str]) -> tuple[str, list[str], dict[str, str]]:
    """(program, its arguments, environment set on the line) with launchers and ``.venv/bin/`` taken off."""
    environment = {}
    while tokens and (match := _ENV.match(tokens[0])):
        environment[match["name"]] = tokens[0].split("=", 1)[1]
        tokens = tokens[1:]
    if tokens and tokens[0] == "time":
        tokens = tokens[1:]
    tokens = strip_redirect(tokens)
    program = tokens[0].removeprefix(".venv/bin/")
    arguments = tokens[1:]
    if program in ("python", "python3") and arguments[:2] == ["-m", "foleyzoo"]:
        return "foleyzoo", arguments[2:], environment
    if program == "srun":
        start = arguments.index("foleyzoo")
        return "foleyzoo", arguments[start + 1 :], environment
    if program == "torchrun":
        start = arguments.index("-m")
        assert arguments[start + 1] == "foleyzoo", "torchrun must start foleyzoo"
        return "foleyzoo", arguments[start + 2 :], environment
    return program, arguments, environment


class Parsed(Exception):
    """Raised by a parser in place of running the command it parsed."""


@contextlib.contextmanager
def stop_after_parsing() -> Iterator[None]:
    """Make argparse and jsonargparse parsers raise :class:`Parsed` once they have parsed a command line."""
    originals = {cls: cls.parse_args for cls in (argparse.ArgumentParser, jsonargparse.ArgumentParser)}

    def stopping(original: Any) -> Any:
        def parse_args(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise Parsed(original(self, *args, **kwargs))

        return parse_args

    try:
        for cls, original in originals.items():
            cls.parse_args = stopping(original)  # type: ignore[method-assign]
        yield
    finally:
        for cls, original in originals.items():
            cls.parse_args = original  # type: ignore[method-assign]


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Collect stdout and stderr (a command's table or help) instead of printing them."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def make_sandbox(folder: Path) -> Path:
    """A working folder with links to the repository folders the docs' commands name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SANDBOX_LINKS:
        link = folder / name
        if not link.exists():
            link.symlink_to(REPO_ROOT / name)
    return folder


_PARSED_FIT: set[tuple[str, ...]] = set()
"""Command lines (with their config files' contents) already parsed: pages repeat commands."""


def _fit_key(arguments: list[str]) -> tuple[str, ...]:
    """A command line with each ``--config`` file's content, so a changed file is parsed again."""
    from foleyzoo.training.cli import config_files

    contents = [Path(file).read_text() if Path(file).is_file() else "" for file in config_files(arguments)]
    return (*arguments, *contents)


def parse_fit(arguments: list[str]) -> None:
    """Parse ``foleyzoo fit|validate|test|predict …`` as the CLI would, every ``--config`` resolved."""
    from foleyzoo.errors import FoleyzooError
    from foleyzoo.training.cli import parse_config

    key = _fit_key(arguments)
    if key in _PARSED_FIT:
        return
    with quiet() as output:
        try:
            parse_config(arguments)
        except SystemExit as exc:  # --print_config prints the config, then exits 0
            if exc.code not in (0, None):
                raise AssertionError(f"exited with {exc.code}: {output.getvalue()[-1500:]}") from exc
        except FoleyzooError as exc:  # refused before parsing (a missing config, an unknown class)
            raise AssertionError(f"refused: {exc}") from exc
    _PARSED_FIT.add(key)


def check_foleyzoo(arguments: list[str]) -> None:
    """Run a cheap foleyzoo command, or parse any other one with its own parser (nothing is run)."""
    from foleyzoo.cli.main import run, split_verbose

    arguments, _ = split_verbose(arguments)  # `foleyzoo --verbose COMMAND`: the console script takes it off
    command = arguments[0] if arguments else "--help"
    if command in LIGHTNING_COMMANDS:
        parse_fit(arguments)
        return
    if command in RUN_FOR_REAL:
        with quiet() as output:
            code = run(arguments)
        assert code == 0, f"exited with {code}: {output.getvalue()[-2000:]}"
        return
    with quiet() as output, stop_after_parsing():
        try:
            code = run(arguments)
        except Parsed:
            return
        except SystemExit as exc:
            raise AssertionError(
                f"the parser refused it (exit {exc.code}): {output.getvalue()[-2000:]}"
            ) from exc
    raise AssertionError(f"no parser accepted it (exit {code}): {output.getvalue()[-2000:]}")


def check_script(script: str, arguments: list[str]) -> None:
    """Parse ``python SCRIPT ARGS`` with the script's own parser, without running the script."""
    path = Path(script)
    assert path.is_file(), f"{script}: no such script"
    argv, sys_path = sys.argv, list(sys.path)
    sys.argv = [script, *arguments]
    sys.path.insert(0, str(path.resolve().parent))
    try:
        with quiet() as output, stop_after_parsing():
            try:
                runpy.run_path(script, run_name="__main__")
            except Parsed:
                return
            except SystemExit as exc:
                raise AssertionError(
                    f"{script} refused its arguments (exit {exc.code}): {output.getvalue()}"
                ) from exc
    finally:
        sys.argv, sys.path[:] = argv, sys_path
    raise AssertionError(f"{script} returned without parsing a command line")


def _path_of(spec: str) -> str:
    """The path in a pip requirement spec: ``".[dev]"`` → ``.``, ``plugins/x[test]`` → ``plugins/x``."""
    return spec.strip("\"'").split("[", 1)[0]


def check_external(program: str, arguments: list[str]) -> None:
    """Check a command of another project by the paths it names (nothing of foleyzoo runs in it)."""
    if program == "pip" or (program in ("python", "python3") and arguments[:2] == ["-m", "pip"]):
        arguments = arguments[2:] if program != "pip" else arguments
        for flag, value in itertools.pairwise(arguments):
            if flag in ("-e", "-c", "-r"):
                assert Path(_path_of(value)).exists(), f"pip {flag} {value}: no such path"
        return
    if program in ("python", "python3") and arguments[:1] == ["-m"]:
        assert arguments[1] in ("venv", "build", "zipfile"), f"python -m {arguments[1]} is not known"
        return
    if program == "pytest":
        for argument in arguments:
            if not argument.startswith("-") and argument not in ("slow", "not slow"):
                assert Path(argument.split("::")[0]).exists(), f"pytest {argument}: no such path"
        return
    if program == "bash":
        assert Path(arguments[0]).is_file(), f"bash {arguments[0]}: no such script"
        return
    assert program in EXTERNAL_PROGRAMS, (
        f"{program!r} is neither foleyzoo nor a known program: teach tests/docs/snippets.py how to check it"
    )


def check_command(tokens: list[str]) -> None:
    """Exercise one command line of a bash block (run it if cheap, else parse it); fail if nothing can."""
    program, arguments, environment = program_and_arguments(tokens)
    unknown = set(environment) - KNOWN_ENVIRONMENT
    assert not unknown, f"sets environment variables nothing reads: {sorted(unknown)}"
    if program == "foleyzoo":
        check_foleyzoo(arguments)
    elif program in ("python", "python3") and arguments and arguments[0].endswith(".py"):
        check_script(arguments[0], arguments[1:])
    else:
        check_external(program, arguments)


@dataclass(frozen=True)
class YamlCheck:
    """What a YAML snippet's marker asks for: stack it on a recipe, or parse it as an extract config."""

    mode: str
    recipe: str | None = None
    at: str | None = None
    save_as: str | None = None

    @classmethod
    def parse(cls, snippet: Snippet) -> YamlCheck:
        """The check a YAML snippet's marker (or, for a whole recipe, its content) asks for."""
        if snippet.marker is None:
            content = yaml.safe_load(snippet.text)
            assert isinstance(content, dict) and "model" in content, (
                f"{snippet.where}: a YAML fragment needs a <!-- check: overlay RECIPE --> or "
                "<!-- check: extract --> line before it (see tests/docs/snippets.py)"
            )
            return cls("recipe")
        words = snippet.marker.split()
        assert words[0] in ("recipe", "overlay", "extract"), (
            f"{snippet.where}: unknown check {snippet.marker!r}"
        )
        recipe, rest = (words[1], words[2:]) if words[0] == "overlay" else (None, words[1:])
        options = dict(zip(rest[::2], rest[1::2], strict=False))
        assert set(options) <= {"at", "as"} and len(rest) % 2 == 0, (
            f"{snippet.where}: cannot read {snippet.marker!r}"
        )
        return cls(words[0], recipe, options.get("at"), options.get("as"))


def nest(content: Any, at: str | None) -> Any:
    """``content`` placed under the dotted key path ``at`` (unchanged without one)."""
    for key in reversed(at.split(".")) if at else ():
        content = {key: content}
    return content


def check_yaml(snippet: Snippet, folder: Path) -> None:
    """Parse a YAML snippet the way its marker says, in ``folder`` (saving it there when asked)."""
    check = YamlCheck.parse(snippet)
    content = nest(yaml.safe_load(snippet.text), check.at)
    target = folder / (check.save_as or f"snippet-{snippet.line}.yaml")
    target.write_text(snippet.text if check.at is None else yaml.safe_dump(content))
    if check.mode == "recipe":
        parse_fit(["fit", "--config", str(target)])
    elif check.mode == "overlay":
        assert check.recipe is not None and Path(check.recipe).is_file(), f"no recipe {check.recipe}"
        parse_fit(["fit", "--config", check.recipe, "--config", str(target)])
    else:
        data = [] if "data" in content else ["--data", "VideoDataModule", "--data.train", "videos"]
        check_foleyzoo(["extract", "--config", str(target), *data, "--output", "cache"])
