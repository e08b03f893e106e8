"""A small real multi-domain evaluation corpus built from Debian packages: effects, music, speech, singing.

"Universal" audio needs evidence beyond synthetic sounds, so this module writes a few minutes of real
audio, by domain, from packages any Debian/Ubuntu machine can install:

* ``effects/``  — recorded desktop sound effects of ``sound-theme-freedesktop`` (the spoken
  ``audio-channel-*`` files are left out: they are speech);
* ``music/``    — MIDI files written here, rendered by the ``fluidsynth`` CLI with the General MIDI
  instruments of ``fluid-soundfont-gm``;
* ``speech/``   — sentences spoken by ``espeak-ng`` in a few voices;
* ``singing/``  — sung phrases: one sustained syllable per note, pitched with espeak-ng's ``-p``.

Each domain has two disjoint splits: ``eval`` (the material quality is reported on) and ``train``
(other pieces, instruments, sentences, voices and effect recordings, for codecs that train on real
audio). Every file is mono 32-bit float WAV at one sample rate, peak-normalised to 0.9; ``manifest.csv``
lists ``path,domain,duration,split``. A missing package is a :class:`MissingPackageError` naming the apt package.
"""

from __future__ import annotations

import csv
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleyzoo.errors import ConfigError

DOMAINS = ("effects", "music", "speech", "singing")
SPLITS = ("train", "eval")
EFFECTS_DIR = Path("/usr/share/sounds/freedesktop/stereo")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MAX_EFFECT_SECONDS = 4.0


class MissingPackageError(ConfigError):
    """A Debian package the corpus needs is not installed; the message names it and the install command."""


@dataclass(frozen=True)
class CorpusEntry:
    """One written file: its path relative to the corpus folder, its domain, length in seconds and split."""

    path: str
    domain: str
    duration: float
    split: str = "eval"


def _missing(package: str, what: str) -> MissingPackageError:
    return MissingPackageError(
        f"the evaluation corpus needs {what} from the Debian package '{package}': "
        f"install it with `apt-get install {package}`"
    )


def require_tool(executable: str, package: str) -> str:
    """The path of ``executable``, or a MissingPackageError naming ``package``."""
    found = shutil.which(executable)
    if found is None:
        raise _missing(package, f"the '{executable}' program")
    return found


def require_path(path: Path, package: str) -> Path:
    """``path`` if it exists, or a MissingPackageError naming the ``package`` that installs it."""
    if not path.exists():
        raise _missing(package, str(path))
    return path


def check_packages() -> None:
    """Raise for the first missing package, before any file is written."""
    require_path(EFFECTS_DIR, "sound-theme-freedesktop")
    require_tool("fluidsynth", "fluidsynth")
    require_path(SOUNDFONT, "fluid-soundfont-gm")
    require_tool("espeak-ng", "espeak-ng")


# --------------------------------------------------------------------------- audio helpers


def finish(samples: np.ndarray, sample_rate: int, threshold: float = 1e-3) -> np.ndarray:
    """(N,) mono → leading/trailing silence trimmed (50 ms kept), peak-normalised to 0.9, float32."""
    loud = np.flatnonzero(np.abs(samples) > threshold * max(np.abs(samples).max(), 1e-9))
    if loud.size == 0:
        raise ConfigError("rendered audio is silent")
    margin = int(0.05 * sample_rate)
    trimmed = samples[max(0, loud[0] - margin) : loud[-1] + margin]
    return (0.9 * trimmed / np.abs(trimmed).max()).astype(np.float32)


def read_mono(path: Path, sample_rate: int) -> np.ndarray:
    """Any audio file → (N,) float32 mono at ``sample_rate`` (decoded and resampled by PyAV)."""
    from foleyzoo.io.media import read_audio

    return read_audio(path, sample_rate, channels=1)[0].numpy()


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError(
            f"`{' '.join(command)}` failed ({result.returncode}): {result.stderr.strip()[-400:]}"
        )


# --------------------------------------------------------------------------- MIDI


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


