"""Seconds to generate 8 s of audio from a video file at MMAudio-S-16k's shape, stage by stage.

    python benchmarks/inference.py [--repeats 2] [--steps 25] [--cfg 4.5] [--compile] \
        [--json benchmarks/results/inference.json]

The pipeline is built from a config (``PARTS``: every part by class path and init arguments, as a bundle
holds them) with seeded random weights: no trained model is needed to time it. An 8 s SynthFoley clip is
written as an mp4; :class:`~foleyzoo.pipeline.FoleyPipeline` generates its audio end to end with Euler
steps and batched classifier-free guidance, and the result is written as a WAV and muxed into an mp4, as
``foleyzoo generate`` does. Each stage is timed exclusively (a stage inside another, such as the network
inside the sampler, leaves its parent's time): video decoding, the text, visual and sync encoders, the
sampler loop outside the network (its overhead), the network's forward passes, the codec decoder, the
stereo renderer (with its own visual encoder), the vocoder and the WAV + mux. The real-time factor is
wall-clock seconds over audio seconds. The same run repeats generation with the network recomputing its prepared conditions every
step (its ``prepare`` replaced by one that returns the conditions as they are) and, with ``--compile``,
with the network under torch.compile.
Prints tables and writes JSON with every setting.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from _common import (
    RESULTS,
    S16K,
    StageTimer,
    count_flops,
    machine,
    markdown_table,
    matmul_peak,
    mfu,
    peak_rss_bytes,
    reset_peak_rss,
    sampler_overhead,
    write_json,
)

from foleyzoo.io.media import mux_audio, write_wav
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline import pipeline as pipeline_module
from foleyzoo.pipeline.bundle import PART_INTERFACES
from foleyzoo.plugins.allowlist import instantiate_from_config
from foleyzoo.samplers import EulerSampler
from foleyzoo.synthfoley.generator import generate_clip, write_clip

SECONDS = 8.0
FRAME_SIZE = [224, 224]
PROMPT = "a wooden ball bounces three times on a tiled floor, then a metal can rolls and clatters far away"
"""A prompt of more than 77 bytes: the byte-level text encoder keeps 77 tokens, CLIP's text length."""

PARTS: dict[str, dict[str, Any]] = {
    "codec": {
        "class_path": "foleyzoo.codecs.melvae.MelVAE",  # 16 kHz, hop 256, 2x down: 31.25 latents / s
        "init_args": {
            "sample_rate": 16000,
            "n_fft": 1024,
            "hop_length": 256,
            "n_mels": 80,
            "latent_dim": S16K.latent_dim,
            "downsample": 2,
        },
    },
    "denoiser": {
        "class_path": "foleyzoo.mmdit.MMDiT",
        "init_args": {**S16K.mmdit_kwargs(), "attention": "sdpa"},
    },
    "text_encoder": {
        "class_path": "foleyzoo.encoders.text.byte.ByteTextEncoder",
        "init_args": {"embed_dim": S16K.text_dim, "max_length": S16K.text_tokens},
    },
    "visual_encoder": {
        "class_path": "foleyzoo.encoders.visual.tiny_cnn.TinyVisualCNN",
        "init_args": {"fps": S16K.visual_rate, "embed_dim": S16K.visual_dim},
    },
    "sync_encoder": {
        "class_path": "foleyzoo.encoders.sync.tiny3d.TinySync3DCNN",
        "init_args": {"fps": S16K.sync_rate, "embed_dim": S16K.sync_dim},
    },
    "vocoder": {
        "class_path": "foleyzoo.vocoders.vocos.VocosVocoder",
        "init_args": {"sample_rate": 16000, "n_fft": 1024, "hop_length": 256, "n_mels": 80},
    },
    "renderer": {
        "class_path": "foleyzoo.renderers.Mono2Stereo",
        "init_args": {"sample_rate": 16000, "n_fft": 1024, "hop_length": 256, "n_mels": 80},
    },
}
"""The S-16k pipeline's parts; the encoders are the tiny ones at CLIP's and Synchformer's feature widths."""


STAGES = [
    "decode",
    "text encoder",
    "visual encoder",
    "sync encoder",
    "sampler loop (outside the network)",
    "network forward",
    "codec decoder",
    "renderer",
    "vocoder",
    "wav + mux",
]


