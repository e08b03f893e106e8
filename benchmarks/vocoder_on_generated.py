"""Griffin-Lim settings scored on what a bundle generated: the mels are generated once, vocoded each way.

    python benchmarks/vocoder_on_generated.py --bundle runs/quickstart/pipeline \\
        --variants phase_init=random phase_init=random,seed=1 phase_init=zero phase_init=zero,tail=zeros \\
        [--sets 2024:32 7000:32:varied] [--json benchmarks/results/vocoder_on_generated.json]

The bundle generates each set's clips as ``foleyzoo.pipeline.synthfoley_eval.score_pipeline`` does
(in-memory frames, noise seed = clip index; ``varied`` sets are drawn with every free choice of the spec
varied and their frames through H.264) and the stereo mels its renderer hands the vocoder are kept.
Each variant is the bundle's own vocoder with some init arguments replaced (``name=value`` pairs,
comma-separated); its audio is cut to the clip as the pipeline cuts it (``vocode_to_length``; with
``tail=zeros`` in the variant, as the pipeline did before it: the vocoder's (T − 1) · hop samples padded
with zeros), kept below full scale as the pipeline keeps it by default (one gain; the limiter in the
results recorded before one gain became the default), and scored with the strict and the standard onset
detector.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from _common import parse_set, synthfoley_set_parser, write_json

from foleyzoo.api import Mel, Vocoder
from foleyzoo.data.audio import fit_length
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.bundle import Bundle
from foleyzoo.pipeline.home import resolve_bundle
from foleyzoo.pipeline.levels import keep_below_ceiling
from foleyzoo.pipeline.synthfoley_eval import score_pipeline, summary_row
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.scorer import STANDARD, STRICT, GroundTruth
from foleyzoo.synthfoley.variation import HELD_OUT
from foleyzoo.vocoders.base import vocode_to_length

SAMPLE_RATE = 16000
DURATION = 4.0


class MelRecorder:
    """Stands in for the pipeline's vocoder: keeps every mel it is asked to vocode, then vocodes it."""

    def __init__(self, vocoder: Vocoder) -> None:
        self.vocoder, self.mels = vocoder, []

    def vocode(self, mel: Mel):
        self.mels.append(mel)
        return self.vocoder.vocode(mel)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.vocoder, name)


def parse_value(text: str) -> Any:
    """An init argument's value from the command line: int, float or string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def generated_mels(pipeline: FoleyPipeline, seed: int, clips: int, varied: bool) -> list[Mel]:
    """The mels the bundle's vocoder receives for the set's clips (one a clip)."""
    recorder = MelRecorder(pipeline.vocoder)
    pipeline.vocoder = recorder
    try:
        score_pipeline(pipeline, seed=seed, clips=clips, varied=varied)
    finally:
        pipeline.vocoder = recorder.vocoder
    return recorder.mels


def render(vocoder: Vocoder, mel: Mel, length: int, zero_tail: bool) -> torch.Tensor:
    """(C, length) as the pipeline renders it; ``zero_tail``: as it did before ``vocode_to_length``."""
    if zero_tail:
        frames = math.ceil(length * mel.frame_rate / mel.sample_rate)  # as decoded, before any repeat
        decoded = Mel(mel.values[..., :frames], mel.sample_rate, mel.frame_rate)
        samples = fit_length(vocoder.vocode(decoded).samples[0], length)
    else:
        samples = vocode_to_length(vocoder, mel, length).samples[0]
    return keep_below_ceiling(samples.float(), SAMPLE_RATE)


def main() -> None:
    parser = synthfoley_set_parser(__doc__)
    parser.add_argument("--variants", nargs="+", default=["phase_init=random", "phase_init=zero"])
    parser.add_argument("--json", default="benchmarks/results/vocoder_on_generated.json")
    args = parser.parse_args()
    bundle = resolve_bundle(args.bundle)
    pipeline = FoleyPipeline.from_bundle(bundle)
    config = Bundle.open(bundle).parts["vocoder"]["config"]
    sets = []
    for spec in args.sets:
        seed, clips, varied = parse_set(spec)
        started = time.perf_counter()
        mels = generated_mels(pipeline, seed, clips, varied)
        items = [
            make_item(seed, i, DURATION, clean=True, variety=HELD_OUT if varied else None)
            for i in range(clips)
        ]
        truths = [GroundTruth.from_json(item["meta"]) for item in items]
        sets.append((spec, mels, truths))
        print(f"generated {spec} in {time.perf_counter() - started:.0f} s", flush=True)
    vocoder_class = type(pipeline.vocoder)
    results: dict[str, Any] = {}
    for variant in args.variants:
        overrides = dict(pair.split("=", 1) for pair in variant.split(",") if pair)
        zero_tail = overrides.pop("tail", "repeat") == "zeros"
        init_args = {**config["init_args"], **{k: parse_value(v) for k, v in overrides.items()}}
        vocoder = vocoder_class(**init_args)
        results[variant] = {}
        for spec, mels, truths in sets:
            scorers = {d.name: ClipScorer(d) for d in (STRICT, STANDARD)}
            for index, (mel, truth) in enumerate(zip(mels, truths, strict=True)):
                audio = render(vocoder, mel, round(DURATION * SAMPLE_RATE), zero_tail)
                for scorer in scorers.values():
                    scorer.add(audio, truth, SAMPLE_RATE, stem=f"clip_{index:05d}")
            results[variant][spec] = {name: summary_row(s.summary()) for name, s in scorers.items()}
        row = results[variant]
        cells = [
            f"{row[spec]['strict']['onset_f1']:.3f} ({row[spec]['strict']['onset_precision']:.3f}) / "
            f"{row[spec]['standard']['onset_f1']:.3f}"
            for spec, _, _ in sets
        ]
        print(f"{variant:<36}" + " | ".join(cells), flush=True)
    print("cells: strict onset F1 (precision) / standard onset F1, a column a set:", ", ".join(args.sets))
    write_json(
        args.json,
        {
            "bundle": str(bundle),
            "sets": args.sets,
            "vocoder": config,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
