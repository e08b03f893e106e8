"""FrechetDistance: its matrix square root against scipy's, the closed form of two Gaussians, edge cases; and its
audio-visual form (FAVD), which sees a wrong pairing of sounds and videos."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from foleyzoo.metrics import FrechetAudioVisualDistance, FrechetDistance
from foleyzoo.metrics.frechet import (
    frechet_distance,
    gaussian_statistics,
    joint_embeddings,
    psd_sqrt,
    trace_sqrt_product,
)


def random_covariance(dim: int, seed: int, rank: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    factor = torch.randn(dim, rank or dim, generator=generator, dtype=torch.float64)
    return factor @ factor.T / dim


def scipy_fd(mu_1, sigma_1, mu_2, sigma_2) -> float:
    """The textbook formula with scipy's general matrix square root (as audioldm_eval / av-benchmark compute it)."""
    root = scipy.linalg.sqrtm(sigma_1 @ sigma_2)
    return float(((mu_1 - mu_2) ** 2).sum() + np.trace(sigma_1) + np.trace(sigma_2) - 2 * np.trace(root).real)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psd_sqrt_matches_scipy_and_squares_back(seed):
    sigma = random_covariance(24, seed)
    root = psd_sqrt(sigma)
    assert torch.allclose(root, root.T)
    assert torch.allclose(root @ root, sigma, atol=1e-10)
    expected = torch.from_numpy(np.real(scipy.linalg.sqrtm(sigma.numpy())))
    assert torch.allclose(root, expected, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trace_sqrt_product_matches_scipy_on_random_covariances(seed):
    sigma_1, sigma_2 = random_covariance(32, seed), random_covariance(32, seed + 100)
    expected = np.trace(scipy.linalg.sqrtm(sigma_1.numpy() @ sigma_2.numpy())).real
    assert float(trace_sqrt_product(sigma_1, sigma_2)) == pytest.approx(expected, rel=1e-9)


def test_fd_of_random_embeddings_matches_the_scipy_formula():
    generator = torch.Generator().manual_seed(3)
    generated = torch.randn(300, 16, generator=generator) * 1.5 + 0.3
    reference = torch.randn(200, 16, generator=generator) @ torch.randn(16, 16, generator=generator) * 0.5
    metric = FrechetDistance()
    metric.update(generated=generated[:120], reference=reference[:50])
    metric.update(generated=generated[120:], reference=reference[50:])  # batches accumulate
    mu_1, s_1 = np.mean(generated.double().numpy(), 0), np.cov(generated.double().numpy(), rowvar=False)
    mu_2, s_2 = np.mean(reference.double().numpy(), 0), np.cov(reference.double().numpy(), rowvar=False)
    assert float(metric.compute()) == pytest.approx(scipy_fd(mu_1, s_1, mu_2, s_2), rel=1e-8)


def test_fd_of_diagonal_gaussians_is_the_closed_form():
    """N(μ₁, diag σ₁²) vs N(μ₂, diag σ₂²): FD = ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)²."""
    mu_1 = torch.tensor([0.0, 1.0, -2.0, 0.5], dtype=torch.float64)
    mu_2 = torch.tensor([1.0, 1.0, 0.0, -0.5], dtype=torch.float64)
    std_1 = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    std_2 = torch.tensor([2.0, 2.0, 1.5, 0.1], dtype=torch.float64)
    closed = float((mu_1 - mu_2).square().sum() + (std_1 - std_2).square().sum())
    exact = frechet_distance(mu_1, torch.diag(std_1**2), mu_2, torch.diag(std_2**2))
    assert float(exact) == pytest.approx(closed, rel=1e-12)
    # and from samples of those Gaussians, up to sampling error
    generator = torch.Generator().manual_seed(4)
    metric = FrechetDistance()
    metric.update(generated=mu_1 + std_1 * torch.randn(40000, 4, generator=generator, dtype=torch.float64))
    metric.update(reference=mu_2 + std_2 * torch.randn(40000, 4, generator=generator, dtype=torch.float64))
    assert float(metric.compute()) == pytest.approx(closed, rel=0.02)


def test_fd_is_zero_for_identical_sets_and_grows_with_a_shift():
    features = torch.randn(64, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    values = []
    for shift in (0.0, 0.5, 1.0, 2.0):
        metric = FrechetDistance()
        metric.update(generated=features + shift, reference=features)
        values.append(float(metric.compute()))
    assert 0.0 <= values[0] < 1e-9  # never negative, even by round-off
    assert values == sorted(values) and values[-1] == pytest.approx(8 * 4.0, rel=1e-9)


def test_singular_covariances_give_a_finite_real_distance():
    """Fewer embeddings than dimensions: scipy's sqrtm goes complex or singular, the eigen route stays real."""
    generator = torch.Generator().manual_seed(6)
    metric = FrechetDistance()
    metric.update(
        generated=torch.randn(10, 64, generator=generator), reference=torch.randn(12, 64, generator=generator)
    )
    value = float(metric.compute())
    assert np.isfinite(value) and value > 0
    mu_a, s_a = gaussian_statistics(torch.randn(10, 64, generator=generator))
    same = float(frechet_distance(mu_a, s_a, mu_a, s_a))
    assert 0.0 <= same < 1e-6 * float(s_a.trace())  # rank-9 covariances: round-off only


def test_three_dimensional_embeddings_are_pooled_and_mismatches_refused():
    generator = torch.Generator().manual_seed(7)
    per_example = torch.randn(6, 5, 4, generator=generator)
    pooled, flat = FrechetDistance(), FrechetDistance()
    pooled.update(generated=per_example, reference=per_example.flip(0) * 2)
    flat.update(generated=per_example.flatten(0, 1), reference=(per_example.flip(0) * 2).flatten(0, 1))
    assert float(pooled.compute()) == pytest.approx(float(flat.compute()))
    wrong = FrechetDistance()
    wrong.update(generated=torch.randn(5, 4), reference=torch.randn(5, 3))
    with pytest.raises(ValueError, match="dimensions"):
        wrong.compute()
    with pytest.raises(ValueError, match="needs generated and reference"):
        FrechetDistance().compute()


def paired_embeddings(count: int = 256, seed: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio (N, 6) that depends on its video (N, 4), as a trained audio-visual model's embeddings do."""
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(count, 4, generator=generator, dtype=torch.float64)
    mixing = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    return video @ mixing + 0.3 * torch.randn(count, 6, generator=generator, dtype=torch.float64), video


def test_favd_of_a_set_against_itself_is_zero():
    audio, video = paired_embeddings()
    metric = FrechetAudioVisualDistance()
    metric.update(generated=audio[:100], reference=audio[:100], video=video[:100])
    metric.update(generated=audio[100:], reference=audio[100:], video=video[100:])  # batches accumulate
    assert 0.0 <= float(metric.compute()) < 1e-9


def test_a_wrong_pairing_raises_favd_while_audio_only_fd_stays_zero():
    """Every clip given its neighbour's sound: the same sounds (FD 0) on the wrong videos (FAVD > 0)."""
    audio, video = paired_embeddings()
    shuffled = torch.roll(audio, 1, dims=0)
    audio_only, joint, correct = FrechetDistance(), FrechetAudioVisualDistance(), FrechetAudioVisualDistance()
    audio_only.update(generated=shuffled, reference=audio)
    joint.update(generated=shuffled, reference=audio, video=video)
    correct.update(generated=audio, reference=audio, video=video)
    assert float(audio_only.compute()) < 1e-9 and float(correct.compute()) < 1e-9
    # the population value: the joint Gaussian against one with the same marginals and no cross-covariance
    mixing = torch.linalg.lstsq(video, audio).solution  # (4, 6), the audio's dependence on its video
    sigma_audio = torch.cov(audio.T)
    paired = torch.cat(
        [torch.cat([torch.eye(4, dtype=torch.float64), mixing], 1), torch.cat([mixing.T, sigma_audio], 1)]
    )
    independent = torch.block_diag(torch.eye(4, dtype=torch.float64), sigma_audio)
    expected = float(frechet_distance(torch.zeros(10), paired, torch.zeros(10), independent))
    assert expected > 1.0 and float(joint.compute()) == pytest.approx(expected, rel=0.2)


def test_favd_is_the_plain_fd_of_the_concatenated_vectors_and_sets_may_have_their_own_videos():
    audio, video = paired_embeddings()
    generator = torch.Generator().manual_seed(9)
    generated = audio[:150] + 0.5 * torch.randn(150, 6, generator=generator, dtype=torch.float64)
    joint = FrechetAudioVisualDistance()
    joint.update(generated=generated[:70], video=video[:70])  # each set with its own clips' videos
    joint.update(generated=generated[70:], video=video[70:150])
    joint.update(reference=audio[150:], video=video[150:])
    plain = FrechetDistance()
    plain.update(
        generated=torch.cat([generated, video[:150]], dim=1),
        reference=torch.cat([audio[150:], video[150:]], dim=1),
    )
    assert float(joint.compute()) == pytest.approx(float(plain.compute()), rel=1e-12)
    assert float(joint.compute()) == pytest.approx(
        float(frechet_distance(*gaussian_statistics(joint_embeddings(generated, video[:150])),
                               *gaussian_statistics(joint_embeddings(audio[150:], video[150:])))),
        rel=1e-12,
    )  # fmt: skip


def test_favd_refuses_missing_or_miscounted_video_embeddings():
    audio, video = paired_embeddings(count=8)
    with pytest.raises(ValueError, match="needs the video embeddings"):
        FrechetAudioVisualDistance().update(generated=audio, reference=audio)
    with pytest.raises(ValueError, match="8 reference embeddings but 7 video embeddings"):
        FrechetAudioVisualDistance().update(reference=audio, video=video[:7])
    with pytest.raises(ValueError, match=r"one \(N, D\) embedding per clip"):
        FrechetAudioVisualDistance().update(generated=audio[:, None], video=video)
    with pytest.raises(ValueError, match="needs generated and reference"):
        FrechetAudioVisualDistance().compute()
