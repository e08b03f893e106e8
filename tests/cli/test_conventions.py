"""Command-line conventions: short errors with the closest valid key, recipe names for config paths,
validated plugin groups, missing optional packages, a compact recipe list, kebab-case options with the
old spellings as hidden aliases, ``--output`` everywhere, and defaults in every command's help."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO_ROOT

from foleyzoo.cli import plugins_cmd
from foleyzoo.cli.catalogue import HELP_COMMANDS, command_help
from foleyzoo.cli.extract import OLD_SPELLINGS, build_parser, recipe_extract_config
from foleyzoo.cli.main import main, run
from foleyzoo.cli.output import rename_options
from foleyzoo.cli.synth import build_parser as synth_parser
from foleyzoo.errors import ConfigError
from foleyzoo.plugins import requirements
from foleyzoo.plugins.recipes import discover_recipes, resolve_config_path
from foleyzoo.plugins.requirements import install_hint, unavailable_reason
from foleyzoo.training.cli import parse_config
from foleyzoo.training.parse_errors import short_error

TOY = str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml")


def fit_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``foleyzoo fit ARGS`` in this process; check it failed with one line and return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("foleyzoo fit: error: ") and "usage" not in err, err
    return err


# ------------------------------------------------------------------ 1. errors first and short


def test_a_missing_config_is_one_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--config", "no-such-recipe.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "foleyzoo fit: error: --config no-such-recipe.yaml: no such file, and no recipe of that name "
        "(`foleyzoo recipes list` shows the recipes)\n"
    )


def test_a_misspelt_key_of_the_model_names_the_closest_one(capsys: pytest.CaptureFixture[str]) -> None:
    err = fit_error(capsys, "--config", TOY, "--model.init_args.samplr=HeunSampler")
    assert err.endswith("unknown option --model.init_args.samplr; did you mean --model.init_args.sampler?")
    err = fit_error(capsys, "--config", TOY, "--model.init_args.sampler.init_args.stepz", "3")
    assert err.endswith("did you mean --model.init_args.sampler.init_args.steps?")


def test_a_misspelt_trainer_option_names_the_closest_one(capsys: pytest.CaptureFixture[str]) -> None:
    err = fit_error(capsys, "--config", TOY, "--trainer.max_stepz=2")
    assert err.endswith("unknown option --trainer.max_stepz; did you mean --trainer.max_steps?")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"model": {"init_args": {"samplr": "HeunSampler"}}}, "unknown key model.init_args.samplr; "),
        ({"trainr": {"max_steps": 2}}, "unknown key trainr.max_steps; did you mean trainer.max_steps?"),
        (
            {"trainer": {"callbacks": [{"class_path": "ModelCheckpoint", "init_args": {"monitr": "x"}}]}},
            "unknown key trainer.callbacks[0].init_args.monitr; did you mean "
            "trainer.callbacks[0].init_args.monitor?",
        ),
    ],
)
def test_an_unknown_key_in_a_config_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: dict, expected: str
) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(yaml.safe_dump(content))
    err = fit_error(capsys, "--config", TOY, "--config", str(overlay))
    assert f"error: {overlay}: {expected}" in err


def test_a_wrong_type_is_one_line_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    err = fit_error(capsys, "--config", TOY, "--model.init_args.sampler.init_args.steps=many")
    assert (
        err == "foleyzoo fit: error: --model.init_args.sampler.init_args.steps: expected int. Got value: many"
    )


def test_extract_errors_are_short_too(capsys: pytest.CaptureFixture[str]) -> None:
    data = ["extract", "--data", "VideoDataModule", "--data.train", "videos"]
    assert (
        main([*data, "--visual-encoder", "TinyVisualCNN", "--visual-encoder.fsp", "3", "--output", "c"]) == 2
    )
    assert capsys.readouterr().err == (
        "foleyzoo extract: error: unknown option --visual-encoder.fsp; did you mean --visual-encoder.fps?\n"
    )
    assert main(data) == 2
    assert (
        capsys.readouterr().err == "foleyzoo extract: error: the following arguments are required: --output\n"
    )


def test_without_a_close_match_the_class_arguments_are_listed() -> None:
    message = (
        'Parser key "model":\n  Does not validate against any of the Union subtypes\n  Errors:\n'
        "    - Problem with given class_path 'foleyzoo.training.toy.ToyFlowMatching':\n"
        "        Option 'zzz' is not accepted\n    - Expected a <class 'NoneType'>\n"
    )
    text = short_error(message, [], ["fit", "--model.init_args.zzz=1"])
    assert text.startswith("unknown option --model.init_args.zzz (ToyFlowMatching takes: text_encoder, ")


# ------------------------------------------------------------------ 2. recipe names for config paths


def test_a_recipe_name_is_accepted_wherever_its_path_is(tmp_path: Path, monkeypatch) -> None:
    by_path = parse_config(["fit", "--config", TOY]).fit
    for name in ("toy/flow-2d", "toy/flow-2d.yaml", "foleyzoo:toy/flow-2d"):
        by_name = parse_config(["fit", "--config", name]).fit
        assert by_name.trainer == by_path.trainer and by_name.model == by_path.model, name
    local = tmp_path / "toy" / "flow-2d.yaml"  # a real file of the same name wins over the recipe
    local.parent.mkdir()
    local.write_text(Path(TOY).read_text().replace("max_epochs: 15", "max_epochs: 3"))
    monkeypatch.chdir(tmp_path)
    assert parse_config(["fit", "--config", "toy/flow-2d.yaml"]).fit.trainer.max_epochs == 3
    assert resolve_config_path("toy/flow-2d") == next(
        recipe.path for recipe in discover_recipes() if recipe.name == "toy/flow-2d"
    )


def test_summarize_and_extract_take_recipe_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summarize", "--config", "toy/flow-2d", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} == {"text_encoder"}
    with pytest.raises(ConfigError, match=r"--recipe kling-tinyy: no such file.*did you mean kling-tiny"):
        recipe_extract_config("kling-tinyy")


# ------------------------------------------------------------------ 3. plugin groups


def test_an_unknown_plugin_group_is_refused_with_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--group", "sampler"]) == 2
    err = capsys.readouterr().err
    assert "unknown group 'sampler'; did you mean samplers?" in err and "text_encoders" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ 4. missing optional packages


def without_packages(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    """Make ``find_spec`` report ``missing`` packages as not installed (and every other as installed)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        requirements.importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a)
    )


