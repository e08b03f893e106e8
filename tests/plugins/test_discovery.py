"""Discovery with faked distributions: loading, validation, isolation of broken plugins, switches."""

from __future__ import annotations

import time

import pytest
from tests.conftest import FakeDistribution

from foleyzoo.errors import PluginError
from foleyzoo.plugins import PluginRegistry, PluginStatus

GOOD = """
from foleyzoo.api import Sampler

class GoodSampler(Sampler):
    def sample(self, velocity, noise):
        return noise
"""

MISC = """
import abc
from foleyzoo.api import Sampler, TextEncoder

class NotASampler:
    pass

class HalfSampler(Sampler):
    pass

class FutureSampler(Sampler):
    api_version = "2.0"
    def sample(self, velocity, noise):
        return noise

class NewerMinorSampler(Sampler):
    api_version = "1.99"
    def sample(self, velocity, noise):
        return noise

def not_a_class():
    return 1
"""

OTHER = """
from foleyzoo.api import Sampler

class GoodSampler(Sampler):
    def sample(self, velocity, noise):
        return noise + 1
"""


def load(*dists: FakeDistribution, **environ: str) -> PluginRegistry:
    return PluginRegistry().load(distributions=dists, environ=environ)


def status_of(registry: PluginRegistry, name: str) -> tuple[PluginStatus, str]:
    (record,) = [r for r in registry.records() if r.name == name]
    return record.status, record.error


def test_good_plugin_loads_with_package_and_version(plugin_modules):
    plugin_modules(fz_good=GOOD)
    registry = load(
        FakeDistribution("fz-good", "1.2.3", {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}})
    )
    (record,) = registry.records()
    assert record.status is PluginStatus.OK
    assert (record.package, record.version, record.class_path) == ("fz-good", "1.2.3", "fz_good.GoodSampler")
    assert registry.get("foleyzoo.samplers", "GoodSampler").__name__ == "GoodSampler"


def test_broken_import_is_isolated_and_reported(plugin_modules):
    plugin_modules(fz_good=GOOD, fz_broken="raise RuntimeError('boom at import')\n")
    registry = load(
        FakeDistribution(
            "fz-broken", "0.1", {"foleyzoo.samplers": {"BrokenSampler": "fz_broken:BrokenSampler"}}
        ),
        FakeDistribution("fz-good", "1.0", {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}}),
    )
    status, error = status_of(registry, "BrokenSampler")
    assert status is PluginStatus.BROKEN
    assert "RuntimeError: boom at import" in error
    assert status_of(registry, "GoodSampler")[0] is PluginStatus.OK
    with pytest.raises(PluginError) as excinfo:
        registry.get("foleyzoo.samplers", "BrokenSampler")
    message = str(excinfo.value)
    assert "BrokenSampler" in message and "fz-broken" in message and "boom at import" in message


def test_a_plugin_that_hangs_on_import_is_stopped_and_named(plugin_modules):
    plugin_modules(fz_good=GOOD, fz_hang="while True:\n    pass\n")
    registry = load(
        FakeDistribution("fz-hang", "0.1", {"foleyzoo.samplers": {"HangSampler": "fz_hang:HangSampler"}}),
        FakeDistribution("fz-good", "1.0", {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}}),
        FOLEYZOO_PLUGIN_IMPORT_TIMEOUT="0.5",
    )
    started = time.monotonic()
    with pytest.warns(UserWarning, match="plugin 'HangSampler'"):
        status, error = status_of(registry, "HangSampler")  # its import starts when it is first needed
    assert time.monotonic() - started < 10
    assert status is PluginStatus.BROKEN
    assert "did not finish importing within 0.5 s" in error and "FOLEYZOO_PLUGIN_IMPORT_TIMEOUT" in error
    assert status_of(registry, "GoodSampler")[0] is PluginStatus.OK


def test_a_plugin_raising_keyboard_interrupt_on_import_is_broken_not_fatal(plugin_modules):
    plugin_modules(fz_interrupt="raise KeyboardInterrupt\n")
    registry = load(
        FakeDistribution("fz-int", "0.1", {"foleyzoo.samplers": {"IntSampler": "fz_interrupt:IntSampler"}})
    )
    status, error = status_of(registry, "IntSampler")
    assert status is PluginStatus.BROKEN and "KeyboardInterrupt" in error


def test_missing_module_is_broken_not_fatal():
    registry = load(
        FakeDistribution("fz-gone", "0.1", {"foleyzoo.samplers": {"Gone": "fz_no_such_module:Gone"}})
    )
    status, error = status_of(registry, "Gone")
    assert status is PluginStatus.BROKEN and "ModuleNotFoundError" in error


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NotASampler", "does not subclass foleyzoo.api.Sampler"),
        ("HalfSampler", "is abstract: it does not implement sample"),
        ("FutureSampler", "written for foleyzoo API 2.0"),
        ("NewerMinorSampler", "written for foleyzoo API 1.99"),
        ("not_a_class", "not a class"),
    ],
)
def test_invalid_plugins_are_rejected_with_a_reason(plugin_modules, name, expected):
    plugin_modules(fz_misc=MISC)
    registry = load(FakeDistribution("fz-misc", "0.1", {"foleyzoo.samplers": {name: f"fz_misc:{name}"}}))
    status, error = status_of(registry, name)
    assert status is PluginStatus.INVALID
    assert expected in error


