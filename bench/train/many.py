"""Customers per hour with train-many: K portrait-like LoRAs trained in one pass, K = 1, 2, 4, 8.

Each K runs ``python -m danlu_engine train-many`` in its own process on the real SD1.5 architecture
(bench/train/real_arch.py: random weights, fp16 file, float32 training), K jobs with their own images
and seeds, the portrait preset's network (UNet-only LoRA, dim 32, alpha 32, AdamW lr 2e-4, cosine),
batch 2 per job, one torch thread on the CPU. Figures:

- pass s: seconds per pass (one optimizer step of every job), steady state: the mean over passes
  2..N from job 0's progress events (``elapsed_s``), so loading and caching are not in it;
- job-step s = pass s / K (the cost of one step of one customer);
- customers/hour = K x 3600 / (pass s x customer steps), customer steps = the portrait preset's
  max_train_steps (400) unless ``--customer-steps`` says otherwise: the training stage only;
- CPU s per pass: user + system time of the engine process over the same passes (/proc/PID/stat, read
  when each progress event arrives); on a shared machine this is the steady figure (wall time grows with
  the other processes' load, CPU time hardly), and customers/hour (CPU) = K x 3600 / (CPU s x steps) is
  what one dedicated core would give;
- peak RSS (VmHWM of the engine process, polled) on the CPU.
K values run in the order given, ``--rounds`` times over (alternating). It passes or fails nothing.

    OMP_NUM_THREADS=1 PYTHONPATH=engine .venv/bin/python bench/train/many.py --ks 1,2,4,8 --steps 4
    (GPU) ... --device cuda --resolution 512 --mixed-precision bf16 --threads 0
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "engine", "tests"))
from test_train_support import image_entry, make_spec  # noqa: E402 - the tests' complete train spec

PORTRAIT_STEPS = 400  # src/config/presets/portrait.ts max_train_steps


def write_job_images(folder: str, count: int, size: int, seed: int) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    rng, paths = np.random.default_rng(seed), []
    for i in range(count):
        array = np.zeros((size, size, 3), dtype=np.uint8)
        array[:, :] = rng.integers(0, 255, 3)
        q = size // 4
        array[q : 3 * q, q : 3 * q] = rng.integers(0, 255, 3)
        paths.append(os.path.join(folder, f"img{i}.png"))
        Image.fromarray(array).save(paths[-1])
    return paths


def job_spec(args, model: str, k: int, work: str) -> dict:
    images = write_job_images(os.path.join(work, f"images-{k}"), args.batch * args.steps, args.resolution, 100 + k)
    spec = make_spec(model, os.path.join(work, f"out-{k}"), images, epochs=1, batch=args.batch,
                     network={"dim": 32, "alpha": 32.0},
                     optimizer={"type": "AdamW", "unet_lr": 2e-4, "text_encoder_lr": 2e-4, "text_encoder_lr2": 2e-4,
                                "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "max_grad_norm": 1.0,
                                "args": {}},
                     scheduler={"type": "cosine", "warmup_steps": 0, "num_cycles": 1, "power": 1.0},
                     training={"device": args.device, "mixed_precision": args.mixed_precision, "seed": 42 + k})
    spec["model"]["arch"] = "sd15"
    spec["images"] = [image_entry(p, args.resolution) for p in images]
    spec["output"].update({"name": f"customer{k}", "save_every_n_epochs": 0})
    return spec


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int, box: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        box[0] = max(box[0], int(line.split()[1]) // 1024)
        except OSError:
            return


def run_k(args, model: str, k: int, work: str) -> dict:
    spec = {"version": 1, "slots": k, "mode": args.mode,
            "jobs": [{"id": f"c{j}", "join_at_step": 0, "spec": job_spec(args, model, j, work)} for j in range(k)]}
    path = os.path.join(work, f"many-{k}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "engine")}
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "danlu_engine", "train-many", path], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=os.path.join(ROOT, "engine"))
    box, stop = [0], threading.Event()
    threading.Thread(target=peak_rss, args=(proc.pid, box, stop), daemon=True).start()
    assert proc.stdout is not None
    events, cpu = [], []
    for line in proc.stdout:
        events.append(json.loads(line))
        data = events[-1].get("data", {})
        if events[-1]["event"] == "job" and events[-1]["id"] == "c0" and data.get("event") == "progress":
            cpu.append(cpu_seconds(proc.pid))
    proc.wait()
    stop.set()
    wall = time.perf_counter() - started
    progress = [e["data"] for e in events if e["event"] == "job" and e["id"] == "c0" and e["data"]["event"] == "progress"]
    if proc.returncode != 0 or len(progress) < 2:
        raise SystemExit(f"K={k}: exit {proc.returncode}, events {events[-3:]}")
    pass_s = (progress[-1]["elapsed_s"] - progress[0]["elapsed_s"]) / (len(progress) - 1)
    cpu_s = (cpu[-1] - cpu[0]) / (len(cpu) - 1)
    return {"k": k, "pass_s": pass_s, "job_step_s": pass_s / k,
            "customers_per_hour": k * 3600 / (pass_s * args.customer_steps),
            "cpu_pass_s": cpu_s, "customers_per_hour_cpu": k * 3600 / (cpu_s * args.customer_steps),
            "peak_rss_mib": box[0], "wall_s": wall, "loss_c0": [round(p["loss"], 5) for p in progress]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/tmp/danlu-bench-many/sd15-real-seed0.safetensors",
                        help="real-architecture checkpoint (written by real_arch.py when missing)")
    parser.add_argument("--ks", default="1,2,4,8", help="job counts, comma-separated (default 1,2,4,8)")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per job (default 4; >= 2)")
    parser.add_argument("--batch", type=int, default=2, help="batch per job (default 2)")
    parser.add_argument("--resolution", type=int, default=64, help="px (default 64; 512 on a GPU)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    parser.add_argument("--mode", default="bmm", choices=["bmm", "loop"], help="train-many's adapter path")
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads (default 1; 0: torch's default)")
    parser.add_argument("--rounds", type=int, default=1, help="times over the K list (default 1)")
    parser.add_argument("--customer-steps", type=int, default=PORTRAIT_STEPS, help="steps of one customer (400)")
    parser.add_argument("--work", default="/tmp/danlu-bench-many/work")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.model):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "train", "real_arch.py"), args.model], check=True,
                       env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "engine")})
    rows = []
    for r in range(args.rounds):
        for k in [int(x) for x in args.ks.split(",")]:
            row = {"round": r + 1, **run_k(args, args.model, k, os.path.join(args.work, f"r{r}-k{k}"))}
            print(json.dumps(row), flush=True)
            rows.append(row)
    base = {row["round"]: row for row in rows if row["k"] == 1}
    print("| round | K | pass s | job-step s | customers/hour | vs K=1 | CPU s/pass | customers/hour (CPU) "
          "| vs K=1 | peak RSS MiB | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        one = base.get(row["round"])
        wall = row["customers_per_hour"] / one["customers_per_hour"] if one else float("nan")
        cpu = row["customers_per_hour_cpu"] / one["customers_per_hour_cpu"] if one else float("nan")
        print(f"| {row['round']} | {row['k']} | {row['pass_s']:.2f} | {row['job_step_s']:.2f} | "
              f"{row['customers_per_hour']:.2f} | {wall:.2f} | {row['cpu_pass_s']:.2f} | "
              f"{row['customers_per_hour_cpu']:.2f} | {cpu:.2f} | {row['peak_rss_mib']} | {row['wall_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
