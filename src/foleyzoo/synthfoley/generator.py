"""SynthFoley v1 clips: ground truth drawn from a seed, rendered to frames and stereo audio.

Implements ``shared/specs/synthfoley-v1.md`` (the contract; every constant below is from it): bouncing
objects of four sounding classes (and maybe one silent object) whose impacts make each class's sound,
panned by the object's horizontal position. A clip is a pure function of its seed: the scene is drawn
from one child of the seed and the random parts of the audio (wood noise, noise floor) from another,
so the scene does not depend on how the audio is rendered.

Coordinates are normalised: x from the left edge over the frame width, y from the top over the frame
height (the floor is y = 0.9), radii over the frame height. Frame k shows the scene at k / fps.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CAPTION_WORDS",
    "CLASSES",
    "COLOURS",
    "ClipSpec",
    "Event",
    "SceneObject",
    "SynthClip",
    "bottom_edge",
    "caption_for",
    "class_references",
    "coverage",
    "draw_scene",
    "generate_clip",
    "impact_amplitudes",
    "impact_sound",
    "pan_gains",
    "render_audio",
    "render_frames",
    "write_clip",
    "write_sidecars",
]

# --------------------------------------------------------------------------- the contract's numbers

DURATION = 4.0
FPS = 24
SIZE = 64
SAMPLE_RATE = 16000

BACKGROUND_RANGE = (20, 60)  # gray level, inclusive, of 255
FLOOR_Y = 0.9
GRAVITY = 4.4  # normalised units / s²
SOUNDING_COUNT_RANGE = (1, 3)
SILENT_PROBABILITY = 0.3
X_RANGE = (0.1, 0.9)
RADIUS_RANGE = (0.06, 0.10)
FIRST_IMPACT_RANGE = (0.3, 1.5)
GAP_RANGE = (0.35, 1.2)
END_MARGIN = 0.2  # impacts lie before duration − END_MARGIN

LOUDNESS_BASE, LOUDNESS_SLOPE, LOUDNESS_GAP = 0.2, 0.6, 1.2
LOUDNESS_RANGE = (0.2, 0.8)
FADE_IN = 0.002
NOISE_STD = 0.003

BELL_F0, BELL_F0_SPREAD, BELL_TAU = 660.0, 0.05, 0.30
BELL_PARTIALS, BELL_AMPLITUDES = (1.0, 2.76, 5.40), (1.0, 0.5, 0.25)
WOOD_BAND, WOOD_TAU = (200.0, 1200.0), 0.025
SPRING_SWEEP, SPRING_SWEEP_TIME, SPRING_TAU = (180.0, 520.0), 0.25, 0.15
GLASS_PARTIALS, GLASS_TAU = (3000.0, 4200.0, 5100.0), 0.06
DECAY = {"bell": BELL_TAU, "wood": WOOD_TAU, "spring": SPRING_TAU, "glass": GLASS_TAU}  # τ (s)

CLASSES = ("bell", "wood", "spring", "glass")
SILENT = "silent"
COLOURS = {
    "bell": (220, 40, 40),
    "wood": (40, 200, 60),
    "spring": (50, 80, 230),
    "glass": (230, 210, 40),
    SILENT: (235, 235, 235),
}
SHAPES = {"bell": "circle", "wood": "square", "spring": "triangle", "glass": "diamond", SILENT: "circle"}
CAPTION_WORDS = {
    "bell": "a bell",
    "wood": "a wooden knock",
    "spring": "a spring boing",
    "glass": "a glass clink",
}

SUPERSAMPLE = 4
"""Each pixel's colour is the coverage over SUPERSAMPLE² sub-pixels (anti-aliasing keeps sub-pixel motion)."""


# --------------------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class SceneObject:
    """One bouncing object: class, horizontal centre, radius and impact times (seconds, increasing).

    ``f0`` is a bell's fundamental (drawn per object); it is not part of the sidecar JSON.
    """

    category: str
    x: float
    radius: float
    impacts: tuple[float, ...]
    f0: float | None = None

    @property
    def sounding(self) -> bool:
        """Whether the object makes a sound at its impacts (every class but "silent")."""
        return self.category != SILENT


