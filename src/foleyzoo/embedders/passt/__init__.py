"""PaSST, av-benchmark's AudioSet transformer: the network and front end (``network``), parity cases (``parity``)."""

from __future__ import annotations

from foleyzoo.embedders.passt.network import (
    MANIFEST_PATH,
    PaSST,
    PaSSTMel,
    PaSSTNetwork,
    kaldi_mel_banks,
    passt_random_state,
    passt_window,
)

__all__ = [
    "MANIFEST_PATH",
    "PaSST",
    "PaSSTMel",
    "PaSSTNetwork",
    "kaldi_mel_banks",
    "passt_random_state",
    "passt_window",
]
