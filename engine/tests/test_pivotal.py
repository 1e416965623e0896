"""Pivotal tuning on tiny models: the new rows train until the pivot and then freeze, the original rows never
move, the embeddings files load with diffusers' load_textual_inversion, and a resumed run reproduces."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from test_train_loop import losses, run_in_process
from test_train_support import make_spec, plan, write_images

from danlu_engine.models import load_base_model, make_tiny
from danlu_engine.train import pivotal as pivotal_module

torch.set_num_threads(1)
TOKENS = ["<s0>", "<s1>"]
CAPTIONS = [f"a photo of <s0><s1> shape {i}" for i in range(4)]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return write_images(str(tmp_path_factory.mktemp("images")), 4)


def pivotal_spec(model: str, out: str, images: list[str], train_steps: int, epochs: int = 2, **sections) -> dict:
    spec = make_spec(model, out, images, epochs=epochs, batch=2, **sections)
    spec["epochs"] = plan(len(images), epochs, 2, CAPTIONS[: len(images)])
    spec["pivotal"] = {"tokens": TOKENS, "init_word": "", "lr": 0.05, "train_steps": train_steps}
    return spec


@pytest.fixture
def recorded(monkeypatch) -> dict:
    """The tuner of the next run, and its rows before training and after every optimizer step."""
    seen: dict = {"after_step": []}
    install, step = pivotal_module.PivotalTuner.install, pivotal_module.PivotalTuner.step

    def install_and_record(cls, *args):
        tuner = install(*args)  # bound to PivotalTuner, which has no subclasses
        seen["tuner"], seen["initial"] = tuner, tuner.embeddings()
        return tuner

    def step_and_record(self, *args):
        step(self, *args)
        seen["after_step"].append(self.embeddings())

    monkeypatch.setattr(pivotal_module.PivotalTuner, "install", classmethod(install_and_record))
    monkeypatch.setattr(pivotal_module.PivotalTuner, "step", step_and_record)
    return seen


def test_rows_train_until_the_pivot_then_freeze(sd15, images, tmp_path, monkeypatch, recorded):
    out = tmp_path / "run"
    run_in_process(pivotal_spec(sd15, str(out), images, train_steps=2), monkeypatch)  # 4 steps, pivot at 2
    rows = [r["clip_l"] for r in recorded["after_step"]]
    assert len(rows) == 4 and rows[0].shape == (2, 32)  # the tiny SD1.5 encoder: hidden 32
    assert not torch.equal(recorded["initial"]["clip_l"], rows[0]) and not torch.equal(rows[0], rows[1])
    assert torch.equal(rows[1], rows[2]) and torch.equal(rows[2], rows[3])
    epoch1, final = load_file(str(out / "tiny-000001_emb.safetensors")), load_file(str(out / "tiny_emb.safetensors"))
    assert list(final) == ["clip_l"] and torch.equal(final["clip_l"], rows[3])
    assert torch.equal(epoch1["clip_l"], rows[1])
    fresh = load_base_model(sd15, arch=None, v_prediction=None, vae_path=None)
    table = recorded["tuner"].rows[0].base.weight
    assert torch.equal(table, fresh.text_encoders[0].get_input_embeddings().weight)  # original rows untouched


def test_diffusers_loads_the_embeddings(sd15, images, tmp_path, monkeypatch, recorded):
    from diffusers import StableDiffusionPipeline

    out = tmp_path / "run"
    run_in_process(pivotal_spec(sd15, str(out), images, train_steps=1, epochs=1), monkeypatch)
    pipe = StableDiffusionPipeline.from_pretrained(sd15, safety_checker=None, requires_safety_checker=False,
                                                   dtype=torch.float32)
    # as diffusers' advanced-training README loads it: the file's tensor, one token per row
    pipe.load_textual_inversion(load_file(str(out / "tiny_emb.safetensors"))["clip_l"], token=TOKENS)
    ids = pipe.tokenizer("a <s0><s1> shape").input_ids
    trained = recorded["tuner"].rows[0]
    assert ids[2:4] == [49408, 49409]
    assert torch.equal(pipe.text_encoder.get_input_embeddings().weight[-2:], trained.new_rows.detach())
    # the same text states as the trained encoder gives (TokenRows) for a caption with the new tokens
    with torch.no_grad():
        loaded = pipe.text_encoder(torch.tensor([ids])).last_hidden_state
        wrapped = pivotal_module.TokenRows(pipe.text_encoder.get_input_embeddings(), trained.new_rows)
        wrapped.base = torch.nn.Embedding.from_pretrained(wrapped.base.weight[:-2].clone())
        pipe.text_encoder.set_input_embeddings(wrapped)
        ours = pipe.text_encoder(torch.tensor([ids])).last_hidden_state
    assert torch.allclose(loaded, ours, atol=1e-6)


def test_resume_mid_pivot_and_after_it_reproduces(sd15, images, tmp_path, monkeypatch):
    straight = pivotal_spec(sd15, str(tmp_path / "a"), images, train_steps=2,
                            output={"save_state": True, "save_every_n_steps": 1})
    first = losses(run_in_process(straight, monkeypatch))
    final = load_file(str(tmp_path / "a" / "tiny_emb.safetensors"))["clip_l"]
    for step in (1, 3):  # the rows still training (optimizer state restored), then frozen since step 2
        state = str(tmp_path / "a" / f"tiny-step{step:08d}-state")
        out = tmp_path / f"from{step}"
        resumed = pivotal_spec(sd15, str(out), images, train_steps=2, resume=state)
        assert losses(run_in_process(resumed, monkeypatch)) == first[step:]
        assert torch.equal(load_file(str(out / "tiny_emb.safetensors"))["clip_l"], final)


def test_init_word_copies_its_token_rows(sd15):
    model = load_base_model(sd15, arch=None, v_prediction=None, vae_path=None)
    tokenizer, table = model.tokenizers[0], model.text_encoders[0].get_input_embeddings().weight.detach()
    ids = tokenizer("dog", add_special_tokens=False).input_ids
    rows = pivotal_module.initial_rows(tokenizer, table, 2, "dog", torch.Generator().manual_seed(0))
    assert torch.equal(rows[0], table[ids[0]]) and torch.equal(rows[1], table[ids[1 % len(ids)]])
    random = pivotal_module.initial_rows(tokenizer, table, 2, "", torch.Generator().manual_seed(0))
    assert random.shape == (2, table.shape[1]) and abs(random.std().item() - table.std().item()) < table.std().item()


def test_sdxl_writes_clip_l_and_clip_g_that_diffusers_loads(tmp_path, monkeypatch, recorded):
    from diffusers import StableDiffusionXLPipeline

    model = str(tmp_path / "tiny-sdxl")
    make_tiny("sdxl", model, False, 0)
    images = write_images(str(tmp_path / "images"), 2)
    run_in_process(pivotal_spec(model, str(tmp_path / "run"), images, train_steps=1, epochs=2), monkeypatch)
    saved = load_file(str(tmp_path / "run" / "tiny_emb.safetensors"))
    after = recorded["after_step"]
    assert set(saved) == {"clip_l", "clip_g"} and len(after) == 2
    assert not torch.equal(after[0]["clip_g"], recorded["initial"]["clip_g"])
    assert torch.equal(after[0]["clip_g"], after[1]["clip_g"]) and torch.equal(saved["clip_g"], after[1]["clip_g"])
    pipe = StableDiffusionXLPipeline.from_pretrained(model, dtype=torch.float32)
    pipe.load_textual_inversion(saved["clip_l"], token=TOKENS, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer)
    pipe.load_textual_inversion(saved["clip_g"], token=TOKENS, text_encoder=pipe.text_encoder_2,
                                tokenizer=pipe.tokenizer_2)
    assert torch.equal(pipe.text_encoder.get_input_embeddings().weight[-2:], saved["clip_l"])
    assert torch.equal(pipe.text_encoder_2.get_input_embeddings().weight[-2:], saved["clip_g"])
