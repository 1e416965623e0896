"""Give kohya sd-scripts its SD1.x CLIP tokenizer offline, in its ``--tokenizer_cache_dir`` layout.

sd-scripts (library/strategy_base.py, TokenizeStrategy._load_tokenizer) first looks for
``{tokenizer_cache_dir}/openai_clip-vit-large-patch14`` (the hub id with "/" -> "_") and loads it
with ``CLIPTokenizer.from_pretrained``; only when it is missing does it go to the hub. danlu's engine
builds the same vocabulary offline (engine/danlu_engine/tokenizer.py: vocab.json + merges.txt from
open_clip's BPE file); this script turns that pair into a saved CLIPTokenizer with the transformers
version of sd-scripts' own venv, so the files are in the format that version reads.

Run with sd-scripts' venv python:
    KOHYA_PY bench/train/kohya_tokenizer.py --vocab-dir DIR --cache-dir CACHE
where DIR comes from `PYTHONPATH=engine .venv/bin/python -c "from danlu_engine.tokenizer import vocab_dir;
print(vocab_dir())"`. Checks the token ids REFERENCE.md section 7 gives before saving.

``--sdxl`` also writes ``laion_CLIP-ViT-bigG-14-laion2B-39B-b160k``, the second tokenizer sd-scripts'
SDXL path loads (library/strategy_sdxl.py TOKENIZER2_PATH, through the same _load_tokenizer). OpenCLIP
bigG uses the same CLIP BPE vocabulary and merges; its hub tokenizer differs only in padding with "!"
(id 0), and sd-scripts sets ``tokenizer2.pad_token_id = 0`` itself after loading it.
"""
from __future__ import annotations

import argparse
import os
import sys

from transformers import CLIPTokenizer

HUB_ID = "openai/clip-vit-large-patch14"  # what sd-scripts asks for (library/strategy_sd.py TOKENIZER_ID)
HUB_ID_2 = "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"  # SDXL's second (library/strategy_sdxl.py TOKENIZER2_PATH)
CHECK_TEXT = "a photo of a cat"
CHECK_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-dir", required=True, help="folder with danlu's vocab.json and merges.txt")
    parser.add_argument("--cache-dir", required=True, help="the folder passed to --tokenizer_cache_dir")
    parser.add_argument("--sdxl", action="store_true", help=f"also {HUB_ID_2} (pads with '!')")
    args = parser.parse_args(argv)
    wanted = [(HUB_ID, "<|endoftext|>")] + ([(HUB_ID_2, "!")] if args.sdxl else [])
    for hub_id, pad in wanted:
        target = os.path.join(args.cache_dir, hub_id.replace("/", "_"))
        tokenizer = CLIPTokenizer(
            os.path.join(args.vocab_dir, "vocab.json"),
            os.path.join(args.vocab_dir, "merges.txt"),
            model_max_length=77,  # CLIP's context; SD1.x pads with <|endoftext|> (CLIPTokenizer's default pad)
            pad_token=pad,
        )
        ids = tokenizer(CHECK_TEXT)["input_ids"]
        if ids != CHECK_IDS or (pad == "!" and tokenizer.pad_token_id != 0):
            print(f"{hub_id}: {CHECK_TEXT!r} tokenized to {ids}, expected {CHECK_IDS}; pad id "
                  f"{tokenizer.pad_token_id}", file=sys.stderr)
            return 1
        tokenizer.save_pretrained(target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
