"""ControlNet in the generate command on tiny models: two units (a single file with A1111 keys and a diffusers
folder) load and change the image, weight 0 gives the image without ControlNet pixel for pixel, img2img and
hires fix take units, an SDXL ControlNet on an SD1.5 model is refused naming both, the PNG text has the units
in sd-webui-controlnet's wording, and single files in every layout load to the same weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from test_generate import _job
from test_generate_inpaint import _run

from danlu_engine.generate.controlnet import crop_and_resize, unit_text
from danlu_engine.models import load_base_model, make_tiny
from danlu_engine.models.controlnet import load_controlnet, single_file_config, write_tiny_controlnet
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("controlnet")
    make_tiny("sd15", str(root / "model"), False, 0)
    write_tiny_controlnet("sd15", str(root / "control_sd15_openpose.safetensors"), True, 1)
    write_tiny_controlnet("sd15", str(root / "control_sd15_depth"), False, 2)
    write_tiny_controlnet("sdxl", str(root / "controlnet-sdxl-canny.safetensors"), True, 3)
    rng = np.random.default_rng(0)
    for name in ("pose", "depth"):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / f"{name}.png")
    return root


@pytest.fixture(scope="module")
def model(files):
    return load_base_model(str(files / "model"))


def _unit(files, model: str, image: str, weight: float = 1.0, **changes) -> dict:
    return {"model": str(files / model), "name": model.removesuffix(".safetensors"), "image": str(files / image),
            "module": "none", "weight": weight, "start": 0.0, "end": 1.0, "processor_res": 512,
            "threshold_a": 0.5, "threshold_b": 0.5} | changes


def _pixels(gen, job: int = 0) -> np.ndarray:
    return np.asarray(Image.open([i["path"] for i in gen.images if i["job"] == job][0]), dtype=np.int16)


def test_two_units_change_the_image_and_weight_zero_is_none(model, files, tmp_path):
    units = [_unit(files, "control_sd15_openpose.safetensors", "pose.png"), _unit(files, "control_sd15_depth", "depth.png")]
    zero = [u | {"weight": 0.0} for u in units]
    gen = _run(model, tmp_path, [_job(file_prefix="none"), _job(file_prefix="two", controlnets=units),
                                 _job(file_prefix="one", controlnets=units[:1]), _job(file_prefix="zero", controlnets=zero)])
    none, two, one, zeroed = (_pixels(gen, j) for j in range(4))
    assert np.abs(two - none).mean() > 1 and np.abs(two - one).mean() > 1
    assert np.array_equal(zeroed, none)  # weight 0: pixel-identical to no ControlNet
    assert len(gen.controlnets.loaded) == 2  # one load per model, reused across jobs
    text = gen.images[1]["parameters"]
    short = gen.controlnets.hashes[str(files / "control_sd15_openpose.safetensors")]
    assert ('ControlNet 0: "Module: none, Model: control_sd15_openpose [' + short + '], Weight: 1.0, Resize Mode: '
            'Crop and Resize, Processor Res: 512, Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0.0, '
            'Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced"') in text
    assert 'ControlNet 1: "Module: none, Model: control_sd15_depth [' in text
    assert "ControlNet" not in gen.images[0]["parameters"]


def test_img2img_and_hires_take_units_and_guidance_range_matters(model, files, tmp_path):
    unit = _unit(files, "control_sd15_openpose.safetensors", "pose.png")
    hires = {"scale": 1.5, "width": 96, "height": 96, "steps": 1, "denoising": 0.6, "upscaler": "Latent"}
    gen = _run(model, tmp_path, [
        _job(file_prefix="i", init_image=str(files / "depth.png"), controlnets=[unit]),
        _job(file_prefix="i0", init_image=str(files / "depth.png")),
        _job(file_prefix="h", hires=hires, controlnets=[unit]),
        _job(file_prefix="late", controlnets=[unit | {"start": 0.5}]),
        _job(file_prefix="full", controlnets=[unit])])
    assert np.abs(_pixels(gen, 0) - _pixels(gen, 1)).mean() > 1
    assert Image.open(gen.images[2]["path"]).size == (96, 96)
    assert np.abs(_pixels(gen, 3) - _pixels(gen, 4)).mean() > 0.5


def test_sdxl_controlnet_on_sd15_is_refused(model, files, tmp_path):
    unit = _unit(files, "controlnet-sdxl-canny.safetensors", "pose.png")
    with pytest.raises(EngineError, match="ControlNet controlnet-sdxl-canny is for SDXL; the model is SD1.5"):
        _run(model, tmp_path, [_job(controlnets=[unit])])


def test_bad_units_are_spec_errors(model, files, tmp_path):
    for change in ({"weight": -1.0}, {"start": 0.8, "end": 0.2}):
        with pytest.raises(EngineError, match=r"jobs\[0\]\.controlnets\[0\]"):
            _run(model, tmp_path, [_job(controlnets=[_unit(files, "control_sd15_depth", "pose.png", **change)])])


def test_single_file_layouts_load_the_same_weights(files, tmp_path):
    arch, folder = load_controlnet(str(files / "control_sd15_depth"))
    state = folder.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "diffusers-keys.safetensors"))
    ldm_arch, ldm = load_controlnet(str(files / "control_sd15_openpose.safetensors"))
    # A1111 files without the control_model. prefix (the fp16 re-saves) load too
    from safetensors.torch import load_file

    prefixed = load_file(str(files / "control_sd15_openpose.safetensors"))
    save_file({k.removeprefix("control_model."): v for k, v in prefixed.items()}, str(tmp_path / "bare.safetensors"))
    _, bare = load_controlnet(str(tmp_path / "bare.safetensors"))
    _, keyed = load_controlnet(str(tmp_path / "diffusers-keys.safetensors"))
    assert arch == ldm_arch == "sd15"
    assert all(torch.equal(keyed.state_dict()[k], v) for k, v in state.items())
    assert all(torch.equal(bare.state_dict()[k], v) for k, v in ldm.state_dict().items())
    torch.save(prefixed, str(tmp_path / "control_v11p_sd15_openpose.pth"))  # A1111's .pth: a pickled state dict
    _, pickled = load_controlnet(str(tmp_path / "control_v11p_sd15_openpose.pth"))
    assert all(torch.equal(pickled.state_dict()[k], v) for k, v in ldm.state_dict().items())
    shapes = {k: tuple(v.shape) for k, v in prefixed.items()}
    assert single_file_config("x", shapes)[1]["conditioning_embedding_out_channels"] == [8, 8, 16, 16]


def test_not_a_controlnet_is_named(files):
    with pytest.raises(EngineError, match="is not a ControlNet"):
        load_controlnet(str(files / "model" / "unet" / "diffusion_pytorch_model.safetensors"))


def test_crop_and_resize_keeps_the_centre():
    image = Image.new("RGB", (200, 100), "black")
    image.paste((255, 255, 255), (50, 0, 150, 100))
    out = crop_and_resize(image, 64, 64)
    assert out.size == (64, 64) and np.asarray(out).min() > 200  # the white centre square fills it


def test_unit_text_refuses_quotes():
    from danlu_engine.generate.spec import ControlNetUnit

    unit = ControlNetUnit('a"b', 'a"b', "/i", "none", 1.0, 0.0, 1.0, 512, 0.5, 0.5)
    with pytest.raises(EngineError, match="double quote"):
        unit_text(0, unit, "")


def test_sdxl_controlnet_changes_an_sdxl_image(files, tmp_path):
    make_tiny("sdxl", str(tmp_path / "sdxl"), False, 0)
    sdxl = load_base_model(str(tmp_path / "sdxl"))
    unit = _unit(files, "controlnet-sdxl-canny.safetensors", "pose.png")
    gen = _run(sdxl, tmp_path / "out", [_job(file_prefix="none"), _job(file_prefix="cn", controlnets=[unit]),
                                         _job(file_prefix="zero", controlnets=[unit | {"weight": 0.0}])])
    assert np.abs(_pixels(gen, 1) - _pixels(gen, 0)).mean() > 1
    assert np.array_equal(_pixels(gen, 2), _pixels(gen, 0))


def test_a_folder_with_only_the_fp16_variant_loads(files, tmp_path):
    import shutil

    shutil.copytree(files / "control_sd15_depth", tmp_path / "cn")
    (tmp_path / "cn" / "diffusion_pytorch_model.safetensors").rename(tmp_path / "cn" / "diffusion_pytorch_model.fp16.safetensors")
    _, variant = load_controlnet(str(tmp_path / "cn"))
    _, plain = load_controlnet(str(files / "control_sd15_depth"))
    assert all(torch.equal(variant.state_dict()[k], v) for k, v in plain.state_dict().items())

