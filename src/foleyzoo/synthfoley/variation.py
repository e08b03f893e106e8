"""SynthFoley clips as another spec-conforming generator might draw them: every free choice varied.

``shared/specs/synthfoley-v1.md`` fixes the classes, colours, sounds, physics and the ranges of the random
draws, but not how the draws are distributed within their ranges, how a shape of "radius" r is drawn,
whether edges are anti-aliased, how many impacts an object makes before it rests, which object is drawn on
top, nor how the video is compressed. A model trained on foleyzoo's own generator alone can learn those
habits instead of the spec. This module draws each of them per clip, within what the spec allows:

* **scene**: background, positions, radii and the bell's f0 pushed towards the ends of their ranges
  (an arcsine draw), gaps and first impacts likewise, and objects that stop bouncing early (a shorter
  impact list, then rest) as well as ones that bounce to the end; 1–3 sounding objects and a silent one
  with the spec's probability 0.3;
* **drawing**: hard or anti-aliased edges, squares, triangles and diamonds of other proportions (a
  "radius" read as the circumscribed or the inscribed circle), colours shifted by up to
  :data:`COLOUR_TOLERANCE` levels a channel, a drawn floor line or none, objects kept inside the frame at
  the top or let out of it, either drawing order;
* **video**: the H.264 constant rate factor and preset the clip's mp4 is written with (:func:`write_varied_clip`),
  or applied in memory (:func:`h264_round_trip`) so that training sees what a decoded file holds.

The audio and the sidecar JSON follow the spec exactly (:func:`~foleyzoo.synthfoley.generator.render_audio`),
so every clip is scored as any other.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foleyzoo.synthfoley.generator import (
    BACKGROUND_RANGE,
    BELL_F0,
    BELL_F0_SPREAD,
    CLASSES,
    COLOURS,
    END_MARGIN,
    FIRST_IMPACT_RANGE,
    FLOOR_Y,
    FPS,
    GAP_RANGE,
    RADIUS_RANGE,
    SHAPES,
    SILENT,
    SILENT_PROBABILITY,
    SIZE,
    SOUNDING_COUNT_RANGE,
    X_RANGE,
    ClipSpec,
    SceneObject,
    SynthClip,
    bottom_edge,
    coverage,
    render_audio,
    write_sidecars,
)

__all__ = [
    "COLOUR_TOLERANCE",
    "CRF_RANGE",
    "HELD_OUT",
    "RenderStyle",
    "Variety",
    "draw_style",
    "draw_varied_scene",
    "generate_varied_clip",
    "h264_round_trip",
    "render_styled_frames",
    "write_varied_clip",
]

COLOUR_TOLERANCE = 16
"""Levels (of 255) by which a drawn colour may differ from the spec's in each channel: about what H.264's
4:2:0 chroma and a generator's own colour handling shift a 64 × 64 clip's colours by."""

CRF_RANGE = (17, 30)
"""x264 constant rate factors a clip's video may be written with: foleyzoo's own 17 to a lossy 30."""

PRESETS = ("veryfast", "medium")
"""x264 presets a clip's video may be written with (medium is x264's default)."""

EXTENTS = {
    # shape: ((half width, height) over the radius) choices: the radius as circumscribed … inscribed circle
    "circle": ((1.0, 2.0),),
    "square": ((1.0, 2.0), (math.sqrt(0.5), math.sqrt(2.0))),
    "diamond": ((1.0, 2.0), (1.2, 2.4), (0.85, 1.7)),
    "triangle": ((1.0, 2.0), (math.sqrt(3) / 2, 1.5), (1.0, math.sqrt(3))),
}
"""How wide and how tall each shape may be drawn for a radius r (foleyzoo's own generator: 2r by 2r)."""


@dataclass(frozen=True)
class RenderStyle:
    """How one clip is drawn and encoded: the choices the spec leaves to a generator."""

    supersample: int = 4
    extents: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {s: e[0] for s, e in EXTENTS.items()}
    )
    colours: dict[str, tuple[int, int, int]] = field(default_factory=lambda: dict(COLOURS))
    floor_line: int | None = None
    keep_inside: bool = False
    reverse_order: bool = False
    crf: int = 17
    preset: str = "medium"


