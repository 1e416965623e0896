"""train-many: several jobs' LoRAs in one pass equal their solo runs (tiny SD1.5, CPU, float32).

Tolerance: one job gives exactly (torch.equal) the solo losses and file tensors. With several jobs the
base layers run on a bigger batch and the adapters through torch.bmm, which order float sums differently;
each job's losses then match its solo run to rtol 1e-4 (float32), and each tensor of its file (fp16) to
||x - y|| <= 1e-2 ||x|| + 1e-5 (measured: at most 3e-3 relative; AdamW's first steps are about lr x the
gradient's sign, so a layer whose gradient is ~0 moves by noise in both runs: norms ~1e-6, hence the floor).
"""
from __future__ import annotations

import io
import json

import pytest
import torch
from safetensors import safe_open
from test_train_support import make_spec, write_images

from danlu_engine import cancel, protocol
from danlu_engine.commands import train as train_command
from danlu_engine.commands import train_many
from danlu_engine.network.batched import SharedLoRA
from danlu_engine.network.lora import LoRAModule
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)
LOSS_RTOL, FILE_RTOL, FILE_ATOL = 1e-4, 1e-2, 1e-5


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return write_images(str(tmp_path_factory.mktemp("images")), 6)


def _events(run, raw: dict, monkeypatch) -> list[dict]:
    stdout = io.StringIO()
    monkeypatch.setattr(protocol, "_stdout", stdout)
    cancel.reset()
    run(raw)
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


def _losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "progress"]


def _job(events: list[dict], job_id: str) -> list[dict]:
    return [e["data"] for e in events if e["event"] == "job" and e["id"] == job_id]


def _tensors(path: str) -> dict[str, torch.Tensor]:
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def _close(solo: torch.Tensor, joint: torch.Tensor) -> bool:
    return bool((solo - joint).norm() <= FILE_RTOL * solo.norm() + FILE_ATOL)


def _final(events: list[dict]) -> str:
    return next(e["path"] for e in events if e["event"] == "checkpoint" and e["kind"] == "final")


def _many(jobs: list[tuple[str, int, dict]], slots: int, mode: str = "bmm") -> dict:
    return {"version": 1, "slots": slots, "mode": mode,
            "jobs": [{"id": i, "join_at_step": at, "spec": spec} for i, at, spec in jobs]}


def test_one_job_equals_its_solo_run_exactly(sd15, images, tmp_path, monkeypatch):
    spec = make_spec(sd15, str(tmp_path / "solo"), images[:4], epochs=2, batch=2, training={"noise_offset": 0.05})
    solo = _events(train_command.run, spec, monkeypatch)
    joint = _events(train_many.run, _many([("a", 0, {**spec, "output": {**spec["output"], "dir": str(tmp_path / "m")}})],
                                          1), monkeypatch)
    job = _job(joint, "a")
    assert _losses(job) == _losses(solo) and len(_losses(solo)) == 4
    a, b = _tensors(_final(solo)), _tensors(_final(job))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [e["event"] for e in job][-1] == "done" and joint[-1]["event"] == "done"
    kinds = [e["kind"] for e in job if e["event"] == "checkpoint"]
    assert kinds == [e["kind"] for e in solo if e["event"] == "checkpoint"] == ["epoch", "final"]


@pytest.mark.parametrize("mode", ["bmm", "loop"])
def test_three_jobs_each_match_their_solo_run(sd15, images, tmp_path, monkeypatch, mode):
    """a: 4 images x 2 epochs; b: other images and seed, one epoch (leaves early); c: joins before pass 2
    and waits for a free slot (2 slots), so it starts when b leaves."""
    a = make_spec(sd15, "", images[:4], epochs=2, batch=2, training={"seed": 1})
    b = make_spec(sd15, "", images[2:6], epochs=1, batch=2, training={"seed": 2},
                  scheduler={"type": "cosine", "warmup_steps": 1, "num_cycles": 1, "power": 1.0})
    c = make_spec(sd15, "", images[1:5], epochs=1, batch=2, training={"seed": 3, "noise_offset": 0.1},
                  optimizer={**a["optimizer"], "unet_lr": 3e-3})
    specs = {"a": a, "b": b, "c": c}
    for name, spec in specs.items():
        spec["output"]["dir"] = str(tmp_path / f"solo-{name}")
    solo = {name: _events(train_command.run, spec, monkeypatch) for name, spec in specs.items()}
    jobs = [(name, 2 if name == "c" else 0, {**s, "output": {**s["output"], "dir": str(tmp_path / f"m-{name}")}})
            for name, s in specs.items()]
    joint = _events(train_many.run, _many(jobs, 2, mode), monkeypatch)
    for name in specs:
        job = _job(joint, name)
        assert _losses(job) == pytest.approx(_losses(solo[name]), rel=LOSS_RTOL), name
        x, y = _tensors(_final(solo[name])), _tensors(_final(job))
        assert x.keys() == y.keys() and all(x[k].shape == y[k].shape for k in x)
        assert all(_close(x[k].float(), y[k].float()) for k in x), name
    first_progress = [next(i for i, e in enumerate(joint) if e["event"] == "job" and e["id"] == n
                           and e["data"]["event"] == "progress") for n in "abc"]
    b_done = next(i for i, e in enumerate(joint) if e["event"] == "job" and e["id"] == "b" and e["data"]["event"] == "done")
    assert first_progress[2] > b_done  # c waited for b's slot
    assert joint[-1]["event"] == "done" and joint[-1]["steps"] == 4


