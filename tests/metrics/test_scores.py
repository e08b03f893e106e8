"""KL, Inception Score, the cosine scores and DeSync against direct computations of their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from foleyzoo.metrics import AVAlignment, DeSync, InceptionScore, KLDivergence, TextAudioScore
from foleyzoo.metrics.classifier import inception_score, paired_kl


def test_kl_is_reference_against_generated_summed_over_classes_and_averaged_over_pairs():
    generator = torch.Generator().manual_seed(0)
    generated, reference = (
        torch.randn(6, 10, generator=generator),
        torch.randn(6, 10, generator=generator) * 3,
    )
    metric = KLDivergence()
    metric.update(generated[:4], reference[:4])
    metric.update(generated[4:], reference[4:])
    p, q = reference.double().softmax(1), generated.double().softmax(1)
    expected = float((p * (p / q).log()).sum(1).mean())
    reverse = float((q * (q / p).log()).sum(1).mean())
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-10)
    assert abs(expected - reverse) > 0.1  # the direction matters and is the reference's
    # av-benchmark's own expression: F.kl_div(log q, log p, sum, log_target) / B
    av_bench = torch.nn.functional.kl_div(
        torch.log_softmax(generated, 1), torch.log_softmax(reference, 1), reduction="sum", log_target=True
    ) / len(generated)
    assert float(metric.compute()) == pytest.approx(float(av_bench), rel=1e-5)


def test_kl_is_zero_for_equal_logits_and_refuses_unpaired_shapes():
    logits = torch.randn(3, 7, generator=torch.Generator().manual_seed(1))
    assert float(paired_kl(logits, logits).abs().max()) < 1e-12
    assert float(paired_kl(logits, logits + 5.0).abs().max()) < 1e-12  # softmax ignores a shift
    assert float(paired_kl(logits, logits + 5.0, "sigmoid").min()) > 0.0  # sigmoid does not
    with pytest.raises(ValueError, match="paired"):
        KLDivergence().update(torch.randn(3, 7), torch.randn(4, 7))


def test_inception_score_matches_its_definition_split_by_split():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(53, 9, generator=generator) * 4
    metric = InceptionScore(splits=10, seed=2020)
    metric.update(logits[:20])
    metric.update(logits[20:])
    mean, std = metric.compute()
    shuffled = logits[np.random.RandomState(2020).permutation(53)].double()
    scores = []
    for i in range(10):
        part = shuffled[i * 53 // 10 : (i + 1) * 53 // 10].softmax(1).numpy()
        marginal = part.mean(0)
        scores.append(math.exp(float((part * np.log(part / marginal)).sum(1).mean())))
    assert float(mean) == pytest.approx(np.mean(scores), rel=1e-10)
    assert float(std) == pytest.approx(np.std(scores), rel=1e-8)
    assert inception_score(logits, seed=7) != inception_score(logits, seed=2020)  # the seed is used


def test_inception_score_rewards_confident_and_diverse_predictions():
    confident_diverse = 20.0 * torch.eye(10).repeat(5, 1)  # 50 clips, every class, sure of each
    confident_same = 20.0 * torch.eye(10)[:1].repeat(50, 1)  # every clip the same class
    unsure = torch.zeros(50, 10)
    best = inception_score(confident_diverse, splits=1)[0]
    assert best == pytest.approx(10.0, rel=1e-6)  # the most a 10-class classifier can give
    assert inception_score(confident_same, splits=5)[0] == pytest.approx(1.0, abs=1e-6)
    assert inception_score(unsure, splits=5)[0] == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="at least 10"):
        inception_score(torch.randn(5, 3))


def test_av_alignment_is_the_raw_mean_cosine():
    generator = torch.Generator().manual_seed(3)
    audio, video = torch.randn(8, 6, generator=generator), torch.randn(8, 6, generator=generator)
    metric = AVAlignment()
    metric.update(audio * 10, video)  # scale does not matter
    expected = float(torch.nn.functional.cosine_similarity(audio, video).mean())
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-6)
    same, opposite = AVAlignment(), AVAlignment()
    same.update(audio, audio * 3)
    opposite.update(audio, -audio)
    assert float(same.compute()) == pytest.approx(1.0) and float(opposite.compute()) == pytest.approx(-1.0)


def test_text_audio_score_pairs_rows_and_refuses_mismatched_batches():
    text = torch.eye(4)
    metric = TextAudioScore()
    metric.update(text, torch.eye(4)[[0, 1, 3, 2]])  # two captions matched, two swapped
    assert float(metric.compute()) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="paired"):
        TextAudioScore().update(torch.randn(3, 4), torch.randn(2, 4))


def test_desync_is_the_mean_absolute_offset_over_every_window():
    metric = DeSync()
    metric.update(torch.tensor([[0.2, -0.4], [0.0, 0.0]]))
    metric.update(torch.tensor([-1.0]))
    assert float(metric.compute()) == pytest.approx((0.2 + 0.4 + 0.0 + 0.0 + 1.0) / 5)
    with pytest.raises(ValueError, match="at least one"):
        DeSync().compute()
