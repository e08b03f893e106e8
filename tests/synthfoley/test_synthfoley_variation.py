"""Varied SynthFoley clips: within the spec's bounds, every free choice exercised, same ground truth rules."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from foleyzoo.cli.main import run
from foleyzoo.io import media
from foleyzoo.synthfoley import generator as spec
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.variation import (
    COLOUR_TOLERANCE,
    CRF_RANGE,
    HELD_OUT,
    PRESETS,
    Variety,
    draw_style,
    draw_varied_scene,
    generate_varied_clip,
    h264_round_trip,
    render_styled_frames,
)

SCENES = 200


def _scenes(variety: Variety = HELD_OUT) -> list[spec.ClipSpec]:
    rng = np.random.default_rng(5)
    return [draw_varied_scene(rng, 4.0, variety) for _ in range(SCENES)]


def test_varied_scenes_stay_within_every_bound_of_the_spec() -> None:
    for scene in _scenes():
        assert spec.BACKGROUND_RANGE[0] <= scene.background <= spec.BACKGROUND_RANGE[1]
        sounding = [o for o in scene.objects if o.sounding]
        assert 1 <= len(sounding) <= 3 and len({o.category for o in sounding}) == len(sounding)
        assert sum(not o.sounding for o in scene.objects) <= 1
        for obj in scene.objects:
            assert spec.X_RANGE[0] <= obj.x <= spec.X_RANGE[1]
            assert spec.RADIUS_RANGE[0] <= obj.radius <= spec.RADIUS_RANGE[1]
            assert spec.FIRST_IMPACT_RANGE[0] <= obj.impacts[0] <= spec.FIRST_IMPACT_RANGE[1]
            assert obj.impacts[-1] < 4.0 - spec.END_MARGIN
            gaps = np.diff(obj.impacts)
            assert np.all((gaps >= spec.GAP_RANGE[0]) & (gaps <= spec.GAP_RANGE[1]))
            if obj.category == "bell":
                assert abs(obj.f0 / spec.BELL_F0 - 1) <= spec.BELL_F0_SPREAD


def test_held_out_draws_reach_the_ends_of_the_ranges_and_objects_stop_early() -> None:
    """The arcsine draws put far more values near the bounds than foleyzoo's uniform ones do."""
    scenes = _scenes()
    xs = np.asarray([o.x for s in scenes for o in s.objects])
    edge = np.mean((xs < 0.15) | (xs > 0.85))
    assert edge > 0.2  # uniform: 0.125; arcsine: 0.29
    silent = np.mean([any(not o.sounding for o in s.objects) for s in scenes])
    assert 0.2 < silent < 0.4  # the spec's probability 0.3
    rng = np.random.default_rng(5)
    uniform = [spec.draw_scene(rng) for _ in range(SCENES)]
    full = [len(o.impacts) for s in uniform for o in s.objects]
    varied = [len(o.impacts) for s in scenes for o in s.objects]
    assert min(varied) == 1 and np.mean(varied) < np.mean(full) - 0.5


def test_styles_cover_every_choice_and_keep_colours_within_tolerance() -> None:
    rng = np.random.default_rng(0)
    styles = [draw_style(rng) for _ in range(300)]
    assert {s.supersample for s in styles} == {1, 2, 4}
    assert {s.keep_inside for s in styles} == {False, True} and {s.reverse_order for s in styles} == {
        False,
        True,
    }
    assert any(s.floor_line is None for s in styles) and any(s.floor_line is not None for s in styles)
    assert {s.crf for s in styles} == set(range(CRF_RANGE[0], CRF_RANGE[1] + 1))
    assert {s.preset for s in styles} == set(PRESETS)
    for shape in ("square", "diamond", "triangle"):
        assert len({s.extents[shape] for s in styles}) > 1
    for style, name in itertools.product(styles, spec.COLOURS):
        assert np.max(np.abs(np.subtract(style.colours[name], spec.COLOURS[name]))) <= COLOUR_TOLERANCE