def test_batched_change_equals_each_modules_own(tmp_path):
    """The bmm paths (grouped: equal sample counts; gathered: unequal) against each module's own change:
    outputs and weight gradients."""
    torch.manual_seed(0)
    bases: list[tuple[torch.nn.Linear | torch.nn.Conv2d, tuple[int, ...]]] = [
        (torch.nn.Linear(8, 6), (5, 3, 8)), (torch.nn.Conv2d(8, 6, 1), (5, 8, 2, 2))]
    for base, shape in bases:
        base.requires_grad_(False)
        modules = [LoRAModule("m", base, 4, 2.0) for _ in range(3)]
        for m in modules:
            torch.nn.init.normal_(m.lora_up.weight)
        for sizes in ([(0, 2), (2, 2)], [(0, 1), (1, 2), (2, 2)]):
            x = torch.randn(sum(n for _, n in sizes), *shape[1:])
            shared = SharedLoRA(3)
            for m in modules:
                net = torch.nn.Module()
                net.all_loras = lambda m=m: [m]  # type: ignore[assignment]
                shared.join(net)  # type: ignore[arg-type]
            shared.set_route(sizes)
            got = base(x)
            shared.remove()
            starts = [sum(n for _, n in sizes[:i]) for i in range(len(sizes))]
            want = torch.cat([base(x[s:s + n]) + modules[slot].change(x[s:s + n], None)  # type: ignore[arg-type]
                              for (slot, n), s in zip(sizes, starts, strict=True)])
            assert torch.allclose(got, want, atol=1e-6)
            params = [p for slot, _ in sizes for p in (modules[slot].lora_down.weight, modules[slot].lora_up.weight)]
            probe = torch.randn_like(got)
            grads = zip(torch.autograd.grad((got * probe).sum(), params),
                        torch.autograd.grad((want * probe).sum(), params), strict=True)
            assert all(torch.allclose(g, h, atol=1e-5) for g, h in grads)


def test_refuses_what_it_cannot_batch(sd15, images):
    spec = make_spec(sd15, "out", images[:2], network={"train_text_encoder": True})
    with pytest.raises(EngineError, match=r"jobs\[0\]\.spec\.network\.train_text_encoder"):
        train_many.parse_many(_many([("a", 0, spec)], 1))
    ok = make_spec(sd15, "out", images[:2])
    other = make_spec(sd15, "out", images[:2], network={"dim": 8})
    with pytest.raises(EngineError, match=r"jobs\[1\]\.spec\.network\.dim"):
        train_many.parse_many(_many([("a", 0, ok), ("b", 0, other)], 2))


def test_a_failing_job_ends_alone(sd15, images, tmp_path, monkeypatch):
    good = make_spec(sd15, str(tmp_path / "good"), images[:2], epochs=1)
    bad = make_spec(sd15, str(tmp_path / "bad"), images[:2], epochs=1)
    bad["images"][1]["path"] = str(tmp_path / "missing.png")
    joint = _events(train_many.run, _many([("bad", 0, bad), ("good", 0, good)], 2), monkeypatch)
    assert [e["event"] for e in _job(joint, "bad")] == ["error"]
    assert _job(joint, "bad")[0]["code"] == "FILE_NOT_FOUND"
    assert _job(joint, "good")[-1]["event"] == "done" and joint[-1]["event"] == "done"
