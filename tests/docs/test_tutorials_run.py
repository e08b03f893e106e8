"""The tutorials' commands run, in page order, at tiny size.

Slow. Each page's ``bash`` commands run in one sandbox folder as a reader would type them (the YAML
snippets saved as the files the page names, its Python blocks executed), with only the size changed:
fewer clips, two training steps, a narrow MM-DiT and two sampler steps. The earlier stages' checkpoints
the video-to-audio recipe names are small untrained ones. Commands for GPUs or clusters (``kling.yaml``,
``--trainer.devices=4``, ``srun``, ``torchrun``) are only parsed, by ``test_snippets.py``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.docs.snippets import (
    REPO_ROOT,
    YamlCheck,
    command_lines,
    make_sandbox,
    program_and_arguments,
    read_snippets,
)
from tests.stage_checkpoints import (
    SMALL_FLOW,
    TINY_CODEC,
    TINY_CONTRASTIVE,
    TINY_SYNC,
    fit_small_flow,
    write_checkpoint,
)
from tests.stages import working_folder

from foleyzoo.cli.main import run
from foleyzoo.pipeline import ModelCard, export_bundle

TINY_TRAINER = [
    "--trainer.max_steps=2",
    "--trainer.limit_val_batches=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
TINY_DATA = ["--data.init_args.batch_size=2", "--data.init_args.num_workers=0"]
NARROW_FLOW = [option for option in SMALL_FLOW if option.startswith("--model.")]
"""kling-tiny at the width of the small stage checkpoints."""

GPU_ONLY = ("kling.yaml", "--trainer.devices=4")
ABSENT_WEIGHTS = "weights/"
"""Commands naming published networks' weight files (not shipped, not downloadable here) are only parsed."""
COVERED_ELSEWHERE = {"quickstart": "tests/quickstart/test_quickstart.py runs `foleyzoo quickstart --smoke`"}


def write_small_stages() -> None:
    """Small untrained codec, sync and visual-encoder checkpoints where kling-tiny looks for them."""
    codec = {
        "class_path": TINY_CODEC["class_path"],
        "init_args": {
            **TINY_CODEC["init_args"],
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.01}},
        },
    }
    write_checkpoint(codec, Path("runs/melvae-tiny-16k/checkpoints/last.ckpt"), seed=1)
    write_checkpoint(TINY_SYNC, Path("runs/sync-tiny/checkpoints/last.ckpt"), seed=2)
    write_checkpoint(TINY_CONTRASTIVE, Path("runs/av-contrastive-tiny/checkpoints/last.ckpt"), seed=3)


def tiny(arguments: list[str], clips: int) -> list[str]:
    """A foleyzoo command line with only its size reduced (``clips`` SynthFoley clips at most)."""
    command = arguments[0]
    if command == "synth" and arguments[1] == "make":
        at = arguments.index("--clips")
        count = min(clips, int(arguments[at + 1]))
        return [*arguments[: at + 1], str(count), *arguments[at + 2 :], "--workers", "1"]
    if command == "fit":
        data = [] if "recipes/toy/flow-2d.yaml" in arguments else TINY_DATA
        narrow = NARROW_FLOW if "recipes/kling-tiny.yaml" in arguments else []
        return [*arguments, *TINY_TRAINER, *data, *narrow]
    if command == "extract":
        return [*arguments, "--data.num_workers=0"]
    if command == "generate":
        return [*arguments, "--steps", "2"]
    return arguments


def runnable(tokens: list[str], arguments: list[str]) -> bool:
    """Whether a foleyzoo command can run here (not for GPUs or clusters, no absent weights or covered elsewhere)."""
    if tokens[0] in ("srun", "torchrun") or (arguments and arguments[0] in COVERED_ELSEWHERE):
        return False
    return not any(a.endswith(GPU_ONLY) or a in GPU_ONLY or ABSENT_WEIGHTS in a for a in arguments)


