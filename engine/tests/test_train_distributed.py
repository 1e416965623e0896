"""Data parallelism: one tiny SD1.5 run on two CPU processes through the real launch path
(danlu_engine.launch -> `accelerate launch --multi_gpu`, torch.distributed.run underneath, DDP over gloo)
against one process with gradient accumulation 2 over the same micro-batches: one set of files, only valid
protocol lines on stdout, the same per-step losses and weights; SIGTERM stops both ranks at one step with
one saved state and exit code 3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from test_train_support import ENGINE_DIR, make_spec, run_engine, write_images

from danlu_engine.protocol import _check
from danlu_engine.spec import parse_train_spec
from danlu_engine.train import distributed, loop


def launch_two(spec: dict, spec_path: str) -> subprocess.Popen[str]:
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


def test_share_gives_each_rank_every_nth_micro_batch(monkeypatch):
    monkeypatch.setattr(distributed, "_world", 2)
    monkeypatch.setattr(distributed, "_rank", 1)
    assert distributed.share(["a", "b", "c"]) == ["b"]
    monkeypatch.setattr(distributed, "_rank", 0)
    assert distributed.share(["a", "b", "c"]) == ["a", "c"]
    assert distributed.share(["a"]) == ["a"]
    monkeypatch.setattr(distributed, "_rank", 1)
    assert distributed.share(["a"]) == []  # a rank may sit a step out: it backpropagates a zero loss


def test_a_step_takes_processes_x_accumulation_micro_batches_of_one_epoch(tmp_path):
    images = [str(tmp_path / f"{i}.png") for i in range(6)]  # 3 micro-batches of 2 per epoch
    two = parse_train_spec(make_spec("model", str(tmp_path), images, epochs=2, batch=2, processes=2))
    one = parse_train_spec(make_spec("model", str(tmp_path), images, epochs=2, batch=2, accumulation=2))
    assert two.training.total_steps == one.training.total_steps == 4  # per epoch: a step of 2, then 1
    steps = [[(epoch, index) for epoch, index, _ in group] for group in loop.optimizer_steps(two)]
    assert steps == [[(1, 0), (1, 1)], [(1, 2)], [(2, 3), (2, 4)], [(2, 5)]]
    assert steps == [[(e, i) for e, i, _ in group] for group in loop.optimizer_steps(one)]


def test_a_spec_planned_for_two_processes_refuses_to_run_as_one(sd15, tmp_path):
    images = write_images(str(tmp_path / "images"), 4)
    code, events, _ = run_engine(make_spec(sd15, str(tmp_path / "out"), images, processes=2),
                                 str(tmp_path / "spec.json"))
    assert code == 1
    assert events[-1]["event"] == "error" and events[-1]["code"] == "BAD_SPEC"
    assert "training.num_processes" in events[-1]["message"] and "launch 2" in events[-1]["detail"]


def test_two_processes_train_as_one_process_accumulating_two(sd15, tmp_path):
    images = write_images(str(tmp_path / "images"), 6)
    # 6 images, batch 2 -> 3 micro-batches per epoch, 2 epochs. Two processes x accumulation 1 and one
    # process x accumulation 2 both take micro-batches (0, 1), (2), (3, 4), (5): the same global batch of 4
    # images per full step, the same order, the mean gradient over the step. In the short steps rank 1 has
    # no micro-batch (its zero loss joins the all-reduce).
    single = make_spec(sd15, str(tmp_path / "one"), images, epochs=2, batch=2, accumulation=2)
    code, events, stderr = run_engine(single, str(tmp_path / "one.json"))
    assert code == 0, stderr

    spec = make_spec(sd15, str(tmp_path / "two"), images, epochs=2, batch=2, processes=2)
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
    assert len(two_losses) == 4
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
    spec = make_spec(sd15, str(tmp_path / "out"), images, epochs=20, batch=2, processes=2,
                     output={"save_every_n_epochs": 0})
    proc = launch_two(spec, str(tmp_path / "spec.json"))
    assert proc.stdout is not None and proc.stderr is not None
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
