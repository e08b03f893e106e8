"""Score a flow model's generated audio on held-out SynthFoley clips with the SynthFoley scorer.

The clips come from a seed the training data never used; the model sees their frames (and captions),
generates mono audio, and the scorer compares its onsets and sounds with the clips' ground truth.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from foleyzoo.data.clips import ClipFormat, collate_clips
from foleyzoo.synthfoley.datamodule import SynthFoleyClips
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.scorer import (
    SAMPLE_RATE,
    GroundTruth,
    ScoreSummary,
)
from foleyzoo.training.flow_matching import FoleyFlowMatching


@torch.no_grad()
def generation_scores(
    model: FoleyFlowMatching,
    fmt: ClipFormat,
    seed: int = 2024,
    clips: int = 32,
    batch_size: int = 8,
    duration: float = 4.0,
    sample_seed: int = 0,
    **options: Any,
) -> ScoreSummary:
    """Generate audio for ``clips`` SynthFoley clips of ``seed`` and score it against their ground truth.

    ``fmt`` must sample frames as the model was trained (the recipe's data settings); ``options`` go to
    :meth:`FoleyFlowMatching.generate` (``sampler``, ``cfg_scale``, ``text_cfg_scale``).
    """
    if fmt.sample_rate != SAMPLE_RATE:
        raise ValueError(f"SynthFoley is scored at {SAMPLE_RATE} Hz, got a format of {fmt.sample_rate} Hz")
    model.eval()
    dataset = SynthFoleyClips(clips, seed, fmt, duration)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=lambda items: collate_clips(items, fmt))
    scorer = ClipScorer()
    for batch_index, batch in enumerate(loader):
        _, audio = model.generate_audio(batch, seed=sample_seed + batch_index, **options)
        for row, meta in enumerate(batch["meta"]):
            truth = GroundTruth.from_json(meta)
            rendered = audio.samples[row].float().cpu()
            scorer.add(rendered, truth, audio.sample_rate, stem=batch["ids"][row])
    return scorer.summary()