def test_an_object_touches_the_floor_at_its_impacts_in_every_drawing_style() -> None:
    """Whatever the shape's proportions, its lowest drawn row is the floor's at an impact frame."""
    obj = spec.SceneObject("spring", 0.5, 0.1, (1.0, 2.0))
    scene = spec.ClipSpec(duration=3.0, objects=(obj,), background=20)
    rng = np.random.default_rng(3)
    for _ in range(6):
        style = draw_style(rng)
        frames = render_styled_frames(scene, style)
        impact = frames[24].astype(int)  # t = 1.0 s
        rows = np.flatnonzero(np.abs(impact - 20).sum(axis=(1, 2)) > 60)
        floor_row = int(spec.FLOOR_Y * spec.SIZE)  # the row holding y = 0.9 (and any drawn floor line)
        assert rows.max() == floor_row  # nothing below the floor
        assert rows.min() < floor_row - 6  # the shape stands on it, at least 0.1 of the frame tall


def test_h264_round_trip_keeps_frame_order_and_count() -> None:
    clip, _ = generate_varied_clip((1, 2))
    decoded = h264_round_trip(clip.frames, 30)
    assert decoded.shape == clip.frames.shape
    errors = np.abs(decoded.astype(float) - clip.frames.astype(float)).mean(axis=(1, 2, 3))
    shifted = np.abs(decoded[1:].astype(float) - clip.frames[:-1].astype(float)).mean(axis=(1, 2, 3))
    assert errors.mean() < 4 and errors.mean() < shifted.mean()


def test_varied_clips_are_a_pure_function_of_the_seed_and_differ_from_the_standard_ones() -> None:
    first, _ = generate_varied_clip((9, 4))
    again, _ = generate_varied_clip((9, 4))
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.audio, again.audio)
    encoded, _ = generate_varied_clip((9, 4), encode=True)  # x264 through PyAV is not bit-exact run to run
    assert np.abs(encoded.frames.astype(float) - first.frames.astype(float)).mean() < 4
    standard = spec.generate_clip((9, 4))
    assert first.spec.to_json() != standard.spec.to_json()
    item = make_item(9, 4, variety=HELD_OUT, clean=True)
    assert item["meta"] == first.spec.to_json()
    assert np.allclose(item["audio"].numpy(), first.clean_audio)


def test_synth_make_varied_writes_conforming_clips(tmp_path: Path) -> None:
    assert run(["synth", "make", "--output", str(tmp_path), "--clips", "2", "--seed", "7", "--varied"]) == 0
    for index in range(2):
        truth = json.loads((tmp_path / f"clip_{index:05d}.json").read_text())
        clip, _ = generate_varied_clip((7, index))
        assert truth == json.loads(json.dumps(clip.spec.to_json()))
        info = media.probe(tmp_path / f"clip_{index:05d}.mp4")
        assert info.has_audio and info.has_video
        assert info.fps == pytest.approx(24.0) and (info.width, info.height) == (64, 64)
        assert info.duration == pytest.approx(4.0, abs=0.05)


def test_varied_training_data_needs_in_memory_clips(tmp_path: Path) -> None:
    from foleyzoo.errors import ConfigError
    from foleyzoo.synthfoley.datamodule import SynthFoleyDataModule

    module = SynthFoleyDataModule(folder=str(tmp_path), varied=True, sample_rate=16000)
    with pytest.raises(ConfigError, match="synth make --varied"):
        module.setup("fit")


def test_training_can_ask_for_more_silent_objects_without_changing_the_default_clips() -> None:
    with_silent = [make_item(4, index, silent_probability=1.0)["meta"] for index in range(6)]
    assert all(any(o["class"] == "silent" for o in meta["objects"]) for meta in with_silent)
    none = [make_item(4, index, silent_probability=0.0)["meta"] for index in range(6)]
    assert not any(o["class"] == "silent" for meta in none for o in meta["objects"])
    assert make_item(4, 0)["meta"] == spec.generate_clip((4, 0)).spec.to_json()
    varied = [make_item(4, i, variety=Variety(0.0, 0.0, 1.0))["meta"] for i in range(4)]
    assert all(any(o["class"] == "silent" for o in meta["objects"]) for meta in varied)
