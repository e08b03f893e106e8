"""Load a released MMAudio network file as an :class:`MMAudioDenoiser`, without trusting the file.

The file is checked against the manifest before anything is built: its size and SHA-256 against the
published ones (``verify``), then — read with ``torch.load(weights_only=True)``, so no code in it runs —
that it is a plain state dict holding exactly the variant's keys and shapes. Only then is the network
built (on the meta device, so no memory is spent on weights that are about to be replaced) and loaded
strictly.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from foleyzoo.api import AttentionBackend
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import exception_summary, state_dict_mismatch
from foleyzoo.zoo.mmaudio.convert import convert_state_dict
from foleyzoo.zoo.mmaudio.denoiser import MMAudioDenoiser
from foleyzoo.zoo.mmaudio.manifest import ReleasedFile, keys_mismatch, matching_variants, released_file
from foleyzoo.zoo.mmaudio.variants import variant as variant_spec

__all__ = [
    "MMAudioNetwork",
    "build_denoiser",
    "check_network_state",
    "file_sha256",
    "load_denoiser",
    "read_checked",
    "read_state_dict",
    "verify_file",
]

_CHUNK = 1 << 24


def load_denoiser(
    path: str | Path,
    variant: str,
    *,
    verify: bool = True,
    attention: AttentionBackend | str | None = None,
    device: torch.device | str = "cpu",
) -> MMAudioDenoiser:
    """The released MMAudio network ``variant`` (``"small_16k"``, …, ``"large_44k_v2"``) read from ``path``, in eval mode.

    ``path`` is the ``mmaudio_<variant>.pth`` file as MMAudio releases it (a plain state dict). With
    ``verify`` (the default) its size and SHA-256 must be the published ones; pass ``verify=False`` for
    weights of your own with the same keys (a fine-tuned copy), which are then checked by keys and shapes
    only. ``device="meta"`` checks the file and loads shapes only. Every problem raises
    :class:`~foleyzoo.errors.ConfigError` naming the file and the variant.
    """
    spec = variant_spec(variant)
    state = read_checked(path, released_file(spec.name), variant, verify)
    return build_denoiser(state, variant, source=str(path), attention=attention, device=device)


def read_checked(
    path: str | Path, released: ReleasedFile, what: str, verify: bool, container: str | None = None
) -> dict[str, Tensor]:
    """A released file's state dict after the checks every loader makes: the file is there, has the
    published size and SHA-256 (with ``verify``), and holds a plain state dict of tensors."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: MMAudio {what} weights not found (the released file is {released.url})")
    if verify:
        verify_file(path, released)
    return read_state_dict(path, what, container)


def verify_file(path: Path, released: ReleasedFile) -> None:
    """Refuse ``path`` unless its size and SHA-256 are the published ones; warn where none were published."""
    what = f"{path}: MMAudio {released.variant}"
    size = path.stat().st_size
    if released.size is None:
        warnings.warn(f"{what}: the manifest has no published size; not checked", stacklevel=3)
    elif size != released.size:
        raise ConfigError(
            f"{what}: the file has {size} bytes, the released {released.file} has {released.size} "
            "(truncated, or another file); download it again, or pass verify=False for weights of your own"
        )
    if released.sha256 is None:
        warnings.warn(
            f"{what}: the manifest has no published SHA-256; the file is checked by its keys and shapes only",
            stacklevel=3,
        )
        return
    digest = file_sha256(path)
    if digest not in (released.sha256, *released.other_sha256):
        raise ConfigError(
            f"{what}: SHA-256 {digest} is not the published {released.sha256} of {released.file}; "
            "download it again, or pass verify=False for weights of your own"
        )


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read once for each (path, size, modification time): released files are
    gigabytes, and converting checks a file and then records its hash."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _sha256(str(resolved), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: str | Path, variant: str, container: str | None = None) -> dict[str, Tensor]:
    """The plain state dict in ``path``, read with ``weights_only=True`` (memory-mapped where the format allows).

    With ``container`` the file is a dictionary holding the state dict under that key (BigVGAN's
    ``{"generator": state_dict}``).
    """
    path = Path(path)
    what = f"{path}: MMAudio {variant} weights"
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as exc:
        raise ConfigError(
            f"{what}: not a readable PyTorch weights file, or one that holds more than tensors "
            f"({exception_summary(exc)}); a truncated download looks like this too"
        ) from exc
    if container is not None:
        if not isinstance(stored, Mapping) or not isinstance(stored.get(container), Mapping):
            found = ", ".join(repr(key) for key in list(stored)[:5]) if isinstance(stored, Mapping) else ""
            found = f"keys {found}" if found else f"a {type(stored).__name__}"
            raise ConfigError(f"{what}: no state dict under {container!r} (found {found})")
        stored = stored[container]
    if not isinstance(stored, Mapping) or not stored:
        raise ConfigError(f"{what}: not a plain state dict (found {type(stored).__name__})")
    odd = next(
        (key for key, value in stored.items() if not isinstance(key, str) or not isinstance(value, Tensor)),
        None,
    )
    if odd is not None:
        found = type(stored[odd]).__name__
        raise ConfigError(f"{what}: not a plain state dict of tensors (key {odd!r} holds a {found})")
    return dict(stored)


