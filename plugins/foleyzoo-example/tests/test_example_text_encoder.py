"""HashedTrigramTextEncoder: shapes and masks, determinism, stable hashing, similarity and training."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import pytest
import torch
import torch.nn.functional as F

from foleyzoo.api import TextEncoder, TextFeatures
from foleyzoo_example.text import HashedTrigramTextEncoder


def _encoder(seed: int = 0, **kwargs) -> HashedTrigramTextEncoder:
    torch.manual_seed(seed)
    return HashedTrigramTextEncoder(**kwargs)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a, b, dim=-1).item()


def test_shapes_and_mask_for_prompts_of_different_lengths_and_an_empty_one():
    enc = _encoder(embed_dim=16)
    prompts = ["a bell", "A wooden knock on the door!", "", "  ...  ", "rain"]
    out = enc.encode(prompts)
    assert isinstance(out, TextFeatures)
    assert out.tokens.shape == (5, 6, 16)
    assert out.pooled.shape == (5, 16)
    assert out.mask.dtype == torch.bool
    word_counts = [2, 6, 0, 0, 1]
    # real words first, padding after; a prompt without words keeps one zero token at position 0
    assert out.mask.sum(dim=1).tolist() == [2, 6, 1, 1, 1]
    for row, count in enumerate(word_counts):
        kept = max(count, 1)
        assert out.mask[row, :kept].all()
        assert not out.mask[row, kept:].any()
        assert torch.count_nonzero(out.tokens[row, count:]) == 0
        assert (out.tokens[row, :count].norm(dim=-1) > 0).all()
        if count:
            assert torch.allclose(out.pooled[row], out.tokens[row, :count].mean(dim=0), atol=1e-6)
        else:
            assert torch.count_nonzero(out.pooled[row]) == 0
    assert torch.isfinite(out.tokens).all() and torch.isfinite(out.pooled).all()


def test_batch_of_only_empty_prompts_keeps_valid_shapes():
    out = _encoder(embed_dim=8).encode(["", ""])
    assert out.tokens.shape == (2, 1, 8)
    assert out.mask.tolist() == [[True], [True]]
    assert torch.count_nonzero(out.tokens) == 0
    assert torch.count_nonzero(out.pooled) == 0
    assert torch.isfinite(out.pooled).all()


def test_word_vectors_do_not_depend_on_the_rest_of_the_batch():
    enc = _encoder()
    alone = enc.encode(["bell"]).tokens[0, 0]
    in_context = enc.encode(["a ringing bell", "x"]).tokens[0, 2]
    assert torch.allclose(alone, in_context, atol=1e-6)
    # lower-casing and punctuation: the same words give the same features
    assert torch.allclose(enc.encode(["A Bell!"]).pooled, enc.encode(["a bell"]).pooled)


def test_max_words_cuts_long_prompts():
    out = _encoder(max_words=3).encode(["one two three four five", "one"])
    assert out.tokens.shape[1] == 3
    assert out.mask.sum(dim=1).tolist() == [3, 1]


def test_two_instances_with_the_same_seed_are_identical_and_other_seeds_differ():
    prompts = ["a bell", "glass shatters on a stone floor", ""]
    first, second, other = _encoder(seed=7), _encoder(seed=7), _encoder(seed=8)
    a, b, c = first.encode(prompts), second.encode(prompts), other.encode(prompts)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask) and torch.equal(a.pooled, b.pooled)
    assert not torch.allclose(a.pooled[:2], c.pooled[:2])


def test_trigrams_and_buckets_are_crc32_based():
    enc = HashedTrigramTextEncoder(num_buckets=1000)
    assert enc.trigrams("bell") == ["<be", "bel", "ell", "ll>"]
    assert enc.trigrams("a") == ["<a>"]
    for gram in ["<be", "bel", "ll>", "<a>"]:
        assert enc.bucket(gram) == zlib.crc32(gram.encode("utf-8")) % 1000
    assert all(0 <= enc.bucket(g) < 1000 for g in enc.trigrams("supercalifragilistic"))


def test_bucket_ids_are_the_same_in_a_process_with_a_different_hash_seed():
    words = ["bell", "knock", "rain"]
    script = (
        "from foleyzoo_example.text import HashedTrigramTextEncoder as E\n"
        "e = E()\n"
        f"print([e.bucket(g) for w in {words!r} for g in e.trigrams(w)])\n"
        "print(hash('bell'))\n"
    )
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    their_buckets, their_hash = done.stdout.split("\n")[:2]
    assert int(their_hash) != hash("bell")  # Python's own string hash really differs between the two
    enc = HashedTrigramTextEncoder()
    assert their_buckets == str([enc.bucket(g) for w in words for g in enc.trigrams(w)])


def test_shared_trigrams_make_related_words_closer_at_init():
    near, far = [], []
    for seed in range(10):
        pooled = _encoder(seed=seed).encode(["bell", "bells", "knock"]).pooled
        near.append(_cos(pooled[0], pooled[1]))  # share <be, bel, ell
        far.append(_cos(pooled[0], pooled[2]))  # share nothing
    mean_near, mean_far = sum(near) / len(near), sum(far) / len(far)
    assert mean_near > 0.5
    assert abs(mean_far) < 0.2
    assert sum(n > f for n, f in zip(near, far, strict=True)) >= 9


def test_it_trains_to_pair_words_that_share_no_trigrams():
    enc = _encoder(seed=0, embed_dim=32, num_buckets=512)
    anchors = ["a dull thud", "a soft chime", "oil sizzles"]
    positives = ["wooden knock", "ringing bell", "frying pan"]
    optimizer = torch.optim.Adam(enc.parameters(), lr=0.05)

    def loss_and_similarity() -> tuple[torch.Tensor, torch.Tensor]:
        a = F.normalize(enc.encode(anchors).pooled, dim=-1)
        p = F.normalize(enc.encode(positives).pooled, dim=-1)
        similarity = a @ p.T
        return F.cross_entropy(similarity / 0.1, torch.arange(len(anchors))), similarity

    initial_loss, _ = loss_and_similarity()
    for _ in range(200):
        optimizer.zero_grad()
        loss, _ = loss_and_similarity()
        loss.backward()
        optimizer.step()
    final_loss, similarity = loss_and_similarity()
    assert final_loss.item() < 0.1 * initial_loss.item()
    diagonal = similarity.diag()
    off_diagonal = similarity.masked_fill(torch.eye(3, dtype=torch.bool), -1.0).amax(dim=1)
    assert (diagonal > off_diagonal + 0.5).all(), similarity
    # and the learned pairing shows up in the task this encoder exists for
    pooled = enc.encode(["a thud", "a knock", "a chime"]).pooled
    assert _cos(pooled[0], pooled[1]) > _cos(pooled[0], pooled[2])


def test_gradients_reach_the_table_and_the_interface_is_complete():
    enc = _encoder(embed_dim=8)
    assert isinstance(enc, TextEncoder)
    assert enc.embed_dim == 8
    assert HashedTrigramTextEncoder.api_version == "1.0"
    enc.encode(["a bell", ""]).pooled.sum().backward()
    grad = enc.table.weight.grad
    assert grad is not None
    touched = {enc.bucket(g) for w in ["a", "bell"] for g in enc.trigrams(w)}
    assert set(torch.nonzero(grad.abs().sum(dim=1)).flatten().tolist()) == touched


def test_rejects_a_bare_string_and_bad_sizes():
    enc = _encoder()
    with pytest.raises(TypeError, match="sequence of prompts"):
        enc.encode("a bell")
    with pytest.raises(ValueError, match="at least one prompt"):
        enc.encode([])
    with pytest.raises(ValueError, match="num_buckets"):
        HashedTrigramTextEncoder(num_buckets=0)
