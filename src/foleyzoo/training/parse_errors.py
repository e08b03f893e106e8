"""jsonargparse's parse errors as one short line: the key, where it was given, and the close valid keys.

jsonargparse reports a misspelt key of a recipe's class (``--model.init_args.samplr``) as a tree of every
type it tried ("Does not validate against any of the Union subtypes …") after the whole usage. foleyzoo
shows the leaf that matters instead: the unknown option as the user wrote it (or the config file and
key that hold it) and the closest accepted keys, found with :func:`difflib.get_close_matches` among the
parser's options or the class's constructor arguments.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

__all__ = [
    "Problem",
    "ShortErrors",
    "close_matches",
    "init_arguments",
    "option_keys",
    "parse_problems",
    "short_error",
]

_PARSER_KEY = re.compile(r'^(?:- )?Parser key "(?P<key>[^"]+)":\s*(?P<rest>.*)$')
_CLASS = re.compile(r"^(?:- )?Problem with given class_path '(?P<path>[^']+)':\s*$")
_NOT_ACCEPTED = re.compile(r"^(?:- )?Option '(?P<name>[^']+)' is not accepted\s*$")
_UNRECOGNIZED = re.compile(r"^unrecognized arguments: (?P<tokens>.+)$", re.IGNORECASE)
_REQUIRED = re.compile(r"^the following arguments are required: (?P<names>.+)$")
_NOT_IN_SUBCOMMAND = re.compile(r"^Subcommand '(?P<command>[^']+)' does not accept option '(?P<key>[^']+)'")
_NOISE = (
    "Does not validate against any of the Union subtypes",
    "Subtypes:",
    "Errors:",
    "Given value",
    "Subclass types expect one of",
    "- a class path",
    "- a dict with",
    "- a dict without",
)
_NONE_OR_BOOL = re.compile(r"^- Expected a <class '(NoneType|bool)'>")
_CLASS_REPR = re.compile(r"<class '([\w.]+)'>")


@dataclass(frozen=True)
class Problem:
    """One leaf of a jsonargparse error: the key path to it (class steps as ``init_args``) and what is wrong."""

    keys: tuple[str, ...]
    text: str
    unknown: str | None = None
    """The option name a class did not accept, for an "is not accepted" leaf."""
    class_path: str | None = None
    """The class whose constructor did not accept it (the innermost class on the path)."""

    @property
    def key(self) -> str:
        """The dotted key, ``model.init_args.sampler.init_args.steps``."""
        return ".".join(self.keys)


def parse_problems(message: str) -> list[Problem]:
    """The leaves of jsonargparse's indented error tree, each with the key path that leads to it."""
    stack: list[tuple[int, str, str]] = []  # (indent, "key" or "class", value)
    problems = []
    for raw in message.splitlines():
        text = raw.strip()
        if not text:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        keys = tuple(value if kind == "key" else "init_args" for _, kind, value in stack)
        classes = [value for _, kind, value in stack if kind == "class"]
        innermost = classes[-1] if classes else None
        if match := _PARSER_KEY.match(text):
            stack.append((indent, "key", match["key"]))
            if match["rest"]:
                problems.append(Problem((*keys, match["key"]), match["rest"], class_path=innermost))
        elif match := _CLASS.match(text):
            stack.append((indent, "class", match["path"]))
        elif match := _NOT_ACCEPTED.match(text):
            name = match["name"]
            problems.append(Problem((*keys, name), text, unknown=name, class_path=innermost))
        elif not text.startswith(_NOISE) and not _NONE_OR_BOOL.match(text):
            problems.append(Problem(keys, text.removeprefix("- "), class_path=innermost))
    return problems


def _best(problems: list[Problem]) -> Problem | None:
    """The leaf to report: an unknown option first, then a problem inside a class, then any."""
    for wanted in (lambda p: p.unknown is not None, lambda p: p.class_path is not None, lambda p: True):
        found = [problem for problem in problems if wanted(problem)]
        if found:
            return found[0]
    return None


def _plain(key: str) -> str:
    """A key without its ``init_args`` steps and with ``_`` for ``-``: ``--model.samplr`` and
    ``--model.init_args.samplr`` are one key, as are ``--visual-encoder.x`` and ``visual_encoder.x``."""
    parts = key.replace("-", "_").split(".")
    return ".".join(part for part in parts if part not in ("init_args", "dict_kwargs"))


