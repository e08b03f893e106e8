"""MMAudio's released video-to-audio networks as foleyzoo parts (code MIT, weights CC-BY-NC 4.0).

``load_denoiser(path, variant)`` reads a released ``mmaudio_<variant>.pth`` into an
:class:`MMAudioDenoiser` that computes what MMAudio's own network computes; ``sample_latents`` samples
as MMAudio does. ``load_codec(path, "16k" | "44k")`` reads MMAudio's mel-VAE (``v1-16.pth``,
``v1-44.pth``) into an :class:`~foleyzoo.codecs.edm2_codec.EDM2MelVAE`, and ``load_vocoder`` the BigVGAN
that renders its mels (``best_netG.pt``; NVIDIA's ``bigvgan_v2_44khz_128band_512x`` folder) into a
:class:`~foleyzoo.vocoders.bigvgan.BigVGANVocoder`. foleyzoo ships no weights: download them from
MMAudio's and NVIDIA's releases.
"""

from foleyzoo.zoo.mmaudio.codec import CODEC_VARIANTS, CodecVariant
from foleyzoo.zoo.mmaudio.codec_loader import MMAudioCodec, load_codec
from foleyzoo.zoo.mmaudio.denoiser import MMAudioDenoiser, PreparedMMAudio
from foleyzoo.zoo.mmaudio.loader import load_denoiser
from foleyzoo.zoo.mmaudio.sampling import CFG_STRENGTH, STEPS, sample_latents
from foleyzoo.zoo.mmaudio.variants import VARIANTS, MMAudioVariant, sequence_lengths
from foleyzoo.zoo.mmaudio.vocoder import VOCODER_VARIANTS, load_vocoder

__all__ = [
    "CFG_STRENGTH",
    "CODEC_VARIANTS",
    "STEPS",
    "VARIANTS",
    "VOCODER_VARIANTS",
    "CodecVariant",
    "MMAudioCodec",
    "MMAudioDenoiser",
    "MMAudioVariant",
    "PreparedMMAudio",
    "load_codec",
    "load_denoiser",
    "load_vocoder",
    "sample_latents",
    "sequence_lengths",
]
