"""``foleyzoo eval --protocol av-benchmark``: file rules, missing weights listed, wrong files refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from foleyzoo.cli.eval_cmd import main as eval_main
from foleyzoo.metrics.avbench_files import clean_sample_name, list_media, pair_by_clean_name, pair_exact
from foleyzoo.metrics.avbench_parity import ParityClip, write_parity_clips
from foleyzoo.metrics.frechet import avbench_frechet_distance, frechet_distance, gaussian_statistics


@pytest.mark.parametrize(
    ("stem", "cleaned"),
    [
        ("000000014_zxpo56cpUBU_000007-0", "zxpo56cpUBU_000007"),
        ("zxpo56cpUBU_000007-0", "zxpo56cpUBU_000007"),
        ("Y---g-f_I2yQ_000001_0", "---g-f_I2yQ_000001"),
        ("zxpo56cpUBU_000007", "zxpo56cpUBU_000007"),
        ("clip_0001", "clip_0001"),
        ("twenty_characters_ab", "twenty_characters_"),  # the rule goes by length alone, as av-benchmark's
    ],
)
def test_generated_names_are_cleaned_by_av_benchmarks_length_rule(stem, cleaned):
    assert clean_sample_name(stem) == cleaned


def test_pairs_follow_the_generated_order_and_list_what_stays_unpaired():
    pairs = pair_by_clean_name(["a", "zxpo56cpUBU_000007", "lonely"], ["zxpo56cpUBU_000007-0", "a", "b"])
    assert pairs.generated == ["zxpo56cpUBU_000007-0", "a"]
    assert pairs.reference == ["zxpo56cpUBU_000007", "a"]
    assert pairs.unpaired == ["b", "lonely"]
    exact = pair_exact(["a", "zxpo56cpUBU_000007"], ["zxpo56cpUBU_000007-0", "a"])
    assert exact.generated == ["a"]  # KL-PANNs pairs exact stems only


def test_a_folder_counts_its_wav_and_flac_files_only_sorted_by_stem(tmp_path):
    for name in ("b.wav", "a.flac", "c.mp3", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    files, ignored = list_media(tmp_path, (".wav", ".flac"), "audio")
    assert list(files) == ["a", "b"]
    assert sorted(p.name for p in ignored) == ["c.mp3", "notes.txt"]


def test_av_benchmarks_fd_agrees_with_the_real_route_well_conditioned_or_singular():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((300, 8)) * 1.5 + 0.3
    ours = float(
        frechet_distance(*gaussian_statistics(torch.from_numpy(a)), *gaussian_statistics(torch.from_numpy(b)))
    )
    assert avbench_frechet_distance(a, b) == pytest.approx(ours, rel=1e-9)
    few_a, few_b = rng.standard_normal((5, 64)), rng.standard_normal((5, 64))  # singular covariances
    singular = float(
        frechet_distance(
            *gaussian_statistics(torch.from_numpy(few_a)), *gaussian_statistics(torch.from_numpy(few_b))
        )
    )
    assert avbench_frechet_distance(few_a, few_b) == pytest.approx(singular, rel=1e-6)


@pytest.fixture
def folders(tmp_path):
    clips = (ParityClip("clip_00", 16000, 1, 1.0), ParityClip("clip_01", 44100, 2, 1.0, dc=0.1))
    write_parity_clips(tmp_path / "generated", clips, 1)
    write_parity_clips(tmp_path / "reference", clips, 2)
    return tmp_path


def test_a_missing_weights_file_is_listed_with_where_it_is_published(folders, capsys):
    out = folders / "r.json"
    code = eval_main(
        ["--generated", str(folders / "generated"), "--reference", str(folders / "reference"),
         "--embedders", f"passt={folders / 'absent.pt'}", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    record = json.loads(out.read_text())
    assert record["protocol"] == "av-benchmark"
    (item,) = record["not_computed"]
    assert item["metrics"] == ["FD-PASST", "KL-PASST-softmax", "ISC-PASST-mean", "ISC-PASST-std"]
    assert "absent.pt" in item["reason"] and "github.com/kkoutini/PaSST" in item["reason"]
    assert "not computed: FD-PASST" in capsys.readouterr().out


def test_a_weights_dir_without_the_files_lists_every_metric_it_would_give(folders):
    (folders / "weights").mkdir()
    out = folders / "r.json"
    code = eval_main(
        ["--generated", str(folders / "generated"), "--reference", str(folders / "reference"),
         "--weights-dir", str(folders / "weights"), "--metrics", "fd", "kl", "is", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    missing = {name for item in json.loads(out.read_text())["not_computed"] for name in item["metrics"]}
    assert missing == {
        "FD-VGG", "FD-PANN", "KL-PANNS-softmax", "ISC-PANNS-mean", "ISC-PANNS-std",
        "FD-PASST", "KL-PASST-softmax", "ISC-PASST-mean", "ISC-PASST-std",
    }  # fmt: skip


def test_another_models_file_is_refused_with_one_line_naming_it(folders, capsys):
    wrong = folders / "Cnn14_16k_mAP=0.438.safetensors"
    save_file({"encoder.weight": torch.zeros(2, 2)}, str(wrong))
    code = eval_main(
        ["--generated", str(folders / "generated"), "--reference", str(folders / "reference"),
         "--embedders", f"panns={wrong}"]
    )  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(wrong) in error


def test_av_benchmark_only_networks_need_its_protocol(folders, capsys):
    code = eval_main(
        ["--generated", str(folders / "generated"), "--reference", str(folders / "reference"),
         "--protocol", "foleyzoo", "--embedders", f"passt={folders / 'x.pt'}"]
    )  # fmt: skip
    assert code == 2
    assert "--protocol av-benchmark" in capsys.readouterr().err


class _FakeAudio(torch.nn.Module):
    """A stand-in network: a 3-d 'embedding' of a clip that a test can recompute by hand."""

    sample_rate = 16000

    def embed(self, inputs):
        from foleyzoo.api import Embedding

        x = inputs.samples[:, 0]
        return Embedding(values=torch.stack([x.mean(-1) + 1.0, x.std(-1), x.abs().max(-1).values], dim=-1))


class _FakeVideo(torch.nn.Module):
    def embed_frames(self, frames):
        f = frames.float() / 255
        return torch.stack([f.mean() + 1.0, f.std(), f[..., 0].mean()])


class _FakeText(torch.nn.Module):
    def embed(self, captions):
        from foleyzoo.api import Embedding

        return Embedding(
            values=torch.tensor([[float(len(c)), 1.0, float(c.count("a")) + 0.5] for c in captions])
        )


def test_ib_score_and_the_clap_score_pair_by_cleaned_names_and_average_cosines(tmp_path, monkeypatch):
    """The wiring of IB-score and LAION-CLAP-Score (the networks stood in for): which inputs each network
    gets and how clips pair, against the same cosines computed by hand."""
    from foleyzoo.io.media import write_video
    from foleyzoo.metrics import avbench_networks
    from foleyzoo.metrics.avbench import read_avbench_frames
    from foleyzoo.metrics.avbench_audio import load_channels, load_mono

    monkeypatch.setitem(
        avbench_networks._LOADERS,
        "imagebind",
        lambda path, options: {"imagebind": _FakeAudio(), "imagebind-video": _FakeVideo()},
    )
    clap_audio = _FakeAudio()
    clap_audio.sample_rate = 48000
    monkeypatch.setitem(
        avbench_networks._LOADERS,
        "laion-clap",
        lambda path, options: {"laion-clap": clap_audio, "laion-clap-text": _FakeText()},
    )
    clips = (ParityClip("zxpo56cpUBU_000007-0", 44100, 2, 1.0, dc=0.1), ParityClip("clip_b", 16000, 1, 1.0))
    write_parity_clips(tmp_path / "generated", clips, 3)
    rng = np.random.default_rng(0)
    (tmp_path / "videos").mkdir()
    for stem in ("zxpo56cpUBU_000007", "clip_b", "clip_c"):
        seconds = 1.0 if stem == "clip_c" else 4.0  # clip_c is too short for 4 s at 0.5 fps
        frames = rng.integers(0, 255, (round(seconds * 8), 48, 64, 3), dtype=np.uint8)
        write_video(tmp_path / "videos" / f"{stem}.mp4", frames, 8)
    (tmp_path / "captions.csv").write_text("name,caption\nzxpo56cpUBU_000007,a dog barks\nclip_b,rain\n")
    for name in ("imagebind.pth", "laion.pt", "vocab.json", "merges.txt"):
        (tmp_path / name).write_bytes(b"")
    out = tmp_path / "r.json"
    code = eval_main(
        ["--generated", str(tmp_path / "generated"), "--videos", str(tmp_path / "videos"),
         "--captions", str(tmp_path / "captions.csv"), "--duration", "4",
         "--embedders", f"imagebind={tmp_path / 'imagebind.pth'}", f"laion-clap={tmp_path / 'laion.pt'}",
         "--clap-tokenizer", str(tmp_path), "--metrics", "ib-score", "clap", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    results = json.loads(out.read_text())["results"]

    def cosine(a, b):
        return float(torch.cosine_similarity(a, b, dim=-1))

    video = {s: _FakeVideo().embed_frames(read_avbench_frames(tmp_path / "videos" / f"{s}.mp4", 0.5, 4.0)) for s in ("zxpo56cpUBU_000007", "clip_b")}  # fmt: skip
    assert read_avbench_frames(tmp_path / "videos" / "clip_c.mp4", 0.5, 4.0) is None
    ib = [
        cosine(video[ref], _FakeAudio().embed(_wave(load_channels(tmp_path / "generated" / f"{gen}.wav", 16000))).values[0])
        for gen, ref in (("zxpo56cpUBU_000007-0", "zxpo56cpUBU_000007"), ("clip_b", "clip_b"))
    ]  # fmt: skip
    assert results["IB-Score"] == pytest.approx(sum(ib) / 2, rel=1e-6)
    text = _FakeText().embed(["a dog barks", "rain"]).values
    clap = [
        cosine(text[i], clap_audio.embed(_wave(load_mono(tmp_path / "generated" / f"{gen}.wav", 48000, 4.0)[None])).values[0])
        for i, gen in enumerate(("zxpo56cpUBU_000007-0", "clip_b"))
    ]  # fmt: skip
    assert results["LAION-CLAP-Score"] == pytest.approx(sum(clap) / 2, rel=1e-6)


def _wave(samples):
    from foleyzoo.api import Waveform

    return Waveform(samples[None], 16000)  # the stand-ins read the samples, not the rate


class _FakeSync(torch.nn.Module):
    """Synchformer's plain-tensor steps stood in for: segment counts as the real one, offsets from means."""

    sample_rate = 16000

    def audio_features(self, wave):
        segments = (wave.shape[-1] - 10240) // 5120 + 1
        return torch.stack([wave[:, i * 5120 : i * 5120 + 10240].std(-1) for i in range(segments)], 1)[
            ..., None, None
        ]

    def video_features(self, frames):
        segments = (frames.shape[1] - 16) // 8 + 1
        return torch.stack([frames[:, i * 8 : i * 8 + 16].mean((1, 2, 3, 4)) for i in range(segments)], 1)[
            ..., None, None
        ]

    def desync(self, visual, audio):
        first = (visual[:, :14].mean() - audio[:, :14].mean()).clamp(-2, 2)
        last = (visual[:, -14:].mean() + audio[:, -14:].mean()).clamp(-2, 2)
        return torch.stack([first, last])[None]


