"""The quickstart: every tiny stage trained from its recipe, exported as a bundle, then generated and scored.

Each stage runs ``foleyzoo fit --config recipes/…`` in the working folder, as a user would (later recipes
name earlier stages' checkpoints by relative path). The four small stages need nothing of each other and
train with one thread each, so on a machine with two or more cores they run in two lanes side by side
(codec | sync → contrastive → stereo), each in its own process with its log in ``runs/quickstart/logs/``;
the MM-DiT, which needs the first three, then trains in the foreground with both cores and a progress
bar. ``jobs=1`` runs every stage in turn in this process. A stage that finished leaves a marker in
``runs/quickstart/stages/`` and is skipped next time; one that was interrupted resumes from its
``last.ckpt``. The codec trains on SynthFoley alone here (no corpus), so the quickstart needs no system
packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foleyzoo.errors import FoleyzooError

__all__ = ["LANES", "STAGES", "Stage", "default_jobs", "run_quickstart"]

SMOKE_TRAINER = ("--trainer.max_steps=2", "--trainer.max_epochs=1", "--trainer.limit_val_batches=1")
V2A_STEPS = 6400
"""The quickstart's MM-DiT steps: the recipe's 2800 (its 15-minute budget) plus the minutes the side-by-side
lanes save and the 40-minute budget allows (the run of 6400 took 38 minutes). Onset F1 and precision
still rise with steps (4400 → 6000 and 6000 → 7200: docs/results.md, "The clip's last latent frame" and
"More steps"), but 7200 took the whole run to 41 minutes."""

V2A_CFG = 3.0
"""The guidance scale the quickstart's bundle records (the recipe's is 4): on two 6000-step models at 64 mel
bands it cut the false onsets by a tenth for about 1 % of the matched ones, the same F1 (docs/results.md,
"Guidance on the 6000-step model"); at 96 bands two models disagree on 3 against 3.5 and 4 ("Guidance at
96 bands"). It changes generation only, not training."""

MEL_BANDS = 96
"""Mel bands of the quickstart's codec, stereo renderer and vocoder (the tiny recipes keep 64): Griffin-Lim
inverts 96 bands of the codec's 512-point STFT without the beating in bells' and glasses' decays that 64
bands leave (clean mels vocoded: strict onset precision 1.00 against 0.95; docs/results.md, "Ninety-six
mel bands")."""

STEREO_STEPS = 480
"""The quickstart's Mono2Stereo steps (the recipe's 320): at 96 bands the renderer placed sounds less surely
after 320 steps (pan error 0.070 and 0.055 for two seeds on 32 held-out clips, 0.049 at 64 bands) and at
0.051 after 480 (docs/results.md, "Ninety-six mel bands")."""

V2A_DATA = (
    "--data.init_args.num_train=2048",
    "--data.init_args.varied=true",
    "--data.init_args.varied_fraction=0.5",
    "--data.init_args.draw_processes=2",
)
"""The quickstart's MM-DiT data: four times the recipe's clips, every other one drawn with the choices the
spec leaves free varied (as another generator might draw it), so that the model learns the spec and not
only foleyzoo's generator (docs/results.md, "Training on a mix"); drawn at set-up by two worker processes
(docs/data.md) rather than one by one in the first epoch."""


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
        overrides=("--data.init_args.corpus_dir=null", f"--model.init_args.n_mels={MEL_BANDS}"),
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=7,
    ),
    Stage(
        "sync",
        "sync encoder pre-training",
        "pretraining/sync-tiny.yaml",
        "runs/sync-tiny",
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=3,
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
        "stereo",
        "Mono2Stereo renderer",
        "stereo/mono2stereo-tiny.yaml",
        "runs/mono2stereo-tiny",
        overrides=(
            f"--model.init_args.n_mels={MEL_BANDS}",
            f"--trainer.max_steps={STEREO_STEPS}",
            f"--model.init_args.scheduler.init_args.T_max={STEREO_STEPS}",
        ),
        smoke=("--data.init_args.num_train=8", "--data.init_args.num_val=4"),
        minutes=4.5,
    ),
    Stage(
        "v2a",
        "MM-DiT video-to-audio (flow matching)",
        "kling-tiny.yaml",
        "runs/kling-tiny",
        overrides=(
            f"--trainer.max_steps={V2A_STEPS}",
            f"--model.init_args.scheduler.init_args.total_steps={V2A_STEPS}",
            f"--model.init_args.cfg_scale={V2A_CFG}",
            f"--model.init_args.vocoder.init_args.n_mels={MEL_BANDS}",
            *V2A_DATA,
        ),
        smoke=(
            "--data.init_args.num_train=8",
            "--data.init_args.num_val=4",
            "--model.init_args.val_audio_clips=0",
        ),
        minutes=29,
    ),
)

