"""score_pipeline draws clip i's noise from seed noise_seed + i, so other noise seeds give other draws."""

from __future__ import annotations

import torch

from foleyzoo.pipeline.pipeline import Generated
from foleyzoo.pipeline.synthfoley_eval import score_pipeline


class RecordingPipeline:
    """Stands in for a FoleyPipeline: silence of the asked length, and the seeds it was asked for."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def generate(self, video, prompt=None, duration=None, seed=0, **options) -> Generated:
        self.seeds.append(seed)
        return Generated(torch.zeros(2, round(duration * 16000)), 16000)


def test_noise_seed_offsets_every_clip_seed() -> None:
    default, shifted = RecordingPipeline(), RecordingPipeline()
    first = score_pipeline(default, clips=3, duration=1.0)
    score_pipeline(shifted, clips=3, duration=1.0, noise_seed=100)
    assert default.seeds == [0, 1, 2] and shifted.seeds == [100, 101, 102]
    assert first.f1 == 0.0 and first.events > 0  # silence finds no event: the clips were scored
