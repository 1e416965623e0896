"""danlu beside kohya sd-scripts on one machine, driven from Python alone (no Node.js there).

Builds the real SD1.5 architecture with random weights (bench/train/real_arch.py), 16 generated images
with captions, then trains guide 000's settings (src/config/presets/person.ts: 512 px, batch 2, dim 128
alpha 128, AdamW8bit, bf16, the VAE in float32, cached latents, UNet lr 1e-4, text encoder lr 5e-5,
clip_skip 2, SDPA) with danlu's engine (`python -m danlu_engine train spec.json`) and with sd-scripts'
train_network.py (through bench/train/kohya_timed.py, unchanged), alternating danlu, kohya, danlu, ...

--sdxl: the real SDXL architecture instead (real_arch.py --arch sdxl, 3.5 G parameters), danlu's spec
arch sdxl and sd-scripts' sdxl_train_network.py, 1024 px unless --resolution says otherwise. The same
settings otherwise: both text encoders trained (text_encoder_lr 5e-5 for each), so sd-scripts gets
neither --network_train_unet_only nor --cache_text_encoder_outputs (danlu encodes the captions every
step as well); clip_skip 1 for danlu and no --clip_skip for sd-scripts (SDXL already takes the layer
before the last, danlu's clip_skip 2 would go one further, and sd-scripts ignores clip_skip for SDXL).

Per run: images/s over steps 2..N on the trainer's own clock, seconds from process start to the end of
the first step, peak GPU memory (torch.cuda.max_memory_allocated; on the CPU the process's peak RSS),
and the mean loss over the steps. Then danlu / kohya ratios per round and their median.

    python3 bench/gpu/bench.py --device cuda --steps 40 --rounds 2 \\
        --danlu-path /tmp/site-danlu --kohya-path /tmp/site-kohya --kohya .kohya/sd-scripts
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(ROOT, "engine")
sys.path.insert(0, os.path.join(ENGINE, "tests"))  # make_spec: a complete train spec, kept in step with spec.py

from test_train_support import image_entry, make_spec  # noqa: E402

IMAGES = 16
TOKEN = "bench"


def env_with(path_prefix: list[str], threads: int | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, **extra, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([p for p in path_prefix if p] + [env.get("PYTHONPATH", "")]).strip(os.pathsep)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def ensure_model(work: str, env: dict[str, str], arch: str = "sd15") -> str:
    path = os.path.join(work, "models", f"{arch}-real-seed0.safetensors")
    if not os.path.exists(path):
        t = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "train", "real_arch.py"), path, "--arch", arch],
                       env=env, check=True)
        print(f"model: built in {time.perf_counter() - t:.1f} s", flush=True)
    return path


def ensure_dataset(work: str, size: int, repeats: int) -> tuple[str, list[str], list[str]]:
    """{work}/data/{size}px-r{repeats}/train/{repeats}_bench/: IMAGES PNGs of shapes on a gradient, .txt captions."""
    import numpy as np
    from PIL import Image, ImageDraw

    train = os.path.join(work, "data", f"{size}px-r{repeats}", "train")
    folder = os.path.join(train, f"{repeats}_{TOKEN}")
    os.makedirs(folder, exist_ok=True)
    paths, captions = [], []
    for i in range(IMAGES):
        path, caption = os.path.join(folder, f"img_{i:03d}.png"), f"{TOKEN}, shapes, test pattern {i}"
        if not os.path.exists(path):
            rng = np.random.default_rng(i + 1)
            a, b = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
            ramp = np.linspace(0, 1, size)[None, :, None]
            image = Image.fromarray((a * (1 - ramp) + b * ramp).repeat(size, 0).astype(np.uint8))
            draw = ImageDraw.Draw(image)
            for _ in range(6):
                x, y, r = rng.uniform(0, size, 2).tolist() + [size * rng.uniform(0.1, 0.4)]
                box = (x - r, y - r, x + r, y + r)
                fill = tuple(int(c) for c in rng.integers(0, 255, 3))
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
            image.save(path)
            with open(path[:-4] + ".txt", "w", encoding="utf-8") as f:
                f.write(caption + "\n")
        paths.append(path)
        captions.append(caption)
    return train, paths, captions


def danlu_spec(a, model: str, paths: list[str], captions: list[str], out: str) -> dict:
    """The spec TypeScript's planner writes for these settings: one epoch of steps x batch micro-batches."""
    order = [i % IMAGES for i in range(a.steps * a.batch)]
    batches = [{"images": order[k : k + a.batch], "captions": [captions[i] for i in order[k : k + a.batch]]}
               for k in range(0, len(order), a.batch)]
    spec = make_spec(model, out, paths, epochs=1, batch=a.batch)
    spec["images"] = [image_entry(p, a.resolution) for p in paths]
    spec["epochs"] = [batches]
    spec["output"].update(name="bench", save_every_n_epochs=0, save_precision="fp16")
    spec["network"].update(dim=a.dim, alpha=float(a.dim), train_text_encoder=True)
    spec["optimizer"].update(type=a.optimizer, unet_lr=1e-4, text_encoder_lr=5e-5, text_encoder_lr2=5e-5)
    spec["training"].update(device=a.device, mixed_precision=a.precision, vae_fp32=True,
                            clip_skip=1 if a.sdxl else 2, seed=1234, epochs=1, total_steps=a.steps)
    if a.sdxl:  # the file's keys say so too; the spec's arch makes a wrong file an error, not a guess
        spec["model"].update(arch="sdxl")
    return spec