def test_entry_point_name_must_equal_class_name(plugin_modules):
    plugin_modules(fz_good=GOOD)
    registry = load(
        FakeDistribution("fz-good", "0.1", {"foleyzoo.samplers": {"Nickname": "fz_good:GoodSampler"}})
    )
    status, error = status_of(registry, "Nickname")
    assert status is PluginStatus.INVALID and "must equal the class name 'GoodSampler'" in error


def test_wrong_group_base_class(plugin_modules):
    plugin_modules(fz_good=GOOD)
    registry = load(
        FakeDistribution("fz-good", "0.1", {"foleyzoo.text_encoders": {"GoodSampler": "fz_good:GoodSampler"}})
    )
    status, error = status_of(registry, "GoodSampler")
    assert status is PluginStatus.INVALID and "does not subclass foleyzoo.api.TextEncoder" in error


def test_unknown_group_is_reported(plugin_modules):
    plugin_modules(fz_good=GOOD)
    registry = load(
        FakeDistribution("fz-good", "0.1", {"foleyzoo.sammplers": {"GoodSampler": "fz_good:GoodSampler"}})
    )
    status, error = status_of(registry, "GoodSampler")
    assert status is PluginStatus.INVALID and "unknown entry-point group 'foleyzoo.sammplers'" in error


def test_same_name_from_two_packages_is_a_clear_conflict(plugin_modules):
    plugin_modules(fz_good=GOOD, fz_other=OTHER)
    registry = load(
        FakeDistribution("fz-good", "1.0", {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}}),
        FakeDistribution("fz-other", "2.0", {"foleyzoo.samplers": {"GoodSampler": "fz_other:GoodSampler"}}),
    )
    records = registry.records("foleyzoo.samplers")
    assert [r.status for r in records] == [PluginStatus.CONFLICT, PluginStatus.CONFLICT]
    with pytest.raises(PluginError) as excinfo:
        registry.get("foleyzoo.samplers", "GoodSampler")
    message = str(excinfo.value)
    assert "fz-good 1.0 (fz_good:GoodSampler)" in message and "fz-other 2.0 (fz_other:GoodSampler)" in message


def test_a_distribution_seen_twice_on_the_path_is_loaded_once(plugin_modules):
    plugin_modules(fz_good=GOOD)
    dist = {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}}
    registry = load(FakeDistribution("fz-good", "1.0", dist), FakeDistribution("fz_good", "0.9", dist))
    (record,) = registry.records()
    assert record.status is PluginStatus.OK and record.version == "1.0"


def test_disable_autoload_keeps_builtins_and_named_packages(plugin_modules):
    plugin_modules(fz_good=GOOD, fz_other=OTHER.replace("GoodSampler", "OtherSampler"))
    builtin = FakeDistribution(
        "foleyzoo", "9.9", {"foleyzoo.samplers": {"GoodSampler": "fz_good:GoodSampler"}}
    )
    third = FakeDistribution(
        "fz-other", "1.0", {"foleyzoo.samplers": {"OtherSampler": "fz_other:OtherSampler"}}
    )
    off = load(builtin, third, FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD="1")
    assert [r.name for r in off.records()] == ["GoodSampler"]
    named = load(builtin, third, FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD="1", FOLEYZOO_PLUGINS="fz_other")
    assert sorted(r.name for r in named.records()) == ["GoodSampler", "OtherSampler"]
    assert len(load(builtin, third, FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD="0").records()) == 2


def test_plugins_variable_imports_modules_and_disables_by_name(plugin_modules):
    plugin_modules(fz_local=GOOD + MISC)
    registry = load(FOLEYZOO_PLUGINS="fz_local")
    by_name = {r.name: r for r in registry.records()}
    assert (
        by_name["GoodSampler"].status is PluginStatus.OK
        and by_name["GoodSampler"].package == "FOLEYZOO_PLUGINS"
    )
    assert by_name["FutureSampler"].status is PluginStatus.INVALID
    assert "HalfSampler" not in by_name  # abstract helpers in a module are not plugins
    disabled = load(
        FakeDistribution("fz-x", "1", {"foleyzoo.samplers": {"GoodSampler": "fz_local:GoodSampler"}}),
        FOLEYZOO_PLUGINS="no:fz-x",
    )
    assert status_of(disabled, "GoodSampler")[0] is PluginStatus.DISABLED


def test_broken_module_in_plugins_variable_is_reported():
    registry = load(FOLEYZOO_PLUGINS="fz_module_that_does_not_exist")
    (record,) = registry.records()
    assert record.status is PluginStatus.BROKEN and "ModuleNotFoundError" in record.error


def test_recipe_sources_must_be_folders(tmp_path, plugin_modules):
    plugin_modules(
        fz_recipes=f"def good():\n    return {str(tmp_path)!r}\n\ndef bad():\n    return '/no/such/dir'\n"
    )
    registry = load(
        FakeDistribution(
            "fz-recipes", "1", {"foleyzoo.recipes": {"good": "fz_recipes:good", "bad": "fz_recipes:bad"}}
        )
    )
    assert status_of(registry, "good")[0] is PluginStatus.OK
    status, error = status_of(registry, "bad")
    assert status is PluginStatus.INVALID and "/no/such/dir does not exist" in error
