"""Conformance: the installed package's entry points follow foleyzoo's plugin rules.

These read the *installed* metadata (``importlib.metadata``), so they also catch a pyproject.toml
that was edited but not reinstalled. ``foleyzoo.testing.check_plugin`` applies foleyzoo's own rules and
behavioural checks to each class; the recipes entry point must yield a folder with the recipe in it.
"""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path

import pytest
import yaml
from jsonargparse import ArgumentParser

from foleyzoo.api import INTERFACE_GROUPS, Sampler, TextEncoder
from foleyzoo.testing import check_plugin

EXPECTED = {
    ("foleyzoo.samplers", "RK4Sampler"): "foleyzoo_example.samplers:RK4Sampler",
    ("foleyzoo.text_encoders", "HashedTrigramTextEncoder"): "foleyzoo_example.text:HashedTrigramTextEncoder",
    ("foleyzoo.recipes", "foleyzoo-example"): "foleyzoo_example.recipes:recipe_dir",
}


def _entry_points():
    return [ep for ep in distribution("foleyzoo-example").entry_points if ep.group.startswith("foleyzoo.")]


def test_the_expected_entry_points_are_declared():
    assert {(ep.group, ep.name): ep.value for ep in _entry_points()} == EXPECTED


@pytest.mark.parametrize("ep", [ep for ep in _entry_points() if ep.group in INTERFACE_GROUPS], ids=str)
def test_each_class_passes_foleyzoos_plugin_check(ep):
    """foleyzoo's own check: its loading rules (interface, not abstract, name, API version), the entry
    point's target, and the behaviour its interface promises (RK4 integrates a known flow, the text
    encoder's tokens, mask and pooled vector agree)."""
    cls = ep.load()
    check_plugin(cls, group=ep.group, name=ep.name)
    assert "api_version" in vars(cls), "state the API version the class was written for"


def test_recipes_entry_point_gives_a_folder_whose_recipe_names_the_plugins():
    (ep,) = [ep for ep in _entry_points() if ep.group == "foleyzoo.recipes"]
    folder = Path(ep.load()())
    assert folder.is_dir()
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["toy-rk4.yaml"]
    recipe = yaml.safe_load((folder / "toy-rk4.yaml").read_text())
    init = recipe["model"]["init_args"]
    assert recipe["model"]["class_path"] == "ToyFlowMatching"
    assert init["text_encoder"]["class_path"] == "HashedTrigramTextEncoder"
    assert init["sampler"]["class_path"] == "RK4Sampler"
    assert recipe["data"]["class_path"] == "GaussianMixtureDataModule"


def test_the_recipes_plugin_parts_build_from_yaml_by_short_name():
    # What LightningCLI does with the recipe's model.init_args, restricted to this package's classes.
    for ep in _entry_points():
        if ep.group in INTERFACE_GROUPS:
            ep.load()  # foleyzoo loads every plugin before it builds a parser; short names need that
    folder = Path(next(ep for ep in _entry_points() if ep.group == "foleyzoo.recipes").load()())
    init_args = yaml.safe_load((folder / "toy-rk4.yaml").read_text())["model"]["init_args"]
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--text_encoder", type=TextEncoder)
    parser.add_argument("--sampler", type=Sampler)
    config = parser.parse_object(init_args)
    assert config.text_encoder.class_path == "foleyzoo_example.text.HashedTrigramTextEncoder"
    assert config.sampler.class_path == "foleyzoo_example.samplers.RK4Sampler"
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
    built = instantiate(config)
    assert built.text_encoder.embed_dim == 32
    assert built.sampler.steps == 8
    assert built.text_encoder.encode(["a bell"]).pooled.shape == (1, 32)
