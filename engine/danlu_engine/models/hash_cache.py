"""The SHA-256 of a model file, computed once: every run reads a checkpoint's hash (the LoRA's metadata names
its base model by it), and hashing a 2-7 GB file takes seconds to a minute. The hash is kept by (absolute
path, size, mtime in ns) in one small JSON file; a file that changes in any of them is hashed again.

The file is ``$DANLU_HASH_CACHE`` if set, else ``~/.cache/danlu/model-hashes.json``. It is written to a temp
file and renamed; a cache that cannot be read or written is only slower, never an error.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

MAX_ENTRIES = 200  # the newest kept: a user's checkpoints, not every file ever hashed


def cache_path() -> str:
    return os.environ.get("DANLU_HASH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "danlu",
                                                              "model-hashes.json")


def _key(path: str) -> tuple[str, str]:
    stat = os.stat(path)
    return os.path.abspath(path), f"{stat.st_size}:{stat.st_mtime_ns}"


def _read() -> dict[str, dict[str, str]]:
    try:
        with open(cache_path(), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(entries: dict[str, dict[str, str]]) -> None:
    path = cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".model-hashes-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entries, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the next run hashes again


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    """SHA-256 of the whole file, hex (sd-scripts' ``calculate_sha256``), from the cache when it is current."""
    name, stamp = _key(path)
    entries = _read()
    entry = entries.get(name)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    value = _sha256(path)
    entries.pop(name, None)
    entries[name] = {"stamp": stamp, "sha256": value}
    _write(dict(list(entries.items())[-MAX_ENTRIES:]))
    return value
