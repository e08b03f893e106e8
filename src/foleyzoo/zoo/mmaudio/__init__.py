"""MMAudio's released video-to-audio networks as foleyzoo parts (code MIT, weights CC-BY-NC 4.0).

``load_denoiser(path, variant)`` reads a released ``mmaudio_<variant>.pth`` into an
:class:`MMAudioDenoiser` that computes what MMAudio's own network computes; ``sample_latents`` samples
as MMAudio does. foleyzoo ships no weights: download them from MMAudio's release.
"""

from foleyzoo.zoo.mmaudio.denoiser import MMAudioDenoiser, PreparedMMAudio
from foleyzoo.zoo.mmaudio.loader import load_denoiser
from foleyzoo.zoo.mmaudio.sampling import CFG_STRENGTH, STEPS, sample_latents
from foleyzoo.zoo.mmaudio.variants import VARIANTS, MMAudioVariant, sequence_lengths

__all__ = [
    "CFG_STRENGTH",
    "STEPS",
    "VARIANTS",
    "MMAudioDenoiser",
    "MMAudioVariant",
    "PreparedMMAudio",
    "load_denoiser",
    "sample_latents",
    "sequence_lengths",
]