def option_tokens(command_line: Sequence[str]) -> list[str]:
    """The ``--key`` options of a command line, as written (without ``=value`` or an appending ``+``)."""
    return [token.split("=", 1)[0].rstrip("+") for token in command_line if token.startswith("--")]


def _on_command_line(key: str, command_line: Sequence[str]) -> str | None:
    """The option of the command line that sets ``key``, as the user wrote it (last one wins)."""
    for option in reversed(option_tokens(command_line)):
        if _plain(option[2:]) == _plain(key):
            return option
    return None


def _written_key(content: Any, parts: Sequence[str]) -> list[str] | None:
    """The key path that reaches ``parts`` in a YAML document, with the ``init_args`` steps it writes."""
    if not parts:
        return []
    if isinstance(content, list):
        for index, item in enumerate(content):
            found = _written_key(item, parts)
            if found is not None:
                return [f"[{index}]", *found]
        return None
    if not isinstance(content, dict):
        return None
    if parts[0] in content and (rest := _written_key(content[parts[0]], parts[1:])) is not None:
        return [parts[0], *rest]
    if isinstance(content.get("init_args"), dict):
        rest = _written_key(content["init_args"], parts)
        if rest is not None:
            return ["init_args", *rest]
    return None


CONFIG_FLAGS = ("--config", "-c")


def config_files(args: Sequence[str]) -> list[str]:
    """The files passed with ``--config``/``-c`` in a command line."""
    files = []
    for index, token in enumerate(args):
        if token in CONFIG_FLAGS and index + 1 < len(args):
            files.append(args[index + 1])
        elif token.startswith("--config="):
            files.append(token.split("=", 1)[1])
    return files


def _in_config_files(key: str, command_line: Sequence[str]) -> tuple[str, str] | None:
    """(file, key as written there) of the last ``--config`` file that sets ``key``."""
    parts = _plain(key).split(".")
    for file in reversed(config_files(command_line)):
        try:
            content = yaml.safe_load(Path(file).read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        written = _written_key(content, parts)
        if written is not None:
            return file, ".".join(written).replace(".[", "[")
    return None


def _import_class(class_path: str) -> type | None:
    """The class a dotted path names, or None when it cannot be imported."""
    module_name, _, name = class_path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name, None)
    except Exception:
        return None
    return found if inspect.isclass(found) else None