def test_a_plugin_whose_package_is_missing_is_listed_unavailable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without_packages(monkeypatch, "xformers", "open_clip")
    assert main(["plugins", "--json", "--problems"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["XFormersAttention"]["status"] == "unavailable"
    assert rows["XFormersAttention"]["error"] == 'needs xformers: pip install "foleyzoo[xformers]"'
    assert rows["OpenCLIPTextEncoder"]["error"] == 'needs open_clip: pip install "foleyzoo[mmaudio]"'
    assert "SDPAAttention" not in rows
    assert main(["plugins", "--group", "attention"]) == 0
    table = capsys.readouterr().out
    assert 'pip install "foleyzoo[xformers]"' in table  # not eaten as rich markup


def test_a_plugin_with_its_package_installed_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements.importlib.util, "find_spec", lambda name, *a: object())
    rows = [plugins_cmd.record_row(r) for r in plugins_cmd.load_plugins().records("foleyzoo.attention")]
    assert {row["status"] for row in rows} == {"ok"}


def test_the_install_hint_is_the_package_itself_without_an_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    class NeedsClap:
        requires = ("laion_clap",)

    without_packages(monkeypatch, "laion_clap")
    assert unavailable_reason(NeedsClap, "foleyzoo") == "needs laion_clap: pip install laion_clap"
    assert install_hint(["open_clip_torch"], "foleyzoo") == 'pip install "foleyzoo[mmaudio]"'  # not [dev]
    assert install_hint(["x"], "no-such-distribution") == "pip install x"


# ------------------------------------------------------------------ 5. a compact recipe list


def test_recipes_list_is_one_line_a_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes", "list"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    recipes = discover_recipes()
    assert len(lines) == 1 + len(recipes)
    assert lines[0].split() == ["recipe", "package", "description"]
    for line, recipe in zip(lines[1:], recipes, strict=True):
        assert line.startswith(recipe.name) and recipe.package in line


# ------------------------------------------------------------------ 6, 7. kebab-case, --output


def test_extract_options_are_kebab_case_with_the_old_spellings_hidden(capsys) -> None:
    help_text = command_help(("extract",))
    for new in ("--visual-encoder", "--sync-encoder", "--text-encoder", "--shard-mb", "--output"):
        assert new in help_text
    for old in OLD_SPELLINGS:
        assert f"{old} " not in help_text and f"{old}." not in help_text, old
    data = ["--data", "VideoDataModule", "--data.train", "videos"]
    old = [*data, "--visual_encoder", "TinyVisualCNN", "--shard_mb=8", "--out", "cache"]
    new = [*data, "--visual-encoder", "TinyVisualCNN", "--shard-mb=8", "--output", "cache"]
    assert rename_options(old, OLD_SPELLINGS) == new
    from foleyzoo.plugins.registry import load_plugins

    load_plugins().resolve_mentioned(new)
    parsed = build_parser().parse_args(new)
    assert parsed.visual_encoder.class_path.endswith("TinyVisualCNN") and parsed.shard_mb == 8
    assert str(parsed.output) == "cache"


def test_synth_make_takes_output_and_the_old_out_quietly() -> None:
    parser = synth_parser()
    assert parser.parse_args(["make", "--out", "x", "--clips", "1", "--seed", "1"]).output == Path("x")
    assert parser.parse_args(["make", "--output", "y", "--clips", "1", "--seed", "1"]).output == Path("y")
    assert "--out " not in command_help(("synth", "make")) and "--output" in command_help(("synth", "make"))


def test_no_front_end_option_is_written_with_an_underscore() -> None:
    for command in HELP_COMMANDS:
        options = [word for word in command_help(command).split() if word.startswith("--")]
        wrong = [o for o in options if "_" in o.split("=")[0] and not o.startswith("--print_config")]
        assert not wrong, (command, wrong)


# ------------------------------------------------------------------ 8. defaults in the help


def test_every_command_shows_defaults_without_noise() -> None:
    generate = command_help(("generate",))
    assert "sampler steps (default: the bundle's)" in generate and "(default: auto)" in generate
    assert "(default: 32)" in command_help(("quickstart",))
    for command in HELP_COMMANDS:
        text = " ".join(command_help(command).split())
        assert "(default: None)" not in text and "(default: False)" not in text, command
        assert "(default: )" not in text, command