def build_denoiser(
    state: Mapping[str, Tensor],
    variant: str,
    *,
    source: str = "state dict",
    attention: AttentionBackend | str | None = None,
    device: torch.device | str = "cpu",
) -> MMAudioDenoiser:
    """Check ``state`` (MMAudio's names) against the manifest, then build ``variant`` and load it strictly.

    ``device="meta"`` checks and loads shapes only (what the tests do with full-size variants).
    """
    spec = variant_spec(variant)
    check_network_state(state, variant, source)
    with torch.device("meta"):
        model = MMAudioDenoiser.from_variant(spec, attention=attention)
    on_meta = torch.device(device).type == "meta"
    if not on_meta:
        model = model.to_empty(device=device)
    target = {key: value.shape for key, value in model.state_dict().items()}
    model.load_state_dict(convert_state_dict(state, spec.heads, target), strict=True, assign=on_meta)
    return model.eval()


def check_network_state(state: Mapping[str, Tensor], variant: str, source: str) -> None:
    """Refuse a state dict (MMAudio's names) whose keys or shapes are not the released ``variant``'s."""
    spec = variant_spec(variant)
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    problem = keys_mismatch(shapes, released_file(spec.name))
    if problem is not None:
        others = [name for name in matching_variants(shapes) if name != spec.name]
        hint = f"; the file holds MMAudio {others[0]} weights" if others else ""
        raise ConfigError(f"{source}: not MMAudio {variant} weights: {problem}{hint}")


class MMAudioNetwork(MMAudioDenoiser):
    """MMAudio's released network as a denoiser plugin a recipe names by file: ``variant`` and ``checkpoint``.

    ``checkpoint`` is ``mmaudio_<variant>.pth`` as released, checked as :func:`load_denoiser` checks it
    (``verify``: the published size and SHA-256; then the variant's keys and shapes); without it the
    network has fresh weights. ``architecture`` overrides sizes for tests and reduced experiments: the
    file is then checked by loading it strictly into that architecture, not against the manifest. Fine-tune
    it with ``FoleyFlowMatching`` (``recipes/mmaudio/``); a bundle exported from it rebuilds it without
    the file (:meth:`portable_init_args`).
    """

    def __init__(
        self,
        variant: str = "small_16k",
        checkpoint: str | None = None,
        verify: bool = True,
        attention: AttentionBackend | str | None = None,
        architecture: dict[str, Any] | None = None,
    ) -> None:
        spec = variant_spec(variant)
        architecture = dict(architecture or {})
        super().__init__(**{**spec.architecture(), **architecture}, attention=attention)
        self.variant = variant
        if checkpoint is None:
            return
        path = Path(checkpoint).expanduser()
        state = read_checked(path, released_file(spec.name), variant, verify)
        if not architecture:
            check_network_state(state, variant, str(path))
        target = {key: value.shape for key, value in self.state_dict().items()}
        try:
            converted = convert_state_dict(state, self.heads, target)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"{path}: does not fit MMAudio {variant} with {architecture}: {exc}") from None
        problem = state_dict_mismatch(self.state_dict(), converted)
        if problem:
            raise ConfigError(f"{path}: does not fit MMAudio {variant} with {architecture}: {problem}")
        self.load_state_dict(converted, strict=True)

    def portable_init_args(self) -> dict[str, Any]:
        """Init args that rebuild this network without its file (a bundle carries the weights)."""
        return {"checkpoint": None}
