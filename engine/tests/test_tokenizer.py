"""The offline CLIP tokenizers: ids from REFERENCE.md section 7, padding per encoder, agreement with open_clip."""
from __future__ import annotations

import os

from danlu_engine import tokenizer as tok

CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]


def test_vocabulary_is_the_clip_vocabulary():
    vocab, merges = tok.build_vocab_and_merges(tok.bpe_path())
    assert len(vocab) == 49408 and len(merges) == 48894
    assert vocab["!"] == 0 and vocab["!</w>"] == 256
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407


def test_a_photo_of_a_cat():
    for t in tok.tokenizers_for("sdxl"):
        assert t("a photo of a cat").input_ids == CAT_IDS
        assert len(t) == 49408 and t.model_max_length == 77


def test_padding_per_encoder():
    sd15, bigg = tok.tokenizers_for("sdxl")
    padded = sd15("a photo of a cat", padding="max_length", max_length=77).input_ids
    assert padded[:7] == CAT_IDS and padded[7:] == [49407] * 70
    padded = bigg("a photo of a cat", padding="max_length", max_length=77).input_ids
    assert padded[:7] == CAT_IDS and padded[7:] == [0] * 70
    # "!" inside a caption stays the word-final "!</w>" (256), as OpenCLIP encodes it, not the pad id
    assert bigg("wow!").input_ids[1:-1] == sd15("wow!").input_ids[1:-1] == [2781, 256]  # open_clip SimpleTokenizer gives the same
    assert tok.tokenizers_for("sd2")[0].pad_token_id == 0


def test_agrees_with_open_clip_simple_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    reference = SimpleTokenizer()
    ours = tok.clip_tokenizer()
    for text in ["1girl, solo, (masterpiece:1.2), looking at viewer", "it's a dog's life 2024", "Zürich café"]:
        assert ours(text).input_ids[1:-1] == reference.encode(text), text


def test_vocab_files_are_cached_once():
    folder = tok.vocab_dir()
    assert sorted(os.listdir(folder)) == ["merges.txt", "vocab.json"]
    stamp = os.stat(os.path.join(folder, "vocab.json")).st_mtime_ns
    assert tok.vocab_dir() == folder
    assert os.stat(os.path.join(folder, "vocab.json")).st_mtime_ns == stamp
