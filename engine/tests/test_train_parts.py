"""The pieces of the training loop, one by one: text chunks, clip skip, lr schedules, optimizers,
device choice, the latents disk cache, and the NaN guard."""
from __future__ import annotations

import math
import os
import time

import pytest
import torch
from test_train_support import OptimizerKind, SchedulerKind, make_spec, write_images
from transformers import CLIPTextModel

from danlu_engine.models.tiny import build_tiny_modules
from danlu_engine.protocol import EngineError
from danlu_engine.spec import OptimizerSpec, SchedulerSpec, parse_train_spec
from danlu_engine.tokenizer import tokenizers_for
from danlu_engine.train import optim, setup
from danlu_engine.train.latents import LatentSource
from danlu_engine.train.text import chunked_ids, encode_sd

torch.set_num_threads(1)
BOS, EOS = 49406, 49407


def test_long_captions_are_cut_into_75_token_chunks():
    tokenizer = tokenizers_for("sd15")[0]
    caption = " ".join(["cat"] * 100)  # 100 tokens
    ids = chunked_ids(tokenizer, caption, 150)
    assert ids.shape == (2, 77)
    assert ids[:, 0].tolist() == [BOS, BOS] and ids[:, -1].tolist() == [EOS, EOS]
    assert ids[0, 1:76].tolist() == [2368] * 75  # "cat"
    assert ids[1, 1:26].tolist() == [2368] * 25 and ids[1, 26].item() == EOS
    assert chunked_ids(tokenizer, caption, 75).shape == (1, 77)


def test_openclip_padding_chunks_still_end_with_eos():
    tokenizer = tokenizers_for("sdxl")[1]  # pads with "!" (id 0)
    ids = chunked_ids(tokenizer, "a photo of a cat", 150)
    assert ids[0, :7].tolist() == [BOS, 320, 1125, 539, 320, 2368, EOS]
    assert ids[1, :3].tolist() == [BOS, EOS, 0]  # an empty chunk is <BOS> <EOS> <PAD>...


def test_clip_skip_and_chunk_joining():
    encoder = build_tiny_modules("sd15", 0)["text_encoder"]
    assert isinstance(encoder, CLIPTextModel)
    ids = chunked_ids(tokenizers_for("sd15")[0], "a photo of a cat", 150).unsqueeze(0)
    with torch.no_grad():
        joined = encode_sd(encoder, ids, clip_skip=1)
        assert joined.shape == (1, 152, encoder.config.hidden_size)
        first = encoder(ids[0, :1]).last_hidden_state
        torch.testing.assert_close(joined[:, :76], first[:, :76])
        skipped = encode_sd(encoder, ids[:, :1], clip_skip=2)
        out = encoder(ids[0, :1], output_hidden_states=True)
        torch.testing.assert_close(skipped, encoder.final_layer_norm(out.hidden_states[-2]))


def schedule(kind: SchedulerKind, warmup: int = 0, cycles: int = 1, power: float = 1.0) -> list[float]:
    factor = optim.lr_factor(SchedulerSpec(kind, warmup, cycles, power), total_steps=10)
    return [round(factor(s), 6) for s in range(10)]


def test_lr_schedules_have_the_diffusers_shapes():
    assert schedule("constant") == [1.0] * 10
    assert schedule("constant_with_warmup", warmup=2)[:3] == [0.0, 0.5, 1.0]
    assert schedule("linear") == [round(1 - s / 10, 6) for s in range(10)]
    assert schedule("cosine")[0] == 1.0 and schedule("cosine")[5] == 0.5
    restarts = schedule("cosine_with_restarts", cycles=2)
    assert restarts[0] == 1.0 and restarts[5] == 1.0 and restarts[4] < 0.1  # back to the top halfway
    assert schedule("polynomial", power=2.0)[5] == 0.25
    assert schedule("linear", warmup=5)[5:] == [1.0, 0.8, 0.6, 0.4, 0.2]


def optimizer_spec(kind: OptimizerKind) -> OptimizerSpec:
    return OptimizerSpec(kind, 1e-3, 1e-3, 0.0, (0.9, 0.999), 1e-8, 0.0)


def test_adamw8bit_steps_on_this_device():
    p = torch.nn.Parameter(torch.ones(8192))
    opt = optim.build_optimizer(optimizer_spec("AdamW8bit"), [{"params": [p], "lr": 1e-2, "name": "unet"}],
                                torch.device("cpu"))
    p.grad = torch.ones_like(p)
    opt.step()
    assert type(opt).__name__ == "AdamW8bit" and p.detach().max() < 1.0


def test_adamw8bit_that_cannot_run_says_what_to_use(monkeypatch):
    import bitsandbytes

    def broken(*_args, **_kwargs):
        raise RuntimeError("no kernel for this device")

    monkeypatch.setattr(bitsandbytes.optim, "AdamW8bit", broken)
    with pytest.raises(EngineError) as caught:
        optim.build_optimizer(optimizer_spec("AdamW8bit"), [{"params": [torch.nn.Parameter(torch.ones(2))]}],
                              torch.device("cpu"))
    assert caught.value.code == "OPTIMIZER_UNAVAILABLE" and "AdamW" in (caught.value.detail or "")


