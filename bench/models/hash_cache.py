"""Seconds to read a checkpoint's SHA-256 the first time and from the hash cache (danlu_engine/models/hash_cache.py).

    .venv/bin/python bench/models/hash_cache.py [--mib 2048]

Writes a file of that size (a real SD1.5 checkpoint is 2-4 GiB) to the temp folder, hashes it twice with a
cache in the temp folder, and prints both times and their ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "engine"))
from danlu_engine.models.hash_cache import file_sha256


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=2048)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DANLU_HASH_CACHE"] = os.path.join(tmp, "hashes.json")
        path = os.path.join(tmp, "model.safetensors")
        with open(path, "wb") as f:
            f.writelines(os.urandom(1 << 20) for _ in range(args.mib))
        started = time.perf_counter()
        first = file_sha256(path)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = file_sha256(path)
        warm = time.perf_counter() - started
        assert first == again
        print(f"{args.mib} MiB: first hash {cold:.2f} s, from the cache {warm * 1000:.2f} ms "
              f"({cold / warm:.0f}x)")


if __name__ == "__main__":
    main()
