"""Compare foleyzoo's MMAudioDenoiser with MMAudio's own network, record the test goldens, write the manifest.

Needs MMAudio's code importable (``git clone https://github.com/hkchengrex/MMAudio`` and
``PYTHONPATH=path/to/MMAudio``; its network needs ``einops``, its sampler ``torchdiffeq``); not run in CI.
Both networks load the same random weights (:func:`foleyzoo.zoo.testing.random_state_dict`) — no
released weights are needed — and get the same inputs (:mod:`foleyzoo.zoo.mmaudio.parity`).

    python scripts/compare_mmaudio_denoiser.py compare [--variants small_16k ...] [--durations 8 5 10] [--sample]
    python scripts/compare_mmaudio_denoiser.py record    # rewrite tests/zoo/data/mmaudio_*.safetensors
    python scripts/compare_mmaudio_denoiser.py manifest  # rewrite the keys in src/foleyzoo/zoo/mmaudio/manifest.json

``compare`` prints the relative max-abs error, max|foleyzoo − MMAudio| / max|MMAudio|, of each forward pass
(every variant at full size, each duration, with all modalities and with rows and modalities left out)
and, with ``--sample``, of 25 guided Euler steps from the same noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from foleyzoo.zoo.mmaudio import MMAudioDenoiser, sample_latents
from foleyzoo.zoo.mmaudio.convert import DROPPED_KEYS
from foleyzoo.zoo.mmaudio.parity import (
    CONFIGS,
    SCENARIOS,
    ParityConfig,
    ParityInputs,
    parity_conditions,
    parity_denoiser,
    parity_inputs,
)
from foleyzoo.zoo.mmaudio.variants import VARIANTS
from foleyzoo.zoo.testing import compact_json, mmaudio_commit, random_state_dict, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDENS = REPO_ROOT / "tests" / "zoo" / "data"
MANIFEST = REPO_ROOT / "src" / "foleyzoo" / "zoo" / "mmaudio" / "manifest.json"
WEIGHTS_SEED, INPUTS_SEED = 25, 7

GOLDEN_CASES: dict[str, dict[str, Any]] = {
    "tiny_v1_16k": {"durations": (8.0, 5.0, 10.0), "scenarios": tuple(SCENARIOS), "sample": True},
    "tiny_v2_44k": {"durations": (8.0, 5.0, 10.0), "scenarios": tuple(SCENARIOS), "sample": True},
    "small_16k_shallow": {"durations": (8.0,), "scenarios": ("all", "rows"), "sample": False},
    "large_44k_v2_shallow": {"durations": (2.0,), "scenarios": ("all", "rows"), "sample": False},
}
"""What the goldens hold for each configuration of :data:`CONFIGS`: forward outputs for each duration and
scenario, and (tiny ones) sampled latents with and without a negative prompt."""

# Published facts of the released files (https://huggingface.co/hkchengrex/MMAudio, folder weights/).
RELEASE_URL = "https://huggingface.co/hkchengrex/MMAudio/resolve/main/weights/{file}"
PUBLISHED: dict[str, dict[str, Any]] = {
    "small_16k": {
        "size": 629395261,
        "sha256": "61987bcbd6fc689af063075d7efaef29425f65df155dac589c07fa8173a03c1c",
        "md5": "af93cde404179f58e3919ac085b8033b",
    },
    "small_44k": {
        "size": 629946624,
        "sha256": "11fd92e860a58f0fac972706dd06034e49dceff2e1450bbde5703785c812b0f1",
        "md5": "babd74c884783d13701ea2820a5f5b6d",
    },
    "medium_44k": {
        "size": 2487535109,
        "sha256": "3c6b01b5767a92f71529474faffedca2309416ff822b57b0c8d18be218cfb41a",
        "md5": "5a56b6665e45a1e65ada534defa903d0",
    },
    "large_44k": {
        "size": 4120388840,
        "sha256": "b3094f49ec67847dc5cf989982033b674574fd35f313d2fe4e54de8998a576dd",
        "md5": "fed96c325a6785b85ce75ae1aafd2673",
    },
    "large_44k_v2": {
        "size": 4122474715,
        "sha256": "a6bf693424fbd4ce0244fff8c412347714d5ac586e28dbeffadfa0f2b647af74",
        "md5": "01ad4464f049b2d7efdaa4c1a59b8dfe",
    },
}
SOURCES = {
    "code": "https://github.com/hkchengrex/MMAudio (mmaudio/model/networks.py); keys and shapes from its network definition",
    "sha256": "Git LFS details on https://huggingface.co/hkchengrex/MMAudio/blob/main/weights/<file>",
    "size": (
        "Git LFS pointers of the same files (oid = the SHA-256 above) in public mirrors of hkchengrex/MMAudio; "
        "the Hugging Face pages show them rounded (629 MB, 630 MB, 2.49 GB, 4.12 GB, 4.12 GB). small_44k's byte "
        "count is quoted with its SHA-256 by a third-party project that cites the Hugging Face LFS metadata"
    ),
    "md5": "MMAudio's mmaudio/utils/download_utils.py",
    "dropped_keys": (
        "derived buffers MMAudio's MMAudio.load_weights deletes before loading; the v1 files' sizes "
        "account for them (latent_rot, clip_rot, t_embed.freqs), the v2 file's do not"
    ),
}


# --------------------------------------------------------------------------- building both sides


def mmaudio_network(config: ParityConfig, duration: float, state: dict[str, Tensor]):
    """MMAudio's network for ``config`` at ``duration`` seconds, loaded with ``state`` (its own loader)."""
    from mmaudio.model.networks import MMAudio

    with torch.device("meta"):
        network = MMAudio(**config.mmaudio_arguments(duration))
    network = network.to_empty(device="cpu")
    network.initialize_rotations()  # non-persistent buffers, gone with to_empty
    network.t_embed.freqs = _mmaudio_frequencies(config)
    network.load_weights(dict(state))
    return network.eval()


