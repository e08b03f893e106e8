"""Every command line and YAML snippet of the documentation goes through the real command-line parsers.

The conventions are in ``tests/docs/snippets.py``: a new ``bash`` or ``yaml`` block that nothing can
check (an unknown program, a YAML fragment without a ``check:`` marker, a fence without a language)
fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from tests.docs.snippets import (
    CHECKED_LANGUAGES,
    DOC_FILES,
    OTHER_LANGUAGES,
    REPO_ROOT,
    Snippet,
    all_snippets,
    check_command,
    check_yaml,
    command_lines,
    make_sandbox,
    read_snippets,
)
from tests.stages import working_folder

_INDENTED_COMMAND = re.compile(r"^(?: {4}|\t)(?:\.venv/bin/)?(?:foleyzoo|python3?) ", re.MULTILINE)


def test_every_code_block_names_a_language_the_checks_know() -> None:
    unknown = [
        f"{s.where}: ```{s.language}"
        for s in all_snippets()
        if s.language not in CHECKED_LANGUAGES + OTHER_LANGUAGES
    ]
    assert not unknown, "fences without a known language (use text for output and synopses):\n" + "\n".join(
        unknown
    )


def test_no_command_hides_in_an_indented_code_block() -> None:
    """Indented code blocks escape the checks below, so commands must be in fenced bash blocks."""
    hidden = []
    for path in DOC_FILES:
        outside_fences = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
        hidden += [
            f"{path.relative_to(REPO_ROOT)}: {m.group(0).strip()}"
            for m in _INDENTED_COMMAND.finditer(outside_fences)
        ]
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_every_command_and_yaml_snippet_of_a_page_parses_through_the_cli(path: Path, tmp_path: Path) -> None:
    failures = []
    with working_folder(make_sandbox(tmp_path)):
        for snippet in read_snippets(path):
            if snippet.language == "yaml":
                try:
                    check_yaml(snippet, tmp_path)
                except Exception as exc:  # every failure of the page is reported at once
                    failures.append(f"{snippet.where}: {type(exc).__name__}: {exc}")
            elif snippet.language == "bash":
                for tokens in command_lines(snippet.text):
                    try:
                        check_command(tokens)
                    except Exception as exc:
                        failures.append(
                            f"{snippet.where}: {shlex.join(tokens)}\n    {type(exc).__name__}: {exc}"
                        )
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the checks themselves can fail


@pytest.mark.parametrize(
    "line",
    [
        "foleyzoo generate --modle bundle --input clips --output out",  # a misspelt option
        "foleyzoo fit --config recipes/toy/flow-2d.yaml --model.init_args.samplr=HeunSampler",
        "foleyzoo fit --config recipes/toy/no-such-recipe.yaml",
        "foleyzoo synth make --output clips --seed 1",  # --clips is required
        "python benchmarks/sync_offset.py --no-such-flag 1",
        "python benchmarks/no_such_script.py",
        "pip install -e plugins/no-such-plugin",
        "wget https://example.com/weights.bin",  # a program nothing knows how to check
        "NO_SUCH_SWITCH=1 foleyzoo plugins",
    ],
)
def test_a_command_the_code_does_not_take_is_refused(line: str, tmp_path: Path) -> None:
    with working_folder(make_sandbox(tmp_path)), pytest.raises(AssertionError):
        check_command(shlex.split(line))


def test_a_yaml_fragment_without_a_marker_and_a_wrong_key_are_refused(tmp_path: Path) -> None:
    fragment = Snippet(REPO_ROOT / "docs/x.md", 1, "yaml", "trainer:\n  max_steps: 3\n", None)
    wrong = Snippet(
        REPO_ROOT / "docs/x.md",
        2,
        "yaml",
        "model:\n  init_args:\n    samplr: HeunSampler\n",
        "overlay recipes/toy/flow-2d.yaml",
    )
    right = Snippet(
        REPO_ROOT / "docs/x.md",
        3,
        "yaml",
        "class_path: HeunSampler\n",
        "overlay recipes/toy/flow-2d.yaml at model.init_args.sampler as s.yaml",
    )
    with working_folder(make_sandbox(tmp_path)):
        with pytest.raises(AssertionError, match="needs a <!-- check"):
            check_yaml(fragment, tmp_path)
        with pytest.raises(AssertionError):
            check_yaml(wrong, tmp_path)
        check_yaml(right, tmp_path)
    assert "HeunSampler" in (tmp_path / "s.yaml").read_text()


def test_blocks_are_read_with_their_marker_language_and_joined_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n<!-- check: overlay recipes/kling-tiny.yaml as a.yaml -->\n```yaml\nmodel: {}\n```\n\n"
        "- item\n\n  ```bash\n  foleyzoo fit --config a.yaml \\\n      --trainer.max_steps=2  # two\n  foleyzoo plugins && foleyzoo models\n  ```\n"
    )
    first, second = read_snippets(page)
    assert (first.language, first.marker, first.line) == (
        "yaml",
        "overlay recipes/kling-tiny.yaml as a.yaml",
        4,
    )
    assert second.marker is None and command_lines(second.text) == [
        ["foleyzoo", "fit", "--config", "a.yaml", "--trainer.max_steps=2"],
        ["foleyzoo", "plugins"],
        ["foleyzoo", "models"],
    ]
