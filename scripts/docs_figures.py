"""Figures for the documentation site, from a trained bundle and the quickstart's training logs.

    python scripts/docs_figures.py --bundle runs/quickstart/pipeline --runs runs --output docs/images

writes three PNG files into ``--output``:

* ``spectrograms.png``: log-mel spectrograms of reference and generated audio for held-out SynthFoley
  clips (clean mixes, seed 2024 as the quickstart scores them), the true impact times marked;
* ``onsets.png``: per clip, the true impact times against the onsets the SynthFoley scorer detects in
  the generated audio, matched pairs joined (within the scorer's ±50 ms);
* ``quickstart-losses.png``: the loss curves each quickstart stage logged to TensorBoard under
  ``--runs`` (its latest ``version_N``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or used

import matplotlib.pyplot as plt
import numpy as np
import torch

from foleyzoo.cli.output import CommandParser
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.data.audio import resample
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.pipeline import VideoFrames
from foleyzoo.quickstart import STAGES
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.generator import FPS as SYNTH_FPS
from foleyzoo.synthfoley.generator import SAMPLE_RATE
from foleyzoo.synthfoley.scorer import GroundTruth, detect_onsets, match_onsets

MEL = MelConfig(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=64)
FIGURES = ("spectrograms.png", "onsets.png", "quickstart-losses.png")


@dataclass(frozen=True)
class ClipResult:
    """One held-out clip: its reference and generated stereo audio at 16 kHz, and its ground truth."""

    caption: str
    reference: torch.Tensor
    generated: torch.Tensor
    truth: GroundTruth


def generate_clips(
    pipeline: FoleyPipeline, clips: int, seed: int, duration: float, steps: int | None
) -> list[ClipResult]:
    """Generate audio for ``clips`` clean SynthFoley clips of ``seed`` as the quickstart's scoring does."""
    results = []
    for index in range(clips):
        item = make_item(seed, index, duration, clean=True)
        audio = pipeline.generate(
            VideoFrames(item["frames"], SYNTH_FPS),
            prompt=item["caption"],
            duration=duration,
            seed=index,
            steps=steps,
        )
        generated = resample(audio.samples.float().cpu(), audio.sample_rate, SAMPLE_RATE)
        truth = GroundTruth.from_json(item["meta"])
        results.append(ClipResult(item["caption"], item["audio"].float(), generated, truth))
    return results


def log_mel(audio: torch.Tensor) -> np.ndarray:
    """The (n_mels, frames) log-mel of a (C, N) 16 kHz signal's mono mix, as the tiny codec sees sound."""
    with torch.no_grad():
        mel = MelFrontend(MEL)(audio.mean(dim=0, keepdim=True)[None])
    return mel[0, 0].numpy()


