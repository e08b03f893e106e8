"""Import paths of earlier foleyzoo versions, still importable: checkpoints, bundles and recipes name them.

foleyzoo 0.1 kept flow matching in ``foleyzoo.flow``, the renderers in ``foleyzoo.stereo``, SynthFoley in
``foleyzoo.data.synthfoley`` and so on; its checkpoints and bundles store those class paths, and
LightningCLI reads them back when a run resumes. Rather than leave a copy of each old module in the tree,
a finder at the end of ``sys.meta_path`` (installed by ``import foleyzoo``) resolves an old module name to the module that now holds its code (the
same module object, so classes are identical) and warns once with the new name. The tables below are
the whole of it; nothing else in foleyzoo imports an old path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import types
import warnings
from typing import Any

MOVED_MODULES: dict[str, str] = {
    "foleyzoo.atomic_io": "foleyzoo.io.atomic",
    "foleyzoo.checkpoint_io": "foleyzoo.training.checkpoint_io",
    "foleyzoo.checkpoints": "foleyzoo.io.checkpoints",
    "foleyzoo.hparams": "foleyzoo.io.hparams",
    "foleyzoo.callbacks": "foleyzoo.training.callbacks",
    "foleyzoo.distributed": "foleyzoo.training.distributed",
    "foleyzoo.catalogue": "foleyzoo.cli.catalogue",
    "foleyzoo.cli.lightning": "foleyzoo.training.cli",
    "foleyzoo.data.media": "foleyzoo.io.media",
    "foleyzoo.data.synthfoley.cli": "foleyzoo.cli.synth",
    "foleyzoo.data.synthfoley.calibration": "foleyzoo.synthfoley.calibration",
    "foleyzoo.data.synthfoley.dataset": "foleyzoo.synthfoley.dataset",
    "foleyzoo.data.synthfoley.generator": "foleyzoo.synthfoley.generator",
    "foleyzoo.data.synthfoley.scorer": "foleyzoo.synthfoley.scorer",
    "foleyzoo.data.synthfoley_datamodule": "foleyzoo.synthfoley.datamodule",
    "foleyzoo.codecs.melvae_data": "foleyzoo.synthfoley.audio_datamodule",
    "foleyzoo.codecs.melvae_eval": "foleyzoo.training.codec_eval",
    "foleyzoo.codecs.corpus": "foleyzoo.data.corpus",
    "foleyzoo.codecs.vocoders.base": "foleyzoo.vocoders.base",
    "foleyzoo.codecs.vocoders.griffin_lim": "foleyzoo.vocoders.griffin_lim",
    "foleyzoo.codecs.vocoders.hifigan": "foleyzoo.vocoders.hifigan",
    "foleyzoo.codecs.vocoders.losses": "foleyzoo.vocoders.losses",
    "foleyzoo.codecs.vocoders.vocos": "foleyzoo.vocoders.vocos",
    "foleyzoo.codecs.vocoders.weights": "foleyzoo.vocoders.weights",
    "foleyzoo.stereo.checks": "foleyzoo.renderers.checks",
    "foleyzoo.stereo.dual_mono": "foleyzoo.renderers.dual_mono",
    "foleyzoo.stereo.encoders": "foleyzoo.encoders.visual.pan_grid",
    "foleyzoo.stereo.evaluation": "foleyzoo.training.stereo_eval",
    "foleyzoo.stereo.mono2stereo": "foleyzoo.renderers.mono2stereo",
    "foleyzoo.stereo.motion_panner": "foleyzoo.renderers.motion_panner",
    "foleyzoo.stereo.network": "foleyzoo.renderers.network",
    "foleyzoo.stereo.pan": "foleyzoo.renderers.pan",
    "foleyzoo.stereo.timing": "foleyzoo.renderers.timing",
    "foleyzoo.flow.conditioning": "foleyzoo.training.conditioning",
    "foleyzoo.flow.media_logging": "foleyzoo.training.media_logging",
    "foleyzoo.flow.module": "foleyzoo.training.flow_matching",
    "foleyzoo.flow.objective": "foleyzoo.training.objective",
    "foleyzoo.flow.synthfoley_eval": "foleyzoo.training.flow_eval",
    "foleyzoo.flow.toy": "foleyzoo.training.toy",
    "foleyzoo.pretraining.contrastive": "foleyzoo.training.contrastive",
    "foleyzoo.pretraining.eventless": "foleyzoo.training.eventless",
    "foleyzoo.pretraining.sync": "foleyzoo.training.sync",
    "foleyzoo.pretraining.sync_eval": "foleyzoo.training.sync_eval",
    "foleyzoo.metrics.audio": "foleyzoo.data.audio",
    "foleyzoo.metrics.synthfoley": "foleyzoo.synthfoley.evaluation",
}
"""Old module → the module that holds its code now."""

MOVED_PACKAGES: dict[str, dict[str, str]] = {
    "foleyzoo.stereo": {
        "DualMono": "foleyzoo.renderers.dual_mono",
        "Mono2Stereo": "foleyzoo.renderers.mono2stereo",
        "MotionPanner": "foleyzoo.renderers.motion_panner",
        "PanVisualEncoder": "foleyzoo.encoders.visual.pan_grid",
        "PixelGrid": "foleyzoo.encoders.visual.pan_grid",
    },
    "foleyzoo.flow": {
        name: "foleyzoo.training.objective"
        for name in (
            "classifier_free_guidance",
            "flow_matching_loss",
            "interpolate",
            "logit_normal_timesteps",
        )
    },
    "foleyzoo.pretraining": {
        "AVContrastive": "foleyzoo.training.contrastive",
        "SyncPretraining": "foleyzoo.training.sync",
        "evaluate_retrieval": "foleyzoo.training.contrastive",
    },
    "foleyzoo.components": {
        "CodecFromCheckpoint": "foleyzoo.codecs.from_checkpoint",
        "SyncEncoderFromCheckpoint": "foleyzoo.encoders.sync.from_checkpoint",
        "VisualEncoderFromCheckpoint": "foleyzoo.encoders.visual.from_checkpoint",
        "ComponentFromCheckpoint": "foleyzoo.io.from_checkpoint",
        "component_from": "foleyzoo.io.from_checkpoint",
        "store_architectures": "foleyzoo.io.from_checkpoint",
    },
    "foleyzoo.data.synthfoley": {},
    "foleyzoo.codecs.vocoders": {
        "GriffinLimVocoder": "foleyzoo.vocoders.griffin_lim",
        "HiFiGANVocoder": "foleyzoo.vocoders.hifigan",
        "VocosVocoder": "foleyzoo.vocoders.vocos",
    },
}
"""Old package (or module split in pieces) → the names it exported → where each lives now."""


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new} in foleyzoo 0.2; the old name still imports, but update the code or recipe "
        "that names it",
        DeprecationWarning,
        stacklevel=3,
    )


class _MovedPackage(types.ModuleType):
    """An old package: its names are looked up where they live now, its submodules by the finder."""

    def __init__(self, name: str, names: dict[str, str]) -> None:
        super().__init__(name, f"Moved names of the former {name} (see foleyzoo.compat).")
        self.__path__: list[str] = []  # a package: ``import old.sub`` asks the finder
        self._names = names

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name not in self._names:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        _warn(f"{self.__name__}.{name}", f"{self._names[name]}.{name}")
        value = getattr(importlib.import_module(self._names[name]), name)
        setattr(self, name, value)  # warned once; found directly from now on
        return value


class _MovedLoader(importlib.abc.Loader):
    """Gives an old module name the module object that holds its code now."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name in MOVED_PACKAGES:
            return _MovedPackage(spec.name, MOVED_PACKAGES[spec.name])
        _warn(spec.name, MOVED_MODULES[spec.name])
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module was imported under its new name."""


_LOADER = _MovedLoader()


def find_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of an old module name of :data:`MOVED_MODULES` or :data:`MOVED_PACKAGES`, else None.

    ``import foleyzoo`` puts a finder at the end of ``sys.meta_path`` that asks this, so it is reached
    only for names no other finder knows.
    """
    if fullname not in MOVED_MODULES and fullname not in MOVED_PACKAGES:
        return None
    return importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=fullname in MOVED_PACKAGES)
