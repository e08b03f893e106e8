"""Where a bundle's false onsets and missed events are, sorted by kind, on SynthFoley sets it did not see.

    python benchmarks/false_onsets.py --bundle runs/quickstart/pipeline \\
        [--sets 2024:32 7000:32:varied] [--detector strict] [--cfg 3.5] [--levels gain|limiter] \\
        [--json benchmarks/results/false_onsets.json]

The bundle generates each set's clips as ``foleyzoo.pipeline.synthfoley_eval.score_pipeline`` does
(in-memory frames, noise seed = clip index; ``varied`` sets drawn with every free choice of the spec
varied and their frames through H.264). Every detected onset the scorer matches to no event is sorted:

* **second rise**: within the scorer's 50 ms of a matched onset (one sound heard twice);
* **off in time**: within ``NEAR`` (150 ms) of an event (a sound placed too early or too late; how many of
  them come before their nearest event is counted too, ``off_in_time_early``);
* **on a silent bounce**: within 50 ms of a silent object's impact;
* **no impact near**: the rest (a sound where nothing happened).

Missed events are sorted likewise into those with a detected onset within ``NEAR`` (heard, off in time)
and those without, and every event by how close its nearest other event is (``GAPS``: events that
crowd each other are where one sound can stand for two), with how many of each were missed. The median
signed offset of the matched onsets (onset minus event) says whether the sounds lag or lead their
impacts as a whole. The figures say which part of the model to work on: timing,
or sounds made up.

``--ceiling`` replaces what the MM-DiT samples by the codec's latents of each clip's own clean sound (mixed
to mono), so the rest of the chain (codec decoder, stereo renderer, vocoder, level) is scored as it
runs in generation: the best a perfect MM-DiT could reach with these parts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from _common import parse_set, synthfoley_set_parser, write_json

from foleyzoo.api import Sampler, VelocityFn, Waveform
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.home import resolve_bundle
from foleyzoo.pipeline.levels import LEVEL_MODES
from foleyzoo.pipeline.synthfoley_eval import score_pipeline, summary_row
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.scorer import (
    MATCH_TOLERANCE,
    STANDARD,
    STRICT,
    GroundTruth,
    detect_onsets,
    match_onsets,
)
from foleyzoo.synthfoley.variation import HELD_OUT

NEAR = 0.150
"""Seconds: an unmatched onset (or a missed event) this close to an event (an onset) counts as off in time."""

DETECTORS = {"strict": STRICT, "standard": STANDARD}
FALSE_KINDS = ("second_rise", "off_in_time", "off_in_time_early", "silent_bounce", "no_impact_near")
MISS_KINDS = ("missed_heard_nearby", "missed_unheard")
GAPS = (0.050, 0.150, 0.400)
"""Seconds: the edges of the classes of events by the gap to their nearest other event."""
GAP_NAMES = ("gap < 50 ms", "gap 50-150 ms", "gap 150-400 ms", "gap >= 400 ms")


def _nearest(times: Sequence[float], t: float) -> float:
    """Seconds from ``t`` to the nearest of ``times`` (infinity when there are none)."""
    return float(np.min(np.abs(np.asarray(times, dtype=float) - t))) if len(times) else float("inf")


def _before_nearest(times: Sequence[float], t: float) -> bool:
    """Whether ``t`` comes before the nearest of ``times``."""
    values = np.asarray(times, dtype=float)
    return bool(t < values[np.argmin(np.abs(values - t))])


def matched_offsets(event_times: Sequence[float], onsets: Sequence[float]) -> list[float]:
    """Seconds from each matched event to its onset, signed (positive: the sound comes late)."""
    return [float(onsets[j]) - float(event_times[i]) for i, j in match_onsets(event_times, onsets)]


def sort_detections(
    event_times: Sequence[float], silent_impacts: Sequence[float], onsets: Sequence[float]
) -> Counter:
    """Counts of matched onsets, of each kind of false onset and of each kind of miss in one clip."""
    pairs = match_onsets(event_times, onsets)
    matched_events = {i for i, _ in pairs}
    matched_onsets = [float(onsets[j]) for _, j in pairs]
    counts: Counter = Counter(matched=len(pairs))
    unmatched = [float(t) for j, t in enumerate(onsets) if j not in {j for _, j in pairs}]
    for t in unmatched:
        if _nearest(matched_onsets, t) <= MATCH_TOLERANCE:
            counts["second_rise"] += 1
        elif _nearest(event_times, t) <= NEAR:
            counts["off_in_time"] += 1
            counts["off_in_time_early"] += _before_nearest(event_times, t)
        elif _nearest(silent_impacts, t) <= MATCH_TOLERANCE:
            counts["silent_bounce"] += 1
        else:
            counts["no_impact_near"] += 1
    for index, time in enumerate(event_times):
        if index not in matched_events:
            counts["missed_heard_nearby" if _nearest(unmatched, time) <= NEAR else "missed_unheard"] += 1
    return counts


class AudioRecorder:
    """Stands in for the pipeline in ``score_pipeline``: keeps every clip's generated audio, kept below the
    ceiling by ``levels`` (``FoleyPipeline.generate``'s)."""

    def __init__(self, pipeline: FoleyPipeline, levels: str = "gain") -> None:
        self.pipeline, self.levels, self.audio = pipeline, levels, []

    def generate(self, *args: Any, **kwargs: Any):
        generated = self.pipeline.generate(*args, **{"levels": self.levels, **kwargs})
        self.audio.append(generated.samples)
        return generated


class CleanLatents(Sampler):
    """A "sampler" that returns given latents (T, C) whatever the velocity: the MM-DiT's perfect answer."""

    def __init__(self, latents: torch.Tensor) -> None:
        super().__init__(steps=1)
        self.latents = latents

    def sample(self, velocity: VelocityFn, noise: torch.Tensor) -> torch.Tensor:
        rows, frames = noise.shape[0], noise.shape[1]
        if rows != 1 or frames > self.latents.shape[0]:
            raise ValueError(f"clean latents of {self.latents.shape[0]} frames cannot fill {rows} × {frames}")
        return self.latents[None, :frames].to(noise)


def misses_by_gap(event_times: Sequence[float], onsets: Sequence[float]) -> dict[str, list[int]]:
    """[missed, events] for each class of ``GAP_NAMES``: events by the gap to their nearest other event."""
    matched = {i for i, _ in match_onsets(event_times, onsets)}
    table = {name: [0, 0] for name in GAP_NAMES}
    for index, time in enumerate(event_times):
        gap = _nearest([t for j, t in enumerate(event_times) if j != index], time)
        row = table[GAP_NAMES[int(np.searchsorted(GAPS, gap, side="right"))]]
        row[0] += index not in matched
        row[1] += 1
    return table


class CeilingRecorder(AudioRecorder):
    """An :class:`AudioRecorder` whose pipeline decodes each clip's own clean sound (see ``--ceiling``).

    ``score_pipeline`` asks for the clips in order, so the n-th call is clip n of the set."""

    def __init__(self, pipeline: FoleyPipeline, seed: int, varied: bool, levels: str = "gain") -> None:
        super().__init__(pipeline, levels)
        self.seed, self.varied = seed, varied

    def generate(self, *args: Any, **kwargs: Any):
        item = make_item(
            self.seed, len(self.audio), 4.0, clean=True, variety=HELD_OUT if self.varied else None
        )
        mono = item["audio"].mean(0, keepdim=True)[None]
        with torch.no_grad():
            latents = self.pipeline.codec.encode(Waveform(mono, self.pipeline.codec.sample_rate)).values[0]
        return super().generate(*args, **{**kwargs, "sampler": CleanLatents(latents.float().cpu())})


def sort_set(
    pipeline: FoleyPipeline,
    seed: int,
    clips: int,
    varied: bool,
    detector_name: str,
    ceiling: bool = False,
    levels: str = "gain",
) -> dict[str, Any]:
    """The set's scores and its counts of matched onsets, false onsets and misses by kind."""
    detector = DETECTORS[detector_name]
    recorder = CeilingRecorder(pipeline, seed, varied, levels) if ceiling else AudioRecorder(pipeline, levels)
    scores = summary_row(score_pipeline(recorder, seed=seed, clips=clips, varied=varied, detector=detector))
    counts: Counter = Counter()
    offsets: list[float] = []
    by_gap = {name: [0, 0] for name in GAP_NAMES}
    for index, audio in enumerate(recorder.audio):
        item = make_item(seed, index, 4.0, clean=True, variety=HELD_OUT if varied else None)
        truth = GroundTruth.from_json(item["meta"])
        onsets = detect_onsets(audio.float().numpy(), detector)
        event_times = [e.time for e in truth.events]
        counts += sort_detections(event_times, truth.silent_impacts, onsets)
        offsets += matched_offsets(event_times, onsets)
        for name, (missed, events) in misses_by_gap(event_times, onsets).items():
            by_gap[name][0] += missed
            by_gap[name][1] += events
    return {
        "scores": scores,
        "counts": {k: counts[k] for k in ("matched", *FALSE_KINDS, *MISS_KINDS)},
        "missed_by_gap": by_gap,
        "matched_signed_offset_ms": float(np.median(offsets) * 1000) if offsets else None,
    }


def main() -> None:
    parser = synthfoley_set_parser(__doc__)
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="strict")
    parser.add_argument("--json", default="benchmarks/results/false_onsets.json")
    parser.add_argument(
        "--ceiling", action="store_true", help="decode each clip's own clean latents instead of sampling"
    )
    parser.add_argument("--cfg", type=float, help="guidance scale in place of the bundle's")
    parser.add_argument(
        "--levels", choices=LEVEL_MODES, default="gain", help="how the output is kept below -1 dBFS"
    )
    args = parser.parse_args()
    bundle = resolve_bundle(args.bundle)
    pipeline = FoleyPipeline.from_bundle(bundle)
    if args.cfg is not None:
        pipeline.cfg_scale = args.cfg
    results = {}
    for spec in args.sets:
        results[spec] = sort_set(pipeline, *parse_set(spec), args.detector, args.ceiling, args.levels)
    kinds = ("matched", *FALSE_KINDS, *MISS_KINDS)
    print(f"{'':<20}" + "".join(f"{spec:>18}" for spec in args.sets))
    for kind in kinds:
        print(f"{kind:<20}" + "".join(f"{results[spec]['counts'][kind]:>18}" for spec in args.sets))
    for name in GAP_NAMES:
        cells = ["{}/{}".format(*results[spec]["missed_by_gap"][name]) for spec in args.sets]
        print(f"{'missed, ' + name:<20}" + "".join(f"{cell:>18}" for cell in cells))
    signed = [results[spec]["matched_signed_offset_ms"] for spec in args.sets]
    print(f"{'signed offset (ms)':<20}" + "".join(f"{v if v is None else round(v, 1)!s:>18}" for v in signed))
    for score in ("onset_f1", "onset_precision", "onset_recall"):
        print(f"{score:<20}" + "".join(f"{results[spec]['scores'][score]:>18.3f}" for spec in args.sets))
    record = {
        "bundle": str(bundle),
        "detector": args.detector,
        "ceiling": args.ceiling,
        "cfg": pipeline.cfg_scale,
        "levels": args.levels,
        "results": results,
    }
    write_json(args.json, record)


if __name__ == "__main__":
    main()
