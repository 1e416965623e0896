"""SDXL and the less common inputs: an sd-scripts SDXL LoRA (LDM UNet names, lora_te1/lora_te2) applies to
a tiny SDXL, an SD1 LoRA on SDXL is an error, a txt2img + img2img run writes images, and an embedding
used by its file name changes the conditioning."""
from __future__ import annotations

import os

import pytest
import torch
from gen_helpers import png_parameters, tiny_model, write_kohya_lora
from PIL import Image
from safetensors.torch import save_file

from danlu_engine.commands.generate import Generator
from danlu_engine.generate.conditioning import PromptEncoder
from danlu_engine.generate.embeddings import Embeddings
from danlu_engine.generate.spec import ParsedPrompt, Segment, parse_generate_spec
from danlu_engine.lora_apply import LoraApplier
from danlu_engine.lora_apply.targets import model_targets
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)
PHOTO = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "photos", "chelsea.png")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("sdxl"), "sdxl")


def test_sdxl_lora_with_ldm_names_applies(model, tmp_path):
    names = sorted(n for n in model_targets(model) if n.startswith("lora_unet_input_blocks_") and "attn1_to_q" in n)
    names += sorted(n for n in model_targets(model) if n.startswith(("lora_te1_", "lora_te2_")) and "q_proj" in n)
    assert names and any(n.startswith("lora_te2_") for n in names)
    path = str(tmp_path / "xl.safetensors")
    write_kohya_lora(model, path, names, metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    applier = LoraApplier(model)
    report = applier.apply(path, 1.0, 1.0)
    applier.restore()
    assert report.matched == len(names) and not report.unmatched


def test_sd1_lora_on_sdxl_is_an_error(model, tmp_path):
    path = str(tmp_path / "sd1.safetensors")
    name = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    save_file({f"{name}.lora_down.weight": torch.zeros(2, 32), f"{name}.lora_up.weight": torch.zeros(32, 2)}, path,
              metadata={"ss_base_model_version": "sd_v1"})
    with pytest.raises(EngineError, match="sd1.x LoRA|made for sd15") as err:
        LoraApplier(model).apply(path, 1.0, 1.0)
    assert path in err.value.message


def _prompt(text: str) -> ParsedPrompt:
    return ParsedPrompt(text=text, sections=[[Segment(text, 1.0)]])


def test_embedding_by_file_name_changes_the_conditioning(model, tmp_path):
    sizes = [e.config.hidden_size for e in model.text_encoders]
    path = str(tmp_path / "myemb.safetensors")
    save_file({"clip_l": torch.randn(2, sizes[0]), "clip_g": torch.randn(2, sizes[1])}, path)
    embeddings = Embeddings()
    embeddings.load(model, [path])
    assert embeddings.expand("a myemb, myembx") == "a <myemb_0> <myemb_1>, myembx"
    encoder = PromptEncoder(model, torch.device("cpu"), embeddings.expand)
    assert len(encoder.chunks(_prompt("a myemb"))[0].tokens) == 3  # "a" + two vectors
    with_emb = encoder.encode_pair(_prompt("a myemb"), _prompt(""), 1)["prompt_embeds"]
    without = encoder.encode_pair(_prompt("a cat"), _prompt(""), 1)["prompt_embeds"]
    assert not torch.allclose(with_emb, without)


def test_txt2img_and_img2img_write_images(model, tmp_path):
    job = {"prompt": {"text": "a cat", "sections": [[{"text": "a cat", "weight": 1}]]},
           "negative": {"text": "", "sections": [[]]}, "loras": [], "sampler": "DPM++ 2M Karras", "steps": 2,
           "cfg": 5, "width": 64, "height": 64, "seed": 2, "batch_count": 1, "batch_size": 2, "clip_skip": 1,
           "init_image": None, "strength": 0.5, "file_prefix": "t", "inpaint": None, "hires": None,
           "controlnets": []}
    raw = {"version": 1, "model": {"path": model.source_path, "arch": "sdxl", "v_prediction": None, "vae_path": None},
           "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(tmp_path)},
           "jobs": [job, job | {"init_image": os.path.abspath(PHOTO), "file_prefix": "i", "batch_size": 1}]}
    gen = Generator(parse_generate_spec(raw), torch.device("cpu"), torch.float32, 0.0)
    gen.run()
    assert sorted(os.listdir(tmp_path)) == ["i-2.png", "t-2.png", "t-3.png"]
    assert Image.open(tmp_path / "t-3.png").size == (64, 64)
    assert "Denoising strength: 0.5" in png_parameters(tmp_path / "i-2.png")


def test_inpaint_and_hires_on_sdxl(model, tmp_path):
    """SDXL's inpaint pipeline (ordinary checkpoint, only masked) and a latent hires pass."""
    Image.new("RGB", (96, 64), (200, 30, 30)).save(tmp_path / "init.png")
    mask = Image.new("L", (96, 64))
    mask.paste(255, (40, 20, 60, 36))
    mask.save(tmp_path / "mask.png")
    job = {"prompt": {"text": "a cat", "sections": [[{"text": "a cat", "weight": 1}]]},
           "negative": {"text": "", "sections": [[]]}, "loras": [], "sampler": "Euler a", "steps": 2, "cfg": 5,
           "width": 64, "height": 64, "seed": 2, "batch_count": 1, "batch_size": 1, "clip_skip": 1,
           "init_image": None, "strength": 0.75, "file_prefix": "h", "inpaint": None,
           "hires": {"scale": 1.5, "width": 96, "height": 96, "steps": 1, "denoising": 0.6, "upscaler": "Latent"},
           "controlnets": []}
    inpaint = {"mask": str(tmp_path / "mask.png"), "mask_blur": 0, "masked_content": "fill", "only_masked": True,
               "padding": 4}
    raw = {"version": 1, "model": {"path": model.source_path, "arch": "sdxl", "v_prediction": None, "vae_path": None},
           "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(tmp_path / "out")},
           "jobs": [job, job | {"file_prefix": "i", "hires": None, "init_image": str(tmp_path / "init.png"),
                                "inpaint": inpaint}]}
    Generator(parse_generate_spec(raw), torch.device("cpu"), torch.float32, 0.0, model).run()
    assert Image.open(tmp_path / "out" / "h-2.png").size == (96, 96)
    after = Image.open(tmp_path / "out" / "i-2.png")
    assert after.size == (96, 64)
    assert after.crop((0, 0, 40, 64)).getcolors() == [(40 * 64, (200, 30, 30))]  # left of the mask: untouched
    assert after.crop((40, 20, 60, 36)).getcolors(1000) != [(20 * 16, (200, 30, 30))]  # inside: repainted