Note = tuple[float, float, int, int]
"""(start beat, length in beats, MIDI pitch, velocity)."""


def midi_bytes(
    tracks: Sequence[tuple[int, int, Sequence[Note]]], tempo_bpm: float = 100.0, ticks: int = 480
) -> bytes:
    """A format-1 Standard MIDI File: one track per (channel, GM program, notes), plus a tempo track."""
    chunks = []
    tempo = round(60_000_000 / tempo_bpm)
    meta = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xff\x2f\x00"
    chunks.append(b"MTrk" + struct.pack(">I", len(meta)) + meta)
    for channel, program, notes in tracks:
        events: list[tuple[int, int, bytes]] = []
        for start, length, pitch, velocity in notes:
            on, off = round(start * ticks), round((start + length) * ticks)
            events.append((on, 1, bytes([0x90 | channel, pitch, velocity])))
            events.append((off, 0, bytes([0x80 | channel, pitch, 0])))
        body, now = bytearray(b"\x00" + bytes([0xC0 | channel, program])), 0
        for time, _, message in sorted(events):
            body += _vlq(time - now) + message
            now = time
        body += b"\x00\xff\x2f\x00"
        chunks.append(b"MTrk" + struct.pack(">I", len(body)) + bytes(body))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), ticks)
    return header + b"".join(chunks)


def _scale_run(root: int, beats: int, step: float = 0.5) -> list[Note]:
    major = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]
    return [(i * step, step * 0.95, root + major[i % len(major)], 90) for i in range(int(beats / step))]


def _chords(root: int, beats: int) -> list[Note]:
    progression = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
    notes = []
    for bar in range(beats // 4):
        for interval in progression[bar % len(progression)]:
            notes.append((bar * 4.0, 3.9, root + interval, 70))
    return notes


def _arpeggio(root: int, beats: int) -> list[Note]:
    pattern = [0, 7, 12, 16, 19, 16, 12, 7]
    return [(i * 0.25, 0.3, root + pattern[i % 8], 80) for i in range(beats * 4)]


def _drums(beats: int) -> list[Note]:
    notes: list[Note] = []
    for beat in range(beats):
        notes.append((float(beat), 0.2, 36 if beat % 2 == 0 else 38, 100))  # kick / snare
        notes += [(beat + 0.0, 0.1, 42, 70), (beat + 0.5, 0.1, 42, 60)]  # closed hi-hat
    return notes


MUSIC_PIECES: dict[str, list[tuple[int, int, list[Note]]]] = {
    "piano_scale": [(0, 0, _scale_run(60, 12))],
    "strings_chords": [(0, 48, _chords(55, 12))],
    "guitar_arpeggio": [(0, 24, _arpeggio(52, 10))],
    "band": [(0, 33, _arpeggio(36, 10)), (1, 0, _chords(60, 8)), (9, 0, _drums(10))],
}
"""Name → tracks (channel, GM program, notes); channel 9 is GM percussion. About 6–8 s each at 100 bpm."""

TRAIN_MUSIC_PIECES: dict[str, list[tuple[int, int, list[Note]]]] = {
    "organ_scale": [(0, 19, _scale_run(48, 12))],
    "flute_arpeggio": [(0, 73, _arpeggio(67, 10))],
    "brass_chords": [(0, 61, _chords(50, 12))],
    "marimba_scale": [(0, 12, _scale_run(65, 10, step=0.25))],
    "harp_arpeggio": [(0, 46, _arpeggio(45, 10))],
    "rock_band": [(0, 29, _chords(52, 8)), (1, 34, _arpeggio(40, 8)), (9, 0, _drums(8))],
    "choir_chords": [(0, 52, _chords(57, 12))],
    "vibraphone_scale": [(0, 11, _scale_run(72, 10))],
}
"""Training pieces: other instruments, registers and tempi than the evaluation pieces."""


# --------------------------------------------------------------------------- speech and singing

SENTENCES = (
    ("en-us", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("en-gb+f3", "Please put the glass back on the wooden table before it falls."),
    ("en-us+m3", "A bell rang twice, and then the door slammed shut behind them."),
    ("de", "Heute scheint die Sonne, und wir gehen im Park spazieren."),
    ("fr+f2", "Le petit chat dort sur le canapé pendant que la pluie tombe."),
)
"""(espeak-ng voice, sentence): several voices and languages."""

TRAIN_SENTENCES = (
    ("en-us+f2", "Footsteps echoed down the hallway as the old clock struck midnight."),
    ("en-gb", "She poured the water slowly and listened to the rain outside."),
    ("en-us+m1", "Seven wooden boxes were stacked beside the garage door."),
    ("es", "El tren sale de la estación a las ocho de la mañana."),
    ("it+f4", "Il cane corre nel giardino e abbaia agli uccelli."),
    ("en-us+m7", "Turn left at the bridge and keep walking until you hear the bells."),
    ("nl", "De fietser stopte bij het rode licht en wachtte geduldig."),
    ("en-gb+f1", "Thunder rolled across the valley while the horses waited in the barn."),
)
"""Training sentences: other voices, languages and words than the evaluation ones."""

SONGS = (
    ("en-us", "la", (30, 40, 50, 60, 50, 40, 30, 45)),
    ("en-us+f3", "ah", (50, 60, 70, 80, 70, 60, 50, 65)),
    ("en-gb+m3", "oh", (10, 25, 40, 25, 10, 30, 45, 20)),
)
"""(voice, syllable, espeak-ng pitches 0–99 of successive notes): sung phrases."""

TRAIN_SONGS = (
    ("en-us+m1", "na", (20, 35, 50, 35, 20, 50, 65, 40)),
    ("en-gb+f2", "oo", (60, 70, 55, 75, 85, 70, 60, 50)),
    ("es", "ma", (40, 30, 45, 60, 45, 30, 55, 35)),
)
"""Training phrases: other voices, syllables and melodies."""


def speak(text: str, voice: str, out: Path, pitch: int = 50, speed: int = 160) -> None:
    """Render ``text`` with espeak-ng into the WAV file ``out`` (espeak-ng's own rate)."""
    _run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(out), text])


