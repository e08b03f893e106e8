"""Real `foleyzoo fit` runs of the toy recipe: learning, run folders, safe checkpoints, plugin swaps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tests.conftest import REPO_ROOT

from foleyzoo.cli.main import main
from foleyzoo.errors import ConfigError, ForbiddenClassError
from foleyzoo.io.checkpoints import load_module
from foleyzoo.training.cli import FoleyCLI

TOY = str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml")
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def tiny_fit_args(root: Path, steps: int = 6, *extra: str) -> list[str]:
    return [
        "fit",
        "--config",
        TOY,
        *QUIET,
        f"--trainer.default_root_dir={root}",
        f"--trainer.logger.init_args.save_dir={root}",
        f"--trainer.max_steps={steps}",
        "--trainer.limit_val_batches=1",
        "--data.init_args.num_train=256",
        "--data.init_args.batch_size=64",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    assert main(tiny_fit_args(root, 6, "--trainer.logger.init_args.version=fixed")) == 0
    return root / "tensorboard" / "fixed"


def test_fit_writes_config_and_checkpoint(trained_run):
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["class_path"] == "foleyzoo.training.toy.ToyFlowMatching"
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()


def test_second_run_in_the_same_folder_keeps_both_configs(trained_run):
    root = trained_run.parents[1]
    first = (trained_run / "config.yaml").read_text()
    assert main(tiny_fit_args(root, 2, "--trainer.logger.init_args.version=fixed")) == 0
    assert (trained_run / "config.yaml").read_text() == first
    assert "max_steps: 2" in (trained_run / "config-1.yaml").read_text()


def test_checkpoint_reloads_the_same_model_safely(trained_run):
    checkpoint = trained_run / "checkpoints" / "last.ckpt"
    module = load_module(checkpoint)
    stored = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert type(module).__name__ == "ToyFlowMatching"
    assert type(module.sampler).__name__ == "EulerSampler" and module.sampler.steps == 16
    assert all(torch.equal(module.state_dict()[key], value) for key, value in stored.items())


def tampered(checkpoint: Path, out: Path, **changes) -> Path:
    data = torch.load(checkpoint, weights_only=True)
    data["hyper_parameters"].update(changes)
    torch.save(data, out)
    return out


EVIL = "import pathlib\npathlib.Path(__file__).with_name('EXECUTED').write_text('yes')\nclass Evil: pass\n"


def test_foreign_class_in_checkpoint_is_refused_before_import(trained_run, tmp_path, plugin_modules):
    folder = plugin_modules(fz_evil=EVIL)
    bad = tampered(
        trained_run / "checkpoints" / "last.ckpt", tmp_path / "bad.ckpt", _class_path="fz_evil.Evil"
    )
    with pytest.raises(ForbiddenClassError, match=r"fz_evil.Evil"):
        load_module(bad)
    nested = tampered(
        trained_run / "checkpoints" / "last.ckpt",
        tmp_path / "nested.ckpt",
        sampler={"class_path": "fz_evil.Evil"},
    )
    with pytest.raises(ForbiddenClassError, match=r"at hyper_parameters\.sampler\.class_path"):
        load_module(nested)
    with pytest.raises(ForbiddenClassError, match=r"fz_evil.Evil"):
        FoleyCLI(args=[*tiny_fit_args(tmp_path, 1), f"--ckpt_path={bad}"])
    assert not (folder / "EXECUTED").exists()
    assert "fz_evil" not in sys.modules


def test_a_weights_only_checkpoint_cannot_resume_and_says_so(trained_run, tmp_path, capsys):
    data = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    del data["optimizer_states"], data["lr_schedulers"]
    torch.save(data, tmp_path / "weights.ckpt")
    assert main([*tiny_fit_args(tmp_path, 8), f"--ckpt_path={tmp_path / 'weights.ckpt'}"]) == 2
    error = capsys.readouterr().err
    assert "weights.ckpt: holds no optimizer states" in error and len(error.strip().splitlines()) == 1


def test_checkpoint_of_another_model_names_the_mismatch(trained_run, tmp_path):
    other = tampered(trained_run / "checkpoints" / "last.ckpt", tmp_path / "other.ckpt", hidden=64)
    with pytest.raises(ConfigError, match=r"do not fit foleyzoo.training.toy.ToyFlowMatching.*net.0.weight"):
        load_module(other)
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"junk.ckpt: not a readable checkpoint"):
        load_module(tmp_path / "junk.ckpt")


def test_toy_recipe_learns(tmp_path):
    """Trained 300 steps, samples land in the blob their caption names and the distribution distance falls."""
    args = [
        "--config",
        TOY,
        *QUIET,
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.logger=false",
        "--trainer.callbacks=[]",
        "--trainer.enable_checkpointing=false",
        "--trainer.max_steps=300",
        "--trainer.max_epochs=-1",
        "--trainer.check_val_every_n_epoch=1000",
    ]
    cli = FoleyCLI(args=args, run=False)
    cli.datamodule.setup("validate")
    before = cli.trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    after = cli.trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    assert before["val/class_accuracy"] < 0.5
    assert after["val/class_accuracy"] >= 0.95
    assert after["val/swd"] < 0.35 * before["val/swd"]
    assert after["val/loss"] < 0.8 * before["val/loss"]


def test_example_plugin_swaps_in_by_short_name_without_code_edits(tmp_path):
    """The installed example package's sampler and encoder replace the built-ins from the command line."""
    swap = ["--model.init_args.sampler=RK4Sampler", "--model.init_args.text_encoder=HashedTrigramTextEncoder"]
    args = tiny_fit_args(tmp_path, 2)[1:]  # without the subcommand: build only, run below
    cli = FoleyCLI(args=[*args, *swap, "--trainer.logger=false", "--trainer.callbacks=[]"], run=False)
    assert type(cli.model.sampler).__module__ == "foleyzoo_example.samplers"
    assert type(cli.model.text_encoder).__module__ == "foleyzoo_example.text"
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step == 2


@pytest.mark.slow
def test_example_plugin_installs_and_its_recipe_runs(tmp_path):
    """pip installs plugins/foleyzoo-example into a fresh folder; foleyzoo sees it and fits its shipped recipe."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(REPO_ROOT / "plugins" / "foleyzoo-example"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {"PYTHONPATH": str(target)}
    script = str(Path(sys.executable).with_name("foleyzoo"))
    where = subprocess.run(
        [sys.executable, "-c", "import foleyzoo_example; print(foleyzoo_example.__file__)"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        check=True,
    )
    assert where.stdout.startswith(str(target))
    copy = subprocess.run(
        [script, "recipes", "copy", "toy-rk4", str(tmp_path / "rk4.yaml")],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert copy.returncode == 0, copy.stderr
    fit = subprocess.run(
        [
            script,
            "fit",
            "--config",
            str(tmp_path / "rk4.yaml"),
            "--trainer.max_steps=3",
            f"--trainer.default_root_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        cwd=tmp_path,
        timeout=300,
    )
    assert fit.returncode == 0, fit.stderr[-2000:]
    assert "`Trainer.fit` stopped: `max_steps=3` reached" in fit.stderr + fit.stdout