def init_arguments(cls: type) -> list[str]:
    """The constructor arguments a config may set for ``cls``, following ``**kwargs`` into base classes."""
    names: list[str] = []
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            break
        names += [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return list(dict.fromkeys(names))


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices closest to ``word`` (:func:`difflib.get_close_matches`), keeping only those about as close as the best."""
    choices = list(choices)
    found = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    ratios = [difflib.SequenceMatcher(None, word, match).ratio() for match in found]
    return [match for match, ratio in zip(found, ratios, strict=True) if ratio >= ratios[0] - 0.05]


def _did_you_mean(written: str, name: str, choices: Iterable[str]) -> str:
    """``; did you mean X?`` with ``written``'s last dotted part replaced by each close match, or ``""``."""
    close = close_matches(name, choices)
    if not close:
        return ""
    head = written.rsplit(".", 1)[0] + "." if "." in written else ""
    return f"; did you mean {' or '.join(head + match for match in close)}?"


def _unknown_class_option(problem: Problem, command_line: Sequence[str]) -> str:
    """An option a class does not take: as written on the command line or in a config file, with close names."""
    assert problem.unknown is not None
    cls = _import_class(problem.class_path) if problem.class_path else None
    choices = init_arguments(cls) if cls is not None else []
    option = _on_command_line(problem.key, command_line)
    found = _in_config_files(problem.key, command_line) if option is None else None
    if found is not None:
        file, written = found
        return f"{file}: unknown key {written}{_did_you_mean(written, problem.unknown, choices)}"
    option = option or f"--{problem.key}"
    hint = _did_you_mean(option, problem.unknown, choices)
    if not hint and cls is not None and choices:
        hint = f" ({cls.__name__} takes: {', '.join(choices)})"
    return f"unknown option {option}{hint}"


def _unrecognized(tokens: str, known_keys: Sequence[str]) -> str:
    """``unknown option --x; did you mean --y?`` for each option of an "unrecognized arguments" error."""
    parts: list[str] = []
    after_option = False
    for token in tokens.split():
        if not token.startswith("-"):
            if not after_option:  # not the value of an unknown option written as `--x VALUE`
                parts.append(f"unexpected argument {token!r}")
            after_option = False
            continue
        option = token.split("=", 1)[0]
        close = close_matches(option.lstrip("-"), known_keys)
        hint = f"; did you mean {' or '.join('--' + key for key in close)}?" if close else ""
        parts.append(f"unknown option {option}{hint}")
        after_option = "=" not in token
    return "; ".join(parts)


def _not_in_subcommand(key: str, known_keys: Sequence[str], command_line: Sequence[str]) -> str:
    """A key a config file sets that the command does not take, naming the file and the close keys."""
    close = close_matches(key, known_keys)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    found = _in_config_files(key, command_line)
    if found is not None:
        return f"{found[0]}: unknown key {found[1]}{hint}"
    return f"unknown key {key}{hint}"


def _as_option(name: str, known_keys: Sequence[str]) -> str:
    """A parser key (``output``, ``visual_encoder``) as the option the user types (``--output``)."""
    if name.startswith("-"):
        return name
    return "--" + next((key for key in known_keys if _plain(key) == _plain(name)), name)


def _leaf(problem: Problem, command_line: Sequence[str]) -> str:
    """Any other leaf (a wrong type, a bad value) as ``--key: what is wrong``."""
    text = _CLASS_REPR.sub(r"\1", problem.text).replace("Expected a ", "expected ")
    if not problem.keys:
        return text
    option = _on_command_line(problem.key, command_line)
    if option is not None:
        return f"{option}: {text}"
    found = _in_config_files(problem.key, command_line)
    if found is not None:
        return f"{found[0]}: {found[1]}: {text}"
    return f"--{problem.key}: {text}"


def short_error(message: str, known_keys: Sequence[str], command_line: Sequence[str]) -> str:
    """jsonargparse's error ``message`` as one line, naming where the bad key was given and the close valid keys.

    ``known_keys`` are the parser's options without ``--`` (``trainer.max_steps``); ``command_line`` is
    what the user typed, whose ``--config`` files are searched for a key that is not on it.
    """
    first = message.strip().splitlines()[0] if message.strip() else message
    if match := _UNRECOGNIZED.match(first):
        return _unrecognized(match["tokens"], known_keys)
    if match := _NOT_IN_SUBCOMMAND.match(first):
        return _not_in_subcommand(match["key"], known_keys, command_line)
    if match := _REQUIRED.match(first):
        return "the following arguments are required: " + ", ".join(
            _as_option(name, known_keys) for name in match["names"].split(", ")
        )
    problem = _best(parse_problems(message))
    if problem is None:
        return first
    if problem.unknown is not None:
        return _unknown_class_option(problem, command_line)
    return _leaf(problem, command_line)


def option_keys(parser: Any) -> list[str]:
    """The ``--key`` options a parser takes, without the dashes (``trainer.max_steps``)."""
    return [
        option[2:]
        for action in getattr(parser, "_actions", ())
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def subcommand_parser(parser: Any, message: str) -> Any:
    """The parser of the subcommand an error message names (``Subcommand 'fit' …``), or None."""
    match = re.match(r"Subcommand '(\w+)'", message)
    for action in getattr(parser, "_actions", ()):
        choices = getattr(action, "_name_parser_map", None)
        if match and choices and match[1] in choices:
            return choices[match[1]]
    return None


class ShortErrors:
    """A jsonargparse ``ArgumentParser`` mixin: errors as one line, ``PROG: error: …``, first and short (the
    usage is shown with ``--help`` only), through :func:`short_error`. With ``JSONARGPARSE_DEBUG`` set, or
    ``exit_on_error=False``, jsonargparse's own handling applies."""

    command_line: Sequence[str] = ()
    """What the user typed: where a bad key is looked for, on it or in its ``--config`` files."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Print the short error and exit with code 2."""
        if not getattr(self, "exit_on_error", True) or os.environ.get("JSONARGPARSE_DEBUG"):
            super().error(message, ex)  # type: ignore[misc]
        parser = getattr(ex, "subcommand_parser", None) or self
        known = option_keys(parser)
        if (named := subcommand_parser(self, message)) is not None:
            known = option_keys(named)
        text = short_error(message, known, self.command_line)
        sys.stderr.write(f"{self.error_prefix(parser)}: error: {text}\n")
        self.exit(2)  # type: ignore[attr-defined]

    def error_prefix(self, parser: Any) -> str:
        """The program name an error starts with."""
        return str(getattr(self, "prog", "foleyzoo"))