@dataclass(frozen=True)
class Variety:
    """How far the draws stray from foleyzoo's own generator: the share of clips whose draws are pushed to
    the ends of their ranges (the rest uniform, as foleyzoo draws them) and of objects that stop early."""

    bounds_share: float = 1.0
    stop_share: float = 0.5
    silent_probability: float = SILENT_PROBABILITY


HELD_OUT = Variety(bounds_share=1.0, stop_share=0.5)
"""The varied held-out set: every draw pushed to its bounds, half the objects resting early."""


def _draw(rng: np.random.Generator, low: float, high: float, bounds: bool) -> float:
    """A value in [low, high]: uniform, or (``bounds``) from the arcsine law, whose ends are as likely as
    its middle."""
    return float(low + (high - low) * (rng.beta(0.5, 0.5) if bounds else rng.random()))


def draw_style(rng: np.random.Generator) -> RenderStyle:
    """A random drawing and encoding style (each choice independent)."""
    extents = {shape: choices[int(rng.integers(len(choices)))] for shape, choices in EXTENTS.items()}
    colours = {
        name: tuple(
            int(np.clip(c + rng.integers(-COLOUR_TOLERANCE, COLOUR_TOLERANCE + 1), 0, 255)) for c in rgb
        )
        for name, rgb in COLOURS.items()
    }
    return RenderStyle(
        supersample=int(rng.choice([1, 2, 4])),
        extents=extents,
        colours=colours,  # type: ignore[arg-type]
        floor_line=int(rng.integers(80, 160)) if rng.random() < 0.3 else None,
        keep_inside=bool(rng.random() < 0.5),
        reverse_order=bool(rng.random() < 0.5),
        crf=int(rng.integers(CRF_RANGE[0], CRF_RANGE[1] + 1)),
        preset=str(rng.choice(PRESETS)),
    )


def _varied_impacts(
    rng: np.random.Generator, duration: float, bounds: bool, stop_share: float
) -> tuple[float, ...]:
    """Impact times within the spec's bounds (gaps and first impact pushed to their ends when ``bounds``);
    ``stop_share`` of the objects stop bouncing after a random number of impacts (at least one) and rest."""
    last = duration - END_MARGIN
    t = _draw(rng, FIRST_IMPACT_RANGE[0], min(FIRST_IMPACT_RANGE[1], last), bounds)
    times = []
    while t < last:
        times.append(t)
        t += _draw(rng, *GAP_RANGE, bounds)
    if rng.random() < stop_share:
        times = times[: int(rng.integers(1, len(times) + 1))]
    return tuple(times)


def draw_varied_scene(
    rng: np.random.Generator, duration: float = 4.0, variety: Variety = HELD_OUT
) -> ClipSpec:
    """A clip's ground truth, its draws pushed towards the ends of the spec's ranges as ``variety`` says."""
    bounds = bool(rng.random() < variety.bounds_share)
    background = round(_draw(rng, *BACKGROUND_RANGE, bounds))
    count = int(rng.integers(SOUNDING_COUNT_RANGE[0], SOUNDING_COUNT_RANGE[1] + 1))
    categories = [CLASSES[i] for i in rng.choice(len(CLASSES), size=count, replace=False)]
    if rng.random() < variety.silent_probability:
        categories.insert(int(rng.integers(len(categories) + 1)), SILENT)
    objects = []
    for category in categories:
        x = _draw(rng, *X_RANGE, bounds)
        radius = _draw(rng, *RADIUS_RANGE, bounds)
        impacts = _varied_impacts(rng, duration, bounds, variety.stop_share)
        f0 = (
            BELL_F0 * (1 + _draw(rng, -BELL_F0_SPREAD, BELL_F0_SPREAD, bounds))
            if category == "bell"
            else None
        )
        objects.append(SceneObject(category, x, radius, impacts, f0))
    return ClipSpec(duration=duration, objects=tuple(objects), background=background)


