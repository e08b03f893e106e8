"""The kling-tiny recipe, trained as committed after the earlier tiny stages, generates well-timed sound.

Slow (about 30 minutes on 2 cores): it trains the codec, sync and contrastive stages (shared with their
own slow tests) and then the video-to-audio recipe twice, with and without sync conditioning (the paper's
ablation). The MM-DiT issue's targets: onset F1 ≥ 0.8 from mono output on held-out SynthFoley clips, and
a drop of ≥ 0.2 without sync. Measured with the recipe as committed: 0.822 with sync, 0.419 without
(docs/results.md). The drop is asserted as the target. The F1 bar sits below the target, at 0.75, as a
regression guard: runs differ in float summation order with the thread count (the measured runs used
one thread each, the recipe two), and single changes to the recipe moved F1 by 0.035 to 0.05. The
recipe before this one scored 0.698; intermediate versions 0.737 and 0.787 (docs/results.md).
"""

from __future__ import annotations

import pytest
import torch
from tests.stages import TinyStages

from foleyzoo.data.clips import ClipFormat
from foleyzoo.io.checkpoints import load_module
from foleyzoo.training.flow_eval import generation_scores

HELD_OUT_SEED, CLIPS = 2024, 32  # training uses seeds 0 (train) and 1 (validation)
FORMAT = ClipFormat(
    visual_fps=8.0, visual_size=(32, 32), sync_fps=24.0, sync_size=(32, 32), sample_rate=16000
)


@pytest.mark.slow
def test_kling_tiny_places_onsets_and_needs_sync_to_do_it(tiny_stages: TinyStages) -> None:
    full = tiny_stages.checkpoint("v2a")
    without_sync = tiny_stages.checkpoint("v2a-no-sync")  # benchmarks/configs/kling-tiny-no-sync.yaml
    torch.manual_seed(0)
    scores = generation_scores(load_module(full), FORMAT, seed=HELD_OUT_SEED, clips=CLIPS)
    ablated = generation_scores(load_module(without_sync), FORMAT, seed=HELD_OUT_SEED, clips=CLIPS)
    assert scores.f1 >= 0.75, f"onset F1 {scores.f1:.3f} (measured 0.822; the issue's target is 0.8)"
    assert scores.f1 - ablated.f1 >= 0.2, f"without sync {ablated.f1:.3f} against {scores.f1:.3f}"


def test_the_ablation_layer_changes_only_sync_and_where_the_run_goes() -> None:
    from tests.conftest import REPO_ROOT

    from foleyzoo.training.cli import parse_config

    recipe = str(REPO_ROOT / "recipes" / "kling-tiny.yaml")
    layer = str(REPO_ROOT / "benchmarks" / "configs" / "kling-tiny-no-sync.yaml")
    full = parse_config(["fit", "--config", recipe]).fit
    ablated = parse_config(["fit", "--config", recipe, "--config", layer]).fit
    assert full.model.init_args.use_sync is True and ablated.model.init_args.use_sync is False
    assert ablated.trainer.callbacks[0].init_args.dirpath == "runs/kling-tiny-nosync/checkpoints"
    changed = {
        key for key, value in full.model.init_args.items() if ablated.model.init_args.get(key) != value
    }
    assert changed == {"use_sync"}
