"""Only foleyzoo's classes and registered plugins may be built from a stored config."""

from __future__ import annotations

import sys

import pytest
from lightning.pytorch import LightningModule

from foleyzoo.api import Sampler
from foleyzoo.errors import ForbiddenClassError
from foleyzoo.plugins import check_config_allowed, instantiate_from_config
from foleyzoo.plugins.allowlist import is_allowed_class_path


@pytest.mark.parametrize(
    "class_path",
    ["os.system", "subprocess.Popen", "builtins.eval", "torch.load", "foleyzoo_fake.X", "EvilSampler"],
)
def test_foreign_class_paths_are_refused(class_path):
    config = {"class_path": "ToyFlowMatching", "init_args": {"sampler": {"class_path": class_path}}}
    with pytest.raises(ForbiddenClassError, match=r"init_args\.sampler\.class_path"):
        check_config_allowed(config, source="downloaded.ckpt")


@pytest.mark.parametrize(
    "class_path",
    [
        "EulerSampler",  # a registered short name
        "foleyzoo.samplers.ode.HeunSampler",
        "foleyzoo.samplers.HeunSampler",  # re-exported path, as jsonargparse writes it
        "torch.optim.AdamW",  # optimizer callables are part of a module's config
        "foleyzoo_example.samplers.RK4Sampler",  # an installed plugin
    ],
)
def test_foleyzoo_and_plugin_classes_are_allowed(class_path):
    assert is_allowed_class_path(class_path)


def test_unknown_instantiator_is_refused():
    with pytest.raises(ForbiddenClassError, match="_instantiator"):
        check_config_allowed(
            {"_class_path": "foleyzoo.training.toy.ToyFlowMatching", "_instantiator": "os.system"}
        )


def test_refused_module_is_never_imported(plugin_modules):
    folder = plugin_modules(
        fz_sneaky="import pathlib\npathlib.Path(__file__).with_name('RAN').touch()\nclass X: pass\n"
    )
    with pytest.raises(ForbiddenClassError):
        instantiate_from_config({"class_path": "fz_sneaky.X"}, LightningModule)
    assert "fz_sneaky" not in sys.modules and not (folder / "RAN").exists()


def test_allowed_config_is_built_like_the_cli_builds_it():
    sampler = instantiate_from_config({"class_path": "MidpointSampler", "init_args": {"steps": 9}}, Sampler)
    assert type(sampler).__name__ == "MidpointSampler" and sampler.steps == 9
