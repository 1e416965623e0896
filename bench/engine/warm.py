"""Seconds from a job's start to its first training step: cold (a new engine process per job, as one-shot
runs are) against warm (jobs in one ``python -m danlu_engine serve`` process, base model kept loaded).

Cold: the clock starts when ``python -m danlu_engine train spec.json`` is spawned. Warm: the server is
started and has said ``idle`` before the clock starts; the clock starts when the request line is
written. Both stop at the job's first ``progress`` event. Warm job 1 loads the model (and imports
diffusers) in the server; jobs 2..N find it in the cache. Each job trains its own output folder with the
same settings: 4 generated 64 px images, batch 2, LoRA dim 4 alpha 2, AdamW, 2 steps, float32, cached
latents, on the CPU. It passes or fails nothing.

    PYTHONPATH=engine .venv/bin/python bench/engine/warm.py --jobs 3 --threads 1
    ... --model /tmp/danlu-bench-many/sd15-real-seed0.safetensors   (bench/train/real_arch.py writes it)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "engine", "tests"))
from test_train_support import make_spec, write_images  # noqa: E402 - the tests' complete train spec


def engine_env(threads: int) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "engine"), "PYTHONUNBUFFERED": "1",
           "OMP_WAIT_POLICY": "PASSIVE"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def until(stdout, wanted: str) -> list[dict]:
    """Events up to and including the first ``wanted`` (an error event ends it too)."""
    events = []
    while line := stdout.readline():
        event = json.loads(line)
        events.append(event)
        if event["event"] in (wanted, "error"):
            if event["event"] == "error":
                raise RuntimeError(f"engine error: {event['message']}")
            return events
    raise RuntimeError("the engine ended early")


def cold_job(spec: dict, work: str, env: dict) -> float:
    path = os.path.join(work, "spec.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "danlu_engine", "train", path], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout
    until(proc.stdout, "progress")
    first = time.perf_counter() - started
    proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"cold job failed (exit {proc.returncode})")
    return first


def warm_jobs(specs: list[dict], env: dict) -> tuple[float, list[float], list[bool]]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "danlu_engine", "serve"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin and proc.stdout
    until(proc.stdout, "idle")
    server_start = time.perf_counter() - started
    firsts, hits = [], []
    for spec in specs:
        started = time.perf_counter()
        proc.stdin.write(json.dumps({"command": "train", "spec": spec}) + "\n")
        proc.stdin.flush()
        events = until(proc.stdout, "progress")
        firsts.append(time.perf_counter() - started)
        hits.append(next(e["hit"] for e in events if e["event"] == "model_cache"))
        until(proc.stdout, "idle")
    proc.stdin.close()
    proc.wait()
    return server_start, firsts, hits


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint or diffusers folder (default: a tiny sd15)")
    parser.add_argument("--jobs", type=int, default=3, help="jobs per mode (default 3; >= 2)")
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads (default 1; 0: torch's default)")
    args = parser.parse_args(argv)
    env = engine_env(args.threads)
    with tempfile.TemporaryDirectory(prefix="danlu-bench-warm-") as work:
        model = args.model
        if model is None:
            model = os.path.join(work, "tiny-sd15")
            make = f"from danlu_engine.models import make_tiny; make_tiny('sd15', {model!r}, False, 0)"
            subprocess.run([sys.executable, "-c", make], env=env, check=True)
        images = write_images(os.path.join(work, "images"), 4)

        def spec(name: str) -> dict:
            return make_spec(model, os.path.join(work, name), images, epochs=1, batch=2)

        cold = [cold_job(spec(f"cold{i}"), work, env) for i in range(args.jobs)]
        server_start, warm, hits = warm_jobs([spec(f"warm{i}") for i in range(args.jobs)], env)
    name = "tiny sd15 (make-tiny)" if args.model is None else os.path.basename(args.model)
    later = statistics.mean(warm[1:])
    print(json.dumps({"model": name, "cold_s": cold, "server_start_s": server_start, "warm_s": warm,
                      "cache_hits": hits}))
    print(f"| model | cold, each job (s) | serve start (s) | warm job 1 (s) | warm jobs 2..{args.jobs} (s) "
          f"| cold / warm 2.. |")
    print("|---|---|---|---|---|---|")
    print(f"| {name} | {', '.join(f'{s:.2f}' for s in cold)} | {server_start:.2f} | {warm[0]:.2f} "
          f"| {', '.join(f'{s:.2f}' for s in warm[1:])} | {statistics.mean(cold) / later:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
