"""Inpainting and hires fix in the generate command on tiny SD1.5 models (ordinary and 9-channel inpainting):
pixels outside the blurred mask are the original's exactly, only-masked keeps the init image's size, the
mask's size is checked, the masked-content modes differ, hires writes the larger size, and the PNG text."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gen_helpers import png_parameters
from PIL import Image
from test_generate import _job

from danlu_engine.commands.generate import Generator
from danlu_engine.generate import hires, inpaint
from danlu_engine.generate.spec import parse_generate_spec
from danlu_engine.models import load_base_model, make_tiny
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)
SIZE = 64


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("inpaint")
    make_tiny("sd15", str(root / "plain"), False, 0)
    make_tiny("sd15", str(root / "inpainting.safetensors"), True, 0, inpainting=True)
    return {"plain": load_base_model(str(root / "plain")),
            "inpainting": load_base_model(str(root / "inpainting.safetensors"), inpainting_ok=True)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (SIZE, 96, 3), dtype=np.uint8)).save(root / "init.png")
    mask = np.zeros((SIZE, 96), dtype=np.uint8)
    mask[20:36, 40:60] = 255
    Image.fromarray(mask).save(root / "mask.png")
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(root / "small-mask.png")
    return root


def _inpaint(files, **changes) -> dict:
    block = {"mask": str(files / "mask.png"), "mask_blur": 4, "masked_content": "original", "only_masked": False,
             "padding": 32} | changes
    return {"init_image": str(files / "init.png"), "strength": 0.75, "inpaint": block}


def _run(model, tmp_path, jobs: list[dict]) -> Generator:
    raw = {"version": 1, "model": {"path": model.source_path, "arch": None, "v_prediction": None, "vae_path": None},
           "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(tmp_path)}, "jobs": jobs}
    gen = Generator(parse_generate_spec(raw), torch.device("cpu"), torch.float32, 0.0, model)
    gen.run()
    return gen


def _reach_mask(files, blur: int) -> np.ndarray:
    """Where the blurred mask is nonzero: the only pixels allowed to change."""
    return np.asarray(inpaint.blur_mask(Image.open(files / "mask.png"), blur)) > 0


def test_whole_picture_changes_only_inside_the_blurred_mask(models, files, tmp_path):
    jobs = [_job(file_prefix=f"m{i}", width=96, **_inpaint(files, masked_content=content))
            for i, content in enumerate(["original", "fill", "latent-noise", "latent-nothing"])]
    _run(models["plain"], tmp_path, jobs)
    before = np.asarray(Image.open(files / "init.png"))
    inside = _reach_mask(files, 4)
    results = []
    for i in range(4):
        after = np.asarray(Image.open(tmp_path / f"m{i}-3.png"))
        assert after.shape == before.shape
        assert np.array_equal(after[~inside], before[~inside])  # pixel-identical outside
        assert not np.array_equal(after[inside], before[inside])
        results.append(after)
    assert len({r.tobytes() for r in results}) == 4  # each masked-content mode starts differently
    text = png_parameters(tmp_path / "m2-3.png")
    assert text.endswith("Denoising strength: 0.75, Clip skip: 1, Mask blur: 4, Masked content: latent noise")


def test_only_masked_keeps_the_init_size_and_writes_the_area(models, files, tmp_path):
    _run(models["plain"], tmp_path, [_job(file_prefix="o", **_inpaint(files, only_masked=True, padding=8))])
    after = np.asarray(Image.open(tmp_path / "o-3.png"))
    before = np.asarray(Image.open(files / "init.png"))
    inside = _reach_mask(files, 4)
    assert after.shape == before.shape  # 96x64 although the job samples 64x64
    assert np.array_equal(after[~inside], before[~inside]) and not np.array_equal(after[inside], before[inside])
    text = png_parameters(tmp_path / "o-3.png")
    assert "Size: 64x64" in text and text.endswith("Mask blur: 4, Inpaint area: Only masked, Masked area padding: 8")


def test_crop_box_pads_then_takes_the_target_aspect():
    mask = Image.new("L", (200, 100))
    mask.paste(255, (90, 40, 110, 50))  # 20x10 box
    assert inpaint.crop_box(mask, 5, 64, 64) == (85, 30, 115, 60)  # 30x20 padded, grown to 30x30
    assert inpaint.crop_box(mask, 0, 128, 32) == (80, 40, 120, 50)  # 20x10 -> 40x10 (4:1)
    assert inpaint.crop_box(mask, 60, 64, 64) == (30, 0, 170, 100)  # 140 tall is more than the image: clamped


def test_inpainting_checkpoint_inpaints_and_refuses_txt2img(models, files, tmp_path):
    gen = _run(models["inpainting"], tmp_path, [_job(file_prefix="n", width=96, **_inpaint(files, mask_blur=0))])
    after, before = np.asarray(Image.open(tmp_path / "n-3.png")), np.asarray(Image.open(files / "init.png"))
    inside = np.asarray(Image.open(files / "mask.png")) > 0
    assert np.array_equal(after[~inside], before[~inside]) and not np.array_equal(after[inside], before[inside])
    assert gen.images[0]["parameters"].endswith("Mask blur: 0")
    with pytest.raises(EngineError, match="inpainting checkpoint .* only inpaints"):
        _run(models["inpainting"], tmp_path, [_job(file_prefix="t")])


def test_a_mask_of_another_size_names_both_sizes(models, files, tmp_path):
    job = _job(file_prefix="s", width=96, **_inpaint(files))
    job["inpaint"]["mask"] = str(files / "small-mask.png")
    with pytest.raises(EngineError, match="is 32x32 but the init image .* is 96x64; draw the mask on the init"):
        _run(models["plain"], tmp_path, [job])


@pytest.mark.parametrize("upscaler", ["Latent", "Lanczos"])
def test_hires_fix_writes_the_larger_size(models, tmp_path, upscaler):
    block = {"scale": 1.5, "width": 96, "height": 96, "steps": 2, "denoising": 0.5, "upscaler": upscaler.lower()}
    gen = _run(models["plain"], tmp_path, [_job(file_prefix="h", hires=block)])
    assert Image.open(tmp_path / "h-3.png").size == (96, 96)
    assert gen.images[0]["parameters"].endswith(
        f"Size: 64x64, Model: plain, Denoising strength: 0.5, Clip skip: 1, Hires upscale: 1.5, Hires steps: 2, "
        f"Hires upscaler: {upscaler}")


def test_second_pass_runs_the_hires_steps_exactly():
    for steps, denoising in [(10, 0.7), (2, 0.5), (7, 1.0), (20, 0.3), (1, 0.05)]:
        total, strength = hires.second_pass_schedule(steps, denoising)
        assert min(int(total * strength), total) == steps  # diffusers' img2img step count


def test_spec_rules_for_the_blocks(files):
    base = {"version": 1, "model": {"path": "/m", "arch": None, "v_prediction": None, "vae_path": None},
            "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": "/o"}}
    block = {"scale": 2, "width": 128, "height": 128, "steps": 0, "denoising": 0.7, "upscaler": "Latent"}
    with pytest.raises(EngineError, match="needs init_image"):
        parse_generate_spec(base | {"jobs": [_job(inpaint=_inpaint(files)["inpaint"])]})
    with pytest.raises(EngineError, match="is for txt2img"):
        parse_generate_spec(base | {"jobs": [_job(init_image="/x.png", hires=block)]})
    with pytest.raises(EngineError, match="unknown upscaler 'ESRGAN_4x'"):
        parse_generate_spec(base | {"jobs": [_job(hires=block | {"upscaler": "ESRGAN_4x"})]})
