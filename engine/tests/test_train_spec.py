"""The train spec parser: every mistake is BAD_SPEC naming the key; a good spec parses into dataclasses."""
from __future__ import annotations

import pytest
from test_train_support import make_spec, run_engine, write_images

from danlu_engine.protocol import EngineError
from danlu_engine.spec import TrainSpec, parse_train_spec


@pytest.fixture
def spec(tmp_path):
    images = [str(tmp_path / f"img{i}.png") for i in range(4)]
    return make_spec(str(tmp_path / "model"), str(tmp_path / "out"), images, epochs=2, batch=2)


def bad_spec_message(raw: dict) -> str:
    with pytest.raises(EngineError) as caught:
        parse_train_spec(raw)
    assert caught.value.code == "BAD_SPEC"
    return caught.value.message


def test_good_spec_parses_into_typed_fields(spec):
    parsed = parse_train_spec(spec)
    assert isinstance(parsed, TrainSpec)
    assert parsed.images[0].bucket == (64, 64) and parsed.optimizer.betas == (0.9, 0.999)
    assert parsed.network.alpha == 2.0 and isinstance(parsed.network.alpha, float)
    assert parsed.epochs[1][0].captions == ["a photo of sks shape 0", "a photo of sks shape 1"]


def test_unknown_key_is_named(spec):
    spec["training"]["learning_rate"] = 1e-4
    assert "training.learning_rate" in bad_spec_message(spec)


def test_unknown_top_level_key_is_named(spec):
    spec["extra"] = 1
    assert "extra" in bad_spec_message(spec)


def test_missing_key_is_named(spec):
    del spec["optimizer"]["eps"]
    message = bad_spec_message(spec)
    assert "optimizer.eps" in message and "missing" in message


def test_wrong_types_and_values_are_named(spec):
    spec["network"]["dim"] = "8"
    assert "network.dim" in bad_spec_message(spec)
    spec["network"]["dim"] = 8
    spec["training"]["max_token_length"] = 100
    assert "training.max_token_length" in bad_spec_message(spec)
    spec["training"]["max_token_length"] = 75
    spec["training"]["cache_latents"] = 1
    assert "training.cache_latents" in bad_spec_message(spec)
    spec["training"]["cache_latents"] = True
    spec["model"]["path"] = None
    assert "model.path" in bad_spec_message(spec)


def test_plan_errors_name_the_batch(spec):
    spec["epochs"][1][0]["images"] = [0, 9]
    assert "epochs[1][0].images" in bad_spec_message(spec)
    spec["epochs"][1][0]["images"] = [0]
    assert "epochs[1][0].captions" in bad_spec_message(spec)


def test_total_steps_must_match_the_plan(spec):
    spec["training"]["total_steps"] = 3
    assert "training.total_steps" in bad_spec_message(spec)
    spec["training"]["gradient_accumulation_steps"] = 2
    spec["training"]["total_steps"] = 2  # 4 micro-batches / 2
    parse_train_spec(spec)


def test_training_nothing_is_refused(spec):
    spec["network"]["train_unet"] = False
    assert "network.train_unet" in bad_spec_message(spec)
    spec["network"]["train_text_encoder"] = True
    parse_train_spec(spec)


def test_unknown_sampler_is_bad_spec_before_loading_anything(tmp_path):
    images = write_images(str(tmp_path / "img"), 2)
    prompt = {"prompt": "x", "negative_prompt": "", "width": 64, "height": 64, "seed": 1, "steps": 2, "scale": 5.0,
              "sampler": "warp_drive"}
    spec = make_spec(str(tmp_path / "missing-model"), str(tmp_path / "out"), images,
                     sample={"prompts": [prompt], "every_n_epochs": 1, "every_n_steps": 0, "at_start": False})
    code, events, _ = run_engine(spec, str(tmp_path / "spec.json"))
    assert code == 1
    assert events[-1]["event"] == "error" and events[-1]["code"] == "BAD_SPEC"
    assert "sample.prompts[0].sampler" in events[-1]["message"]


def test_bad_key_through_the_engine_exits_1_with_bad_spec(tmp_path, spec):
    spec["network"]["rank"] = 4
    code, events, _ = run_engine(spec, str(tmp_path / "spec.json"))
    assert code == 1
    assert [e["event"] for e in events] == ["error"]
    assert events[0]["code"] == "BAD_SPEC" and "network.rank" in events[0]["message"]