@dataclass(frozen=True)
class Event:
    """One sounding impact: when, which class, where (the object's x) and its peak amplitude."""

    time: float
    category: str
    x: float
    amplitude: float


@dataclass(frozen=True)
class ClipSpec:
    """A clip's ground truth: what the sidecar JSON holds, plus the background level used to draw it."""

    duration: float
    objects: tuple[SceneObject, ...]
    background: int = 40
    fps: int = FPS
    sample_rate: int = SAMPLE_RATE
    events: tuple[Event, ...] = field(init=False)
    caption: str = field(init=False)

    def __post_init__(self) -> None:
        events = sorted(
            (Event(t, o.category, o.x, a) for o in self.objects if o.sounding for t, a in _object_events(o)),
            key=lambda event: event.time,
        )
        object.__setattr__(self, "events", tuple(events))
        object.__setattr__(self, "caption", caption_for(self.objects))

    def to_json(self) -> dict[str, Any]:
        """The sidecar JSON of the spec (exactly its keys)."""
        return {
            "duration": self.duration,
            "fps": self.fps,
            "sample_rate": self.sample_rate,
            "caption": self.caption,
            "objects": [
                {"class": o.category, "x": o.x, "radius": o.radius, "impacts": list(o.impacts)}
                for o in self.objects
            ],
            "events": [
                {"time": e.time, "class": e.category, "x": e.x, "amplitude": e.amplitude} for e in self.events
            ],
        }


def impact_amplitudes(impacts: Sequence[float]) -> list[float]:
    """Peak amplitude of each impact: 0.2 + 0.6 · gap / 1.2 s, clipped to [0.2, 0.8] (first: fall time)."""
    gaps = np.diff(np.asarray([0.0, *impacts]))
    amplitudes = np.clip(LOUDNESS_BASE + LOUDNESS_SLOPE * gaps / LOUDNESS_GAP, *LOUDNESS_RANGE)
    return [float(a) for a in amplitudes]


def _object_events(obj: SceneObject) -> list[tuple[float, float]]:
    """(time, amplitude) of each of an object's impacts."""
    return list(zip(obj.impacts, impact_amplitudes(obj.impacts), strict=True))


def caption_for(objects: Sequence[SceneObject]) -> str:
    """Name each sounding class once, in order of its first impact: "a bell and a wooden knock"."""
    sounding = sorted((o for o in objects if o.sounding), key=lambda o: o.impacts[0])
    return " and ".join(CAPTION_WORDS[o.category] for o in sounding)


def _draw_impacts(rng: np.random.Generator, duration: float) -> tuple[float, ...]:
    """Impact times: the first in [0.3, 1.5] s, gaps in [0.35, 1.2] s, all before duration − 0.2 s."""
    last = duration - END_MARGIN
    t = rng.uniform(FIRST_IMPACT_RANGE[0], min(FIRST_IMPACT_RANGE[1], last))
    times = []
    while t < last:
        times.append(float(t))
        t += rng.uniform(*GAP_RANGE)
    return tuple(times)


def _draw_object(rng: np.random.Generator, category: str, duration: float) -> SceneObject:
    """One object of ``category`` with its position, size, impacts (and a bell's f0)."""
    x = float(rng.uniform(*X_RANGE))
    radius = float(rng.uniform(*RADIUS_RANGE))
    impacts = _draw_impacts(rng, duration)
    f0 = BELL_F0 * (1.0 + rng.uniform(-BELL_F0_SPREAD, BELL_F0_SPREAD)) if category == "bell" else None
    return SceneObject(category, x, radius, impacts, None if f0 is None else float(f0))