def build_pipeline(steps: int, cfg: float, device: str) -> FoleyPipeline:
    """The S-16k pipeline from :data:`PARTS`, every part seeded and built through the plugin allowlist."""
    parts = {}
    for index, (name, config) in enumerate(PARTS.items()):
        torch.manual_seed(index)
        parts[name] = instantiate_from_config(config, PART_INTERFACES[name], source=f"PARTS[{name!r}]")
    data_format = {"visual_size": FRAME_SIZE, "sync_size": FRAME_SIZE, "window": SECONDS}
    return FoleyPipeline(
        **parts,
        data_format=data_format,
        sampler=EulerSampler(steps=steps),
        cfg_scale=cfg,
        device=device,
    )


def timed_generation(pipeline: FoleyPipeline, video: Path, out: Path, timer: StageTimer) -> float:
    """Generate audio for ``video`` with every stage timed into ``timer``; returns the wall-clock seconds."""
    sampler_class = type(pipeline.sampler)
    network = pipeline.denoiser
    patches = [
        (pipeline_module._VideoFile, "__init__", "decode"),
        (pipeline_module._VideoFile, "window", "decode"),
        (pipeline.text_encoder, "encode", "text encoder"),
        (pipeline.visual_encoder, "encode", "visual encoder"),
        (pipeline.sync_encoder, "encode", "sync encoder"),
        (sampler_class, "sample", "sampler"),
        (pipeline.codec, "decode", "codec decoder"),
        (pipeline.renderer, "render", "renderer"),
        (pipeline.renderer.visual_encoder, "encode", "renderer"),  # its own view of the video
        (pipeline.vocoder, "vocode", "vocoder"),
    ]
    pipeline.denoiser = timer.wrap(network, "network")
    try:
        with ExitStack() as stack:
            for owner, attribute, name in patches:
                stack.enter_context(timer.patched(owner, attribute, name))
            start = time.perf_counter()
            with timer.stage("total"):
                audio = pipeline.generate(video, prompt=PROMPT, seed=0)
                with timer.stage("wav + mux"):
                    samples = audio.samples.numpy()
                    write_wav(out.with_suffix(".wav"), samples, audio.sample_rate)
                    mux_audio(video, samples, audio.sample_rate, out)
            return time.perf_counter() - start
    finally:
        pipeline.denoiser = network


def stage_seconds(timer: StageTimer) -> dict[str, float]:
    """Exclusive seconds of each reported stage, and the pipeline's own glue as what remains of the total."""
    names = {"sampler loop (outside the network)": "sampler", "network forward": "network"}
    seconds = {stage: timer.exclusive[names.get(stage, stage)] for stage in STAGES}
    seconds["other (pipeline glue)"] = timer.inclusive["total"] - sum(seconds.values())
    return seconds


def run_variant(
    pipeline: FoleyPipeline, video: Path, folder: Path, repeats: int, label: str
) -> dict[str, Any]:
    """Best of ``repeats`` timed generations (after an untimed warm-up) with their stage breakdown."""
    best: dict[str, Any] | None = None
    for attempt in range(repeats + 1):
        timer = StageTimer()
        reset_peak_rss()
        wall = timed_generation(pipeline, video, folder / f"{label}-{attempt}.mp4", timer)
        if attempt == 0:
            continue  # warm-up: first-call allocations and kernel selection
        if best is None or wall < best["seconds"]:
            best = {
                "variant": label,
                "seconds": wall,
                "real_time_factor": wall / SECONDS,
                "stages": stage_seconds(timer),
                "sampler": sampler_overhead(timer),
                "peak_rss_bytes": peak_rss_bytes(),
            }
    assert best is not None
    return best