def plot_spectrograms(results: list[ClipResult], path: Path) -> None:
    """Reference (top row) and generated (bottom row) log-mels, one column a clip, true impacts marked."""
    figure, axes = plt.subplots(2, len(results), figsize=(4 * len(results), 5), squeeze=False, sharey=True)
    for column, result in enumerate(results):
        for row, (label, audio) in enumerate(
            (("reference", result.reference), ("generated", result.generated))
        ):
            axis = axes[row][column]
            mel = log_mel(audio)
            seconds = audio.shape[-1] / SAMPLE_RATE
            axis.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, MEL.n_mels), cmap="magma")
            for event in result.truth.events:
                axis.axvline(event.time, color="cyan", linewidth=0.8, alpha=0.7)
            axis.set_title(f"{label}: {result.caption}" if row == 0 else label, fontsize=9)
            axis.set_xlabel("seconds")
        axes[0][column].set_ylabel("mel band")
        axes[1][column].set_ylabel("mel band")
    figure.suptitle("Log-mel spectrograms of held-out SynthFoley clips (lines: true impacts)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_onsets(results: list[ClipResult], path: Path) -> None:
    """True impacts (above) against onsets detected in the generated audio (below), matched pairs joined."""
    figure, axis = plt.subplots(figsize=(10, 1.2 + 0.9 * len(results)))
    for row, result in enumerate(results):
        truth = [event.time for event in result.truth.events]
        detected = detect_onsets(result.generated.numpy())
        pairs = match_onsets(truth, detected)
        base = -row * 1.0
        axis.vlines(truth, base + 0.05, base + 0.35, color="tab:blue", linewidth=2)
        axis.vlines(detected, base - 0.35, base - 0.05, color="tab:orange", linewidth=2)
        for i, j in pairs:
            axis.plot([truth[i], detected[j]], [base + 0.05, base - 0.05], color="tab:green", linewidth=1)
        axis.text(
            0.0,
            base + 0.4,
            f"clip {row}: {len(pairs)} of {len(truth)} impacts matched, {len(detected)} onsets detected",
            fontsize=8,
        )
    axis.set_yticks([])
    axis.set_xlabel("seconds")
    axis.set_title("True impacts (blue, above) and onsets detected in the generated audio (orange, below)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def latest_events(run_dir: Path) -> Path | None:
    """The TensorBoard folder of a run's latest ``version_N`` (or the run folder when it has no versions)."""
    versions = sorted(
        (path for path in run_dir.glob("**/version_*") if path.is_dir()),
        key=lambda p: int(p.name.split("_")[-1]),
    )
    folder = versions[-1] if versions else run_dir
    return folder if any(folder.glob("events.out.tfevents.*")) else None


def loss_curves(folder: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every scalar whose tag names a loss, as (steps, values), from a TensorBoard folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    curves = {}
    for tag in events.Tags()["scalars"]:
        if "loss" in tag:
            scalars = events.Scalars(tag)
            curves[tag] = ([s.step for s in scalars], [s.value for s in scalars])
    return curves


def plot_losses(runs: Path, path: Path) -> int:
    """One panel per quickstart stage with its loss curves; returns the number of stages found."""
    found = []
    for stage in STAGES:
        folder = latest_events(runs / Path(stage.run_dir).name)
        curves = loss_curves(folder) if folder is not None else {}
        if curves:
            found.append((stage, curves))
    if not found:
        raise SystemExit(f"no TensorBoard logs with losses under {runs} for the quickstart's stages")
    figure, axes = plt.subplots(1, len(found), figsize=(4 * len(found), 3.4), squeeze=False)
    for axis, (stage, curves) in zip(axes[0], found, strict=True):
        for tag, (steps, values) in sorted(curves.items()):
            axis.plot(steps, values, label=tag, marker="o" if len(steps) < 20 else None, markersize=3)
        axis.set_title(f"{stage.title}\n({stage.recipe})", fontsize=9)
        axis.set_xlabel("step")
        axis.set_yscale("log" if all(v > 0 for _, values in curves.values() for v in values) else "linear")
        axis.legend(fontsize=7)
    figure.suptitle("Quickstart: losses of each stage (TensorBoard logs)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return len(found)


def build_parser() -> CommandParser:
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle", type=Path, required=True, help="a bundle folder written by foleyzoo export"
    )
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="the folder holding each stage's run")
    parser.add_argument("--output", type=Path, default=Path("docs/images"), help="where the PNG files go")
    parser.add_hidden_alias("--out", "--output")  # the old spelling, still accepted
    parser.add_argument("--clips", type=int, default=3, help="held-out clips to show")
    parser.add_argument("--seed", type=int, default=2024, help="the held-out clips' SynthFoley seed")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the bundle's)")
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Write the three figures; prints each file written."""
    args = build_parser().parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    pipeline = FoleyPipeline.from_bundle(args.bundle, device=args.device)
    results = generate_clips(pipeline, args.clips, args.seed, args.duration, args.steps)
    plot_spectrograms(results, args.output / FIGURES[0])
    plot_onsets(results, args.output / FIGURES[1])
    stages = plot_losses(args.runs, args.output / FIGURES[2])
    for name in FIGURES:
        print(args.output / name)
    print(f"({args.clips} clips of seed {args.seed}; losses of {stages} stages from {args.runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
