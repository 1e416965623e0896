"""The make-tiny and info engine commands, run as the CLI runs them: a subprocess and JSON event lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from danlu_engine.commands.make_tiny import parse
from danlu_engine.protocol import EngineError

ENGINE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_engine(tmp_path, command: str, spec: dict) -> tuple[int, list[dict]]:
    spec_path = tmp_path / f"{command}-spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": ENGINE_ROOT, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "danlu_engine", command, str(spec_path)], cwd=ENGINE_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds event lines only
    return proc.returncode, events


def test_make_tiny_then_info(tmp_path):
    out = str(tmp_path / "tiny-sdxl.safetensors")
    code, events = run_engine(tmp_path, "make-tiny", {"version": 1, "arch": "sdxl", "out": out, "single_file": True,
                                                       "inpainting": False, "seed": 2, "controlnet": False})
    assert code == 0, events
    assert [e["event"] for e in events] == ["ready", "result", "done"]
    assert events[1]["data"]["files"] == [out] and events[1]["data"]["size_bytes"] == os.path.getsize(out)
    assert events[2]["outputs"] == [out]

    code, events = run_engine(tmp_path, "info", {"version": 1, "path": out})
    assert code == 0, events
    assert [e["event"] for e in events] == ["ready", "result", "done"]
    data = events[1]["data"]
    assert (data["arch"], data["format"], data["prediction_type"]) == ("sdxl", "single_file", "epsilon")
    assert set(data["parameters"]) == {"unet", "vae", "text_encoder", "text_encoder_2"}


def test_make_tiny_folder(tmp_path):
    out = str(tmp_path / "tiny-sd15")
    code, events = run_engine(tmp_path, "make-tiny", {"version": 1, "arch": "sd15", "out": out, "single_file": False,
                                                       "inpainting": False, "seed": 0, "controlnet": False})
    assert code == 0, events
    assert os.path.join(out, "model_index.json") in events[2]["outputs"]
    assert all(os.path.isfile(f) for f in events[2]["outputs"])


def test_bad_spec_is_an_error_event(tmp_path):
    spec = {"version": 1, "arch": "sd15", "out": "/tmp/x.safetensors", "single_file": True, "inpainting": False,
            "seed": 0, "controlnet": False, "size": 2}
    code, events = run_engine(tmp_path, "make-tiny", spec)
    assert code == 1 and [e["event"] for e in events] == ["ready", "error"]
    assert events[1]["code"] == "BAD_SPEC" and "spec key size: unknown key" in events[1]["message"]


GOOD = {"version": 1, "arch": "sd15", "out": "/tmp/x.safetensors", "single_file": True, "inpainting": False,
        "seed": 0, "controlnet": False}


@pytest.mark.parametrize("change,word", [
    ({"seed": None}, "spec key seed: missing"),  # None: the key is removed
    ({"single_file": "yes"}, "spec key single_file:"),
    ({"seed": True}, "spec key seed:"),
    ({"version": 2}, "spec key version:"),
    ({"arch": "sd3"}, "spec key arch:"),
    ({"out": "relative/x.safetensors"}, "spec key out:"),
    ({"controlnet": True, "inpainting": True}, "spec key controlnet:"),
])
def test_spec_check_names_the_key(change, word):
    spec = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(EngineError) as e:
        parse(spec)
    assert e.value.code == "BAD_SPEC" and word in e.value.message


def test_controlnet_may_be_left_out():
    assert parse({k: v for k, v in GOOD.items() if k != "controlnet"}).controlnet is False


def test_info_errors_are_events(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x80\x04not really a pickle at all")
    code, events = run_engine(tmp_path, "info", {"version": 1, "path": str(junk)})
    assert code == 1 and [e["event"] for e in events] == ["ready", "error"] and events[-1]["code"] == "BAD_MODEL"