def test_desync_reads_the_first_and_last_segments_of_full_length_clips_only(tmp_path, monkeypatch):
    """DeSync's wiring (Synchformer stood in for): 25 fps 224 px frames scaled to [-1, 1], 16 kHz audio without
    DC removal, clips shorter than the duration left out and listed."""
    from foleyzoo.io.media import write_video
    from foleyzoo.metrics import avbench_networks
    from foleyzoo.metrics.avbench import read_avbench_frames
    from foleyzoo.metrics.avbench_audio import load_mono

    monkeypatch.setitem(
        avbench_networks._LOADERS, "synchformer", lambda path, options: {"synchformer": _FakeSync()}
    )
    clips = (
        ParityClip("clip_a", 44100, 2, 6.0, dc=0.2),
        ParityClip("clip_b", 16000, 1, 5.0),
        ParityClip("clip_short", 16000, 1, 3.0),
    )
    write_parity_clips(tmp_path / "generated", clips, 4)
    rng = np.random.default_rng(1)
    (tmp_path / "videos").mkdir()
    for stem in ("clip_a", "clip_b", "clip_short"):
        write_video(
            tmp_path / "videos" / f"{stem}.mp4", rng.integers(0, 255, (150, 36, 48, 3), dtype=np.uint8), 25
        )
    (tmp_path / "synchformer_state_dict.pth").write_bytes(b"")
    out = tmp_path / "r.json"
    code = eval_main(
        ["--generated", str(tmp_path / "generated"), "--videos", str(tmp_path / "videos"), "--duration", "4.8",
         "--embedders", f"synchformer={tmp_path / 'synchformer_state_dict.pth'}", "--metrics", "desync",
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    record = json.loads(out.read_text())
    fake, offsets = _FakeSync(), []
    for stem in ("clip_a", "clip_b"):
        frames = read_avbench_frames(tmp_path / "videos" / f"{stem}.mp4", 25.0, 4.8, square=224)
        assert frames.shape == (120, 224, 224, 3)
        visual = fake.video_features(frames.permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)[None])
        audio = fake.audio_features(
            load_mono(tmp_path / "generated" / f"{stem}.wav", 16000, 4.8, remove_dc=False)[None]
        )
        assert visual.shape[1] == audio.shape[1] == 14
        offsets += [abs(float(x)) for x in fake.desync(visual, audio)[0]]
    assert record["results"]["DeSync"] == pytest.approx(sum(offsets) / len(offsets), rel=1e-6)
    assert record["av_benchmark"]["pairs"]["DeSync"] == 2
    assert "clip_short (audio shorter than the duration)" in record["av_benchmark"]["unpaired"]["DeSync"]


@pytest.mark.parametrize("name", ["panns", "vggish"])
def test_the_key_manifests_of_panns_and_vggish_are_the_networks_own(name):
    """The published layouts foleyzoo's loaders check (the other networks' manifests have tests of their own)."""
    from importlib.resources import files

    from foleyzoo.embedders.panns import Cnn14
    from foleyzoo.embedders.vggish import VGGishNetwork
    from foleyzoo.metrics.avbench_networks import PUBLISHED

    manifest = json.loads((files("foleyzoo.embedders") / "manifests" / f"{name}.json").read_text())
    module = Cnn14() if name == "panns" else VGGishNetwork()
    assert manifest["keys"] == {key: list(value.shape) for key, value in module.state_dict().items()}
    assert manifest["file"] == PUBLISHED[name].file


def test_a_manifest_where_av_benchmark_reads_a_folder_is_refused_in_one_line(folders, capsys):
    manifest = folders / "reference.csv"
    manifest.write_text("id,path\nclip_00,reference/clip_00.wav\n")
    code = eval_main(
        ["--generated", str(folders / "generated"), "--reference", str(manifest),
         "--embedders", f"passt={folders / 'absent.pt'}"]
    )  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "reference.csv: --reference must be a folder" in error
