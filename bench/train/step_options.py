"""Each training-step option on and off, in alternation in one process, through danlu's real train command.

Every run is `danlu_engine.commands.train.run(spec)` in this process on the same model, images and plan;
a switch is one patch applied around the run (below, SWITCHES). Steady-state steps/s comes from the
progress events' `elapsed_s` over steps 2..N (at a loss read point it is taken after the device sync, so
it is device time on a GPU too); "first step" is the first progress event's elapsed_s (compiling included).

    PYTHONPATH=engine .venv/bin/python bench/train/step_options.py --rounds 3 --steps 20      # tiny SD1.5, CPU
    PYTHONPATH=engine python3 bench/train/step_options.py --device cuda --model sd15.safetensors \\
        --resolution 512 --precision bf16 --rank 128                                             # a GPU

Switches (`--only a,b` picks some): sync (loss read every step vs every 10: loop.loss_read_interval),
optimizer (AdamW for-loop vs foreach vs fused), compile (torch.compile of the UNet, DANLU_TORCH_COMPILE),
channels_last (UNet weights in channels_last), sdpa (AttnProcessor2_0 vs diffusers' plain AttnProcessor),
base_bf16 (mixed_precision no vs bf16: frozen base weights float32 vs bfloat16, no float32 copy).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "engine", "tests"))

from test_train_support import image_entry, make_spec, write_images  # noqa: E402

from danlu_engine import protocol  # noqa: E402
from danlu_engine.commands import train as train_command  # noqa: E402
from danlu_engine.train import loop, optimizers, setup  # noqa: E402

BASE_BYTES: list[int] = []  # the frozen UNet + text encoder bytes of the last run (place_base_model)


@contextlib.contextmanager
def patched(obj, name: str, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def env(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def after_place(extra):
    """place_base_model, then extra(model, device); records the frozen base's bytes."""
    original = setup.place_base_model

    def place(model, device, precision, spec):
        original(model, device, precision, spec)
        if extra:
            extra(model, device)
        modules = [model.unet, *model.text_encoders]
        BASE_BYTES[:] = [sum(p.numel() * p.element_size() for m in modules for p in m.parameters())]
    return patched(train_command, "place_base_model", place)


def adamw(**flags):
    original = torch.optim.AdamW

    def make(groups, **kwargs):
        kwargs.pop("fused", None)
        kwargs.pop("foreach", None)
        return original(groups, **kwargs, **flags)
    return patched(optimizers.torch.optim, "AdamW", make)


def sdpa(on: bool):
    def plain(model, device):
        from diffusers.models.attention_processor import AttnProcessor
        model.unet.set_attn_processor(AttnProcessor())
    return after_place(None if on else plain)


def channels_last(on: bool):
    def layout(model, device):
        model.unet.to(memory_format=torch.channels_last if on else torch.contiguous_format)
    return after_place(layout)


def sync(on: bool):  # on: read the loss after every step
    return patched(loop, "loss_read_interval", (lambda device: 1) if on else (lambda device: 10))


SWITCHES = {
    # name: [(label, context factory, spec precision override or None), ...]; the first is the baseline
    "sync": [("every step", lambda: sync(True), None), ("every 10", lambda: sync(False), None)],
    "optimizer": [("for-loop", lambda: adamw(foreach=False), None), ("foreach", lambda: adamw(foreach=True), None),
                  ("fused", lambda: adamw(fused=True), None)],
    "compile": [("eager", contextlib.nullcontext, None), ("compiled", lambda: env(setup.COMPILE_ENV, "1"), None)],
    "channels_last": [("contiguous", lambda: channels_last(False), None), ("channels_last", lambda: channels_last(True), None)],
    "sdpa": [("AttnProcessor", lambda: sdpa(False), None), ("SDPA", lambda: sdpa(True), None)],
    "base_bf16": [("float32 base", lambda: after_place(None), "no"), ("bf16 base", lambda: after_place(None), "bf16")],
}


