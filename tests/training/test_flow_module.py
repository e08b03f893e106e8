"""FoleyFlowMatching: frozen parts, condition dropout and ablations, guidance, EMA, media logging, learning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures
from foleyzoo.codecs.melvae import MelVAE
from foleyzoo.data.clips import ClipFormat, collate_clips
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN
from foleyzoo.encoders.text.byte import ByteTextEncoder
from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN
from foleyzoo.errors import ConfigError
from foleyzoo.mmdit import MMDiT
from foleyzoo.samplers.guidance import absent, guided_velocity
from foleyzoo.synthfoley.datamodule import SynthFoleyClips
from foleyzoo.training.conditioning import drop_conditions, encode_conditions, latent_mask
from foleyzoo.training.flow_matching import FoleyFlowMatching
from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder

FORMAT = ClipFormat(
    visual_fps=8.0, visual_size=(32, 32), sync_fps=24.0, sync_size=(32, 32), sample_rate=16000
)


def tiny_model(**overrides) -> FoleyFlowMatching:
    torch.manual_seed(0)
    codec = MelVAE(n_fft=512, hop_length=128, n_mels=32, latent_dim=8, downsample=2, channels=16, blocks=1)
    options = dict(
        denoiser=MMDiT(
            latent_dim=8,
            latent_rate=62.5,
            visual_dim=16,
            visual_rate=8.0,
            text_dim=16,
            sync_dim=16,
            hidden=32,
            heads=4,
            joint_blocks=1,
            single_blocks=1,
            mlp_ratio=2.0,
            frequency_dim=32,
            patch=2,
        ),
        codec=codec,
        text_encoder=ByteTextEncoder(embed_dim=16, max_length=16),
        visual_encoder=TinyVisualCNN(fps=8.0, embed_dim=16, width=8),
        sync_encoder=TinySync3DCNN(fps=24.0, embed_dim=16, width=8),
        vocoder=GriffinLimVocoder(n_fft=512, hop_length=128, n_mels=32, iterations=4),
        ema_decay=0.9,
        val_audio_clips=1,
    )
    options.update(overrides)
    return FoleyFlowMatching(**options)


def batch(clips: int = 2, duration: float = 1.0, seed: int = 0) -> dict:
    dataset = SynthFoleyClips(clips, seed, FORMAT, duration)
    return collate_clips([dataset[i] for i in range(clips)], FORMAT)


def test_only_the_denoiser_trains_and_frozen_parts_stay_in_eval_mode() -> None:
    model = tiny_model()
    optimizer = model.configure_optimizers()
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in model.denoiser.parameters()}
    model.train()
    for frozen in (model.codec, model.text_encoder, model.visual_encoder, model.sync_encoder):
        assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    assert model.denoiser.training


def test_switched_off_conditions_never_reach_the_denoiser() -> None:
    latents, conditions = tiny_model(use_sync=False, use_text=False).prepare(batch())
    assert conditions.sync is None and conditions.text is None and conditions.visual is not None
    assert latents.values.shape == (2, 63, 8)  # 1 s: 16000 // 128 + 1 = 126 mel frames, halved


def test_rates_that_disagree_with_the_codec_are_refused() -> None:
    wrong = MMDiT(latent_dim=8, latent_rate=43.0, visual_dim=16, text_dim=16, sync_dim=16, hidden=32, heads=4)
    with pytest.raises(ConfigError, match=r"latent_rate is 43\.0 but the codec runs at 62\.5"):
        tiny_model(denoiser=wrong)


def test_condition_dropout_marks_rows_absent_independently() -> None:
    rows = 4000
    text = TextFeatures(torch.randn(rows, 3, 2), torch.ones(rows, 3, dtype=torch.bool), torch.randn(rows, 2))
    visual = FrameFeatures(torch.randn(rows, 2, 2), 8.0)
    sync = FrameFeatures(torch.randn(rows, 2, 2), 24.0)
    dropped = drop_conditions(Conditions(text, visual, sync), 0.1, torch.Generator().manual_seed(0))
    gone = {name: ~getattr(dropped, name).mask.any(dim=1) for name in ("text", "visual", "sync")}
    for name, rows_dropped in gone.items():
        assert 0.08 < rows_dropped.float().mean() < 0.12, name
    both = (gone["text"] & gone["visual"]).float().mean()
    assert 0.005 < both < 0.02  # ≈ 0.1 × 0.1: the conditions drop independently
    assert drop_conditions(Conditions(text, visual, sync), 0.0).visual is visual


def test_guidance_combines_the_branches_as_documented() -> None:
    """A fake network that reports which conditions it saw: 1 for text, 10 for video, 100 for both."""

    def net(x: torch.Tensor, t: torch.Tensor, given: Conditions) -> torch.Tensor:
        return x * 0 + (given.text is not None) * 1.0 + (given.visual is not None) * 10.0

    given = Conditions(
        text=TextFeatures(torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool), torch.zeros(1, 1)),
        visual=FrameFeatures(torch.zeros(1, 1, 1), 8.0),
    )
    x, t = torch.zeros(1, 1), torch.zeros(1)
    assert guided_velocity(net, given, 1.0)(x, t).item() == 11.0  # plain conditional
    assert guided_velocity(net, given, 3.0, batched=False)(x, t).item() == 0 + 3.0 * 11.0
    # v(∅) + 3·(v(video) − v(∅)) + 2·(v(all) − v(video)) = 0 + 30 + 2
    assert guided_velocity(net, given, 3.0, text_scale=2.0, batched=False)(x, t).item() == 32.0
    assert absent(given).text is None and absent(given).visual is None


def _text(value: float, rows: int = 1) -> TextFeatures:
    return TextFeatures(
        torch.full((rows, 2, 1), value), torch.ones(rows, 2, dtype=torch.bool), torch.full((rows, 1), value)
    )


def test_a_negative_prompt_takes_the_place_of_the_missing_text() -> None:
    """The fake network reports the text it saw (its token value) plus 10 for video."""

    def net(x: torch.Tensor, t: torch.Tensor, given: Conditions) -> torch.Tensor:
        text = given.text.tokens.mean().item() if given.text is not None else 0.0
        return x * 0 + text + (given.visual is not None) * 10.0

    given = Conditions(text=_text(1.0), visual=FrameFeatures(torch.zeros(1, 1, 1), 8.0))
    x, t = torch.zeros(1, 1), torch.zeros(1)
    # v(negative) + 3·(v(prompt, video) − v(negative)) = 5 + 3·(11 − 5)
    assert guided_velocity(net, given, 3.0, negative_text=_text(5.0), batched=False)(x, t).item() == 23.0
    # v(negative) + 3·(v(video, negative) − v(negative)) + 2·(v(all) − v(video, negative)) = 5 + 30 + 2·(−4)
    velocity = guided_velocity(net, given, 3.0, text_scale=2.0, negative_text=_text(5.0), batched=False)
    assert velocity(x, t).item() == 27.0


@pytest.mark.parametrize("text_scale", [None, 2.0])
@pytest.mark.parametrize("negative", [False, True])
def test_batched_guidance_equals_one_pass_per_branch(text_scale: float | None, negative: bool) -> None:
    model = tiny_model().eval()
    with torch.no_grad():  # away from the zero initialisation of adaLN-zero, so every branch matters
        for parameter in model.denoiser.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    clips = batch(clips=2)
    conditions = encode_conditions(clips, model.text_encoder, model.visual_encoder, model.sync_encoder)
    negative_text = model.text_encoder.encode(["a glass clink", "noise"]) if negative else None
    x, t = torch.randn(2, 62, 8), torch.tensor([0.3, 0.7])

    def net(x: torch.Tensor, t: torch.Tensor, given: Conditions) -> torch.Tensor:
        return model.denoiser(x, t, given)

    with torch.no_grad():
        options = {"text_scale": text_scale, "negative_text": negative_text}
        together = guided_velocity(net, conditions, 4.0, batched=True, **options)(x, t)
        apart = guided_velocity(net, conditions, 4.0, batched=False, **options)(x, t)
        plain = guided_velocity(net, conditions, 4.0, batched=False)(x, t)
    torch.testing.assert_close(together, apart, atol=1e-4, rtol=1e-4)
    assert together.abs().mean() > 0.1
    assert ((together - plain).abs().max() > 1e-2) == (negative or text_scale is not None)


def test_latent_mask_follows_the_audio_padding() -> None:
    audio_mask = torch.zeros(2, 100, dtype=torch.bool)
    audio_mask[0], audio_mask[1, :50] = True, True
    mask = latent_mask(audio_mask, 10)
    assert mask.sum(dim=1).tolist() == [10, 5]
    assert latent_mask(torch.ones(2, 100, dtype=torch.bool), 10) is None


def test_cached_features_give_the_same_inputs_as_raw_media() -> None:
    model = tiny_model().eval()
    raw = batch()
    latents, conditions = model.prepare(raw)
    cached = {
        "captions": raw["captions"],
        "duration": raw["duration"],
        "latents": latents,
        "visual": conditions.visual,
        "sync": conditions.sync,
        "text": conditions.text,
    }
    latents_cached, conditions_cached = model.prepare(cached)
    assert torch.equal(latents_cached.values, latents.values)
    assert torch.equal(conditions_cached.sync.values, conditions.sync.values)


def test_a_few_steps_lower_the_loss_update_the_ema_and_log_audio(tmp_path: Path) -> None:
    """Overfitting four clips: the flow loss falls by half; EMA moves; validation writes audio and images."""
    torch.manual_seed(0)
    model = tiny_model(condition_dropout=0.0)
    model.optimizer_factory = lambda params: torch.optim.AdamW(params, lr=3e-3)
    fixed = batch(clips=4)

    def loss_now() -> float:
        latents, conditions = model.prepare(fixed)
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(latents.values.shape, generator=generator)
        t = torch.full((4,), 0.5)
        x = t[:, None, None] * latents.values + (1 - t[:, None, None]) * noise
        with torch.no_grad():
            predicted = model.denoiser(x, t, conditions)
        return (predicted - (latents.values - noise)).pow(2).mean().item()

    before = loss_now()
    ema_before = [p.clone() for p in model.ema.module.parameters()]
    loader = DataLoader([fixed] * 60, batch_size=None)
    trainer = Trainer(
        max_epochs=1,
        logger=TensorBoardLogger(tmp_path, name="tb"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
    )
    trainer.fit(model, loader, DataLoader([fixed], batch_size=None))
    after = loss_now()
    assert after < 0.5 * before, (before, after)
    moved = [not torch.equal(a, b) for a, b in zip(ema_before, model.ema.module.parameters(), strict=True)]
    assert any(moved)
    events = list((tmp_path / "tb").glob("version_0/events.out.tfevents.*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0]), size_guidance={"audio": 0, "images": 0})
    accumulator.Reload()
    assert accumulator.Tags()["audio"] == ["val/audio_0"]
    assert any(tag.startswith("val/mel_0") for tag in accumulator.Tags()["images"])


def test_generation_keeps_the_requested_length_and_seed() -> None:
    model = tiny_model().eval()
    clips = batch()
    mel, audio = model.generate_audio(clips, seed=3)
    again = model.generate_audio(clips, seed=3)[1]
    assert torch.equal(audio.samples, again.samples)
    assert mel.values.shape[-1] == 2 * 63 and audio.sample_rate == 16000
    other = model.generate_audio(clips, seed=4)[1]
    assert not torch.equal(audio.samples, other.samples)


def test_memoised_features_skip_the_encoders_and_equal_fresh_ones() -> None:
    model = tiny_model(memoize_features=True).train()
    calls = []
    original = model.sync_encoder.encode

    def counting_encode(video):
        calls.append(1)
        return original(video)

    model.sync_encoder.encode = counting_encode
    first = batch(clips=3)
    latents, conditions = model.prepare(first)
    assert len(calls) == 1 and len(model.memo) == 3
    again_latents, again_conditions = model.prepare(first)
    assert len(calls) == 1  # served from memory
    assert torch.equal(again_latents.values, latents.values)
    assert torch.equal(again_conditions.sync.values, conditions.sync.values)
    assert torch.equal(again_conditions.text.tokens, conditions.text.tokens)
    model.eval()
    model.prepare(first)  # validation clips share ids with training clips: kept apart
    assert len(calls) == 2 and len(model.memo) == 6


def test_ema_warms_up_then_keeps_its_decay() -> None:
    from foleyzoo.training.flow_matching import ema_with_warmup

    average = ema_with_warmup(0.999)
    old, new = torch.zeros(1), torch.ones(1)
    # first update: rate (1 + 0) / 10 = 0.1, so the average is mostly the new weights
    assert average(old, new, 0).item() == pytest.approx(0.9)
    assert average(old, new, 10_000).item() == pytest.approx(0.001)


def test_the_foreach_ema_averages_as_the_per_tensor_one() -> None:
    from foleyzoo.training.flow_matching import ema_multi_with_warmup, ema_with_warmup

    torch.manual_seed(0)
    averaged = [torch.randn(3, 4), torch.randn(5)]
    current = [torch.randn(3, 4), torch.randn(5)]
    counter, counter_now = torch.tensor([2]), torch.tensor([7])
    for updates in (0, 3, 10_000):
        expected = [ema_with_warmup(0.995)(a, c, updates) for a, c in zip(averaged, current, strict=True)]
        kept = [a.clone() for a in averaged] + [counter.clone()]
        ema_multi_with_warmup(0.995)(kept, [*current, counter_now], torch.tensor(updates))
        for got, want in zip(kept, expected, strict=False):
            torch.testing.assert_close(got, want)
        assert torch.equal(kept[-1], counter_now)  # an integer buffer is copied, not averaged


def test_the_ema_copy_follows_training_with_its_warm_up() -> None:
    model = tiny_model()
    model.on_train_batch_end(None, None, 0)  # the first update copies the weights
    first = [p.detach().clone() for p in model.denoiser.parameters()]
    with torch.no_grad():
        for parameter in model.denoiser.parameters():
            parameter.add_(1.0)
    model.on_train_batch_end(None, None, 1)  # after one update the rate is (1 + 1) / (10 + 1)
    for before, now in zip(first, model.ema.module.parameters(), strict=True):
        torch.testing.assert_close(now, before + 9.0 / 11.0)


def test_a_clip_without_a_caption_trains_with_the_null_text() -> None:
    model = tiny_model()
    clips = batch(clips=2)
    clips["captions"] = ["a wooden knock", ""]
    clips["has_caption"] = torch.tensor([True, False])
    text = encode_conditions(clips, model.text_encoder, None, None, enabled=("text",)).text
    assert text.mask[0].any() and not text.mask[1].any()  # row 2 is absent, as under condition dropout


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_the_onset_weight_sets_the_training_loss_and_must_not_be_negative() -> None:
    """``onset_weight`` reweighs the training loss by ``onset_weights`` of the clip's own latents."""
    from foleyzoo.training.objective import flow_matching_loss, interpolate, onset_weights

    fixed = batch(clips=2)
    plain, weighted = tiny_model(condition_dropout=0.0), tiny_model(condition_dropout=0.0, onset_weight=2.0)
    losses = []
    for model in (plain, weighted):
        torch.manual_seed(3)
        losses.append(float(model.training_step(fixed, 0).detach()))
    latents, conditions = plain.prepare(fixed)
    torch.manual_seed(3)
    noise = torch.randn_like(latents.values)
    t = torch.sigmoid(plain.timestep_mean + plain.timestep_std * torch.randn(2))
    with torch.no_grad():
        predicted = plain.denoiser(interpolate(noise, latents.values, t), t, conditions, latents.mask)
    expected = [
        flow_matching_loss(predicted, noise, latents.values, latents.mask),
        flow_matching_loss(
            predicted, noise, latents.values, latents.mask, onset_weights(latents.values, 2.0, latents.mask)
        ),
    ]
    assert losses == pytest.approx([float(e) for e in expected], rel=1e-5)
    assert abs(losses[0] - losses[1]) > 1e-3 * losses[0]
    with pytest.raises(ValueError, match="onset_weight"):
        tiny_model(onset_weight=-1.0)
