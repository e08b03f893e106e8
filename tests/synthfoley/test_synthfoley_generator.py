"""SynthFoley generator against the v1 spec: scene distribution, motion measured in pixels, sounds, pan.

Expected values are computed here from the spec's formulas, not from the generator's helpers.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleyzoo.io import media
from foleyzoo.synthfoley.generator import (
    COLOURS,
    ClipSpec,
    SceneObject,
    draw_scene,
    generate_clip,
    render_audio,
    render_frames,
    write_clip,
)

SR, FPS, SIZE, FLOOR, G = 16000, 24, 64, 0.9, 4.4
WORDS = {"bell": "a bell", "wood": "a wooden knock", "spring": "a spring boing", "glass": "a glass clink"}
BACKGROUND = 40


def spec_amplitudes(impacts: list[float]) -> list[float]:
    """The spec's loudness rule: 0.2 + 0.6 · gap / 1.2 s in [0.2, 0.8], the first gap the fall time."""
    gaps = np.diff([0.0, *impacts])
    return [min(0.8, max(0.2, 0.2 + 0.6 * gap / 1.2)) for gap in gaps]


def spec_bottom(impacts: list[float], t: float) -> float:
    """The spec's bottom edge at time t (fall, parabolic bounces, rest; clamped at the top)."""
    if t < impacts[0]:
        return max(0.0, FLOOR - G * (impacts[0] - t) ** 2 / 2)
    for a, b in itertools.pairwise(impacts):
        if a <= t < b:
            return FLOOR - G * (t - a) * (b - t) / 2
    return FLOOR


def single(category: str, impacts: tuple[float, ...], x: float = 0.5, radius: float = 0.08) -> ClipSpec:
    """A 4 s clip with one object, for measurements that other objects would disturb."""
    f0 = 660.0 if category == "bell" else None
    return ClipSpec(4.0, (SceneObject(category, x, radius, impacts, f0),), background=BACKGROUND)


def coverage(frames: np.ndarray, category: str) -> np.ndarray:
    """Per-pixel share (T, H, W) of the object's colour over the background, from the RGB values."""
    colour = np.asarray(COLOURS[category], dtype=np.float64)
    channel = int(np.argmax(np.abs(colour - BACKGROUND)))
    return (frames[..., channel] - BACKGROUND) / (colour[channel] - BACKGROUND)


def measured_bottom(alpha: np.ndarray) -> float | None:
    """Bottom edge (normalised y) of the object in one frame: below the lowest row at least half covered."""
    rows = np.flatnonzero(alpha.max(axis=1) >= 0.5)
    return None if len(rows) == 0 else (rows[-1] + 1) / SIZE


# --------------------------------------------------------------------------- scene


@pytest.fixture(scope="module")
def scenes() -> list[ClipSpec]:
    return [draw_scene(np.random.default_rng([99, i])) for i in range(400)]


def test_scene_distribution_follows_the_spec(scenes: list[ClipSpec]) -> None:
    silent_count = 0
    sounding_counts = set()
    for spec in scenes:
        assert 20 <= spec.background <= 60
        sounding = [o for o in spec.objects if o.sounding]
        silent = [o for o in spec.objects if not o.sounding]
        assert 1 <= len(sounding) <= 3 and len({o.category for o in sounding}) == len(sounding)
        assert len(silent) <= 1 and all(o.category == "silent" for o in silent)
        silent_count += len(silent)
        sounding_counts.add(len(sounding))
        for obj in spec.objects:
            assert 0.1 <= obj.x <= 0.9 and 0.06 <= obj.radius <= 0.10
            assert 0.3 <= obj.impacts[0] <= 1.5 and obj.impacts[-1] < spec.duration - 0.2
            gaps = np.diff(obj.impacts)
            assert np.all((gaps >= 0.35) & (gaps <= 1.2))
    assert sounding_counts == {1, 2, 3}
    assert 0.22 <= silent_count / len(scenes) <= 0.38  # p = 0.3, n = 400: ± 3.5 standard deviations


