"""Does a flow model memorise its training clips? Its loss on them against fresh clips of the same mix.

    python benchmarks/flow_loss_gap.py --checkpoint runs/kling-tiny/checkpoints/last.ckpt \\
        [--recipe recipes/kling-tiny.yaml] [--clips 64] [--varied --varied-fraction 0.5] \\
        [--json benchmarks/results/flow_loss_gap.json]

Run in the folder the checkpoint was trained in (its frozen parts are named by relative path). The first
``--clips`` clips of the SynthFoley training set (the recipe's data settings and seed: each clip is seeded
by its index) and as many validation clips (the next seed, never trained on), drawn alike; the
EMA denoiser's flow-matching loss on both at fixed flow times with the same noise, so the two columns
differ by the clips alone. A large gap says more clips would help; a small one says more steps or width.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml
from _common import REPO_ROOT, write_json

from foleyzoo.io.checkpoints import load_module
from foleyzoo.synthfoley.datamodule import SynthFoleyDataModule
from foleyzoo.training.objective import flow_matching_loss, interpolate

TIMES = (0.05, 0.15, 0.27, 0.4, 0.6, 0.8, 0.95)
"""Flow times to measure at (0 is noise); 0.27 is where kling-tiny's logit-normal times (mean -1) peak."""


@torch.no_grad()
def losses_at_times(model, loader, times: tuple[float, ...], seed: int = 0) -> list[float]:
    """Mean flow-matching loss per time over the loader's clips, the noise drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    totals, count = torch.zeros(len(times)), 0
    denoiser = model.sampling_denoiser()
    for batch in loader:
        latents, conditions = model.prepare(batch)
        data = latents.values
        for index, time in enumerate(times):
            noise = torch.randn(data.shape, generator=generator).to(data)
            t = torch.full((data.shape[0],), time, dtype=data.dtype, device=data.device)
            predicted = denoiser(interpolate(noise, data, t), t, conditions, latents.mask)
            totals[index] += flow_matching_loss(predicted.float(), noise, data, latents.mask) * data.shape[0]
        count += data.shape[0]
    return (totals / max(count, 1)).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--recipe", default=str(REPO_ROOT / "recipes" / "kling-tiny.yaml"))
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--varied", action="store_true", help="the data module's varied clips")
    parser.add_argument("--varied-fraction", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/flow_loss_gap.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_module(args.checkpoint).eval()
    model.memo = None  # the memo is keyed by split and clip id; these are other clips
    settings = yaml.safe_load(Path(args.recipe).read_text(encoding="utf-8"))["data"]["init_args"]
    settings |= {"num_train": args.clips, "num_val": args.clips, "varied": args.varied}
    settings |= {"varied_fraction": args.varied_fraction, "draw_processes": 1}
    data = SynthFoleyDataModule(**settings)
    data.setup("fit")
    trained = losses_at_times(model, data.train_dataloader(), TIMES)
    fresh = losses_at_times(model, data.val_dataloader(), TIMES)
    print(f"{'flow time':<12}" + "".join(f"{t:>8.2f}" for t in TIMES) + f"{'mean':>8}")
    for name, values in (("trained on", trained), ("fresh", fresh)):
        print(f"{name:<12}" + "".join(f"{v:>8.4f}" for v in values) + f"{sum(values) / len(values):>8.4f}")
    gap = sum(fresh) / sum(trained) - 1
    print(f"\nfresh clips' mean loss is {gap * 100:.1f} % above the training clips'")
    write_json(
        args.json,
        {"settings": vars(args), "times": TIMES, "trained_on": trained, "fresh": fresh, "relative_gap": gap},
    )


if __name__ == "__main__":
    main()