def run_page(page: Path, before_fit: Callable[[], None] = lambda: None, clips: int = 8) -> list[str]:
    """Run every foleyzoo command and Python block of ``page`` in order; returns the commands run.

    ``before_fit`` does what the page asks the reader to do by hand before training (write a manifest).
    """
    ran = []
    for snippet in read_snippets(page):
        if snippet.language == "yaml":
            check = YamlCheck.parse(snippet)
            if check.save_as:
                Path(check.save_as).write_text(snippet.text)
        elif snippet.language == "python":
            exec(compile(snippet.text, snippet.where, "exec"), {"__name__": "__docs__"})
            ran.append(f"python block at {snippet.where}")
        elif snippet.language == "bash":
            for tokens in command_lines(snippet.text):
                program, arguments, _ = program_and_arguments(tokens)
                if program != "foleyzoo" or not runnable(tokens, arguments):
                    continue
                command = tiny(arguments, clips)
                if command[0] == "fit":
                    before_fit()
                try:
                    code = run(command)
                except SystemExit as exc:  # --print_config prints and exits
                    code = exc.code
                assert code in (0, None), (
                    f"{snippet.where}: foleyzoo {shlex.join(command)} exited with {code}"
                )
                ran.append(shlex.join(command))
    return ran


@pytest.mark.slow
def test_video_to_audio_tutorial_runs_at_tiny_size(tmp_path: Path) -> None:
    with working_folder(make_sandbox(tmp_path)):
        write_small_stages()
        ran = run_page(REPO_ROOT / "docs/tutorials/video-to-audio.md")
    assert any(command.startswith("extract") for command in ran)
    assert (tmp_path / "cache/train/index.json").is_file()
    assert (tmp_path / "runs/my-videos/pipeline/config.json").is_file()
    assert (tmp_path / "runs/my-videos-cache/pipeline/config.json").is_file()
    assert len(list((tmp_path / "generated").glob("*.wav"))) == 8
    assert len(list((tmp_path / "generated").glob("*.mp4"))) == 8


def write_sound_manifest() -> None:
    """``my-sounds/list.csv`` as the codec tutorial shows it: a ``path`` column naming each WAV file."""
    names = sorted(path.name for path in Path("my-sounds").glob("*.wav"))
    Path("my-sounds/list.csv").write_text("path\n" + "".join(f"{name}\n" for name in names))


@pytest.mark.slow
def test_codec_tutorial_runs_at_tiny_size(tmp_path: Path) -> None:
    with working_folder(make_sandbox(tmp_path)):
        ran = run_page(REPO_ROOT / "docs/tutorials/codec-on-your-sounds.md", before_fit=write_sound_manifest)
    assert sum(command.startswith("fit") for command in ran) == 2  # trained, then resumed
    assert (tmp_path / "runs/melvae-tiny-16k/checkpoints/last.ckpt").is_file()
    for written in ("heard/clip_00000.wav", "latents/clip_00000.safetensors", "decoded/clip_00000.wav"):
        assert (tmp_path / written).is_file(), written


@pytest.mark.slow
def test_quickstart_swap_evaluate_and_long_video_tutorials_run_with_a_small_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pages after the quickstart, in the site's order, with a small bundle standing in for its own.

    The bundle keeps kling-tiny's 4 s window, so the long-video page's overlap of 2 s means what it says.
    """
    monkeypatch.setattr(
        "tests.stage_checkpoints.SMALL_FLOW", [*SMALL_FLOW, "--data.init_args.clip_duration=4.0"]
    )
    with working_folder(make_sandbox(tmp_path)):
        checkpoint = fit_small_flow(tmp_path)
        renderer = {"class_path": "foleyzoo.renderers.DualMono", "init_args": {}}
        export_bundle(
            checkpoint, Path("runs/quickstart/pipeline"), ModelCard(name="small"), renderer=renderer
        )
        ran = []
        for page in ("quickstart.md", "swap-parts.md", "evaluate.md", "long-videos.md"):
            ran += run_page(REPO_ROOT / "docs/tutorials" / page, clips=2)
    assert any(command.startswith("eval ") for command in ran)
    assert any("python block" in command for command in ran)
    for folder in ("generated", "generated-heun", "eval-generated", "long-generated"):
        assert len(list((tmp_path / folder).glob("*.wav"))) == 2, folder
    assert (tmp_path / "results.json").is_file()