def test_ground_truth_json_events_and_caption(scenes: list[ClipSpec]) -> None:
    for spec in scenes[:100]:
        data = json.loads(json.dumps(spec.to_json()))
        assert set(data) == {"duration", "fps", "sample_rate", "caption", "objects", "events"}
        assert (data["duration"], data["fps"], data["sample_rate"]) == (4.0, 24, 16000)
        assert all(set(o) == {"class", "x", "radius", "impacts"} for o in data["objects"])
        expected = sorted(
            (t, o["class"], o["x"], a)
            for o in data["objects"]
            if o["class"] != "silent"
            for t, a in zip(o["impacts"], spec_amplitudes(o["impacts"]), strict=True)
        )
        got = [(e["time"], e["class"], e["x"], e["amplitude"]) for e in data["events"]]
        assert [g[:3] for g in got] == [e[:3] for e in expected]  # every sounding impact, sorted by time
        assert np.allclose([g[3] for g in got], [e[3] for e in expected])
        first = sorted((o["impacts"][0], o["class"]) for o in data["objects"] if o["class"] != "silent")
        assert data["caption"] == " and ".join(WORDS[c] for _, c in first)


def test_generation_is_deterministic_by_seed() -> None:
    a, b, c = generate_clip((5, 7)), generate_clip((5, 7)), generate_clip((5, 8))
    assert a.spec.to_json() == b.spec.to_json()
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert np.array_equal(a.clean_audio, b.clean_audio)
    assert a.spec.to_json() != c.spec.to_json()


# --------------------------------------------------------------------------- video


@pytest.mark.parametrize("category", ["bell", "wood", "spring", "glass", "silent"])
def test_bottom_touches_the_floor_exactly_at_impacts(category: str) -> None:
    impacts = (1.0, 1.5, 2.25, 3.0)  # on frames 24, 36, 54, 72
    alpha = coverage(render_frames(single(category, impacts)), category)
    for t in impacts:
        assert measured_bottom(alpha[round(t * FPS)]) == pytest.approx(FLOOR, abs=1 / SIZE)
    # the frames beside a bounce are visibly higher, so the touch happens at the impact (the spec's fall
    # before the first impact, g (t_1 − t)² / 2, is slow near the floor, so only bounces are checked)
    for a, b in itertools.pairwise(impacts):
        for k in (round(a * FPS) + 1, round(b * FPS) - 1):
            assert measured_bottom(alpha[k]) < FLOOR - 1.5 / SIZE


def test_motion_follows_the_spec_between_impacts() -> None:
    impacts = (1.0, 1.5, 2.25, 3.0)
    alpha = coverage(render_frames(single("wood", impacts)), "wood")
    assert alpha[0].max() == 0  # at t = 0 the object is still above the frame (clamped at the top)
    for k in range(len(alpha)):
        expected = spec_bottom(list(impacts), k / FPS)
        if expected > 2 * 0.08:  # wholly inside the frame
            assert measured_bottom(alpha[k]) == pytest.approx(expected, abs=1 / SIZE), k
    mid = round(1.25 * FPS)  # apex of the 0.5 s bounce: g Δ² / 8 above the floor
    assert measured_bottom(alpha[mid]) == pytest.approx(FLOOR - G * 0.5**2 / 8, abs=1 / SIZE)


def test_nearest_frame_to_an_arbitrary_impact() -> None:
    impacts = (0.93, 1.71, 2.42, 3.337)
    alpha = coverage(render_frames(single("glass", impacts)), "glass")
    for t in impacts:
        k = round(t * FPS)
        assert measured_bottom(alpha[k]) == pytest.approx(spec_bottom(list(impacts), k / FPS), abs=1 / SIZE)
        assert abs(measured_bottom(alpha[k]) - FLOOR) < 3.5 / SIZE


