#!/usr/bin/env bash
# Run HERE (a machine with PyPI), once: everything bench/gpu/run.sh needs on a bare GPU machine that has
# PyTorch but no network. Writes only ignored paths (.git/info/exclude: /.whl/ and /.kohya/):
#   .whl/danlu/  the engine's pinned packages that the device image lacks or has at another version
#   .whl/kohya/  sd-scripts' pinned packages that differ from the image's (installed in their own --target)
#   .kohya/sd-scripts/  sd-scripts at the pinned commit, without its docs, images, tests and Windows DLLs
# bitsandbytes' wheel (43 MB, CUDA 11.8-13.2 + ROCm builds) is repacked with the CUDA 13 builds alone
# (the device's torch is cu130): about 4 MB, so everything fits the run tool's 64 MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
KOHYA_COMMIT=48d368fa557731ad0488c07304dfeba8c07910eb
KOHYA_GIT=${KOHYA_GIT:-/work/.mirror/kohya-ss+sd-scripts/repo}   # the fetch tool's bare copy (github:kohya-ss/sd-scripts)
PY=${PY:-$ROOT/.venv/bin/python}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
grep -qx '/.kohya/' .git/info/exclude 2>/dev/null || echo /.kohya/ >> .git/info/exclude

PLAT=(--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
rm -rf .whl/danlu .whl/kohya && mkdir -p .whl/danlu .whl/kohya
# danlu: engine/requirements.in pins; the image (KINDS.md) already has torch, transformers, accelerate,
# safetensors, huggingface-hub, tokenizers, numpy, pillow, psutil, scipy, einops, regex. transformers is
# the image's 5.17 (engine pin 5.23; not carried: 12 MB, and the engine uses only CLIP text models from it).
"$PY" -m pip download -q "${PLAT[@]}" -d .whl/danlu diffusers==0.42.1 pydantic==2.14.3 pydantic-core==2.50.4 \
  annotated-types==0.8.0 typing-inspection==0.4.5 open-clip-torch==3.3.0 bitsandbytes==0.50.2 \
  lycoris-lora==4.1.3 ftfy==6.3.1 wcwidth==0.9.4 importlib-metadata==10.2.0 lion-pytorch==0.2.5 \
  typing-extensions==4.16.0 toml==0.10.2
# sd-scripts 48d368f's requirements.txt pins that differ from the image (transformers 4.x needs hub < 1.0
# and tokenizers < 0.22); its other needs (einops, cv2 headless, rich, safetensors, toml...) are there or below.
"$PY" -m pip download -q "${PLAT[@]}" -d .whl/kohya transformers==4.54.1 diffusers==0.32.1 accelerate==1.6.0 \
  huggingface-hub==0.34.3 tokenizers==0.21.4 voluptuous==0.15.2 toml==0.10.2 imagesize==1.4.1

# bitsandbytes: keep the CPU and CUDA 13.x libraries only (RECORD rewritten to match).
BNB=$(ls .whl/danlu/bitsandbytes-*.whl)
TMP=$(mktemp -d)
(cd "$TMP" && unzip -q "$ROOT/$BNB" && find bitsandbytes -name 'libbitsandbytes_*' ! -name '*cpu*' ! -name '*cuda13*' -delete \
  && REC=$(ls -d bitsandbytes-*.dist-info)/RECORD && grep -v -E 'libbitsandbytes_(cuda1[12]|rocm|xpu)' "$REC" > "$REC.new" \
  && mv "$REC.new" "$REC" && rm "$ROOT/$BNB" && zip -q -r "$ROOT/$BNB" .)
rm -rf "$TMP"

# sd-scripts at the pinned commit (the mirror may lack a few large blobs: Windows DLLs, a Qwen tokenizer).
rm -rf .kohya/sd-scripts && mkdir -p .kohya/sd-scripts
git --git-dir="$KOHYA_GIT" ls-tree -r "$KOHYA_COMMIT" | while read -r _ type sha path; do
  [ "$type" = blob ] || continue
  case "$path" in bitsandbytes_windows/*|docs/*|images/*|tests/*|configs/*) continue ;; esac
  mkdir -p ".kohya/sd-scripts/$(dirname "$path")"
  git --git-dir="$KOHYA_GIT" cat-file blob "$sha" > ".kohya/sd-scripts/$path" || { echo "missing: $path"; rm -f ".kohya/sd-scripts/$path"; }
done
echo "$KOHYA_COMMIT" > .kohya/sd-scripts/COMMIT
du -sh .whl .kohya