LANES: tuple[tuple[str, ...], ...] = (("codec",), ("sync", "contrastive", "stereo"))
"""Stages that run side by side (one process a lane, one thread each) before the MM-DiT, when jobs > 1."""
LANED = frozenset(name for lane in LANES for name in lane)

STATE_DIR = Path("runs/quickstart/stages")
LOG_DIR = Path("runs/quickstart/logs")
BUNDLE_DIR = Path("runs/quickstart/pipeline")
SCORES_FILE = Path("runs/quickstart/scores.json")
MODEL_NAME, SMOKE_MODEL_NAME = "quickstart", "quickstart-smoke"
"""Names the trained bundle is registered under in the model folder (a smoke run never replaces a real one)."""
HEARTBEAT_SECONDS = 60.0
VARIED_SEED = 7000
"""Seed of the second held-out set, drawn with every choice the spec leaves free varied."""


def _fit_arguments(stage: Stage, smoke: bool, resumed: bool) -> list[str]:
    from foleyzoo.plugins.recipes import builtin_recipe_dir

    arguments = ["fit", "--config", str(builtin_recipe_dir() / stage.recipe), *stage.overrides]
    if smoke:
        arguments += [*SMOKE_TRAINER, *stage.smoke]
    if resumed:
        arguments += ["--ckpt_path", str(stage.checkpoint)]
    return arguments


def _run_in_process(arguments: list[str], stage: Stage) -> int:
    from foleyzoo.training.cli import run

    return run([*arguments, "--trainer.enable_progress_bar=true"])


def _log_file(stage: Stage) -> Path:
    return LOG_DIR / f"{stage.name}.log"


def _run_in_child(arguments: list[str], stage: Stage) -> int:
    """``python -m foleyzoo fit …`` with its output, plain progress lines included, in the stage's log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(_log_file(stage), "a", encoding="utf-8") as log:
        command = [sys.executable, "-m", "foleyzoo", *arguments]  # plain progress lines: the log is a file
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def train_stage(
    stage: Stage,
    smoke: bool,
    say: Callable[[str], None],
    runner: Callable[[list[str], Stage], int] | None = None,
) -> str:
    """Fit ``stage`` unless its marker says it finished; resume from ``last.ckpt`` after an interruption.

    ``runner`` runs the ``fit`` arguments (default: in this process, with a progress bar).
    """
    runner = _run_in_process if runner is None else runner
    marker = STATE_DIR / f"{stage.name}.json"
    if marker.is_file() and stage.checkpoint.is_file():
        return "finished before: skipped"
    resumed = stage.checkpoint.is_file()
    if resumed:
        say(f"  resuming from {stage.checkpoint}")
    started = time.monotonic()
    code = runner(_fit_arguments(stage, smoke, resumed), stage)
    where = f" (log: {_log_file(stage)})" if runner is _run_in_child else ""
    if code != 0:
        raise FoleyzooError(f"stage {stage.name} ({stage.recipe}) exited with code {code}{where}")
    if not stage.checkpoint.is_file():
        raise FoleyzooError(f"stage {stage.name} ({stage.recipe}) wrote no {stage.checkpoint}{where}")
    seconds = time.monotonic() - started
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        json.dumps({"stage": stage.name, "seconds": seconds, "smoke": smoke, "resumed": resumed})
    )
    return f"{'resumed and ' if resumed else ''}trained in {seconds / 60:.1f} min"


def _run_lanes(
    lanes: Sequence[Sequence[Stage]], smoke: bool, say: Callable[[str], None], number: Callable[[Stage], str]
) -> None:
    """Run each lane's stages in turn, the lanes side by side in child processes; a failed lane does not stop
    the others (their work is kept), and the first failure is raised once all have ended."""
    lock, failures, running = threading.Lock(), [], {}

    def locked_say(line: str) -> None:
        with lock:
            say(line)

    def lane_worker(lane: Sequence[Stage]) -> None:
        for stage in lane:
            locked_say(f"{number(stage)} {stage.title}: recipes/{stage.recipe} → {stage.run_dir}/")
            running[stage.name] = time.monotonic()
            try:
                outcome = train_stage(stage, smoke, locked_say, _run_in_child)
            except FoleyzooError as exc:
                failures.append(exc)
                locked_say(f"  {stage.name}: failed: {exc}")
                return
            finally:
                running.pop(stage.name, None)
            locked_say(f"  {stage.name}: {outcome}")

    threads = [threading.Thread(target=lane_worker, args=(lane,), daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    while alive := [thread for thread in threads if thread.is_alive()]:
        alive[0].join(timeout=max(0.0, next_beat - time.monotonic()))
        now = time.monotonic()
        if now >= next_beat:
            next_beat += HEARTBEAT_SECONDS
            busy = ", ".join(f"{name} {(now - since) / 60:.1f} min" for name, since in list(running.items()))
            if busy:
                locked_say(f"  … training: {busy} (logs in {LOG_DIR}/)")
    if failures:
        raise failures[0]


def train_all(smoke: bool, jobs: int, say: Callable[[str], None]) -> None:
    """Every stage: the lanes side by side when ``jobs`` > 1, then the rest in the foreground."""
    by_name = {stage.name: stage for stage in STAGES}

    def number(stage: Stage) -> str:
        return f"[{STAGES.index(stage) + 1}/{len(STAGES)}]"

    laned = LANED if jobs > 1 else frozenset()
    if laned:
        _run_lanes([[by_name[name] for name in lane] for lane in LANES], smoke, say, number)
    for stage in STAGES:
        if stage.name not in laned:
            say(f"{number(stage)} {stage.title}: recipes/{stage.recipe} → {stage.run_dir}/")
            say(f"  {train_stage(stage, smoke, say)}")


def default_jobs() -> int:
    """Two lanes where there are two cores or more, else one stage at a time."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def expected_minutes(jobs: int) -> float:
    """The stages' wall time on a 2-core CPU: the longest lane, then the rest (every stage in turn at jobs 1)."""
    minutes = {stage.name: stage.minutes for stage in STAGES}
    if jobs == 1:
        return sum(minutes.values())
    lanes = max(sum(minutes[name] for name in lane) for lane in LANES)
    return lanes + sum(value for name, value in minutes.items() if name not in LANED)