def kohya_args(a, model: str, train_dir: str, out: str, tokenizers: str) -> list[str]:
    flags: dict[str, object] = {
        "pretrained_model_name_or_path": model, "train_data_dir": train_dir, "output_dir": out,
        "output_name": "bench", "caption_extension": ".txt", "resolution": f"{a.resolution},{a.resolution}",
        "network_module": "networks.lora", "network_dim": a.dim, "network_alpha": a.dim,
        "learning_rate": 1e-4, "unet_lr": 1e-4, "text_encoder_lr": 5e-5, "optimizer_type": a.optimizer,
        "lr_scheduler": "constant", "max_grad_norm": 1.0, "train_batch_size": a.batch,
        "max_train_steps": a.steps, "save_model_as": "safetensors", "save_precision": "fp16",
        "mixed_precision": a.precision, "no_half_vae": None, "cache_latents": None, "sdpa": None,
        "clip_skip": 2, "seed": 1234, "max_data_loader_n_workers": 0, "tokenizer_cache_dir": tokenizers,
    }
    if a.sdxl:  # SDXL takes the layer before the last by itself; sd-scripts warns about --clip_skip there
        del flags["clip_skip"]
    return [x for k, v in flags.items() for x in ([f"--{k}"] if v is None else [f"--{k}", str(v)])]


