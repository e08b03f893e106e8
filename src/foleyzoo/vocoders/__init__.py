"""Vocoders: log-mel (B, C, n_mels, T) → waveform (B, C, (T - 1) * hop), each a :class:`~foleyzoo.api.Vocoder`.

``GriffinLimVocoder`` needs no training (the default of tiny recipes), ``VocosVocoder`` is a trainable
iSTFT-head network that is fast on a CPU, ``HiFiGANVocoder`` runs pretrained HiFi-GAN generators and
``BigVGANVocoder`` pretrained BigVGAN (v1 and v2) generators, returning T · hop samples.
Vocos, HiFi-GAN and BigVGAN load weights from a local file in their official key layout.
"""

from __future__ import annotations

from foleyzoo.vocoders.bigvgan import BigVGANVocoder
from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder
from foleyzoo.vocoders.hifigan import HiFiGANVocoder
from foleyzoo.vocoders.vocos import VocosVocoder

__all__ = ["BigVGANVocoder", "GriffinLimVocoder", "HiFiGANVocoder", "VocosVocoder"]