def one_run(spec: dict, context) -> dict:
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as folder, patched(protocol, "_stdout", out), context():
        spec = {**spec, "output": {**spec["output"], "dir": folder}}
        if spec["training"]["device"] == "cuda" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        BASE_BYTES[:] = [0]
        try:
            train_command.run(spec)
        except Exception as e:  # noqa: BLE001 - a switch that cannot run here is reported, not fatal
            return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]}
    gc.collect()  # the run's model, before the next one loads its own
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    steps = [e for e in events if e["event"] == "progress"]
    span = steps[-1]["elapsed_s"] - steps[0]["elapsed_s"]
    logs = [e["message"] for e in events if e["event"] == "log" and "compile" in e["message"]]
    return {"steps_per_s": (len(steps) - 1) / span, "first_step_s": steps[0]["elapsed_s"],
            "loss": statistics.fmean(s["loss"] for s in steps), "memory_mb": steps[-1]["memory_mb"],
            "base_mib": BASE_BYTES[0] / 2**20, "log": logs[0] if logs else ""}


def build_spec(a, model: str, work: str) -> dict:
    images = write_images(os.path.join(work, "images"), 4, a.resolution)
    order = [i % 4 for i in range(a.steps * a.batch)]
    batches = [{"images": order[k: k + a.batch], "captions": [f"a photo of sks shape {i}" for i in order[k: k + a.batch]]}
               for k in range(0, len(order), a.batch)]
    spec = make_spec(model, work, images, epochs=1, batch=a.batch)
    spec["images"] = [image_entry(p, a.resolution) for p in images]
    spec["epochs"] = [batches]
    spec["output"].update(save_every_n_epochs=0)
    spec["network"].update(dim=a.rank, alpha=float(a.rank))
    spec["optimizer"].update(unet_lr=1e-4, text_encoder_lr=5e-5, text_encoder_lr2=5e-5)
    spec["training"].update(device=a.device, mixed_precision=a.precision, total_steps=a.steps, epochs=1)
    return spec


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--model", default=None, help="a checkpoint (default: a tiny SD1.5 built here)")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precision", default="no", choices=["no", "bf16", "fp16"])
    p.add_argument("--only", default=",".join(SWITCHES))
    a = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="danlu-step-options-")
    model = a.model
    if model is None:
        from danlu_engine.models import make_tiny
        model = os.path.join(work, "tiny-sd15")
        make_tiny("sd15", model, False, 0)
    spec = build_spec(a, model, work)
    print(f"{a.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, {a.resolution} px, "
          f"batch {a.batch}, rank {a.rank}, {a.steps} steps, precision {a.precision}, model {os.path.basename(model)}")
    print("\n| switch | setting | round | steps/s | first step (s) | mean loss | base MiB | GPU MiB | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for name in a.only.split(","):
        results: dict[str, list[dict]] = {}
        for r in range(1, a.rounds + 1):
            for label, context, precision in SWITCHES[name]:
                run_spec = json.loads(json.dumps(spec))
                if precision:
                    run_spec["training"]["mixed_precision"] = precision
                got = one_run(run_spec, context)
                results.setdefault(label, []).append(got)
                if "error" in got:
                    print(f"| {name} | {label} | {r} | - | - | - | - | - | {got['error']} |", flush=True)
                    continue
                mem = f"{got['memory_mb']:.0f}" if got["memory_mb"] is not None else "-"
                print(f"| {name} | {label} | {r} | {got['steps_per_s']:.2f} | {got['first_step_s']:.2f} | "
                      f"{got['loss']:.4f} | {got['base_mib']:.1f} | {mem} | {got['log']} |", flush=True)
        base_label = SWITCHES[name][0][0]
        for label, runs in results.items():
            ok = [x["steps_per_s"] for x in runs if "error" not in x]
            base = [x["steps_per_s"] for x in results[base_label] if "error" not in x]
            if label != base_label and ok and base:
                summary.append((name, f"{label} / {base_label}", statistics.median(ok) / statistics.median(base)))
    print("\n| switch | ratio of median steps/s |\n|---|---|")
    for name, what, ratio in summary:
        print(f"| {name} | {what}: {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