def draw_scene(
    rng: np.random.Generator, duration: float = DURATION, silent_probability: float = SILENT_PROBABILITY
) -> ClipSpec:
    """Draw a clip's ground truth: background, 1–3 sounding objects of distinct classes, maybe a silent one
    (with the spec's probability 0.3 unless training asks for more)."""
    if duration <= END_MARGIN + FIRST_IMPACT_RANGE[0]:
        raise ValueError(f"SynthFoley clips need a duration above {END_MARGIN + FIRST_IMPACT_RANGE[0]} s")
    background = int(rng.integers(BACKGROUND_RANGE[0], BACKGROUND_RANGE[1] + 1))
    count = int(rng.integers(SOUNDING_COUNT_RANGE[0], SOUNDING_COUNT_RANGE[1] + 1))
    categories = [CLASSES[i] for i in rng.choice(len(CLASSES), size=count, replace=False)]
    if rng.random() < silent_probability:
        categories.append(SILENT)
    objects = tuple(_draw_object(rng, category, duration) for category in categories)
    return ClipSpec(duration=duration, objects=objects, background=background)


# --------------------------------------------------------------------------- video


def bottom_edge(impacts: Sequence[float], times: np.ndarray) -> np.ndarray:
    """The object's bottom edge y at ``times``: falling to the first impact, parabolic bounces, then rest.

    Before t_1: y_floor − g (t_1 − t)² / 2; between impacts a and b: y_floor − g (t − a)(b − t) / 2
    (height g Δ² / 8); after the last: y_floor. Clamped at the top of the frame (y = 0).
    """
    times = np.asarray(times, dtype=np.float64)
    y = np.full(times.shape, FLOOR_Y)
    first = times < impacts[0]
    y[first] = FLOOR_Y - GRAVITY * (impacts[0] - times[first]) ** 2 / 2
    for a, b in itertools.pairwise(impacts):
        between = (times >= a) & (times < b)
        y[between] = FLOOR_Y - GRAVITY * (times[between] - a) * (b - times[between]) / 2
    return np.maximum(y, 0.0)


EXTENT = (1.0, 2.0)
"""A shape's half width and height over its radius: every shape is 2r wide and 2r tall."""


def _inside(
    shape: str, dx: np.ndarray, dy: np.ndarray, radius: float, extent: tuple[float, float] = EXTENT
) -> np.ndarray:
    """Whether points at offsets (dx, dy) from the shape's bottom-centre point lie in the filled shape.

    dy is measured downwards, so the shape occupies dy in [−height, 0]; ``extent`` gives the half width and
    the height over the radius (a circle is always a circle of the radius).
    """
    half, height = extent[0] * radius, extent[1] * radius
    if shape == "circle":
        return dx**2 + (dy + radius) ** 2 <= radius**2
    cy = dy + height / 2  # offset from the shape's centre
    if shape == "square":
        return (np.abs(dx) <= half) & (np.abs(cy) <= height / 2)
    if shape == "diamond":
        return np.abs(dx) + np.abs(cy) * (half / (height / 2)) <= half
    if shape == "triangle":  # apex at the top, base on the bottom edge
        depth = dy + height  # distance below the apex
        return (depth >= 0) & (dy <= 0) & (np.abs(dx) <= depth * (half / height))
    raise ValueError(f"unknown shape {shape!r}")


def _columns(obj: SceneObject, size: int, half_width: float) -> slice:
    """The pixel columns the object can touch (its x extent never changes): where drawing is needed."""
    return slice(
        max(0, math.floor((obj.x - half_width) * size)), min(size, math.ceil((obj.x + half_width) * size))
    )