def _mmaudio_frequencies(config: ParityConfig) -> Tensor:
    """MMAudio's timestep frequencies, rebuilt by its own embedder (its buffer is lost by ``to_empty``)."""
    from mmaudio.model.embeddings import TimestepEmbedder

    dim = config.hidden if config.v2 else 256
    return TimestepEmbedder(config.hidden, dim, 1 if config.v2 else 10000).freqs


def mmaudio_shapes(config: ParityConfig, duration: float = 8.0) -> dict[str, list[int]]:
    """Every key and shape of MMAudio's state dict for ``config`` (built on the meta device)."""
    from mmaudio.model.networks import MMAudio

    with torch.device("meta"):
        network = MMAudio(**config.mmaudio_arguments(duration))
    return {key: list(value.shape) for key, value in network.state_dict().items()}


def mmaudio_features(network, inputs: ParityInputs, scenario: str) -> tuple[Tensor, Tensor, Tensor]:
    """MMAudio's (clip, sync, text) for a scenario: its empty features where a modality or row is left out."""
    batch = inputs.x.shape[0]
    empty = {
        "visual": network.get_empty_clip_sequence(batch),
        "sync": network.get_empty_sync_sequence(batch),
        "text": network.get_empty_string_sequence(batch),
    }
    given = {"visual": inputs.clip, "sync": inputs.sync, "text": inputs.text}
    chosen = []
    for name in ("visual", "sync", "text"):
        rows = SCENARIOS[scenario].get(name, ())
        if rows is None:
            chosen.append(empty[name])
        elif rows:
            chosen.append(torch.where(torch.tensor(rows)[:, None, None], given[name], empty[name]))
        else:
            chosen.append(given[name])
    return chosen[0], chosen[1], chosen[2]


def mmaudio_forward(network, inputs: ParityInputs, scenario: str) -> Tensor:
    clip, sync, text = mmaudio_features(network, inputs, scenario)
    with torch.no_grad():
        return network(inputs.x, clip, sync, text, inputs.t)


def foleyzoo_forward(
    model: MMAudioDenoiser, inputs: ParityInputs, scenario: str, with_duration: bool
) -> Tensor:
    with torch.no_grad():
        return model(inputs.x, inputs.t, parity_conditions(inputs, scenario, with_duration))


def mmaudio_sample(network, inputs: ParityInputs, negative: bool, cfg_strength: float = 4.5) -> Tensor:
    """MMAudio's ``FlowMatching.to_data`` with its ``ode_wrapper`` from x0 = ``inputs.x``."""
    from mmaudio.model.flow_matching import FlowMatching

    batch = inputs.x.shape[0]
    with torch.no_grad():
        conditions = network.preprocess_conditions(inputs.clip, inputs.sync, inputs.text)
        empty = network.get_empty_conditions(
            batch, negative_text_features=inputs.negative if negative else None
        )
        flow = FlowMatching(min_sigma=0, inference_mode="euler", num_steps=25)
        return flow.to_data(lambda t, x: network.ode_wrapper(t, x, conditions, empty, cfg_strength), inputs.x)


def foleyzoo_sample(model: MMAudioDenoiser, inputs: ParityInputs, negative: bool) -> Tensor:
    conditions = parity_conditions(inputs, "all")
    negative_text = None
    if negative:
        negative_text = replace_text(conditions, inputs.negative)
    with torch.no_grad():
        return sample_latents(model, conditions, inputs.x, negative_text=negative_text)


def replace_text(conditions, tokens: Tensor):
    """The conditions' text record with other tokens (a negative prompt's), all real."""
    from dataclasses import replace

    assert conditions.text is not None
    return replace(conditions.text, tokens=tokens, pooled=tokens.mean(1))


# --------------------------------------------------------------------------- commands


