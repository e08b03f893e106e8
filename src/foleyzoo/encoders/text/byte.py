"""A small trainable byte-level text encoder for CPU recipes: no tokenizer, no downloaded weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from foleyzoo.api import TextEncoder, TextFeatures

_PAD = 256


class ByteTextEncoder(TextEncoder):
    """UTF-8 bytes → embeddings → two convolutions; tokens (B, L, D), mask, masked-mean pooled (B, D)."""

    api_version = "1.0"

    def __init__(self, embed_dim: int = 64, max_length: int = 64, kernel_size: int = 5) -> None:
        super().__init__()
        self._embed_dim = embed_dim
        self.max_length = max_length
        self.embedding = nn.Embedding(_PAD + 1, embed_dim, padding_idx=_PAD)
        self.position = nn.Parameter(torch.zeros(max_length, embed_dim))
        padding = kernel_size // 2
        self.conv1 = nn.Conv1d(embed_dim, embed_dim, kernel_size, padding=padding)
        self.conv2 = nn.Conv1d(embed_dim, embed_dim, kernel_size, padding=padding)
        self.norm = nn.LayerNorm(embed_dim)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def tokenize(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Byte ids (B, L) padded with 256, and the (B, L) mask of real bytes (at least one per row)."""
        encoded = [list(text.encode("utf-8"))[: self.max_length] for text in texts]
        length = max(1, *(len(ids) for ids in encoded)) if encoded else 1
        ids = torch.full((len(texts), length), _PAD, dtype=torch.long)
        for row, row_ids in enumerate(encoded):
            ids[row, : len(row_ids)] = torch.tensor(row_ids, dtype=torch.long)
        mask = ids != _PAD
        mask[:, 0] = True  # an empty prompt still has one (padding) token to attend to
        return ids, mask

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        ids, mask = self.tokenize(texts)
        device = self.position.device
        ids, mask = ids.to(device), mask.to(device)
        keep = mask.unsqueeze(1).to(self.position.dtype)  # (B, 1, L): padding must not leak into real tokens
        x = ((self.embedding(ids) + self.position[: ids.shape[1]]) * keep.transpose(1, 2)).transpose(1, 2)
        mixed = self.conv2(nn.functional.gelu(self.conv1(x)) * keep) * keep
        tokens = self.norm((x + mixed).transpose(1, 2)) * mask.unsqueeze(-1)
        pooled = tokens.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)
