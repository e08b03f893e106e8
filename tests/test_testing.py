"""``foleyzoo.testing.check_plugin``: passes foleyzoo's own plugins, fails broken ones naming the promise."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from foleyzoo.api import Sampler, TextEncoder, TextFeatures
from foleyzoo.mmdit import MMDiT
from foleyzoo.plugins.factory import create, list_plugins
from foleyzoo.samplers import EulerSampler, HeunSampler
from foleyzoo.testing import check_plugin


class ForgetfulSampler(Sampler):
    """Returns the noise: integrates nothing."""

    def sample(self, velocity, noise):
        return noise


class BatchDependentText(TextEncoder):
    """Its pooled vector depends on the other prompts of the batch."""

    @property
    def embed_dim(self) -> int:
        return 4

    def encode(self, texts):
        tokens = torch.ones(len(texts), 8, 4) * len(texts)
        mask = torch.zeros(len(texts), 8, dtype=torch.bool)
        for row, text in enumerate(texts):
            mask[row, : max(1, len(text.split()))] = True
        return TextFeatures(tokens=tokens, mask=mask, pooled=tokens.mean(1))


class Nickname(Sampler):
    def sample(self, velocity, noise):
        return noise


def test_foleyzoos_own_plugins_pass() -> None:
    check_plugin(EulerSampler)
    check_plugin(HeunSampler, steps=8)
    small = dict(
        latent_dim=4,
        visual_dim=6,
        text_dim=6,
        sync_dim=6,
        hidden=16,
        heads=2,
        joint_blocks=1,
        single_blocks=1,
    )
    check_plugin(MMDiT, **small)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (ForgetfulSampler, "does not integrate"),
        (BatchDependentText, "depends on the batch"),
    ],
)
def test_a_plugin_that_breaks_its_interfaces_promise_fails_naming_it(cls: type, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_plugin(cls)


def test_the_registrys_rules_apply() -> None:
    with pytest.raises(AssertionError, match="entry-point name 'Other' must equal the class name"):
        check_plugin(Nickname, name="Other")
    with pytest.raises(AssertionError, match="is abstract"):
        check_plugin(Sampler)


def test_create_and_list_plugins_by_group_name(tmp_path: Path) -> None:
    assert {"EulerSampler", "HeunSampler"} <= set(list_plugins("samplers"))
    assert list_plugins("foleyzoo.samplers", pattern="Heun*") == ["HeunSampler"]
    sampler = create("samplers", "HeunSampler", steps=7)
    assert isinstance(sampler, HeunSampler) and sampler.steps == 7


def test_listing_plugins_imports_none_of_them() -> None:
    import subprocess
    import sys

    code = (
        "import sys, foleyzoo; names = foleyzoo.list_plugins('text_encoders'); "
        "print(len(names), sorted(m for m in sys.modules if m.startswith(('transformers', 'timm', 'lightning'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, imported = out.split(" ", 1)
    assert int(count) >= 4 and imported.strip() == "[]"


def test_parsing_a_tiny_recipe_imports_no_pretrained_encoder_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from foleyzoo.training.cli import parse_config; "
        f"parse_config(['fit', '--config', {str(Path(__file__).parents[1] / 'recipes' / 'kling-tiny.yaml')!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith(('timm', 'foleyzoo.encoders.text.hf_text', "
        "'foleyzoo.encoders.visual.hf_vision', 'foleyzoo.encoders.visual.timm_encoder'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
