"""benchmarks/false_onsets: each unmatched onset and each missed event lands in the kind its distances say."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from benchmarks._common import REPO_ROOT


@pytest.fixture
def false_onsets(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("false_onsets")


def test_every_kind_of_false_onset_and_miss_is_told_apart(false_onsets: ModuleType) -> None:
    events = [1.0, 2.0, 3.0]
    silent = [3.6]
    onsets = [
        0.4,  # 0.6 s from every impact: a sound where nothing happened
        1.01,  # matched to 1.0
        1.04,  # 1.0 is taken and 1.01 is 30 ms away: the same sound heard twice
        2.10,  # 100 ms after 2.0: too late to match, so 2.0 is missed but heard nearby
        3.61,  # on the silent object's bounce
    ]  # 3.0 has nothing within 150 ms
    counts = false_onsets.sort_detections(events, silent, onsets)
    assert counts == {
        "matched": 1,
        "no_impact_near": 1,
        "second_rise": 1,
        "off_in_time": 1,
        "off_in_time_early": 0,
        "silent_bounce": 1,
        "missed_heard_nearby": 1,
        "missed_unheard": 1,
    }


def test_a_second_rise_beyond_the_tolerance_counts_as_off_in_time(false_onsets: ModuleType) -> None:
    counts = false_onsets.sort_detections([1.0], [], [1.0, 1.08])
    assert counts["matched"] == 1 and counts["off_in_time"] == 1 and counts["second_rise"] == 0


def test_sounds_off_in_time_are_told_early_or_late_and_matched_offsets_keep_their_sign(
    false_onsets: ModuleType,
) -> None:
    counts = false_onsets.sort_detections([1.0, 2.0], [], [0.9, 1.01, 2.12])
    assert counts["off_in_time"] == 2 and counts["off_in_time_early"] == 1
    offsets = false_onsets.matched_offsets([1.0, 2.0], [0.98, 2.03])
    assert offsets == pytest.approx([-0.02, 0.03])


def test_a_clip_without_events_or_onsets_counts_nothing(false_onsets: ModuleType) -> None:
    assert false_onsets.sort_detections([], [], []) == {"matched": 0}
    assert false_onsets.sort_detections([], [], [0.5])["no_impact_near"] == 1


def test_sets_are_read_as_seed_clips_and_varied() -> None:
    from benchmarks._common import parse_set

    assert parse_set("2024:32") == (2024, 32, False)
    assert parse_set("7000:8:varied") == (7000, 8, True)


def test_clean_latents_stand_in_for_the_sampler_whatever_the_velocity(false_onsets: ModuleType) -> None:
    import torch

    latents = torch.randn(251, 4)
    sampler = false_onsets.CleanLatents(latents)
    out = sampler.sample(lambda x, t: torch.full_like(x, float("nan")), torch.zeros(1, 250, 4))
    assert torch.equal(out, latents[None, :250])
    with pytest.raises(ValueError, match="cannot fill"):
        sampler.sample(lambda x, t: x, torch.zeros(2, 250, 4))


def test_events_are_classed_by_their_nearest_neighbour_and_misses_counted_in_each(
    false_onsets: ModuleType,
) -> None:
    events = [1.00, 1.03, 2.00, 2.10, 3.00, 3.30]
    onsets = [1.00, 2.00, 3.00, 3.30]  # one sound for the crowded pairs at 1 s and 2 s
    table = false_onsets.misses_by_gap(events, onsets)
    assert table == {
        "gap < 50 ms": [1, 2],
        "gap 50-150 ms": [1, 2],
        "gap 150-400 ms": [0, 2],
        "gap >= 400 ms": [0, 0],
    }
    assert false_onsets.misses_by_gap([2.0], [])["gap >= 400 ms"] == [1, 1]  # alone in its clip
