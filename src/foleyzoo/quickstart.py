"""The quickstart: every tiny stage trained from its recipe, exported as a bundle, then generated and scored.

Stages run one after another in the working folder, each with ``foleyzoo fit --config recipes/…`` as a
user would run them (later recipes name earlier stages' checkpoints by relative path). A stage that
finished leaves a marker in ``runs/quickstart/stages/`` and is skipped next time; one that was
interrupted resumes from its ``last.ckpt``. The codec trains on SynthFoley alone here (no corpus), so
the quickstart needs no system packages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foleyzoo.errors import FoleyzooError

__all__ = ["STAGES", "Stage", "run_quickstart"]

SMOKE_TRAINER = ("--trainer.max_steps=2", "--trainer.max_epochs=1", "--trainer.limit_val_batches=1")


@dataclass(frozen=True)
class Stage:
    """One training stage: its recipe, where it writes, what the quickstart changes, and the smoke settings."""

    name: str
    title: str
    recipe: str
    run_dir: str
    overrides: tuple[str, ...] = ()
    smoke: tuple[str, ...] = ()
    minutes: float = 0.0

    @property
    def checkpoint(self) -> Path:
        return Path(self.run_dir) / "checkpoints" / "last.ckpt"


STAGES: tuple[Stage, ...] = (
    Stage(
        "codec",
        "mel-VAE codec",
        "codec/melvae-tiny-16k.yaml",
        "runs/melvae-tiny-16k",
        overrides=("--data.init_args.corpus_dir=null",),
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=6,
    ),
    Stage(
        "sync",
        "sync encoder pre-training",
        "pretraining/sync-tiny.yaml",
        "runs/sync-tiny",
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=4,
    ),
    Stage(
        "contrastive",
        "visual encoder (audio-visual contrastive) pre-training",
        "pretraining/av-contrastive-tiny.yaml",
        "runs/av-contrastive-tiny",
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=2,
    ),
    Stage(
        "v2a",
        "MM-DiT video-to-audio (flow matching)",
        "kling-tiny.yaml",
        "runs/kling-tiny",
        smoke=(
            "--data.init_args.num_train=8",
            "--data.init_args.num_val=4",
            "--model.init_args.val_audio_clips=0",
        ),
        minutes=14,
    ),
    Stage(
        "stereo",
        "Mono2Stereo renderer",
        "stereo/mono2stereo-tiny.yaml",
        "runs/mono2stereo-tiny",
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=5,
    ),
)

STATE_DIR = Path("runs/quickstart/stages")
BUNDLE_DIR = Path("runs/quickstart/pipeline")
SCORES_FILE = Path("runs/quickstart/scores.json")


def train_stage(stage: Stage, smoke: bool, say: Callable[[str], None]) -> str:
    """Fit ``stage`` unless its marker says it finished; resume from ``last.ckpt`` after an interruption."""
    from foleyzoo.cli.main import run
    from foleyzoo.cli.recipes import builtin_recipe_dir

    marker = STATE_DIR / f"{stage.name}.json"
    if marker.is_file() and stage.checkpoint.is_file():
        return "finished before: skipped"
    arguments = ["fit", "--config", str(builtin_recipe_dir() / stage.recipe), *stage.overrides]
    if smoke:
        arguments += [*SMOKE_TRAINER, *stage.smoke]
    resumed = stage.checkpoint.is_file()
    if resumed:
        arguments += ["--ckpt_path", str(stage.checkpoint)]
        say(f"  resuming from {stage.checkpoint}")
    started = time.monotonic()
    code = run([*arguments, "--trainer.enable_progress_bar=true"])
    if code not in (0, None):
        raise FoleyzooError(f"stage {stage.name} ({stage.recipe}) exited with code {code}")
    if not stage.checkpoint.is_file():
        raise FoleyzooError(f"stage {stage.name} ({stage.recipe}) wrote no {stage.checkpoint}")
    seconds = time.monotonic() - started
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        json.dumps({"stage": stage.name, "seconds": seconds, "smoke": smoke, "resumed": resumed})
    )
    return f"{'resumed and ' if resumed else ''}trained in {seconds / 60:.1f} min"


def run_quickstart(
    smoke: bool = False, clips: int = 32, seed: int = 2024, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train every stage, export the bundle, generate for held-out clips and score; returns the scores."""
    from foleyzoo.pipeline import FoleyPipeline, ModelCard, export_bundle
    from foleyzoo.pipeline.synthfoley_eval import score_pipeline, summary_row

    total = sum(stage.minutes for stage in STAGES)
    say(
        f"foleyzoo quickstart: {len(STAGES)} stages (about {total:.0f} min on 2 CPU cores{', smoke run' if smoke else ''})"
    )
    for number, stage in enumerate(STAGES, start=1):
        say(f"[{number}/{len(STAGES)}] {stage.title}: recipes/{stage.recipe} → {stage.run_dir}/")
        say(f"  {train_stage(stage, smoke, say)}")
    say(f"exporting the bundle → {BUNDLE_DIR}/")
    card = ModelCard(
        name="foleyzoo-quickstart",
        architecture="Kling-Foley at tiny width: mel-VAE codec, MM-DiT (flow matching), Mono2Stereo",
        trained_on="SynthFoley (generated clips, seeds 0 and 1)",
        licence="Apache-2.0",
    )
    by_name = {stage.name: stage for stage in STAGES}
    export_bundle(
        by_name["v2a"].checkpoint,
        BUNDLE_DIR,
        card,
        renderer_checkpoint=by_name["stereo"].checkpoint,
        overwrite=True,
    )
    clips = min(clips, 2) if smoke else clips
    say(f"generating and scoring {clips} held-out SynthFoley clips (seed {seed})")
    pipeline = FoleyPipeline.from_bundle(BUNDLE_DIR)
    options = {"steps": 2} if smoke else {}
    scores = summary_row(score_pipeline(pipeline, seed=seed, clips=clips, **options))
    result = {"clips": clips, "seed": seed, "smoke": smoke, "scores": scores}
    SCORES_FILE.write_text(json.dumps(result, indent=2) + "\n")
    card.scores = scores
    (BUNDLE_DIR / "card.json").write_text(json.dumps(card.__dict__, indent=2) + "\n")
    (BUNDLE_DIR / "README.md").write_text(card.markdown())
    return result
