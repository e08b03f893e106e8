"""What a codec keeps: a trained MelVAE's held-out log-mel L1 and SynthFoley scores, or MMAudio's per domain.

    python benchmarks/codec_quality.py --checkpoint runs/melvae-tiny-16k/.../last.ckpt \
        [--clips 32] [--seed 2024] [--corpus corpus/] [--json benchmarks/results/codec_quality.json]
    python benchmarks/codec_quality.py --mmaudio-vae ext_weights/v1-16.pth --variant 16k \
        --vocoder ext_weights/best_netG.pt --corpus corpus/ [--no-verify]
    python benchmarks/codec_quality.py --mmaudio-vae ext_weights/v1-44.pth --variant 44k \
        --vocoder bigvgan_v2_44khz_128band_512x/ --corpus corpus/

Held-out clips come from ``--seed`` (training used seeds 0 and 1). SynthFoley scores compare clean clips
through encode → decode → Griffin-Lim with the Griffin-Lim-only ceiling (the input's own mel). With
``--corpus``, the corpus's eval split is scored per domain the same two ways (log-mel L1, MR-STFT
distance, wide-band PESQ for speech). Prints tables and writes JSON with every setting.

With ``--mmaudio-vae`` (MMAudio's released VAE, which foleyzoo does not ship) the corpus's eval split goes
through MMAudio's front-end → VAE posterior mean → decode → its BigVGAN (``--vocoder``), next to the
vocoder-only ceiling (the front-end's mel → BigVGAN). Log-mel L1 is measured with natural-log mels of the
codec's STFT settings, so that the figures compare with the tiny codec's. Without the weight files it says
so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from foleyzoo.api import Waveform
from foleyzoo.cli.codec import pick_vocoder
from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.io.checkpoints import load_module
from foleyzoo.training.codec_eval import (
    codec_render,
    corpus_scores,
    mel_l1_ratio,
    synthfoley_audio,
    synthfoley_scores,
    vocoder_render,
)


def _pesq_cell(row: dict) -> str:
    value = row.get("pesq_wb")
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def domain_table(codec_rows: dict[str, dict], ceiling_rows: dict[str, dict]) -> str:
    """Markdown: a row a domain, the codec's scores next to the vocoder-only ceiling's."""
    lines = [
        "| domain | files | seconds | log-mel L1 codec | ceiling | MR-STFT codec | ceiling | PESQ codec | ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for domain, row in codec_rows.items():
        top = ceiling_rows[domain]
        pesq = (_pesq_cell(row), _pesq_cell(top))
        lines.append(
            f"| {domain} | {row['files']} | {row['seconds']} | {row['mel_l1']:.3f} | {top['mel_l1']:.3f} "
            f"| {row['mrstft']:.3f} | {top['mrstft']:.3f} | {pesq[0]} | {pesq[1]} |"
        )
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a trained MelVAE's checkpoint")
    source.add_argument("--mmaudio-vae", help="MMAudio's released VAE file (v1-16.pth or v1-44.pth)")
    parser.add_argument("--variant", choices=("16k", "44k"), default="16k", help="the MMAudio VAE's variant")
    parser.add_argument(
        "--vocoder",
        help="with --mmaudio-vae: best_netG.pt (16k), or the bigvgan_v2_44khz_128band_512x folder (44k)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the published size and SHA-256")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--corpus", help="a corpus folder (scripts/build_codec_corpus.py): per-domain scores")
    parser.add_argument(
        "--json", help="where to write the results (default: benchmarks/results/codec_quality*.json)"
    )
    args = parser.parse_args(argv)
    if args.mmaudio_vae and not (args.vocoder and args.corpus):
        parser.error("--mmaudio-vae needs --vocoder and --corpus (the corpus's eval split is what it scores)")
    return args


def missing_weights(args: argparse.Namespace) -> list[str]:
    """Lines naming each MMAudio weight file that is not there (empty when all are)."""
    from foleyzoo.zoo.mmaudio.manifest import released_part

    vae, vocoder = Path(args.mmaudio_vae).expanduser(), Path(args.vocoder).expanduser()
    lines = []
    if not vae.is_file():
        lines.append(
            f"{vae}: no such file; MMAudio's {args.variant} VAE is {released_part('codec', args.variant).url}"
        )
    needed = (
        [vocoder] if args.variant == "16k" else [vocoder / "config.json", vocoder / "bigvgan_generator.pt"]
    )
    if args.variant == "44k" and vocoder.is_file():
        needed = [vocoder.parent / "config.json", vocoder]
    for path in needed:
        if not path.is_file():
            lines.append(
                f"{path}: no such file; the {args.variant} vocoder is {released_part('vocoder', args.variant).url}"
                + (" (with config.json beside it)" if args.variant == "44k" else "")
            )
    return lines


def mmaudio_main(args: argparse.Namespace) -> int:
    """MMAudio's codec and vocoder on the corpus's eval split, per domain; 2 when a weight file is absent."""
    from foleyzoo.zoo.mmaudio import load_codec, load_vocoder

    absent = missing_weights(args)
    if absent:
        print("MMAudio's weights are not all here, so nothing was measured:", file=sys.stderr)
        for line in absent:
            print(f"  {line}", file=sys.stderr)
        return 2
    verify = not args.no_verify
    codec = load_codec(args.mmaudio_vae, args.variant, verify=verify)
    vocoder = load_vocoder(args.vocoder, args.variant, verify=verify)
    scoring = MelFrontend(replace(codec.mel_config, log10=False))  # natural-log mels: comparable figures
    started = time.perf_counter()
    results: dict[str, object] = {
        "codec": f"MMAudio {args.variant} VAE ({Path(args.mmaudio_vae).name}), posterior mean",
        "vocoder": str(args.vocoder),
        "verified": verify,
        "machine": platform.processor() or platform.machine(),
        "latent_rate": codec.latent_rate,
        "latent_dim": codec.latent_dim,
        "scoring_mels": "natural log, the codec's STFT and mel settings",
    }
    with torch.no_grad():
        results["corpus_codec"] = corpus_scores(codec_render(codec, vocoder), scoring, args.corpus)
        results["corpus_vocoder_only"] = corpus_scores(
            vocoder_render(vocoder, codec.frontend), scoring, args.corpus
        )
    results["seconds"] = time.perf_counter() - started
    print(domain_table(results["corpus_codec"], results["corpus_vocoder_only"]))
    out = Path(args.json or f"benchmarks/results/codec_quality_mmaudio_{args.variant}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.mmaudio_vae:
        return mmaudio_main(args)
    args.json = args.json or "benchmarks/results/codec_quality.json"
    torch.manual_seed(0)
    codec = load_module(args.checkpoint).eval()
    vocoder = pick_vocoder(codec, "griffin-lim")
    started = time.perf_counter()
    results: dict[str, object] = {
        "checkpoint": args.checkpoint,
        "clips": args.clips,
        "seed": args.seed,
        "machine": platform.processor() or platform.machine(),
        "latent_rate": codec.latent_rate,
        "latent_dim": codec.latent_dim,
    }
    latents = []
    for name, clean in (("clean", True), ("noisy", False)):
        audio = synthfoley_audio(args.seed, args.clips, clean)
        results[f"l1_{name}"] = mel_l1_ratio(codec, audio)
        with torch.no_grad():
            latents.append(codec.encode(Waveform(audio, codec.sample_rate)).values.flatten(0, 1))
    values = torch.cat(latents)  # (frames, C) of all held-out clips
    results["latent_channel_mean_abs"] = values.mean(dim=0).abs().mean().item()
    results["latent_channel_std"] = values.std(dim=0).mean().item()
    with torch.no_grad():
        results["scores_codec"] = synthfoley_scores(codec, vocoder, args.seed, args.clips).as_dict()
        results["scores_vocoder_only"] = synthfoley_scores(None, vocoder, args.seed, args.clips).as_dict()
    if args.corpus:
        frontend = MelFrontend(codec.mel_config)
        results["corpus_codec"] = corpus_scores(codec_render(codec, vocoder), frontend, args.corpus)
        results["corpus_vocoder_only"] = corpus_scores(
            vocoder_render(vocoder, frontend), frontend, args.corpus
        )
    results["seconds"] = time.perf_counter() - started
    print(f"{'measure':<34}{'value':>10}")
    for name in ("clean", "noisy"):
        row = results[f"l1_{name}"]
        print(f"{'held-out L1 / mean-frame L1 (' + name + ')':<34}{row['ratio']:>10.3f}")
    for key in ("scores_codec", "scores_vocoder_only"):
        row = results[key]
        print(f"{key + ' onset F1':<34}{row['f1']:>10.3f}")
        print(f"{key + ' class accuracy':<34}{row['class_accuracy']:>10.3f}")
    print(f"{'latent std (mean over channels)':<34}{results['latent_channel_std']:>10.3f}")
    print(f"{'latent |mean| (mean over channels)':<34}{results['latent_channel_mean_abs']:>10.3f}")
    if args.corpus:
        print()
        print(domain_table(results["corpus_codec"], results["corpus_vocoder_only"]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