def sing(voice: str, syllable: str, pitches: Sequence[int], sample_rate: int, work: Path) -> np.ndarray:
    """One sustained syllable per pitch, each trimmed and faded, joined with short gaps: (N,) float32."""
    notes = []
    fade = np.hanning(2 * int(0.02 * sample_rate))
    half = fade.size // 2
    for i, pitch in enumerate(pitches):
        wav = work / f"note_{i}.wav"
        speak(f"{syllable}{syllable[-1] * 6}", voice, wav, pitch=pitch, speed=80)
        note = finish(read_mono(wav, sample_rate), sample_rate)
        note[:half] *= fade[:half]
        note[-half:] *= fade[half:]
        notes += [note, np.zeros(int(0.06 * sample_rate), np.float32)]
    return np.concatenate(notes)


# --------------------------------------------------------------------------- the corpus


def effect_files(split: str = "eval") -> list[Path]:
    """The recorded effects of sound-theme-freedesktop in ``split``, sorted, without the spoken channel names.

    Every third recording (sorted by name) is training material; the others are evaluation material.
    """
    require_path(EFFECTS_DIR, "sound-theme-freedesktop")
    every = sorted(p for p in EFFECTS_DIR.glob("*.oga") if not p.name.startswith("audio-channel-"))
    return [path for i, path in enumerate(every) if (i % 3 == 2) == (split == "train")]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")


