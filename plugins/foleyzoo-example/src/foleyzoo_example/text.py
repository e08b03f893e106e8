"""A dependency-free, trainable text encoder: hashed character trigrams of words (fastText-style).

Each prompt is lower-cased and split into words. A word is wrapped in boundary marks and cut into
character trigrams (``"bell"`` → ``<be``, ``bel``, ``ell``, ``ll>``); each trigram is hashed with
CRC-32 into one of ``num_buckets`` rows of an embedding table, and the word's vector is the sum of its
trigram rows divided by √(number of trigrams), so every word vector has about unit variance per
feature at initialisation, whatever its length. Words sharing trigrams ("bell", "bells") start out
with similar vectors, and unseen words still get a vector; there is no vocabulary file.

CRC-32 is used rather than Python's ``hash``: ``hash`` of a string is salted per process
(``PYTHONHASHSEED``), so a checkpoint trained in one process would look up the wrong rows in the next.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import torch
from torch import nn

from foleyzoo.api import TextEncoder, TextFeatures

_WORD = re.compile(r"\w+")


class HashedTrigramTextEncoder(TextEncoder):
    """Prompts → one vector per word (tokens), a mask, and their masked mean (pooled).

    Args:
        embed_dim: feature size D of every token and of the pooled vector.
        num_buckets: rows of the hashed trigram table; more buckets mean fewer hash collisions.
        max_words: a prompt is cut to its first ``max_words`` words.

    Output of :meth:`encode` for B prompts whose longest has L words:

    * ``tokens`` (B, L, D): word vectors, zeros where padded;
    * ``mask`` (B, L) bool: True for real words;
    * ``pooled`` (B, D): mean of the real word vectors.

    An empty prompt (or one with no word characters) has no words. Like foleyzoo's built-in text
    encoder, it still gets one token to attend to: position 0 holds a zero vector and is marked True,
    the rest of its mask row is False, and its pooled vector is zero. So every mask row has at least
    one True entry, and attention over the tokens never sees a row with nothing to attend to.
    The table is an ordinary parameter, so the encoder trains with the model that uses it.
    """

    api_version = "1.0"  # the foleyzoo plugin API this class was written against

    def __init__(self, embed_dim: int = 64, num_buckets: int = 4096, max_words: int = 64) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_buckets", num_buckets), ("max_words", max_words)):
            if value < 1:
                raise ValueError(f"HashedTrigramTextEncoder: {name} must be >= 1, got {value}")
        self._embed_dim = embed_dim
        self.num_buckets = num_buckets
        self.max_words = max_words
        # mode="sum" with per-sample weights 1/√k: a length-independent scale (mode="mean" would shrink
        # long words' vectors by √k).
        self.table = nn.EmbeddingBag(num_buckets, embed_dim, mode="sum")

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    # ------------------------------------------------------------------ tokenisation (pure Python)

    def words(self, text: str) -> list[str]:
        """The lower-cased words of ``text`` (runs of letters, digits and ``_``), at most ``max_words``."""
        return _WORD.findall(text.lower())[: self.max_words]

    @staticmethod
    def trigrams(word: str) -> list[str]:
        """Trigrams of ``word`` with boundary marks: ``"bell"`` → ``["<be", "bel", "ell", "ll>"]``."""
        padded = f"<{word}>"
        return [padded[i : i + 3] for i in range(len(padded) - 2)]

    def bucket(self, trigram: str) -> int:
        """Table row of ``trigram``: CRC-32 of its UTF-8 bytes mod ``num_buckets`` (same in any process)."""
        return zlib.crc32(trigram.encode("utf-8")) % self.num_buckets

    # ------------------------------------------------------------------ encoding

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        """B prompts → :class:`~foleyzoo.api.TextFeatures`: tokens (B, L, D), mask (B, L), pooled (B, D)."""
        if isinstance(texts, str):
            raise TypeError("HashedTrigramTextEncoder.encode takes a sequence of prompts, not one string")
        if len(texts) == 0:
            raise ValueError("HashedTrigramTextEncoder.encode needs at least one prompt")
        weight = self.table.weight
        batch_words = [self.words(text) for text in texts]
        batch, length = len(texts), max(1, max(len(words) for words in batch_words))

        ids: list[int] = []
        offsets: list[int] = []
        scales: list[float] = []
        rows: list[int] = []
        cols: list[int] = []
        for row, words in enumerate(batch_words):
            for col, word in enumerate(words):
                grams = self.trigrams(word)
                offsets.append(len(ids))
                ids.extend(self.bucket(gram) for gram in grams)
                scales.extend([len(grams) ** -0.5] * len(grams))
                rows.append(row)
                cols.append(col)

        tokens = weight.new_zeros(batch, length, self.embed_dim)
        mask = torch.zeros(batch, length, dtype=torch.bool, device=weight.device)
        if ids:
            vectors = self.table(
                torch.tensor(ids, dtype=torch.long, device=weight.device),
                torch.tensor(offsets, dtype=torch.long, device=weight.device),
                per_sample_weights=torch.tensor(scales, dtype=weight.dtype, device=weight.device),
            )
            index = (
                torch.tensor(rows, dtype=torch.long, device=weight.device),
                torch.tensor(cols, dtype=torch.long, device=weight.device),
            )
            tokens = tokens.index_put(index, vectors)  # out of place, so gradients reach the table
            mask = mask.index_put(index, torch.ones(len(rows), dtype=torch.bool, device=weight.device))
        mask[:, 0] = True  # a prompt without words keeps one (zero) token, as documented above

        counts = mask.sum(dim=1, keepdim=True).clamp(min=1).to(tokens.dtype)
        pooled = (tokens * mask.unsqueeze(-1).to(tokens.dtype)).sum(dim=1) / counts
        return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)

    def forward(self, texts: Sequence[str]) -> TextFeatures:
        """Same as :meth:`encode`, so the module can be called directly."""
        return self.encode(texts)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_buckets={self.num_buckets}, max_words={self.max_words}"
