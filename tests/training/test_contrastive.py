"""AVContrastive: clip embeddings, the InfoNCE loss, retrieval, and that training aligns audio with video."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from tests.conftest import REPO_ROOT

from foleyzoo.api import Video, Waveform
from foleyzoo.encoders.audio.tiny_mel import TinyMelAudioEncoder
from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN
from foleyzoo.io.checkpoints import load_module
from foleyzoo.synthfoley.datamodule import SynthFoleyDataModule
from foleyzoo.training.callbacks import TorchThreads
from foleyzoo.training.contrastive import (
    AVContrastive,
    evaluate_retrieval,
    grouped_top1,
    retrieval_top1,
    symmetric_info_nce,
)

RECIPE = REPO_ROOT / "recipes" / "pretraining" / "av-contrastive-tiny.yaml"


def small_model(**overrides) -> AVContrastive:
    options = {
        "visual_encoder": TinyVisualCNN(width=16),
        "audio_encoder": TinyMelAudioEncoder(width=32, hop_length=320),
        "embed_dim": 64,
        "steps": 16,
        "time_bins": 4,
        "optimizer": functools.partial(torch.optim.AdamW, lr=3e-3),
    }
    return AVContrastive(**{**options, **overrides})


def random_clips(batch: int = 3, seconds: float = 2.0, size: int = 32) -> tuple[Video, Waveform]:
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(batch, round(8 * seconds), 3, size, size, generator=generator)
    samples = 0.1 * torch.randn(batch, 1, round(16000 * seconds), generator=generator)
    return Video(frames, 8.0), Waveform(samples, 16000)


def test_embeddings_are_unit_vectors_and_score_is_their_cosine():
    model = small_model().train()  # batch statistics: embeddings of random clips differ
    video, audio = random_clips()
    v, a = model.embed_video(video), model.embed_audio(audio)
    assert v.shape == a.shape == (3, 64)
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(a.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(v[0], v[1], atol=1e-3) and not torch.allclose(a[0], a[1], atol=1e-3)
    model.eval()
    score = model.score(video, audio)
    assert score.shape == (3,)
    expected = (model.embed_video(video) * model.embed_audio(audio)).sum(dim=1)
    assert torch.allclose(score, expected, atol=1e-6) and bool((score.abs() <= 1 + 1e-6).all())


def test_frames_of_another_size_are_resized_and_a_wrong_rate_is_refused():
    model = small_model().train()  # batch statistics: untrained embeddings are not all alike
    video, _ = random_clips(size=64)
    small = torch.nn.functional.interpolate(
        video.frames.flatten(0, 1), size=(32, 32), mode="bilinear", align_corners=False
    ).unflatten(0, (3, -1))
    assert torch.allclose(model.embed_video(video), model.embed_video(Video(small, 8.0)), atol=1e-5)
    with pytest.raises(ValueError, match="fps"):
        model.embed_video(Video(video.frames, 24.0))
    with pytest.raises(ValueError, match="Hz"):
        model.embed_audio(Waveform(torch.zeros(1, 1, 8000), 8000))


def test_padding_is_left_out_of_clip_embeddings():
    """Clips batched with longer ones (padded, masked) embed as they do alone (audio: up to its edge frames)."""
    torch.manual_seed(0)
    model = small_model().train()  # batch statistics: untrained embeddings are not all alike
    head = model.visual_head
    features = torch.randn(2, 20, 64)
    padded_features = torch.cat([features, torch.randn(2, 10, 64)], dim=1)
    feature_mask = torch.arange(30)[None].expand(2, -1) < 20
    assert torch.allclose(head(padded_features, feature_mask), head(features), atol=1e-5)

    video, audio = random_clips(batch=2)
    frames = torch.cat([video.frames, torch.zeros(2, 8, 3, 32, 32)], dim=1)
    mask = torch.zeros(2, frames.shape[1], dtype=torch.bool)
    mask[:, : video.frames.shape[1]] = True
    padded = model.embed_video(Video(frames, 8.0, mask))
    assert torch.allclose(padded, model.embed_video(video), atol=1e-5)
    assert not torch.allclose(model.embed_video(Video(frames, 8.0)), padded, atol=1e-3)

    # the log-mel CNN sees zeros past the end where the lone clip's STFT reflects, so its last frames
    # differ; measured cosines to the lone clips: 0.88 and 0.88 masked, 0.61 and 0.66 unmasked
    samples = torch.cat([audio.samples, torch.zeros(2, 1, 16000)], dim=2)
    sample_mask = torch.zeros(2, samples.shape[2], dtype=torch.bool)
    sample_mask[:, : audio.samples.shape[2]] = True
    alone = model.embed_audio(audio)
    masked = (model.embed_audio(Waveform(samples, 16000), sample_mask) * alone).sum(dim=1)
    unmasked = (model.embed_audio(Waveform(samples, 16000)) * alone).sum(dim=1)
    assert bool((masked > unmasked + 0.1).all()) and bool((masked > 0.75).all()), (masked, unmasked)


def test_info_nce_equals_a_hand_computation():
    audio = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    video = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    scale = 2.0
    # similarities a_i · v_j: [[0.8, 0.0], [0.96, 0.8]]
    sim = [[0.8, 0.0], [0.96, 0.8]]

    def row_loss(values: list[float], target: int) -> float:
        return -scale * values[target] + math.log(sum(math.exp(scale * x) for x in values))

    a2v = (row_loss(sim[0], 0) + row_loss(sim[1], 1)) / 2
    v2a = (row_loss([sim[0][0], sim[1][0]], 0) + row_loss([sim[0][1], sim[1][1]], 1)) / 2
    loss = symmetric_info_nce(audio, video, scale)
    assert loss.item() == pytest.approx((a2v + v2a) / 2, abs=1e-6)
    assert symmetric_info_nce(audio, audio, 10.0) < symmetric_info_nce(audio, audio.flip(0), 10.0)


def test_retrieval_counts_queries_whose_own_pair_is_nearest():
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8]])
    candidates = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    # nearest candidates of the queries: 0 (own), 2, 1, 3 (own) → 2/4; the reverse: 0 (own), 2, 1, 3 (own)
    assert retrieval_top1(queries, candidates).item() == pytest.approx(0.5)
    assert retrieval_top1(candidates, queries).item() == pytest.approx(0.5)
    model = small_model()
    assert model.retrieval_top1(queries, candidates).item() == pytest.approx(0.5)
    a2v, v2a, groups = grouped_top1(torch.cat([queries, queries]), torch.cat([candidates, queries]), 4)
    assert groups == 2 and a2v == pytest.approx(0.75) and v2a == pytest.approx(0.75)  # (0.5 + 1) / 2
    with pytest.raises(ValueError, match="at least 16"):
        grouped_top1(queries, candidates, 16)


def test_logit_scale_starts_at_one_over_the_temperature_and_is_clamped():
    model = small_model()
    assert model.temperature_scale.item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.temperature_scale.item() == pytest.approx(100.0, rel=1e-5)
    assert any(p is model.logit_scale for p in model.configure_optimizers().param_groups[0]["params"])


def test_thread_callback_sets_the_count_for_the_run_and_restores_it():
    threads = torch.get_num_threads()
    callback = TorchThreads(threads + 1)
    callback.setup(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == threads + 1
    callback.teardown(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="num_threads"):
        TorchThreads(0)


def test_short_training_lifts_heldout_retrieval_far_above_chance():
    """120 batches on 192 two-second clips; held-out clips (seed 2024) are retrieved among 16."""
    seed_everything(0)
    model = small_model()
    data = SynthFoleyDataModule(
        num_train=192,
        num_val=32,
        clip_duration=2.0,
        visual_fps=8.0,
        visual_size=(32, 32),
        sync_fps=None,
        batch_size=32,
        num_workers=0,
        cache=True,
    )
    before = evaluate_retrieval(model, seed=2024, clips=16, groups=4, duration=2.0)
    threads = torch.get_num_threads()
    trainer = Trainer(
        max_epochs=20,
        callbacks=[TorchThreads(1)],  # as the recipe: on a busy 2-core runner two threads are slower
        check_val_every_n_epoch=20,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=data)
    assert torch.get_num_threads() == threads
    after = evaluate_retrieval(model, seed=2024, clips=16, groups=4, duration=2.0)
    # measured (seed 0, this recipe of the test): a2v 0.0625 → 0.72, v2a 0.0625 → 0.72, matched-pair
    # score 0.68 against 0.00 for the other pairs; other training seeds gave a2v 0.52–0.77 and v2a
    # 0.38–0.72, so the bars leave room for platform differences.
    assert before["a2v_top1"] <= 0.2, before
    assert after["a2v_top1"] >= 0.35 and after["v2a_top1"] >= 0.2, after
    assert after["score_matched"] > after["score_mismatched"] + 0.3, after
    logged = trainer.callback_metrics
    assert {"val/loss", "val/a2v_top1", "val/v2a_top1"} <= set(logged)
    assert float(logged["val/a2v_top1"]) > 0.2


@pytest.mark.slow
def test_tiny_recipe_reaches_the_retrieval_target(tiny_stages):
    """The committed recipe, as is: audio→video top-1 ≥ 0.8 among 16 held-out clips (chance 1/16)."""
    checkpoint = tiny_stages.checkpoint("contrastive")
    model = load_module(checkpoint)
    assert type(model) is AVContrastive
    result = evaluate_retrieval(model, seed=2024, clips=16, groups=8)
    # measured (128 held-out clips in 8 groups of 16): a2v 0.984, v2a 0.984, matched-pair score 0.80
    # against 0.00 for the other pairs; training seeds 1 and 2 gave a2v 0.94 and 0.97
    assert result["a2v_top1"] >= 0.8 and result["v2a_top1"] >= 0.8, result
    assert result["score_matched"] > result["score_mismatched"] + 0.4, result
