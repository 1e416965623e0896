"""``python -m danlu_engine serve``: jobs in one process train exactly as one-shot runs, the second job
finds its base model in the warm cache, SIGTERM cancels a job and not the server; and the cache's rules
(LRU by memory, half-precision weights not reused for float32, changed models dropped) on the tiny model."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from test_train_support import ENGINE_DIR, make_spec, write_images

from danlu_engine import cancel, protocol, serve
from danlu_engine.commands import generate as generate_command
from danlu_engine.commands import train as train_command
from danlu_engine.models import load_base_model, warm_cache

torch.set_num_threads(1)


class Server:
    """A real ``serve`` process: requests written to stdin, events read from stdout with their arrival time."""

    def __init__(self):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "danlu_engine", "serve"], cwd=ENGINE_DIR, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin and self.proc.stdout
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def next_event(self) -> dict:
        line = self.stdout.readline()
        assert line, f"the server ended (exit code {self.proc.poll()})"
        return {**json.loads(line), "at": time.perf_counter()}

    def job(self, request: dict | str, on_progress=None) -> tuple[list[dict], float]:
        """One job's events up to its ``idle``, and the job's start time (when the request was sent)."""
        started = time.perf_counter()
        self.stdin.write((request if isinstance(request, str) else json.dumps(request)) + "\n")
        self.stdin.flush()
        events = []
        while (event := self.next_event())["event"] != "idle":
            events.append(event)
            if event["event"] == "progress" and on_progress:
                on_progress(event)
        return [*events, event], started

    def close(self) -> int:
        self.stdin.close()
        return self.proc.wait(timeout=60)


def losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "progress"]


def first_step_s(events: list[dict], started: float) -> float:
    return next(e["at"] for e in events if e["event"] == "progress") - started


def one_shot(spec: dict, monkeypatch) -> list[dict]:
    """The train command as `python -m danlu_engine train` runs it (no warm cache), in this process."""
    stdout = io.StringIO()
    monkeypatch.setattr(protocol, "_stdout", stdout)
    cancel.reset()
    train_command.run(spec)
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


def generate_spec(model: str, out, loras: list[dict]) -> dict:
    job = {"prompt": {"text": "a cat", "sections": [[{"text": "a cat", "weight": 1}]]},
           "negative": {"text": "", "sections": [[]]}, "loras": loras, "sampler": "Euler", "steps": 2, "cfg": 7,
           "width": 64, "height": 64, "seed": 3, "batch_count": 1, "batch_size": 1, "clip_skip": 1,
           "init_image": None, "strength": 0.6, "file_prefix": "tiny" if loras else "plain", "inpaint": None,
           "hires": None, "controlnets": []}
    return {"version": 1, "model": {"path": model, "arch": None, "v_prediction": None, "vae_path": None},
            "device": "cpu", "precision": "no", "embeddings": [], "output": {"dir": str(out)}, "jobs": [job]}


def one_shot_generate(spec: dict, monkeypatch) -> None:
    monkeypatch.setattr(protocol, "_stdout", io.StringIO())
    generate_command.run(spec)


def assert_same_lora(a: str, b: str) -> None:
    ta, tb = load_file(a), load_file(b)
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_jobs_in_one_server_train_as_one_shot_runs(sd15, tmp_path, monkeypatch):
    images = write_images(str(tmp_path / "images"), 4)
    plain = make_spec(sd15, str(tmp_path / "a"), images, epochs=1, batch=2)
    # changes the model's state: gradient checkpointing, text encoder LoRA; 8 steps, cancelled after the first
    other = make_spec(sd15, str(tmp_path / "b"), images, epochs=2, batch=1, output={"save_state": True},
                      training={"gradient_checkpointing": True, "seed": 7}, network={"train_text_encoder": True})
    server = Server()
    try:
        assert server.next_event()["event"] == "idle"
        bad, _ = server.job("{\"command\": \"train\"}")
        assert [e["event"] for e in bad] == ["error", "idle"] and bad[0]["code"] == "BAD_SPEC"
        assert bad[-1]["exit_code"] == 1

        cold, cold_start = server.job({"command": "train", "spec": plain})
        cancelled, _ = server.job({"command": "train", "spec": other},
                                  on_progress=lambda e: server.proc.send_signal(signal.SIGTERM))
        again = {**plain, "output": {**plain["output"], "dir": str(tmp_path / "a2")}}
        warm, warm_start = server.job({"command": "train", "spec": again})
        lora = {"path": str(tmp_path / "a" / "tiny.safetensors"), "name": "tiny", "unet_weight": 1.0, "te_weight": 1.0}
        with_lora, _ = server.job({"command": "generate", "spec": generate_spec(sd15, tmp_path / "g", [lora])})
        plain_gen, _ = server.job({"command": "generate", "spec": generate_spec(sd15, tmp_path / "g", [])})
        assert server.close() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()

    cache_events = [next(e for e in events if e["event"] == "model_cache") for events in (cold, cancelled, warm)]
    assert [e["hit"] for e in cache_events] == [False, True, True]
    assert cancelled[-2]["event"] == "cancelled" and cancelled[-1]["exit_code"] == 3
    assert cancelled[-2]["state_dir"] and os.path.isdir(cancelled[-2]["state_dir"])
    assert cold[-2]["event"] == "done" and warm[-2]["event"] == "done" and warm[-1]["models"] == 1
    # the warm job after a cancelled one that changed the model trains exactly as the cold one ...
    assert losses(warm) == losses(cold) and len(losses(cold)) == 2
    assert_same_lora(str(tmp_path / "a" / "tiny.safetensors"), str(tmp_path / "a2" / "tiny.safetensors"))
    # ... and as a one-shot run
    direct = {**plain, "output": {**plain["output"], "dir": str(tmp_path / "direct")}}
    assert losses(one_shot(direct, monkeypatch)) == losses(cold)
    assert_same_lora(str(tmp_path / "a" / "tiny.safetensors"), str(tmp_path / "direct" / "tiny.safetensors"))
    assert first_step_s(warm, warm_start) < first_step_s(cold, cold_start)
    # generation on the model the training jobs used (a LoRA merged, then restored) draws what a fresh load draws
    assert [e["hit"] for events in (with_lora, plain_gen) for e in events if e["event"] == "model_cache"] == [True, True]
    one_shot_generate(generate_spec(sd15, tmp_path / "fresh", []), monkeypatch)
    served, fresh = (Image.open(tmp_path / d / "plain-3.png").tobytes() for d in ("g", "fresh"))
    assert served == fresh and Image.open(tmp_path / "g" / "tiny-3.png").tobytes() != fresh


@pytest.fixture
def cache(sd15):
    warm_cache.activate(warm_cache.WarmCache(budget_bytes=10 * 2**30))
    yield warm_cache.active()
    warm_cache.activate(None)


FLOAT32 = dict.fromkeys(warm_cache.PARTS, torch.float32)


def borrow(sd15: str, dtypes: dict = FLOAT32, change=None) -> bool:
    """Borrow the tiny model from the active cache, optionally change it; whether it was a cache hit."""
    with warm_cache.base_model(sd15, None, None, None, dtypes) as lease:
        if change:
            change(lease)
        return lease.hit


def test_a_model_changed_for_good_is_dropped(sd15, cache, monkeypatch):
    monkeypatch.setattr(protocol, "_stdout", io.StringIO())
    assert not borrow(sd15) and borrow(sd15) and len(cache.entries) == 1
    borrow(sd15, change=lambda lease: lease.taint("new tokens"))
    assert not cache.entries

    def hook_without_undo(lease):  # an adapter left hooked: the check finds the replaced forward
        layer = lease.model.unet.conv_in
        layer.forward = lambda x: x
    borrow(sd15, change=hook_without_undo)
    assert not cache.entries


def test_half_precision_weights_are_not_reused_for_float32(sd15, cache, monkeypatch):
    monkeypatch.setattr(protocol, "_stdout", io.StringIO())
    bf16 = dict.fromkeys(warm_cache.PARTS, torch.bfloat16)
    assert not borrow(sd15, bf16, change=lambda lease: lease.model.unet.to(torch.bfloat16))
    assert borrow(sd15, bf16)  # the same dtype again: reused
    assert not borrow(sd15, FLOAT32)  # float32 cannot be restored from bf16: loaded again
    fresh = load_base_model(sd15)
    with warm_cache.base_model(sd15, None, None, None, FLOAT32) as lease:
        assert all(torch.equal(p, q) for p, q in zip(lease.model.unet.parameters(), fresh.unet.parameters(),
                                                     strict=True))


def test_least_recently_used_models_leave_when_over_budget(sd15, tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "_stdout", io.StringIO())
    size = warm_cache.model_bytes(load_base_model(sd15))
    warm_cache.activate(warm_cache.WarmCache(budget_bytes=int(size * 1.5)))  # room for one model
    try:
        other = str(tmp_path / "other")
        os.symlink(sd15, other)  # another path: another entry
        borrow(sd15)
        borrow(other)
        cache = warm_cache.active()
        assert cache is not None and [key[0][0] for key in cache.entries] == [other]
        assert not borrow(sd15)
    finally:
        warm_cache.activate(None)


def test_requests_are_checked_before_a_job_starts():
    commands = ("train", "generate")
    assert serve.parse_request('{"command": "train", "spec": {}}', commands).command == "train"
    for line, message in [('{"command": "train"}', "spec"), ('{"command": "x", "spec": {}}', "not one of"),
                          ('{"command": "train", "spec": {}, "extra": 1}', "extra"),
                          ('{"command": "train", "spec": {"training": {"num_processes": 2}}}', "several processes")]:
        with pytest.raises(ValueError, match=message):
            serve.parse_request(line, commands)