def test_classes_have_their_colour_and_shape() -> None:
    radius, x, cy = 0.1, 0.5, FLOOR - 0.1
    shapes = {}
    for category in ("bell", "wood", "spring", "glass", "silent"):
        frame = render_frames(single(category, (1.0,), x, radius))[-1]  # resting on the floor
        alpha = coverage(frame[None], category)[0]

        def covered(dx: float, dy: float, alpha: np.ndarray = alpha) -> bool:
            return bool(alpha[int((cy + dy) * SIZE), int((x + dx) * SIZE)] > 0.5)

        assert tuple(frame[int(cy * SIZE), int(x * SIZE)]) == COLOURS[category]
        probes = (
            covered(0.6 * radius, 0.6 * radius),  # inside a circle or square, outside a diamond
            covered(-0.85 * radius, -0.85 * radius),  # upper corner: the square's only
            covered(-0.85 * radius, 0.85 * radius),  # lower corner: square's and triangle's
        )
        shapes[category] = {
            (True, False, False): "circle",
            (True, True, True): "square",
            (True, False, True): "triangle",
            (False, False, False): "diamond",
        }[probes]
    expected = {
        "bell": "circle",
        "wood": "square",
        "spring": "triangle",
        "glass": "diamond",
        "silent": "circle",
    }
    assert shapes == expected


# --------------------------------------------------------------------------- audio


def dominant_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / SR)[np.argmax(spectrum)])


def rms(signal: np.ndarray, at: float, length: float) -> float:
    return float(np.sqrt(np.mean(signal[round(at * SR) : round((at + length) * SR)] ** 2)))


@pytest.mark.parametrize("category", ["bell", "wood", "spring", "glass"])
def test_sound_starts_at_the_impact_with_the_spec_loudness_and_pan(category: str) -> None:
    impacts, x = (0.8, 1.9, 2.5), 0.3
    spec = single(category, impacts, x=x)
    _, clean = render_audio(spec, np.random.default_rng(0))
    left, right = clean.astype(np.float64)
    first = math.ceil(impacts[0] * SR)
    assert np.all(clean[:, :first] == 0) and left[first + 1] != 0
    gain_l, gain_r = math.cos(x * math.pi / 2), math.sin(x * math.pi / 2)
    assert np.allclose(left * gain_r, right * gain_l, atol=1e-6)  # constant-power pan by x
    amplitudes = spec_amplitudes(list(impacts))
    alone = left[first : math.ceil(impacts[1] * SR)] / gain_l  # the first sound, before the second
    assert np.abs(alone).max() == pytest.approx(amplitudes[0], rel=1e-5)  # peak-normalised, then gain
    assert np.abs(alone[: round(0.001 * SR)]).max() < 0.55 * amplitudes[0]  # 2 ms linear fade-in


def test_two_ms_linear_fade_in() -> None:
    """The bell's sound over its undecayed, unfaded formula is a ramp reaching its plateau at 2 ms."""
    x, t0, f0 = 0.0, 1.0, 660.0
    _, clean = render_audio(single("bell", (t0,), x=x), np.random.default_rng(0))
    first = math.ceil(t0 * SR)
    tau = np.arange(first, first + round(0.01 * SR)) / SR - t0
    formula = sum(a * np.sin(2 * np.pi * f0 * m * tau) for m, a in ((1, 1), (2.76, 0.5), (5.40, 0.25)))
    formula *= np.exp(-tau / 0.30)
    usable = np.abs(formula) > 0.2
    ratio = clean[0, first : first + len(tau)] / np.where(usable, formula, 1.0)
    plateau = np.median(ratio[usable & (tau > 0.003)])
    assert np.allclose(ratio[usable] / plateau, np.minimum(tau[usable] / 0.002, 1.0), atol=1e-4)