def network_flops(pipeline: FoleyPipeline, video: Path, steps: int) -> int:
    """FLOPs of the network's forward passes in one generation: one batched (CFG) step counted, times steps.

    The step is counted as the sampler's later steps run: with the prepared conditions reused.
    """
    network = pipeline.denoiser
    calls: list[tuple] = []

    def capture(*args: Any) -> Any:
        calls.append(args)
        return network(*args)

    pipeline.denoiser = capture
    sampler = copy.copy(pipeline.sampler)
    sampler.steps = 1
    try:
        pipeline.generate(video, prompt=PROMPT, sampler=sampler)  # the arguments of a call
    finally:
        pipeline.denoiser = network
    x, t, conditions, mask = calls[0]
    with torch.no_grad():
        flops, _ = count_flops(lambda: network(x, t, conditions, mask))
    return flops * steps


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: a row a stage, a column a variant (seconds), then totals, RTF and the sampler overhead."""
    headers = ["stage", *[row["variant"] for row in rows]]
    body = [[stage, *[f"{row['stages'][stage]:.3f}" for row in rows]] for stage in rows[0]["stages"]]
    body.append(["**total (s)**", *[f"**{row['seconds']:.2f}**" for row in rows]])
    body.append(["real-time factor", *[f"{row['real_time_factor']:.2f}" for row in rows]])
    body.append(
        [
            "sampler overhead (share of sampler time)",
            *[f"{row['sampler']['overhead_fraction'] * 100:.2f} %" for row in rows],
        ]
    )
    body.append(["network MFU", *[f"{row['network_mfu'] * 100:.1f} %" for row in rows]])
    return markdown_table(headers, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--cfg", type=float, default=4.5)
    parser.add_argument("--compile", action="store_true", help="also time the network under torch.compile")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=RESULTS / "inference.json")
    options = parser.parse_args()
    host = machine()  # before the run: the load average then says how busy the machine was
    if options.threads:
        torch.set_num_threads(options.threads)
    peak = matmul_peak(options.device)
    pipeline = build_pipeline(options.steps, options.cfg, options.device)
    network = pipeline.denoiser
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = write_clip(folder, "clip", generate_clip(0, duration=SECONDS))
        video = next(path for path in written if path.suffix == ".mp4")
        flops = network_flops(pipeline, video, options.steps)
        rows.append(run_variant(pipeline, video, folder, options.repeats, "eager"))
        network.prepare = lambda conditions, x, mask=None: conditions  # each forward prepares them itself
        rows.append(run_variant(pipeline, video, folder, options.repeats, "eager, conditions every step"))
        del network.prepare
        if options.compile:
            start = time.perf_counter()
            pipeline.denoiser = torch.compile(network)
            pipeline.generate(video, prompt=PROMPT, seed=0)
            compile_s = time.perf_counter() - start
            rows.append(run_variant(pipeline, video, folder, options.repeats, "torch.compile"))
            rows[-1]["compile_and_first_run_s"] = compile_s
            pipeline.denoiser = network
    peak_end = matmul_peak(options.device)
    peak_used = max(peak["flops_per_s"], peak_end["flops_per_s"])
    for row in rows:
        row["network_flops"] = flops
        row["network_mfu"] = mfu(flops, row["stages"]["network forward"], peak_used)
    print(
        f"fp32 matmul peak: {peak_used / 1e9:.1f} GFLOP/s (start {peak['flops_per_s'] / 1e9:.1f}, "
        f"end {peak_end['flops_per_s'] / 1e9:.1f}); network {flops / 1e9:.0f} GFLOP a clip\n"
    )
    print(table(rows))
    first = rows[0]
    print(
        f"\n{SECONDS:.0f} s of audio in {first['seconds']:.2f} s: real-time factor {first['real_time_factor']:.2f} "
        f"({1 / first['real_time_factor']:.2f}x real time); sampler overhead "
        f"{first['sampler']['overhead_fraction'] * 100:.2f} % of the sampler's time, "
        f"{first['sampler']['overhead_s'] / first['seconds'] * 100:.2f} % of the generation"
    )
    for row in rows[1:]:
        print(f"{row['variant']}: {row['seconds'] / first['seconds']:.3f}x the time of eager")
    result = {
        "settings": {**vars(options), "seconds": SECONDS, "frame_size": FRAME_SIZE, "prompt": PROMPT},
        "parts": PARTS,
        "machine": {**host, "load_average_at_end": machine()["load_average_1_5_15_min"]},
        "matmul_peak": {"start": peak, "end": peak_end, "used_flops_per_s": peak_used},
        "rows": rows,
    }
    print(f"wrote {write_json(options.json, result)}")


if __name__ == "__main__":
    main()
