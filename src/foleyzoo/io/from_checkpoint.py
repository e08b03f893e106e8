"""Frozen components taken from earlier stages' ``foleyzoo fit`` checkpoints, named in YAML by path.

Stage 3 (the flow model) uses the codec of stage 1 and the sync encoder of stage 2. These wrappers let a
recipe say ``codec: {class_path: CodecFromCheckpoint, init_args: {checkpoint: runs/…/last.ckpt}}``: the
checkpoint is read safely (:func:`foleyzoo.io.checkpoints.load_module`), the component is found in it (the
module itself, or its one child of the wanted interface) and every call is passed on to it.

A checkpoint of the model that uses them must load without those files (in another folder, on another
machine): :func:`store_architectures` writes each wrapper's ``architecture`` (the component's own config,
as JSON text so that config parsers store it verbatim) into the saved hyper-parameters, and a wrapper given an ``architecture`` builds the component from it
instead of reading the file; the enclosing checkpoint's state dict then restores its weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import load_module, load_module_and_config
from foleyzoo.plugins.allowlist import instantiate_from_config

__all__ = ["ComponentFromCheckpoint", "Forwarded", "component_from", "store_architectures"]

Component = TypeVar("Component", bound=nn.Module)


def _locate(
    module: nn.Module, interface: type[Component], attribute: str | None, source: str
) -> tuple[str | None, Component]:
    """The ``interface`` part of ``module`` and its attribute name (``None`` for the module itself)."""
    if attribute is not None:
        found = getattr(module, attribute, None)
        if not isinstance(found, interface):
            raise ConfigError(
                f"{source}: {type(module).__name__}.{attribute} is not a {interface.__name__} "
                f"(it is {type(found).__name__})"
            )
        return attribute, found
    if isinstance(module, interface):
        return None, module
    children = [(name, child) for name, child in module.named_children() if isinstance(child, interface)]
    if len(children) != 1:
        raise ConfigError(
            f"{source}: holds a {type(module).__name__} with {len(children)} {interface.__name__} "
            "parts; name the one to use with `attribute`"
        )
    return children[0]


def component_from(
    checkpoint: str | Path, interface: type[Component], attribute: str | None = None
) -> Component:
    """The ``interface`` instance stored in a ``foleyzoo fit`` checkpoint: the module, its ``attribute``, or its one child of that type."""
    return _locate(load_module(checkpoint), interface, attribute, str(checkpoint))[1]


def _component_config(config: dict[str, Any], name: str | None) -> tuple[dict[str, Any], str | None]:
    """The part's own ``{"class_path", "init_args"}`` where the config names it, else the whole config and the name."""
    if name is None:
        return config, None
    nested = (config.get("init_args") or {}).get(name)
    if isinstance(nested, dict) and "class_path" in nested:
        return nested, None
    return config, name


def _plain(value: Any) -> Any:
    """A config with jsonargparse Namespaces (optimizer callables and the like) turned into plain dicts."""
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return _plain(value.as_dict())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value


def _parse_architecture(text: str, checkpoint: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the architecture stored for {checkpoint} is not JSON ({exc})") from exc
    if not isinstance(value, dict) or "class_path" not in value:
        raise ConfigError(f"the architecture stored for {checkpoint} is not a class_path config")
    return value


def _frozen(module: Component) -> Component:
    module.requires_grad_(False)
    return module.eval()


class Forwarded:
    """An attribute of a :class:`ComponentFromCheckpoint` read from the component it wraps (``self.module``):
    the interface's metadata (``fps``, ``embed_dim``, …) and methods (``encode``), without writing each out."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self if instance is None else getattr(instance.module, self.name)


class ComponentFromCheckpoint(nn.Module):
    """A frozen part of the ``interface`` type, read from a checkpoint or built from its stored architecture."""

    interface: type[nn.Module] = nn.Module

    def __init__(
        self, checkpoint: str, attribute: str | None = None, architecture: str | dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        if isinstance(architecture, str):
            architecture = _parse_architecture(architecture, checkpoint)
        if architecture is not None:
            source = f"the architecture stored for {checkpoint}"
            built = instantiate_from_config(architecture, nn.Module, source=source)
            component = _locate(built, self.interface, attribute, source)[1]
            self.architecture, self.architecture_attribute = _plain(architecture), attribute
        else:
            loaded, config = load_module_and_config(checkpoint)
            name, component = _locate(loaded, self.interface, attribute, str(checkpoint))
            own, self.architecture_attribute = _component_config(config, name)
            self.architecture = _plain(own)
        self.module = _frozen(component)

    def portable_init_args(self) -> dict[str, Any]:
        """Init args that rebuild this part without its checkpoint file (weights come from elsewhere)."""
        return {
            "checkpoint": self.checkpoint,
            "attribute": self.architecture_attribute,
            "architecture": json.dumps(self.architecture),  # text: config parsers must not rewrite it
        }


def store_architectures(hyper_parameters: dict[str, Any], module: nn.Module) -> None:
    """Give every :class:`ComponentFromCheckpoint` config in saved hyper-parameters its architecture.

    Call from ``on_save_checkpoint``: the checkpoint then rebuilds with :func:`~foleyzoo.io.checkpoints.load_module`
    wherever it is read, and its state dict carries the parts' weights.
    """
    for name, config in list(hyper_parameters.items()):
        part = getattr(module, name, None)
        if isinstance(part, ComponentFromCheckpoint) and isinstance(config, dict) and "init_args" in config:
            init_args = {**config["init_args"], **part.portable_init_args()}
            hyper_parameters[name] = {**config, "init_args": init_args}
