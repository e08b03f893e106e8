"""`foleyzoo summarize`: the paper-scale recipe counted on the meta device, without its weights or memory."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO_ROOT

from foleyzoo.cli.main import run
from foleyzoo.cli.summarize import read_model_config, summarize_model
from foleyzoo.errors import ConfigError
from foleyzoo.mmdit import MMDiT

KLING = REPO_ROOT / "recipes" / "kling.yaml"


def test_the_paper_recipe_has_a_billion_parameter_mmdit_built_without_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rows = {row.name: row for row in summarize_model(read_model_config(KLING), source=str(KLING))}
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert 0.9e9 <= rows["denoiser"].parameters <= 1.1e9, rows["denoiser"]
    assert grown_mib < 1000, f"building grew the process by {grown_mib:.0f} MiB (fp32 weights: 3.7 GiB)"
    assert rows["codec"].parameters > 100e6 and "architecture only" in rows["codec"].note  # MMAudio's VAE
    assert rows["vocoder"].parameters > 100e6 and "architecture only" in rows["vocoder"].note  # BigVGAN v2
    assert rows["sync_encoder"].parameters > 50e6 and "architecture only" in rows["sync_encoder"].note
    assert {"sampler", "optimizer", "scheduler"}.isdisjoint(rows)  # no parameters to count


def test_meta_counts_equal_a_real_build(tmp_path: Path) -> None:
    """The count on the meta device is the count of the same network built for real (at small width)."""
    recipe = yaml.safe_load(KLING.read_text())
    denoiser = recipe["model"]["init_args"]["denoiser"]
    denoiser["init_args"].update(hidden=64, heads=4, joint_blocks=2, single_blocks=3)
    recipe["model"]["init_args"] = {"denoiser": denoiser}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(recipe))
    (row,) = summarize_model(read_model_config(path))
    real = MMDiT(**denoiser["init_args"])
    assert row.parameters == sum(p.numel() for p in real.parameters())


def test_the_command_prints_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summarize", "--config", str(KLING), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows][-1] == "denoiser" and rows[-1]["parameters"] > 0.9e9


def test_bad_recipes_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        read_model_config(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("trainer: {}\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml: has no model"):
        read_model_config(empty)
    with pytest.raises(ConfigError, match=r"nope\.yaml: recipe not found"):
        read_model_config(tmp_path / "nope.yaml")
