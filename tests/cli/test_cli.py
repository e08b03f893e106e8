"""The `foleyzoo` command line: help, plugins table, recipes, config round trip, safety checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO_ROOT, write_dist_info

from foleyzoo.cli.main import main
from foleyzoo.plugins.recipes import discover_recipes
from foleyzoo.training.cli import parse_config

TOY = str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed console script in a fresh process."""
    command = [str(Path(sys.executable).with_name("foleyzoo")), *args]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def test_help_lists_training_and_tool_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "validate", "test", "predict", "plugins", "recipes"):
        assert f"  {command} " in out


def test_unknown_command_fails_with_one_line(capsys):
    assert main(["fly"]) == 2
    assert (
        capsys.readouterr().err
        == "foleyzoo: error: unknown command 'fly' (foleyzoo --help lists the commands)\n"
    )
    assert main(["fitt"]) == 2
    assert "unknown command 'fitt'; did you mean fit? (" in capsys.readouterr().err


def test_plugins_json_lists_builtins_with_packages(capsys):
    assert main(["plugins", "--json", "--group", "samplers"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {row["name"]: row for row in rows}
    assert by_name["EulerSampler"]["package"] == "foleyzoo"
    assert by_name["EulerSampler"]["class"] == "foleyzoo.samplers.ode.EulerSampler"
    assert {row["group"] for row in rows} == {"foleyzoo.samplers"}
    assert by_name["RK4Sampler"]["package"] == "foleyzoo-example"


def test_plugins_table_shows_every_column(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for text in (
        "group",
        "name",
        "class",
        "package",
        "version",
        "status",
        "HeunSampler",
        "foleyzoo.text_encoders",
    ):
        assert text in out


@pytest.fixture
def broken_plugin_path(tmp_path: Path) -> Path:
    """A real distribution on disk whose plugin raises on import."""
    write_dist_info(
        tmp_path, "fz-broken", "0.3", {"foleyzoo.samplers": {"ShakySampler": "fz_broken_mod:ShakySampler"}}
    )
    (tmp_path / "fz_broken_mod.py").write_text("raise RuntimeError('boom: a dependency is missing')\n")
    return tmp_path


def test_broken_plugin_shows_as_broken_and_help_still_works(broken_plugin_path):
    env = {"PYTHONPATH": str(broken_plugin_path)}
    listing = run_cli("plugins", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    (row,) = [r for r in json.loads(listing.stdout) if r["name"] == "ShakySampler"]
    assert row["status"] == "broken" and row["package"] == "fz-broken"
    assert "RuntimeError: boom: a dependency is missing" in row["error"]
    assert run_cli("--help", env=env).returncode == 0
    fit_help = run_cli("fit", "--help", env=env)
    assert fit_help.returncode == 0 and "--config" in fit_help.stdout


def test_recipe_naming_a_broken_plugin_fails_with_plugin_package_and_error(broken_plugin_path, tmp_path):
    recipe = yaml.safe_load(Path(TOY).read_text())
    recipe["model"]["init_args"]["sampler"] = {"class_path": "ShakySampler"}
    path = tmp_path / "shaky.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = run_cli("fit", "--config", str(path), env={"PYTHONPATH": str(broken_plugin_path)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for text in ("ShakySampler", "fz-broken 0.3", "boom: a dependency is missing", "model.init_args.sampler"):
        assert text in result.stderr


def test_yaml_syntax_error_names_file_line_and_column(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  class_path: ToyFlowMatching\n  init_args: [unclosed\n")
    assert main(["fit", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "line 4" in err and "YAML syntax error" in err


def test_recipes_list_show_copy(tmp_path, capsys):
    assert main(["recipes", "list"]) == 0
    out = capsys.readouterr().out
    assert "toy/flow-2d" in out and "toy-rk4" in out and "foleyzoo-example" in out
    assert main(["recipes", "show", "toy/flow-2d"]) == 0
    assert capsys.readouterr().out == Path(TOY).read_text()
    assert main(["recipes", "copy", "toy/flow-2d", str(tmp_path)]) == 0
    assert (tmp_path / "flow-2d.yaml").read_text() == Path(TOY).read_text()
    assert main(["recipes", "copy", "toy/flow-2d", str(tmp_path)]) == 2  # never overwrites silently
    assert "already exists" in capsys.readouterr().err
    assert main(["recipes", "show", "toy/flow2d"]) == 2
    assert "Did you mean: toy/flow-2d" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", discover_recipes(), ids=lambda r: r.qualified_name)
def test_every_recipe_parses(recipe):
    base = ["--config", str(REPO_ROOT / "recipes" / "kling.yaml")] if recipe.is_overlay else []
    config = parse_config(["fit", *base, "--config", str(recipe.path)])
    assert "." in config.fit.model.class_path  # short names were resolved to full paths


def test_overlays_are_told_apart_from_recipes():
    overlays = {recipe.name for recipe in discover_recipes() if recipe.is_overlay}
    assert "strategies/fsdp" in overlays and "kling" not in overlays


def test_print_config_round_trip(tmp_path, capsys):
    args = [
        "fit",
        "--config",
        TOY,
        "--model.init_args.sampler=HeunSampler",
        "--model.init_args.sampler.steps=7",
    ]
    with pytest.raises(SystemExit) as excinfo:
        main([*args, "--print_config"])
    assert excinfo.value.code == 0
    saved = tmp_path / "saved.yaml"
    saved.write_text(capsys.readouterr().out)
    stored = yaml.safe_load(saved.read_text())
    sampler = stored["model"]["init_args"]["sampler"]
    assert sampler["class_path"].startswith("foleyzoo.samplers.") and sampler["class_path"].endswith(
        ".HeunSampler"
    )
    assert sampler["init_args"] == {"steps": 7}
    original = parse_config(args).fit
    reloaded = parse_config(["fit", "--config", str(saved)]).fit
    original.pop("config", None)
    reloaded.pop("config", None)
    assert original == reloaded


def test_all_recipe_folders_are_scanned_recursively():
    names = {recipe.name for recipe in discover_recipes() if recipe.package == "foleyzoo"}
    on_disk = {
        p.relative_to(REPO_ROOT / "recipes").with_suffix("").as_posix()
        for p in (REPO_ROOT / "recipes").rglob("*.yaml")
    }
    assert names == on_disk