def coverage(
    obj: SceneObject,
    bottoms: np.ndarray,
    size: int,
    supersample: int = SUPERSAMPLE,
    extent: tuple[float, float] = EXTENT,
) -> tuple[slice, np.ndarray]:
    """The pixel columns the object can touch, and the fraction (T, size, width) of each of their pixels it
    covers when its bottom edge is at ``bottoms`` (T,): each pixel sampled on supersample² points."""
    columns = _columns(obj, size, max(extent[0], 1.0) * obj.radius)
    fine = size * supersample
    centres = (np.arange(fine) + 0.5) / fine
    fine_columns = centres[columns.start * supersample : columns.stop * supersample]
    dy = centres[None, :, None] - bottoms[:, None, None]
    dx = (fine_columns - obj.x)[None, None, :]
    mask = _inside(SHAPES[obj.category], dx, dy, obj.radius, extent)
    width = columns.stop - columns.start
    return columns, mask.reshape(len(bottoms), size, supersample, width, supersample).mean(axis=(2, 4))


def render_frames(spec: ClipSpec, size: int = SIZE) -> np.ndarray:
    """The clip's frames ``(T, size, size, 3)`` uint8, T = round(duration · fps), frame k at k / fps.

    Objects are drawn in the order of ``spec.objects`` (later ones on top) over the uniform background.
    """
    times = np.arange(round(spec.duration * spec.fps)) / spec.fps
    image = np.full((len(times), size, size, 3), float(spec.background))
    for obj in spec.objects:
        columns, cover = coverage(obj, bottom_edge(obj.impacts, times), size)
        cover = cover[..., None]
        colour = np.asarray(COLOURS[obj.category], dtype=np.float64)
        image[:, :, columns] = image[:, :, columns] * (1.0 - cover) + colour * cover
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- audio


def _raw_sound(
    category: str, tau: np.ndarray, rng: np.random.Generator, f0: float | None, sample_rate: int
) -> np.ndarray:
    """A class's undecayed sound at times ``tau`` (seconds since the impact, sampled at ``sample_rate``)."""
    if category == "bell":
        base = BELL_F0 if f0 is None else f0
        return sum(
            a * np.sin(2 * np.pi * base * m * tau)
            for m, a in zip(BELL_PARTIALS, BELL_AMPLITUDES, strict=True)
        )
    if category == "glass":
        return sum(np.sin(2 * np.pi * f * tau) for f in GLASS_PARTIALS)
    if category == "spring":
        return np.sin(_spring_phase(tau))
    if category == "wood":
        return _band_noise(rng, len(tau), sample_rate)
    raise ValueError(f"class {category!r} makes no sound")


def _spring_phase(tau: np.ndarray) -> np.ndarray:
    """Phase of a sine sweeping 180 → 520 Hz linearly over 0.25 s, then holding 520 Hz."""
    (fa, fb), sweep = SPRING_SWEEP, SPRING_SWEEP_TIME
    rate = (fb - fa) / sweep
    during = fa * tau + rate * tau**2 / 2
    after = fa * sweep + rate * sweep**2 / 2 + fb * (tau - sweep)
    return 2 * np.pi * np.where(tau <= sweep, during, after)