def test_each_class_sounds_as_specified() -> None:
    sounds = {}
    for category in ("bell", "wood", "spring", "glass"):
        _, clean = render_audio(single(category, (1.0,), x=0.0), np.random.default_rng(1))
        sounds[category] = clean[0, SR:].astype(np.float64)  # left gain 1 at x = 0
    assert dominant_hz(sounds["bell"][: SR // 4]) == pytest.approx(660, abs=8)
    glass = np.abs(np.fft.rfft(sounds["glass"][:SR])) ** 2  # 1 Hz bins
    assert sorted(np.argsort(glass)[-3:]) == [3000, 4200, 5100]
    assert dominant_hz(sounds["spring"][: round(0.06 * SR)]) < 260  # sweep starts at 180 Hz …
    assert dominant_hz(sounds["spring"][round(0.3 * SR) : round(0.5 * SR)]) == pytest.approx(520, abs=10)
    spectrum = np.abs(np.fft.rfft(sounds["wood"][: SR // 5])) ** 2
    freqs = np.fft.rfftfreq(SR // 5, 1 / SR)
    assert spectrum[(freqs >= 195) & (freqs <= 1205)].sum() / spectrum.sum() > 0.97
    decays = {"bell": 0.30, "spring": 0.15, "glass": 0.06}
    for category, tau in decays.items():  # exponential decay: rms ratio over 50 ms is exp(−0.05 / τ)
        ratio = rms(sounds[category], 0.05, 0.02) / rms(sounds[category], 0.10, 0.02)
        assert ratio == pytest.approx(math.exp(0.05 / tau), rel=0.05), category
    assert rms(sounds["wood"], 0.005, 0.02) / rms(sounds["wood"], 0.055, 0.02) > math.exp(0.05 / 0.025) / 2
    assert np.abs(sounds["bell"][-100:]).max() > 0  # rings on to the end of the clip


def test_noise_floor_and_clipping() -> None:
    loud = ClipSpec(
        4.0,
        tuple(
            SceneObject(c, 0.5, 0.08, (1.5, 2.7), 660.0 if c == "bell" else None)
            for c in ("bell", "glass", "wood")
        ),
    )
    audio, clean = render_audio(loud, np.random.default_rng(3))
    assert np.abs(audio).max() <= 1.0 and np.abs(clean).max() <= 1.0
    assert np.abs(clean).max() == 1.0  # three loud impacts at once exceed full scale and are clipped
    quiet = slice(0, round(1.4 * SR))  # before any impact: only the noise floor
    noise = audio[:, quiet].astype(np.float64)
    assert noise.std(axis=1) == pytest.approx([0.003, 0.003], rel=0.03)
    assert abs(np.corrcoef(noise)[0, 1]) < 0.05  # independent on each channel


def test_overlapping_sounds_add() -> None:
    bell = SceneObject("bell", 0.2, 0.08, (1.0, 2.0), 660.0)
    glass = SceneObject("glass", 0.7, 0.08, (1.01, 2.5))
    both = render_audio(ClipSpec(4.0, (bell, glass)), np.random.default_rng(0))[1]
    parts = [render_audio(ClipSpec(4.0, (o,)), np.random.default_rng(0))[1] for o in (bell, glass)]
    assert np.allclose(both, parts[0] + parts[1], atol=1e-6)


# --------------------------------------------------------------------------- files


def test_write_clip_files(tmp_path: Path) -> None:
    clip = generate_clip((2, 0))
    paths = write_clip(tmp_path, "clip", clip, write_clean_wav=True)
    assert [p.name for p in paths] == ["clip.mp4", "clip.json", "clip.wav"]
    assert json.loads((tmp_path / "clip.json").read_text()) == clip.spec.to_json()
    wav, rate = sf.read(tmp_path / "clip.wav", dtype="float32")
    assert rate == SR and np.array_equal(wav.T, clip.clean_audio)
    info = media.probe(tmp_path / "clip.mp4")
    assert (info.fps, info.width, info.height, info.sample_rate, info.channels) == (24, 64, 64, SR, 2)
    frames, _ = media.read_video_frames(tmp_path / "clip.mp4", FPS)
    assert frames.shape == (96, 3, 64, 64)
    rendered = clip.frames.transpose(0, 3, 1, 2) / 255.0
    assert np.abs(frames.numpy() - rendered).mean() < 4 / 255  # H.264 at CRF 17 is close to the render
    audio = media.read_audio(tmp_path / "clip.mp4", SR, channels=2).numpy()
    assert audio.shape == clip.audio.shape
    assert np.corrcoef(audio[0], clip.audio[0])[0, 1] > 0.95  # AAC of the noisy mix, time-aligned