def render_domain(
    domain: str, sample_rate: int, limit: int | None, work: Path, split: str = "eval"
) -> dict[str, np.ndarray]:
    """Name → (N,) mono audio for ``domain`` and ``split``, at most ``limit`` items."""
    _check_split(split)
    train = split == "train"
    rendered: dict[str, np.ndarray] = {}
    if domain == "effects":
        for path in effect_files(split)[:limit]:
            audio = finish(read_mono(path, sample_rate), sample_rate)
            rendered[path.name.removesuffix(".oga")] = audio[: int(MAX_EFFECT_SECONDS * sample_rate)]
    elif domain == "music":
        fluidsynth = require_tool("fluidsynth", "fluidsynth")
        soundfont = require_path(SOUNDFONT, "fluid-soundfont-gm")
        pieces = TRAIN_MUSIC_PIECES if train else MUSIC_PIECES
        for name, tracks in list(pieces.items())[:limit]:
            mid, wav = work / f"{name}.mid", work / f"{name}.wav"
            mid.write_bytes(midi_bytes(tracks))
            _run(
                [
                    fluidsynth,
                    "-ni",
                    "-q",
                    "-g",
                    "0.5",
                    "-F",
                    str(wav),
                    "-r",
                    str(sample_rate),
                    str(soundfont),
                    str(mid),
                ]
            )
            rendered[name] = finish(read_mono(wav, sample_rate), sample_rate)
    elif domain == "speech":
        require_tool("espeak-ng", "espeak-ng")
        for i, (voice, text) in enumerate((TRAIN_SENTENCES if train else SENTENCES)[:limit]):
            wav = work / f"speech_{i}.wav"
            speak(text, voice, wav)
            rendered[f"{voice.replace('+', '_')}_{i}"] = finish(read_mono(wav, sample_rate), sample_rate)
    elif domain == "singing":
        require_tool("espeak-ng", "espeak-ng")
        for i, (voice, syllable, pitches) in enumerate((TRAIN_SONGS if train else SONGS)[:limit]):
            audio = sing(voice, syllable, pitches, sample_rate, work)
            rendered[f"{syllable}_{voice.replace('+', '_')}_{i}"] = finish(audio, sample_rate)
    else:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS}")
    return rendered


def build_corpus(
    out_dir: str | Path,
    sample_rate: int = 16000,
    domains: Sequence[str] = DOMAINS,
    limit: int | None = None,
    splits: Sequence[str] = SPLITS,
) -> list[CorpusEntry]:
    """Write ``out_dir/<split>/<domain>/<name>.wav`` and ``out_dir/manifest.csv``; returns the entries.

    ``limit`` caps the items a domain and split (a quick build for tests). Checks every package first.
    """
    from foleyzoo.io.media import write_wav

    check_packages()
    for split in splits:
        _check_split(split)
    out = Path(out_dir)
    entries: list[CorpusEntry] = []
    for split in splits:
        for domain in domains:
            (out / split / domain).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as work:
                rendered = render_domain(domain, sample_rate, limit, Path(work), split)
                for name, audio in rendered.items():
                    relative = f"{split}/{domain}/{name}.wav"
                    write_wav(out / relative, audio[None], sample_rate)
                    entries.append(CorpusEntry(relative, domain, round(audio.size / sample_rate, 3), split))
    manifest = out / "manifest.csv"
    partial = manifest.with_suffix(".csv.partial")
    with partial.open("w", newline="") as handle:  # the manifest appears only once every file is written
        writer = csv.writer(handle)
        writer.writerow(["path", "domain", "duration", "split"])
        writer.writerows((e.path, e.domain, f"{e.duration:.3f}", e.split) for e in entries)
    partial.replace(manifest)
    return entries


def read_corpus_manifest(corpus_dir: str | Path, split: str | None = None) -> list[CorpusEntry]:
    """The entries of ``corpus_dir/manifest.csv`` (of one ``split``, or all); a ConfigError naming a missing file.

    Manifests without a ``split`` column (older builds) hold evaluation material only.
    """
    path = Path(corpus_dir) / "manifest.csv"
    if not path.is_file():
        raise ConfigError(f"{path}: no corpus manifest; build one with scripts/build_codec_corpus.py")
    if split is not None:
        _check_split(split)
    with path.open(newline="") as handle:
        rows = [
            CorpusEntry(row["path"], row["domain"], float(row["duration"]), row.get("split") or "eval")
            for row in csv.DictReader(handle)
        ]
    return [row for row in rows if split is None or row.split == split]
