"""Data parallelism: one tiny SD1.5 run on two CPU processes through the real launch path
(danlu_engine.launch -> `accelerate launch --multi_gpu`, torch.distributed.run underneath, gloo on the CPU)
against the same spec in one process: one set of files, only valid protocol lines on stdout, the same
per-step losses and weights; SIGTERM stops both ranks at one step with one saved state and exit code 3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from danlu_engine.protocol import _check
from danlu_engine.train import distributed
from test_train_support import ENGINE_DIR, make_spec, run_engine, write_images


def launch_two(spec: dict, spec_path: str) -> subprocess.Popen:
    """Two processes as src/engine/python.ts starts them (danlu_engine.launch -> accelerate launch)."""
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ENGINE_DIR}
    return subprocess.Popen([sys.executable, "-m", "danlu_engine.launch", "2", "train", spec_path], cwd=ENGINE_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_two_processes(spec: dict, spec_path: str) -> tuple[int, list[str], str]:
    """(exit code, stdout lines, stderr) of a two-process run."""
    proc = launch_two(spec, spec_path)
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout.splitlines(), stderr


def test_share_deals_a_step_round_robin(monkeypatch):
    monkeypatch.setattr(distributed, "_world", 2)
    monkeypatch.setattr(distributed, "_rank", 1)
    assert distributed.share(["a", "b", "c"]) == ["b"]
    monkeypatch.setattr(distributed, "_rank", 0)
    assert distributed.share(["a", "b", "c"]) == ["a", "c"]
    assert distributed.share(["a"]) == ["a"]
    monkeypatch.setattr(distributed, "_rank", 1)
    assert distributed.share(["a"]) == []  # a rank may sit a step out; its gradients count as zeros


def test_two_processes_train_as_one(sd15, tmp_path):
    images = write_images(str(tmp_path / "images"), 4)
    # 4 images, batch 2, 2 epochs -> 4 micro-batches; accumulation 2 -> 2 optimizer steps of 2 micro-batches
    single = make_spec(sd15, str(tmp_path / "one"), images, epochs=2, batch=2, accumulation=2)
    code, events, stderr = run_engine(single, str(tmp_path / "one.json"))
    assert code == 0, stderr

    spec = make_spec(sd15, str(tmp_path / "two"), images, epochs=2, batch=2, accumulation=2)
    code, lines, stderr = run_two_processes(spec, str(tmp_path / "two.json"))
    assert code == 0, stderr[-4000:]
    parsed = [json.loads(line) for line in lines]  # every stdout line one event: rank 1 wrote nothing
    for event in parsed:
        _check(event["event"], {k: v for k, v in event.items() if k != "event"})
    kinds = [e["event"] for e in parsed]
    assert kinds.count("ready") == 1 and kinds.count("done") == 1 and kinds[-1] == "done"
    assert [e["event"] for e in events] == kinds  # the same events as one process, in the same order

    one_losses = [e["loss"] for e in events if e["event"] == "progress"]
    two_losses = [e["loss"] for e in parsed if e["event"] == "progress"]
    assert len(two_losses) == 2
    assert two_losses == pytest.approx(one_losses, abs=1e-5)
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    checkpoints = [e["path"] for e in parsed if e["event"] == "checkpoint"]
    assert len(checkpoints) == len(set(checkpoints)) == 2  # epoch 1 and the final file, each written once
    with safe_open(str(tmp_path / "one" / "tiny.safetensors"), "pt") as a, \
            safe_open(str(tmp_path / "two" / "tiny.safetensors"), "pt") as b:
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():
            assert torch.allclose(a.get_tensor(key).float(), b.get_tensor(key).float(), atol=1e-5), key


def test_sigterm_stops_both_ranks_with_one_state_and_exit_3(sd15, tmp_path):
    images = write_images(str(tmp_path / "images"), 4)
    spec = make_spec(sd15, str(tmp_path / "out"), images, epochs=20, batch=2, accumulation=2,
                     output={"save_every_n_epochs": 0})
    proc = launch_two(spec, str(tmp_path / "spec.json"))
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "progress" and events[-1]["step"] == 1:
            proc.send_signal(signal.SIGTERM)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 3, stderr[-4000:]
    cancelled = events[-1]
    assert cancelled["event"] == "cancelled" and cancelled["step"] < 20
    assert os.listdir(tmp_path / "out") == [os.path.basename(cancelled["state_dir"])]