def run(cmd: list[str], env: dict[str, str], log: str, cwd: str, parse) -> dict:
    """Start cmd, timestamp its lines as they arrive; parse(line) -> dict of step fields or None."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    steps: list[dict] = []
    first: list[float] = []
    with open(log, "w", encoding="utf-8") as out:
        def pump(stream):
            for line in stream:
                out.write(line)
                step = parse(line)
                if step:
                    if not first:
                        first.append(time.perf_counter() - started)
                    steps.append(step)
        hwm: list[float] = [0.0]

        def poll_rss():  # the process's peak resident memory (VmHWM), read until it exits
            while proc.poll() is None:
                hwm[0] = max(hwm[0], vm_hwm_mb(proc.pid))
                time.sleep(0.5)
        threads = [threading.Thread(target=pump, args=(s,)) for s in (proc.stdout, proc.stderr)]
        threads.append(threading.Thread(target=poll_rss))
        for t in threads:
            t.start()
        code = proc.wait()
        for t in threads:
            t.join()
    wall = time.perf_counter() - started
    if code != 0 or not steps:
        raise SystemExit(f"{cmd[0]} ... exited {code} with {len(steps)} steps; see {log}")
    return {"steps": sorted(steps, key=lambda s: s["step"]), "first_step_s": first[0], "wall_s": wall,
            "peak": hwm[0]}


def vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def parse_danlu(line: str):
    if not line.startswith("{"):
        return None
    event = json.loads(line)
    if event.get("event") == "error":
        print(f"danlu error: {event}", file=sys.stderr)
    if event.get("event") != "progress":
        return None
    return {"step": event["step"], "t": event["elapsed_s"], "memory_mb": event["memory_mb"], "loss": event["loss"]}


def parse_kohya(line: str):
    at = line.find("DANLU_BENCH ")
    if at < 0:
        return None
    report = json.loads(line[at + len("DANLU_BENCH "):])
    return report if report.get("event") == "step" else None


def figures(name: str, result: dict, batch: int) -> dict:
    steps = result["steps"]
    span = steps[-1]["t"] - steps[0]["t"]
    memory = steps[-1]["memory_mb"] if steps[-1]["memory_mb"] is not None else result["peak"]
    return {"trainer": name, "images_per_s": (len(steps) - 1) * batch / span if span > 0 else float("nan"),
            "first_step_s": result["first_step_s"], "peak_mb": memory, "wall_s": result["wall_s"],
            "loss": statistics.fmean(s["loss"] for s in steps if s["loss"] is not None), "steps": len(steps)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--sdxl", action="store_true", help="SDXL: the model, danlu's arch sdxl, sdxl_train_network.py")
    p.add_argument("--resolution", type=int, default=None, help="512; 1024 with --sdxl")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--optimizer", default="AdamW8bit")
    p.add_argument("--precision", default="bf16", choices=["no", "fp16", "bf16"])
    p.add_argument("--threads", type=int, default=None, help="OMP/MKL threads per trainer (CPU runs: 1)")
    p.add_argument("--work", default="/tmp/danlu-gpu-bench")
    p.add_argument("--kohya", default=os.path.join(ROOT, ".kohya", "sd-scripts"), help="sd-scripts folder")
    p.add_argument("--kohya-path", default="", help="PYTHONPATH prefix with sd-scripts' packages")
    p.add_argument("--danlu-path", default="", help="PYTHONPATH prefix with the engine's packages")
    p.add_argument("--only", choices=["danlu", "kohya"], default=None)
    a = p.parse_args(argv)
    a.kohya = os.path.abspath(a.kohya)
    if a.resolution is None:
        a.resolution = 1024 if a.sdxl else 512
    os.makedirs(a.work, exist_ok=True)
    danlu_env = env_with([ENGINE, a.danlu_path], a.threads)
    kohya_env = env_with([a.kohya_path], a.threads)
    model = ensure_model(a.work, danlu_env, "sdxl" if a.sdxl else "sd15")
    repeats = max(1, -(-a.steps * a.batch // IMAGES))  # one kohya epoch covers the run
    train_dir, paths, captions = ensure_dataset(a.work, a.resolution, repeats)
    tokenizers = os.path.join(a.work, "tokenizers")
    wanted = ["openai_clip-vit-large-patch14"] + (["laion_CLIP-ViT-bigG-14-laion2B-39B-b160k"] if a.sdxl else [])
    if a.only != "danlu" and not all(os.path.exists(os.path.join(tokenizers, w)) for w in wanted):
        vocab = subprocess.run([sys.executable, "-c", "from danlu_engine.tokenizer import vocab_dir; print(vocab_dir())"],
                               env=danlu_env, check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "train", "kohya_tokenizer.py"), "--vocab-dir", vocab,
                        "--cache-dir", tokenizers] + (["--sdxl"] if a.sdxl else []), env=kohya_env, check=True)
    rows: list[dict] = []
    for r in range(1, a.rounds + 1):
        for name in ("danlu", "kohya"):
            if a.only and name != a.only:
                continue
            run_dir = os.path.join(a.work, "runs", f"{r}-{name}")
            os.makedirs(run_dir, exist_ok=True)
            if name == "danlu":
                spec_path = os.path.join(run_dir, "spec.json")
                with open(spec_path, "w", encoding="utf-8") as f:
                    json.dump(danlu_spec(a, model, paths, captions, os.path.join(run_dir, "out")), f)
                cmd = [sys.executable, "-m", "danlu_engine", "train", spec_path]
                result = run(cmd, danlu_env, os.path.join(run_dir, "output.log"), ENGINE, parse_danlu)
            else:
                cmd = [sys.executable, os.path.join(ROOT, "bench", "train", "kohya_timed.py"), a.kohya,
                       *(["--script", "sdxl_train_network.py"] if a.sdxl else []),
                       *kohya_args(a, model, train_dir, os.path.join(run_dir, "out"), tokenizers)]
                result = run(cmd, kohya_env, os.path.join(run_dir, "output.log"), a.kohya, parse_kohya)
            rows.append({"round": r, **figures(name, result, a.batch)})
            print(json.dumps(rows[-1]), flush=True)
    report(rows, a)
    return 0


def report(rows: list[dict], a) -> None:
    memory = "peak GPU MiB" if a.device == "cuda" else "peak RSS MiB"
    print(f"\n{'SDXL' if a.sdxl else 'SD1.5'}, {a.device}, {a.resolution} px, batch {a.batch}, dim {a.dim}, "
          f"{a.optimizer}, {a.precision}, "
          f"{a.steps} steps\n")
    print(f"| round | trainer | images/s | first step (s) | {memory} | mean loss | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['round']} | {row['trainer']} | {row['images_per_s']:.3f} | {row['first_step_s']:.1f} | "
              f"{row['peak_mb']:.0f} | {row['loss']:.4f} | {row['wall_s']:.1f} |")
    pairs = [(d, k) for d in rows for k in rows if d["trainer"] == "danlu" and k["trainer"] == "kohya"
             and d["round"] == k["round"]]
    if not pairs:
        return
    keys = ["images_per_s", "first_step_s", "peak_mb", "loss"]
    print("\n| danlu / kohya | images/s | first step | peak memory | mean loss |\n|---|---|---|---|---|")
    ratios = {k: [d[k] / k_[k] for d, k_ in pairs] for k in keys}
    for i, (d, _) in enumerate(pairs):
        print(f"| round {d['round']} | " + " | ".join(f"{ratios[k][i]:.2f}" for k in keys) + " |")
    print("| median | " + " | ".join(f"{statistics.median(ratios[k]):.2f}" for k in keys) + " |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
