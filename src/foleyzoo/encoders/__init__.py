"""Conditioning encoders: visual semantics, audio-visual sync and text."""
