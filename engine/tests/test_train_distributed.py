"""Data parallelism: one tiny SD1.5 run on two CPU processes through the real `accelerate launch` path
(its --multi_gpu launcher, torch.distributed.run underneath, gloo on the CPU) against the same spec in one
process: one set of files, only valid protocol lines on stdout, the same per-step losses."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from danlu_engine.models import make_tiny
from danlu_engine.protocol import _check
from danlu_engine.train import distributed
from test_train_support import ENGINE_DIR, make_spec, run_engine, write_images


@pytest.fixture(scope="module")
def sd15(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("model") / "tiny-sd15")
    make_tiny("sd15", out, False, 0)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_processes(spec: dict, spec_path: str) -> tuple[int, list[str], str]:
    """``accelerate launch`` with two processes, as src/engine/python.ts starts it: (exit, stdout lines, stderr)."""
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), "-m", "danlu_engine", "train", spec_path]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ENGINE_DIR}
    proc = subprocess.run(command, cwd=ENGINE_DIR, capture_output=True, text=True, timeout=300, env=env)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


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
