"""Conformance: the installed package's entry points follow foleyzoo's plugin rules.

These read the *installed* metadata (``importlib.metadata``), so they also catch a pyproject.toml
that was edited but not reinstalled. Rules checked, as foleyzoo applies them when it loads plugins:
the entry-point name equals the class name; the class is a non-abstract subclass of its group's ABC;
its ``api_version`` is compatible; the recipes entry point yields a folder with the recipe in it.
"""

from __future__ import annotations

import inspect
from importlib.metadata import distribution
from pathlib import Path

import pytest
import yaml
from jsonargparse import ArgumentParser

from foleyzoo.api import INTERFACE_GROUPS, Sampler, TextEncoder, api_version_compatible

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
def test_each_class_is_named_after_its_entry_point_and_implements_its_interface(ep):
    cls = ep.load()
    base = INTERFACE_GROUPS[ep.group]
    assert inspect.isclass(cls)
    assert cls.__name__ == ep.name, "the entry-point name must equal the class name"
    assert issubclass(cls, base)
    assert not inspect.isabstract(cls), getattr(cls, "__abstractmethods__", None)
    assert "api_version" in vars(cls), "state the API version the class was written for"
    assert api_version_compatible(cls.api_version)
    # the entry point's target is the class's own import path (what a saved config will record)
    assert ep.value == f"{cls.__module__}:{cls.__qualname__}"


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
