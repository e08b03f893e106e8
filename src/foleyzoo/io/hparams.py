"""Hyper-parameters that a checkpoint can be rebuilt from, safely (``weights_only=True``)."""

from __future__ import annotations

import inspect
from typing import Any

_PLAIN = (bool, int, float, str, type(None))


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False


def save_config_hyperparameters(module: Any) -> None:
    """Call from a LightningModule's ``__init__`` instead of ``save_hyperparameters()``.

    Under ``foleyzoo fit`` LightningCLI hands over the parsed config (class paths and plain values), which
    is what a checkpoint needs to rebuild nested parts. Built in plain Python, the module receives objects
    (encoders, samplers, callables) that must not be pickled into a checkpoint, so only plain values are kept.
    """
    from lightning.pytorch.core.mixins import hparams_mixin

    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    if getattr(hparams_mixin, "_given_hyperparameters", None) is not None and (
        hparams_mixin._given_hyperparameters.get() is not None
    ):
        module.save_hyperparameters(frame=caller)
        return
    if caller is None:
        return
    signature = inspect.signature(type(module).__init__)
    names = [name for name in signature.parameters if name != "self"]
    objects = [name for name in names if name in caller.f_locals and not _is_plain(caller.f_locals[name])]
    module.save_hyperparameters(ignore=objects, frame=caller)
