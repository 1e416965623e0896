"""The model hash is computed once per (path, size, mtime) and computed again when the file changes."""
from __future__ import annotations

import hashlib
import json
import os

from danlu_engine.models.hash_cache import file_sha256


def test_a_hash_is_read_back_until_the_file_changes(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "model-hashes.json"
    monkeypatch.setenv("DANLU_HASH_CACHE", str(cache))
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"weights" * 1000)
    real = hashlib.sha256(model.read_bytes()).hexdigest()
    assert file_sha256(str(model)) == real
    entries = json.loads(cache.read_text())
    assert entries[str(model)]["sha256"] == real

    # the second run takes the cached value (planted here to tell the two apart)
    entries[str(model)]["sha256"] = "cached"
    cache.write_text(json.dumps(entries))
    assert file_sha256(str(model)) == "cached"

    # a changed file (new size and mtime) is hashed again
    model.write_bytes(b"other weights" * 1000)
    assert file_sha256(str(model)) == hashlib.sha256(model.read_bytes()).hexdigest()
    # same size, new mtime: hashed again too
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    entries = json.loads(cache.read_text())
    entries[str(model)]["sha256"] = "stale"
    cache.write_text(json.dumps(entries))
    assert file_sha256(str(model)) == hashlib.sha256(model.read_bytes()).hexdigest()


def test_a_broken_or_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"weights")
    real = hashlib.sha256(b"weights").hexdigest()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv("DANLU_HASH_CACHE", str(broken))
    assert file_sha256(str(model)) == real
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("DANLU_HASH_CACHE", str(blocked / "cache.json"))  # its folder is a file
    assert file_sha256(str(model)) == real