def render_styled_frames(spec: ClipSpec, style: RenderStyle, size: int = SIZE) -> np.ndarray:
    """The clip's frames ``(T, size, size, 3)`` uint8 drawn in ``style`` (frame k shows t = k / fps)."""
    times = np.arange(round(spec.duration * spec.fps)) / spec.fps
    image = np.full((len(times), size, size, 3), float(spec.background))
    if style.floor_line is not None:
        row = min(size - 1, int(FLOOR_Y * size))
        image[:, row] = style.floor_line
    objects = reversed(spec.objects) if style.reverse_order else spec.objects
    for obj in objects:
        extent = style.extents[SHAPES[obj.category]]
        bottoms = bottom_edge(obj.impacts, times)
        if style.keep_inside:
            bottoms = np.maximum(bottoms, extent[1] * obj.radius)
        columns, cover = coverage(obj, bottoms, size, style.supersample, extent)
        colour = np.asarray(style.colours[obj.category], dtype=np.float64)
        image[:, :, columns] = image[:, :, columns] * (1.0 - cover[..., None]) + colour * cover[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _encode_h264(
    target: str | Path | io.BytesIO, frames: np.ndarray, fps: float, crf: int, preset: str
) -> None:
    """A video-only mp4 of (T, H, W, 3) uint8 frames: H.264 (libx264, yuv420p, one thread, so the bytes do
    not depend on the machine) at ``crf`` and ``preset``, frame k at k / fps."""
    import av

    with av.open(str(target) if isinstance(target, Path) else target, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.thread_count = 1
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def h264_round_trip(frames: np.ndarray, crf: int, fps: float = FPS, preset: str = "medium") -> np.ndarray:
    """``frames`` (T, H, W, 3) uint8 as an H.264 (yuv420p) file at ``crf`` decodes them: what a model
    reading the clip's mp4 sees. Encoded in memory."""
    import av

    buffer = io.BytesIO()
    _encode_h264(buffer, frames, fps, crf, preset)
    buffer.seek(0)
    with av.open(buffer) as source:
        decoded = [frame.to_ndarray(format="rgb24") for frame in source.decode(video=0)]
    return np.stack(decoded)[: len(frames)]


def generate_varied_clip(
    seed: int | Sequence[int], duration: float = 4.0, encode: bool = False, variety: Variety = HELD_OUT
) -> tuple[SynthClip, RenderStyle]:
    """A clip drawn with every free choice varied, a pure function of ``seed``; ``encode`` passes the frames
    through H.264 at the style's CRF (as its mp4 would hold them)."""
    scene_seed, audio_seed, style_seed = np.random.SeedSequence(seed).spawn(3)
    spec = draw_varied_scene(np.random.default_rng(scene_seed), duration, variety)
    style = draw_style(np.random.default_rng(style_seed))
    frames = render_styled_frames(spec, style)
    if encode:
        frames = h264_round_trip(frames, style.crf, spec.fps, style.preset)
    audio, clean = render_audio(spec, np.random.default_rng(audio_seed))
    return SynthClip(spec=spec, frames=frames, audio=audio, clean_audio=clean), style


def write_varied_clip(
    out_dir: str | Path, stem: str, clip: SynthClip, style: RenderStyle, write_clean_wav: bool = False
) -> list[Path]:
    """Write ``<stem>.mp4`` (H.264 at the style's CRF + AAC of the noisy mix), ``<stem>.json`` and maybe
    ``<stem>.wav`` (the clean mix), as :func:`~foleyzoo.synthfoley.generator.write_clip` does."""
    from foleyzoo.io.media import mux_audio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        silent_video = Path(folder) / "video.mp4"
        _encode_h264(silent_video, clip.frames, clip.spec.fps, style.crf, style.preset)
        mux_audio(silent_video, clip.audio, clip.spec.sample_rate, out / f"{stem}.mp4")
    return [out / f"{stem}.mp4", *write_sidecars(out, stem, clip, write_clean_wav)]
