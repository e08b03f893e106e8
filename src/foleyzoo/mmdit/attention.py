"""Attention backends for the MM-DiT: the same attention computed plainly, by PyTorch's SDPA or by xformers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from foleyzoo.api import AttentionBackend
from foleyzoo.errors import ConfigError

__all__ = [
    "ATTENTION_BACKENDS",
    "NaiveAttention",
    "SDPAAttention",
    "XFormersAttention",
    "attention_backend",
]


def _blocked_keys(key_padding_mask: Tensor) -> Tensor:
    """(B, Lk) True where a key is masked out, except in rows with no valid key at all.

    A softmax over no keys has no answer (NaN, also in the gradients), so such rows attend to every key
    instead and :func:`_zero_unattended` replaces their output with zeros.
    """
    return ~key_padding_mask & key_padding_mask.any(dim=-1, keepdim=True)


def _zero_unattended(out: Tensor, key_padding_mask: Tensor | None) -> Tensor:
    """Zeros for the batch rows whose keys are all masked: they attend to nothing."""
    if key_padding_mask is None:
        return out
    has_keys = key_padding_mask.any(dim=-1)[:, None, None, None]
    return torch.where(has_keys, out, torch.zeros((), dtype=out.dtype, device=out.device))


class NaiveAttention(AttentionBackend):
    """The reference: softmax(q·kᵀ / √D)·v written out in float32 (or wider); slow, for tests and debugging."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        dtype = torch.promote_types(q.dtype, torch.float32)
        scores = q.to(dtype) @ k.to(dtype).transpose(-2, -1) / math.sqrt(q.shape[-1])
        if key_padding_mask is not None:
            scores = scores.masked_fill(_blocked_keys(key_padding_mask)[:, None, None, :], float("-inf"))
        out = (torch.softmax(scores, dim=-1) @ v.to(dtype)).to(q.dtype)
        return _zero_unattended(out, key_padding_mask)


class SDPAAttention(AttentionBackend):
    """PyTorch's fused scaled_dot_product_attention (flash / memory-efficient kernels); the default."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        if key_padding_mask is None:
            return F.scaled_dot_product_attention(q, k, v)
        attn_mask = ~_blocked_keys(key_padding_mask)[:, None, None, :]  # (B, 1, 1, Lk), True = attend
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return _zero_unattended(out, key_padding_mask)


class XFormersAttention(AttentionBackend):
    """xformers' memory_efficient_attention on CUDA; needs the optional xformers package."""

    requires = ("xformers",)
    """The optional package it runs on (``foleyzoo plugins`` says how to install it when missing)."""

    @classmethod
    def availability(cls, device: torch.device) -> str | None:
        device = torch.device(device)
        if device.type == "cuda":
            try:
                import xformers.ops  # noqa: F401
            except ImportError:
                pass
            else:
                return None
        where = "cuda without xformers installed" if device.type == "cuda" else device.type
        return (
            "XFormersAttention needs a CUDA device and the xformers package (pip install xformers); "
            f"this is {where} — use SDPAAttention (`sdpa`), the default, which gives the same result"
        )

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        reason = self.availability(q.device)
        if reason is not None:
            raise ConfigError(reason)
        import xformers.ops as xops

        bias = None
        if key_padding_mask is not None:
            batch, heads, lq, lk = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
            # xformers wants the bias's last dimension aligned to 8 elements: allocate padded, then slice.
            padded = torch.zeros(batch, heads, lq, -(-lk // 8) * 8, dtype=q.dtype, device=q.device)
            bias = padded[..., :lk]
            bias.masked_fill_(_blocked_keys(key_padding_mask)[:, None, None, :], float("-inf"))
        out = xops.memory_efficient_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias
        )
        return _zero_unattended(out.transpose(1, 2), key_padding_mask)


ATTENTION_BACKENDS: dict[str, type[AttentionBackend]] = {
    "sdpa": SDPAAttention,
    "xformers": XFormersAttention,
    "naive": NaiveAttention,
}
"""Short names a config may use for the built-in backends."""


def attention_backend(name_or_backend: str | AttentionBackend | None) -> AttentionBackend:
    """A backend from its short name, an instance passed through, or SDPAAttention for ``None``."""
    if name_or_backend is None:
        return SDPAAttention()
    if isinstance(name_or_backend, AttentionBackend):
        return name_or_backend
    if name_or_backend not in ATTENTION_BACKENDS:
        known = ", ".join(repr(name) for name in ATTENTION_BACKENDS)
        raise ValueError(f"unknown attention backend {name_or_backend!r}; known: {known}")
    return ATTENTION_BACKENDS[name_or_backend]()
