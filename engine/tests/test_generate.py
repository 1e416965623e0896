"""The generate command in-process on a tiny SD1.5: A1111 chunking and weighting of prompts, the PNG
parameters text, LoRA weight 0 = the base image and weight 1 = another, jobs that do not leak LoRAs."""
from __future__ import annotations

import json

import pytest
import torch
from gen_helpers import kohya_names, png_parameters, tiny_model, write_kohya_lora
from PIL import Image

from danlu_engine.commands.generate import Generator
from danlu_engine.generate.conditioning import Chunk, PromptEncoder, _split_chunks, prompt_chunks
from danlu_engine.generate.png import lora_short_hash, parameters_text
from danlu_engine.generate.spec import ParsedPrompt, Segment, parse_generate_spec
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("generate"))


def prompt(*sections: list[tuple[str, float]]) -> ParsedPrompt:
    return ParsedPrompt(text="", sections=[[Segment(t, w) for t, w in s] for s in sections])


def test_chunks_break_overflow_and_comma_backtrack(model):
    tok = model.tokenizers[0]
    chunks = prompt_chunks(tok, prompt([("a cat", 1.0)], [("(red)", 1.1)]))
    assert len(chunks) == 2 and chunks[1].weights == [1.1] * len(chunks[1].tokens)  # BREAK: a new chunk
    assert len(prompt_chunks(tok, prompt([("cat " * 80, 1.0)]))) == 2  # 80 tokens: two chunks
    assert len(prompt_chunks(tok, prompt([]))) == 1  # an empty prompt is one (empty) chunk
    comma = 9
    pieces = [(list(range(100, 170)) + [comma] + list(range(200, 210)), 1.0)]
    first, second = _split_chunks(pieces, comma)
    assert first.tokens[-1] == comma and len(first.tokens) == 71  # moved to the next chunk after the comma
    assert second.tokens == list(range(200, 210))


def test_weights_scale_tokens_then_restore_the_mean(model):
    encoder = PromptEncoder(model, torch.device("cpu"))
    plain = encoder._encode_chunk(Chunk([320, 2368], [1.0, 1.0]), clip_skip=1)[0]
    weighted = encoder._encode_chunk(Chunk([320, 2368], [1.0, 1.5]), clip_skip=1)[0]
    torch.testing.assert_close(weighted.mean(), plain.mean())
    ratio = weighted[0, 2] / plain[0, 2]  # position 2 = the second token (after <BOS>)
    rest = weighted[0, 1] / plain[0, 1]
    torch.testing.assert_close(ratio, rest * 1.5)


def test_prompt_and_negative_get_the_same_length(model):
    embeds = PromptEncoder(model, torch.device("cpu")).encode_pair(
        prompt([("a", 1.0)], [("b", 1.0)], [("c", 1.0)]), prompt([("blurry", 1.0)]), clip_skip=2)
    assert embeds["prompt_embeds"].shape[1] == 3 * 77 == embeds["negative_prompt_embeds"].shape[1]


def _job(**changes) -> dict:
    job = {"prompt": {"text": "a (cat:1.2)", "sections": [[{"text": "a ", "weight": 1}, {"text": "cat", "weight": 1.2}]]},
           "negative": {"text": "blurry", "sections": [[{"text": "blurry", "weight": 1}]]}, "loras": [],
           "sampler": "Euler", "steps": 2, "cfg": 7, "width": 64, "height": 64, "seed": 3, "batch_count": 1,
           "batch_size": 1, "clip_skip": 1, "init_image": None, "strength": 0.6, "file_prefix": "x",
           "inpaint": None, "hires": None, "controlnets": []}
    return job | changes


def test_parameters_text_is_a1111s():
    job = parse_generate_spec({"version": 1, "model": {"path": "/m", "arch": None, "v_prediction": None, "vae_path": None},
                               "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": "/o"},
                               "jobs": [_job(clip_skip=2, width=512, height=768)]}).jobs[0]
    model_hash = "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa"
    text = parameters_text(job, 1234, "DPM++ SDE Karras", "sd15", model_hash,
                           {"alice": "0123456789ab"})
    assert text == ("a (cat:1.2)\nNegative prompt: blurry\nSteps: 2, Sampler: DPM++ SDE Karras, CFG scale: 7, Seed: 1234, "
                    'Size: 512x768, Model hash: 6ce0161689, Model: sd15, Clip skip: 2, Lora hashes: "alice: 0123456789ab"')


def test_bad_sampler_and_size_are_spec_errors():
    from danlu_engine.commands.generate import run

    raw = {"version": 1, "model": {"path": "/m", "arch": None, "v_prediction": None, "vae_path": None}, "device": "cpu",
           "precision": "no", "embeddings": [], "output": {"dir": "/o"}, "jobs": [_job(sampler="Fastest")]}
    with pytest.raises(EngineError, match="unknown sampler 'Fastest'"):
        run(raw)
    with pytest.raises(EngineError, match="multiple of 8"):
        parse_generate_spec(raw | {"jobs": [_job(width=60)]})


def test_lora_weight_zero_is_the_base_image_and_jobs_do_not_leak(model, tmp_path):
    lora = str(tmp_path / "style.safetensors")
    write_kohya_lora(model, lora, kohya_names(model, "lora_unet_", "attn") + kohya_names(model, "lora_te_", "proj"), scale=0.8)
    entry = {"path": lora, "name": "style", "te_weight": 1.0}
    jobs = [_job(file_prefix="base"), _job(file_prefix="w0", loras=[entry | {"unet_weight": 0.0, "te_weight": 0.0}]),
            _job(file_prefix="w1", loras=[entry | {"unet_weight": 1.0}]), _job(file_prefix="again")]
    raw = {"version": 1, "model": {"path": model.source_path, "arch": None, "v_prediction": None, "vae_path": None},
           "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(tmp_path / "out")}, "jobs": jobs}
    gen = Generator(parse_generate_spec(raw), torch.device("cpu"), torch.float32, 0.0)
    gen.run()
    pixels = {p: Image.open(tmp_path / "out" / f"{p}-3.png").tobytes() for p in ("base", "w0", "w1", "again")}
    assert pixels["w0"] == pixels["base"] and pixels["again"] == pixels["base"]
    assert pixels["w1"] != pixels["base"]
    text = png_parameters(tmp_path / "out" / "w1-3.png")
    assert text.endswith(f'Clip skip: 1, Lora hashes: "style: {lora_short_hash(lora)}"')
    assert gen.reports[lora]["matched"] > 0 and json.dumps(gen.reports[lora])


def test_dpmpp_sde_image_depends_on_its_seed_only(model, tmp_path):
    sde = {"sampler": "DPM++ SDE Karras", "negative": {"text": "", "sections": [[]]}}
    jobs = [_job(**sde, file_prefix="pair", seed=5, batch_size=2), _job(**sde, file_prefix="alone", seed=6)]
    raw = {"version": 1, "model": {"path": model.source_path, "arch": None, "v_prediction": None, "vae_path": None},
           "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(tmp_path)}, "jobs": jobs}
    Generator(parse_generate_spec(raw), torch.device("cpu"), torch.float32, 0.0).run()
    second_of_pair = Image.open(tmp_path / "pair-6.png").tobytes()
    assert second_of_pair == Image.open(tmp_path / "alone-6.png").tobytes()
    assert second_of_pair != Image.open(tmp_path / "pair-5.png").tobytes()
