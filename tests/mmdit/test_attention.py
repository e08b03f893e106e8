"""The attention backends compute the same attention, honour key padding, and say when they cannot run."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from foleyzoo.errors import ConfigError
from foleyzoo.mmdit.attention import (
    ATTENTION_BACKENDS,
    NaiveAttention,
    SDPAAttention,
    XFormersAttention,
    attention_backend,
)

B, H, LQ, LK, D = 3, 2, 5, 7, 16


def qkv(dtype: torch.dtype = torch.float32, device: str = "cpu", seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, length, D, generator=generator) for length in (LQ, LK, LK))
    return tuple(x.to(device=device, dtype=dtype) for x in (q, k, v))


def padding_mask(valid: list[int], device: str = "cpu") -> torch.Tensor:
    """(B, LK) True for the first ``valid[b]`` keys of each row."""
    return torch.arange(LK, device=device)[None, :] < torch.tensor(valid, device=device)[:, None]


MASKS = {"none": None, "varying": [7, 4, 1], "one_row_empty": [5, 0, 3]}


@pytest.mark.parametrize("mask_name", MASKS)
def test_sdpa_matches_naive(mask_name):
    q, k, v = qkv()
    mask = None if MASKS[mask_name] is None else padding_mask(MASKS[mask_name])
    expected = NaiveAttention().attend(q, k, v, mask)
    got = SDPAAttention().attend(q, k, v, key_padding_mask=mask)
    assert got.shape == (B, H, LQ, D)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "backend", [NaiveAttention(), SDPAAttention()], ids=lambda backend: type(backend).__name__
)
def test_all_masked_row_gives_zeros(backend):
    q, k, v = qkv()
    q.requires_grad_()
    out = backend.attend(q, k, v, padding_mask([5, 0, 3]))
    assert torch.isfinite(out).all()
    assert (out[1] == 0).all() and (out[0] != 0).any()
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


@pytest.mark.parametrize(
    "backend", [NaiveAttention(), SDPAAttention()], ids=lambda backend: type(backend).__name__
)
def test_masked_keys_have_no_influence(backend):
    q, k, v = qkv()
    mask = padding_mask([7, 4, 1])
    noise_k, noise_v = (100 * torch.randn_like(x) for x in (k, v))
    hidden = ~mask[:, None, :, None]
    k2, v2 = torch.where(hidden, noise_k, k), torch.where(hidden, noise_v, v)
    assert not torch.equal(k2, k)
    torch.testing.assert_close(backend.attend(q, k2, v2, mask), backend.attend(q, k, v, mask))


@pytest.mark.parametrize("mask_name", MASKS)
def test_bfloat16_sdpa_close_to_naive(mask_name):
    q, k, v = qkv(torch.bfloat16)
    mask = None if MASKS[mask_name] is None else padding_mask(MASKS[mask_name])
    got = SDPAAttention().attend(q, k, v, mask)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, NaiveAttention().attend(q, k, v, mask), atol=2e-2, rtol=2e-2)


def test_xformers_explains_itself_on_cpu():
    reason = XFormersAttention.availability(torch.device("cpu"))
    assert reason is not None and "CUDA" in reason and "`sdpa`" in reason and "cpu" in reason
    q, k, v = qkv()
    with pytest.raises(ConfigError, match="SDPAAttention") as raised:
        XFormersAttention().attend(q, k, v)
    assert str(raised.value) == reason


def test_naive_and_sdpa_are_always_available():
    assert NaiveAttention.availability(torch.device("cpu")) is None
    assert SDPAAttention.availability(torch.device("cpu")) is None


CUDA_AND_XFORMERS = torch.cuda.is_available() and importlib.util.find_spec("xformers") is not None


@pytest.mark.skipif(not CUDA_AND_XFORMERS, reason="needs a CUDA device with xformers installed")
@pytest.mark.parametrize("mask_name", MASKS)
def test_xformers_matches_naive(mask_name):
    assert XFormersAttention.availability(torch.device("cuda")) is None
    q, k, v = qkv(device="cuda")
    mask = None if MASKS[mask_name] is None else padding_mask(MASKS[mask_name], device="cuda")
    got = XFormersAttention().attend(q, k, v, mask)
    expected = NaiveAttention().attend(q, k, v, mask)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "cls"), list(ATTENTION_BACKENDS.items()))
def test_backend_by_name(name, cls):
    assert type(attention_backend(name)) is cls


def test_backend_default_and_passthrough():
    assert type(attention_backend(None)) is SDPAAttention
    backend = NaiveAttention()
    assert attention_backend(backend) is backend


def test_unknown_backend_lists_the_known_names():
    with pytest.raises(ValueError, match=r"unknown attention backend 'flash'.*'sdpa', 'xformers', 'naive'"):
        attention_backend("flash")
