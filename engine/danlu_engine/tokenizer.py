"""CLIP tokenizers built offline from the BPE file that ships inside the open_clip_torch package.

The SD1.x / SD2.x / SDXL text encoders all use OpenAI's CLIP BPE vocabulary (49,408 entries). We never
download it: ``bpe_simple_vocab_16e6.txt.gz`` (MIT) is read from the installed open_clip package, turned
into the ``vocab.json`` + ``merges.txt`` pair transformers' CLIPTokenizer reads, and cached in the system
temp folder under a name keyed by the BPE file's hash (written atomically, so concurrent engines are safe).

Padding differs per text encoder: OpenAI CLIP ViT-L (SD1.x, SDXL's first encoder) pads with
``<|endoftext|>``; OpenCLIP ViT-H / bigG (SD2.x, SDXL's second encoder) pad with ``!`` (id 0).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from importlib.util import find_spec

from transformers import CLIPTokenizer

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
MERGE_COUNT = 49152 - 256 - 2  # 48,894 merges: the vocabulary minus 2 x 256 byte tokens and 2 specials
MAX_LENGTH = 77  # CLIP's context: <|startoftext|> + 75 tokens + <|endoftext|>
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
PAD_ENDOFTEXT, PAD_EXCLAMATION = EOS, "!"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable-character table (the first 256 vocabulary entries, in order)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def bpe_path() -> str:
    """The BPE file inside the installed open_clip package (located without importing it: that takes seconds)."""
    spec = find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, BPE_FILE)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{BPE_FILE} not found in the open_clip package; reinstall open-clip-torch")


def build_vocab_and_merges(bpe_gz: str) -> tuple[dict[str, int], list[str]]:
    """The CLIP vocabulary (token -> id) and merge lines ("a b"), as OpenAI's SimpleTokenizer builds them."""
    with gzip.open(bpe_gz, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = lines[1 : 1 + MERGE_COUNT]  # line 0 is a version header
    byte_chars = list(bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars]
    tokens += ["".join(m.split()) for m in merges]
    tokens += [BOS, EOS]
    if len(tokens) != VOCAB_SIZE:
        raise ValueError(f"{bpe_gz}: built {len(tokens)} tokens, expected {VOCAB_SIZE}")
    return {t: i for i, t in enumerate(tokens)}, merges


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_vocab_files(folder: str, vocab: dict[str, int], merges: list[str]) -> None:
    """Write vocab.json and merges.txt (the format transformers' CLIPTokenizer reads) into ``folder``."""
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def vocab_dir() -> str:
    """The cache folder holding vocab.json + merges.txt, created on first use (atomic rename)."""
    src = bpe_path()
    final = os.path.join(tempfile.gettempdir(), f"danlu-clip-vocab-{_file_sha256(src)[:16]}")
    if os.path.isfile(os.path.join(final, "merges.txt")):
        return final
    vocab, merges = build_vocab_and_merges(src)
    staging = tempfile.mkdtemp(prefix=".danlu-clip-vocab-", dir=tempfile.gettempdir())
    try:
        write_vocab_files(staging, vocab, merges)
        os.rename(staging, final)  # atomic; fails if another process got there first, which is fine
    except OSError:
        if not os.path.isfile(os.path.join(final, "merges.txt")):
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def clip_tokenizer(pad_token: str = PAD_ENDOFTEXT) -> CLIPTokenizer:
    """A new CLIP tokenizer (77 tokens) padding with ``<|endoftext|>`` (SD1.x) or ``!`` (id 0, OpenCLIP).

    For ``!`` we set only the pad id: registering "!" as a special token would make a "!" in a caption
    encode as id 0 instead of the 256 ("!</w>") OpenCLIP's own tokenizer (and sd-scripts) produce.
    """
    if pad_token not in (PAD_ENDOFTEXT, PAD_EXCLAMATION):
        raise ValueError(f"pad_token must be {PAD_ENDOFTEXT!r} or {PAD_EXCLAMATION!r}, got {pad_token!r}")
    tokenizer = CLIPTokenizer.from_pretrained(vocab_dir(), model_max_length=MAX_LENGTH)
    if pad_token == PAD_EXCLAMATION:
        tokenizer.pad_token_id = tokenizer.convert_tokens_to_ids(PAD_EXCLAMATION)
    return tokenizer


def tokenizers_for(arch: str) -> list[CLIPTokenizer]:
    """One tokenizer per text encoder, in the order the model uses them."""
    if arch == "sd15":
        return [clip_tokenizer(PAD_ENDOFTEXT)]
    if arch == "sd2":
        return [clip_tokenizer(PAD_EXCLAMATION)]
    if arch == "sdxl":
        return [clip_tokenizer(PAD_ENDOFTEXT), clip_tokenizer(PAD_EXCLAMATION)]
    raise ValueError(f"unknown arch {arch!r}")
