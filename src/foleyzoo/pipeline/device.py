"""Where the pipeline runs: the best available device, and bf16 autocast on GPUs that support it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from foleyzoo.errors import ConfigError


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """``requested`` when given (checked), else CUDA, then Apple's MPS, then the CPU."""
    if requested is not None and str(requested) != "auto":
        try:
            device = torch.device(requested)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(
                f"device {requested!r} is not a torch device; use auto, cpu, cuda, cuda:N or mps"
            ) from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {device} was asked for but torch sees no CUDA GPU; use --device cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ConfigError(f"device {device} was asked for but MPS is not available; use --device cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextlib.contextmanager
def inference_precision(device: torch.device, dtype: torch.dtype | None = None) -> Iterator[None]:
    """Autocast in ``dtype`` (full precision for float32); by default bf16 autocast on CUDA GPUs with bf16
    support (the paper's inference precision) and full precision elsewhere."""
    if dtype is not None:
        if dtype == torch.float32:
            yield
        else:
            with torch.autocast(device.type, dtype=dtype):
                yield
    elif device.type == "cuda" and torch.cuda.is_bf16_supported():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