def run_quickstart(
    smoke: bool = False,
    clips: int = 32,
    seed: int = 2024,
    say: Callable[[str], None] = print,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Train every stage, export the bundle, generate for held-out clips and score; returns the scores.

    ``jobs`` > 1 trains the independent small stages side by side (default: 2 on a multi-core machine).
    """
    from foleyzoo.pipeline import FoleyPipeline, ModelCard, export_bundle
    from foleyzoo.pipeline.home import register_bundle
    from foleyzoo.pipeline.synthfoley_eval import score_pipeline, summary_row
    from foleyzoo.synthfoley.scorer import STRICT

    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise FoleyzooError(f"jobs must be at least 1, got {jobs}")
    lanes = f"{len(LANES)} lanes side by side, then the MM-DiT" if jobs > 1 else "one at a time"
    say(
        f"foleyzoo quickstart: {len(STAGES)} stages, {lanes} (about {expected_minutes(jobs):.0f} min of "
        f"training on 2 CPU cores{', smoke run' if smoke else ''})"
    )
    train_all(smoke, jobs, say)
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
    say(f"generating and scoring {clips} held-out SynthFoley clips (seed {seed}), strict onset detector")
    pipeline = FoleyPipeline.from_bundle(BUNDLE_DIR)
    options = {"steps": 2, "detector": STRICT} if smoke else {"detector": STRICT}
    scores = summary_row(score_pipeline(pipeline, seed=seed, clips=clips, **options))
    say(
        f"… and {clips} varied held-out clips (seed {VARIED_SEED}: every free choice varied, frames through H.264)"
    )
    varied = summary_row(score_pipeline(pipeline, seed=VARIED_SEED, clips=clips, varied=True, **options))
    result = {
        "clips": clips,
        "seed": seed,
        "smoke": smoke,
        "detector": STRICT.name,
        "scores": scores,
        "varied_seed": VARIED_SEED,
        "varied_scores": varied,
    }
    SCORES_FILE.write_text(json.dumps(result, indent=2) + "\n")
    card.scores = scores
    (BUNDLE_DIR / "card.json").write_text(json.dumps(card.__dict__, indent=2) + "\n")
    (BUNDLE_DIR / "README.md").write_text(card.markdown())
    name = SMOKE_MODEL_NAME if smoke else MODEL_NAME
    result["model"] = str(register_bundle(BUNDLE_DIR, name))
    say(f"registered as model {name!r}: `foleyzoo models` lists it, `--model {name}` finds it")
    return result
