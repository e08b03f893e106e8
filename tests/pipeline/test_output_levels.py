"""No burst at the end of a generated clip, on videos SynthFoley did not draw (the trained kling-tiny stage).

A silent mel frame used to pad every training clip's last latent; the MM-DiT learnt that cliff and
generated it at the end of every video as a burst of 6 to 25 times full scale. Here the raw levels
(``normalize=False``, no limiter) of clips of other sizes, frame rates, lengths and codecs are checked:
the last 0.2 s may not be louder than the rest by more than the stated margins (relative to the rest's
loudest, so that a rest the model leaves near silent does not make a quiet ending count as loud; and with
floors, far below full scale, for the same reason).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from tests.stages import TinyStages

from foleyzoo.pipeline import FoleyPipeline, ModelCard, export_bundle

TAIL = 0.2
RMS_MARGIN, RMS_FLOOR = 2.0, 0.1
"""The last 0.2 s's RMS may be at most twice (+6 dB) the loudest 0.2 s block's of the rest, or 0.1 (-20 dBFS)."""
PEAK_MARGIN, PEAK_FLOOR = 1.5, 0.5
"""Its peak may be at most 1.5 times the rest's peak, or 0.5 (-6 dBFS); the burst reached 6 to 25."""

CLIPS = [  # (name, width, height, fps, seconds, codec): none of them SynthFoley's 64 × 64, 25 fps, 4 s
    ("landscape.mp4", 320, 240, 30000 / 1001, 2.3, "libx264"),
    ("wide.mp4", 640, 360, 24.0, 6.1, "libx264"),
    ("portrait.mp4", 360, 640, 30.0, 0.6, "libx264"),
    ("camera.avi", 320, 240, 15.0, 1.7, "mjpeg"),
]


def moving_shapes(path: Path, width: int, height: int, fps: float, seconds: float, codec: str) -> Path:
    """A textured background with a bright square bouncing across it and a white flash every 0.7 s, the
    last one 0.4 s or more before the end (a flash in the tail would make a loud ending legitimate)."""
    rng = np.random.default_rng(5)
    background = rng.integers(40, 120, (height, width, 3), dtype=np.uint8)
    side = max(8, min(width, height) // 5)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(10_000))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for k in range(round(seconds * fps)):
            frame = background.copy()
            x = int((k * 7) % max(1, width - side))
            y = int(abs((k * 5) % (2 * max(1, height - side)) - max(1, height - side)))
            frame[y : y + side, x : x + side] = 250
            if (k / fps) % 0.7 < 2 / fps and k / fps < seconds - 0.4:
                frame[:] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def tail_against_rest(samples: torch.Tensor, sample_rate: int) -> tuple[float, float, float, float]:
    """(tail RMS, the loudest block RMS of the rest, tail peak, rest peak) of (C, N) samples."""
    mono = samples.abs().amax(dim=0)
    block = round(TAIL * sample_rate)
    tail, rest = samples[:, -block:], samples[:, :-block]
    blocks = [rest[:, i : i + block] for i in range(0, rest.shape[1] - block + 1, block)] or [rest]
    loudest = max(float(b.pow(2).mean().sqrt()) for b in blocks)
    return float(tail.pow(2).mean().sqrt()), loudest, float(mono[-block:].max()), float(mono[:-block].max())


@pytest.mark.slow
def test_the_end_of_a_clip_is_no_louder_than_the_rest(tiny_stages: TinyStages, tmp_path: Path) -> None:
    bundle = export_bundle(
        tiny_stages.checkpoint("v2a"),
        tmp_path / "bundle",
        ModelCard(name="v2a"),
        renderer={"class_path": "foleyzoo.renderers.DualMono", "init_args": {}},
    )
    pipeline = FoleyPipeline.from_pretrained(bundle, device="cpu")
    levels = {}
    for name, width, height, fps, seconds, codec in CLIPS:
        video = moving_shapes(tmp_path / name, width, height, fps, seconds, codec)
        audio = pipeline(video, seed=1, normalize=False)
        assert torch.isfinite(audio.samples).all()
        levels[name] = tail_against_rest(audio.samples, audio.sample_rate)
    report = "\n".join(
        f"{name}: last {TAIL} s RMS {tail:.3f} against {rest:.3f}, peak {top:.2f} against {peak:.2f}"
        for name, (tail, rest, top, peak) in levels.items()
    )
    for tail, rest, top, peak in levels.values():
        assert tail <= max(RMS_MARGIN * rest, RMS_FLOOR), report
        assert top <= max(PEAK_MARGIN * peak, PEAK_FLOOR), report