def _band_noise(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """White noise band-passed to 200–1200 Hz (an ideal filter applied in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum[(freqs < WOOD_BAND[0]) | (freqs > WOOD_BAND[1])] = 0
    return np.fft.irfft(spectrum, n)


def impact_sound(
    category: str,
    tau: np.ndarray,
    rng: np.random.Generator,
    f0: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """One impact's sound at ``tau`` ≥ 0 s after it: decayed, 2 ms linear fade-in, peak normalised to 1.

    ``tau`` is a stretch of the sample grid (spacing 1 / ``sample_rate``); ``rng`` draws the wood noise.
    """
    sound = _raw_sound(category, tau, rng, f0, sample_rate) * np.exp(-tau / DECAY[category])
    sound = sound * np.clip(tau / FADE_IN, 0.0, 1.0)
    peak = np.max(np.abs(sound)) if len(sound) else 0.0
    return sound / peak if peak > 0 else sound


def pan_gains(x: float) -> tuple[float, float]:
    """Constant-power (left, right) gains for horizontal position x: cos(x π / 2), sin(x π / 2)."""
    return math.cos(x * math.pi / 2), math.sin(x * math.pi / 2)


def render_audio(spec: ClipSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The clip's stereo audio ``(2, N)`` float32, N = round(duration · rate): (with noise floor, clean).

    Each impact's sound starts exactly at its time (sub-sample: it is evaluated at t − t_impact), rings
    to the end of the clip and is panned by its object's x; overlapping sounds add. Both mixes are
    clipped to [-1, 1]; the noisy one adds Gaussian noise of std 0.003 to each channel first.
    """
    n = round(spec.duration * spec.sample_rate)
    t = np.arange(n) / spec.sample_rate
    mix = np.zeros((2, n))
    for obj in spec.objects:
        if not obj.sounding:
            continue
        left, right = pan_gains(obj.x)
        for time, amplitude in _object_events(obj):
            first = math.ceil(time * spec.sample_rate)
            sound = amplitude * impact_sound(obj.category, t[first:] - time, rng, obj.f0, spec.sample_rate)
            mix[0, first:] += left * sound
            mix[1, first:] += right * sound
    noisy = mix + rng.normal(0.0, NOISE_STD, size=mix.shape)
    return np.clip(noisy, -1, 1).astype(np.float32), np.clip(mix, -1, 1).astype(np.float32)


def class_references(sample_rate: int = SAMPLE_RATE, duration: float = 0.5) -> dict[str, np.ndarray]:
    """Each sounding class's clean sound (mono, peak 1, nominal parameters: bell f0 = 660 Hz).

    What the scorer compares a detected sound with; the wood noise comes from a fixed seed.
    """
    tau = np.arange(round(duration * sample_rate)) / sample_rate
    rng = np.random.default_rng(0)
    return {
        category: impact_sound(category, tau, rng, None, sample_rate).astype(np.float32)
        for category in CLASSES
    }


# --------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class SynthClip:
    """A rendered clip: ground truth, frames (T, 64, 64, 3) uint8, audio and clean audio (2, N) float32."""

    spec: ClipSpec
    frames: np.ndarray
    audio: np.ndarray
    clean_audio: np.ndarray


def generate_clip(
    seed: int | Sequence[int], duration: float = DURATION, silent_probability: float = SILENT_PROBABILITY
) -> SynthClip:
    """Generate one clip, a pure function of ``seed`` (an int or a sequence such as (dataset seed, index))."""
    scene_seed, audio_seed = np.random.SeedSequence(seed).spawn(2)
    spec = draw_scene(np.random.default_rng(scene_seed), duration, silent_probability)
    audio, clean = render_audio(spec, np.random.default_rng(audio_seed))
    return SynthClip(spec=spec, frames=render_frames(spec), audio=audio, clean_audio=clean)


def write_clip(out_dir: str | Path, stem: str, clip: SynthClip, write_clean_wav: bool = False) -> list[Path]:
    """Write ``<stem>.mp4`` (H.264 + AAC of the noisy mix), ``<stem>.json`` and maybe ``<stem>.wav`` (clean).

    Returns the paths written. The WAV is 32-bit float, so it holds the clean mix exactly.
    """
    from foleyzoo.io.media import write_video  # torch and PyAV only where files are written

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_video(out / f"{stem}.mp4", clip.frames, clip.spec.fps, clip.audio, clip.spec.sample_rate)
    return [out / f"{stem}.mp4", *write_sidecars(out, stem, clip, write_clean_wav)]


def write_sidecars(out: Path, stem: str, clip: SynthClip, write_clean_wav: bool) -> list[Path]:
    """Write ``<stem>.json`` (the ground truth) and maybe ``<stem>.wav`` (the clean mix, 32-bit float)."""
    from foleyzoo.io.media import write_wav

    paths = [out / f"{stem}.json"]
    paths[0].write_text(json.dumps(clip.spec.to_json(), indent=1) + "\n")
    if write_clean_wav:
        paths.append(out / f"{stem}.wav")
        write_wav(paths[1], clip.clean_audio, clip.spec.sample_rate)
    return paths