def test_cuda_asked_but_absent(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EngineError) as caught:
        setup.resolve_device("cuda")
    assert caught.value.code == "DEVICE_UNAVAILABLE"
    assert setup.resolve_device("auto").type == "cpu"


def test_latents_disk_cache_is_reused_until_the_image_or_plan_changes(tmp_path):
    paths = write_images(str(tmp_path / "img"), 3)
    spec = parse_train_spec(make_spec(str(tmp_path / "m"), str(tmp_path / "out"), paths))
    vae = build_tiny_modules("sd15", 0)["vae"].eval()
    disk = str(tmp_path / "cache")
    cpu = torch.device("cpu")
    first = LatentSource(spec.images, vae, torch.float32, cpu, "vae-a")
    first.cache([0, 1, 2], disk, lambda done, total: None)
    assert len(os.listdir(disk)) == 3 and first.read_from_disk == set()
    again = LatentSource(spec.images, vae, torch.float32, cpu, "vae-a")
    again.cache([0, 1, 2], disk, lambda done, total: None)
    assert again.read_from_disk == {0, 1, 2}
    torch.testing.assert_close(again.cached[(1, False)], first.cached[(1, False)], rtol=0, atol=0)
    time.sleep(0.01)
    os.utime(paths[0])  # the file changed: its entry no longer matches
    other_vae = LatentSource(spec.images, vae, torch.float32, cpu, "vae-b")  # another VAE: nothing matches
    other_vae.cache([0, 1, 2], disk, lambda done, total: None)
    assert other_vae.read_from_disk == set()
    touched = LatentSource(spec.images, vae, torch.float32, cpu, "vae-a")
    touched.cache([0, 1, 2], disk, lambda done, total: None)
    assert touched.read_from_disk == {1, 2}


def test_nan_loss_stops_with_advice(tmp_path):
    from danlu_engine.train import loop
    from danlu_engine.train.outputs import Saver

    spec = parse_train_spec(make_spec(str(tmp_path / "m"), str(tmp_path / "out"), ["a.png", "b.png"], epochs=1))
    weight = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.AdamW([weight], lr=1e-3)
    run = loop.Run(spec, torch.device("cpu"), torch.nn.Module(), lambda batch, index: weight * math.nan, opt,
                   torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), None, Saver(spec, {}), None, "fp")
    with pytest.raises(EngineError) as caught:
        loop._step(run, loop.optimizer_steps(spec)[0], 1)
    assert caught.value.code == "NAN_LOSS" and "learning rate" in (caught.value.detail or "")


@pytest.mark.parametrize("v_prediction", [False, True])
def test_noise_and_target_match_diffusers(v_prediction):
    from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

    from danlu_engine.models.build import training_scheduler
    from danlu_engine.train.step import NoiseSchedule

    scheduler = training_scheduler(v_prediction)
    # diffusers' package exports type-check as its placeholder classes (the torch-less branch): the real one
    assert isinstance(scheduler, DDPMScheduler)
    schedule = NoiseSchedule.from_scheduler(scheduler, torch.device("cpu"), v_prediction)
    latents, noise, t = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8), torch.tensor([0, 500, 999])
    a, s = schedule.sqrt_alpha[t].view(-1, 1, 1, 1), schedule.sqrt_one_minus_alpha[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(a * latents + s * noise, scheduler.add_noise(latents, noise, t))
    if v_prediction:
        torch.testing.assert_close(a * noise - s * latents, scheduler.get_velocity(latents, noise, t))


def test_broken_or_changed_images_are_bad_image(tmp_path):
    from danlu_engine.spec import ImageSpec
    from danlu_engine.train.data import load_pixels

    photos = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "fixtures", "photos")
    broken = ImageSpec(os.path.join(photos, "truncated.jpg"), 64, 64, (64, 64), (64, 64), (0, 0), False, False, 1.0)
    with pytest.raises(EngineError) as caught:
        load_pixels(broken)
    assert caught.value.code == "BAD_IMAGE" and "truncated.jpg" in caught.value.message
    (path,) = write_images(str(tmp_path), 1, size=64)
    resized = ImageSpec(path, 32, 32, (32, 32), (32, 32), (0, 0), False, False, 1.0)
    with pytest.raises(EngineError) as caught:
        load_pixels(resized)
    assert caught.value.code == "BAD_IMAGE" and "64x64" in caught.value.message


def test_pixels_are_resized_then_cropped_as_planned(tmp_path):
    from PIL import Image

    from danlu_engine.spec import ImageSpec
    from danlu_engine.train.data import load_pixels

    array = torch.zeros(40, 80, 3, dtype=torch.uint8)
    array[:, 40:] = 255  # right half white
    path = str(tmp_path / "wide.png")
    Image.fromarray(array.numpy()).save(path)
    pixels = load_pixels(ImageSpec(path, 80, 40, (32, 32), (64, 32), (32, 0), False, False, 1.0))
    assert pixels.shape == (3, 32, 32) and pixels.min() >= -1 and pixels.max() <= 1
    assert pixels[:, :, 4:].mean() > 0.99  # the crop at left 32 of the 64-wide resize is the white half