def command_compare(args: argparse.Namespace) -> int:
    rows = []
    for name in args.variants:
        config = ParityConfig.of_variant(name)
        for duration in args.durations:
            started = time.perf_counter()
            state = random_state_dict(mmaudio_shapes(config, duration), WEIGHTS_SEED)
            network = mmaudio_network(config, duration, state)
            model = parity_denoiser(config, state)
            inputs = parity_inputs(config, duration, batch=args.batch, seed=INPUTS_SEED)
            for scenario in args.scenarios:
                error = relative_error(
                    foleyzoo_forward(model, inputs, scenario, with_duration=False),
                    mmaudio_forward(network, inputs, scenario),
                )
                rows.append((name, f"{duration:g} s", f"forward, {scenario}", error))
                print(f"{name:14s} {duration:4g} s  forward {scenario:10s} {error:.2e}", flush=True)
            if args.sample and duration == args.durations[0]:
                for negative in (False, True):
                    error = relative_error(
                        foleyzoo_sample(model, inputs, negative), mmaudio_sample(network, inputs, negative)
                    )
                    label = "25 steps, CFG 4.5" + (", negative prompt" if negative else "")
                    rows.append((name, f"{duration:g} s", label, error))
                    print(f"{name:14s} {duration:4g} s  {label} {error:.2e}", flush=True)
            print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
            del state, network, model
    print("\n| variant | duration | case | relative max-abs error |\n| --- | --- | --- | ---: |")
    for name, duration, case, error in rows:
        print(f"| {name} | {duration} | {case} | {error:.2e} |")
    worst = max(error for *_, error in rows)
    print(f"\nworst: {worst:.2e}")
    return 0


def command_record(args: argparse.Namespace) -> int:
    commit = mmaudio_commit()
    for name in args.configs:
        config, case = CONFIGS[name], GOLDEN_CASES[name]
        shapes = mmaudio_shapes(config)
        state = random_state_dict(shapes, WEIGHTS_SEED)
        tensors: dict[str, Tensor] = {}
        for duration in case["durations"]:
            network = mmaudio_network(config, duration, state)
            inputs = parity_inputs(config, duration, seed=INPUTS_SEED)
            for scenario in case["scenarios"]:
                tensors[f"forward/{duration:g}/{scenario}"] = mmaudio_forward(network, inputs, scenario)
            if case["sample"] and duration == case["durations"][0]:
                for negative in (False, True):
                    key = "sample/" + ("negative" if negative else "plain")
                    tensors[key] = mmaudio_sample(network, inputs, negative)
        metadata = {
            "config": json.dumps(config.describe()),
            "weights_seed": str(WEIGHTS_SEED),
            "inputs_seed": str(INPUTS_SEED),
            "mmaudio_shapes": json.dumps(shapes),
            "weights_fingerprint": repr(fingerprint(state)),
            "recorded_with": f"hkchengrex/MMAudio {commit}, torch {torch.__version__}",
        }
        path = GOLDENS / f"mmaudio_{name}.safetensors"
        save_file({key: value.contiguous() for key, value in tensors.items()}, str(path), metadata=metadata)
        print(
            f"wrote {path.relative_to(REPO_ROOT)} ({path.stat().st_size / 1024:.0f} KiB, {len(tensors)} tensors)"
        )
    return 0


def fingerprint(state: dict[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


def command_manifest(args: argparse.Namespace) -> int:
    files = {}
    for name, spec in VARIANTS.items():
        files[name] = {
            "file": spec.file_name,
            "url": RELEASE_URL.format(file=spec.file_name),
            **PUBLISHED[name],
            "keys": mmaudio_shapes(ParityConfig.of_variant(name)),
        }
    manifest = {
        "format": 1,
        "mmaudio_commit": mmaudio_commit(),
        "licence": {"code": "MIT", "weights": "CC-BY-NC-4.0"},
        "sources": SOURCES,
        "dropped_keys": list(DROPPED_KEYS),
        "files": files,
    }
    MANIFEST.write_text(compact_json(manifest) + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="full-size forward (and sampling) errors against MMAudio")
    compare.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    compare.add_argument("--durations", nargs="+", type=float, default=[8.0, 5.0, 10.0])
    compare.add_argument(
        "--scenarios", nargs="+", default=["all", "rows", "nothing"], choices=list(SCENARIOS)
    )
    compare.add_argument("--batch", type=int, default=2)
    compare.add_argument(
        "--sample", action="store_true", help="also 25 guided Euler steps at the first duration"
    )
    record = commands.add_parser("record", help="rewrite the goldens the tests compare with")
    record.add_argument("--configs", nargs="+", default=list(GOLDEN_CASES), choices=list(GOLDEN_CASES))
    commands.add_parser("manifest", help="rewrite the manifest's keys and shapes from MMAudio's code")
    args = parser.parse_args(argv)
    try:
        import mmaudio  # noqa: F401
    except ImportError:
        print(
            "error: MMAudio's code is not importable; set PYTHONPATH to a clone of hkchengrex/MMAudio",
            file=sys.stderr,
        )
        return 2
    torch.set_grad_enabled(False)
    commands_by_name = {"compare": command_compare, "record": command_record, "manifest": command_manifest}
    return commands_by_name[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
