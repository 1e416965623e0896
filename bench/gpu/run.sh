#!/usr/bin/env bash
# One go on a bare GPU machine that has PyTorch (the device tool's image): install the carried wheels,
# then bench/gpu/bench.py (model, 16 images, danlu and sd-scripts alternating, figures and ratios).
# Needs bench/gpu/pack.sh run beforehand where PyPI is reachable, and `.whl` + `.kohya` carried.
#   bench/gpu/run.sh [--python PY] [--no-danlu-wheels] [bench.py options...]
# e.g. on the GPU: bench/gpu/run.sh --steps 40 --rounds 2
#      dry run on a CPU: bench/gpu/run.sh --python .venv/bin/python --no-danlu-wheels --device cpu \
#        --resolution 64 --steps 3 --rounds 1 --optimizer AdamW --precision no --threads 1
#      SDXL (real_arch.py --arch sdxl, sdxl_train_network.py, 1024 px by default): bench/gpu/run.sh --sdxl ...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PY=python3
DANLU_WHEELS=1
STEP_OPTIONS=""
SITE=${SITE:-/tmp/danlu-gpu-site}
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY=$2; shift 2 ;;
    --no-danlu-wheels) DANLU_WHEELS=0; shift ;;   # the python already has the engine's packages (.venv)
    --step-options) STEP_OPTIONS=$2; shift 2 ;;   # instead of the side by side: bench/train/step_options.py --rounds N
    *) ARGS+=("$1"); shift ;;
  esac
done
[ -d .whl/kohya ] && [ -f .kohya/sd-scripts/train_network.py ] || { echo "run bench/gpu/pack.sh first (and carry .whl and .kohya)"; exit 2; }
START=$(date +%s)
INSTALL=(-m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --disable-pip-version-check)
rm -rf "$SITE" && mkdir -p "$SITE"
if [ "$DANLU_WHEELS" = 1 ]; then "$PY" "${INSTALL[@]}" --target "$SITE/danlu" .whl/danlu/*.whl; fi
# sd-scripts' AdamW8bit imports bitsandbytes too: the same (cut) wheel goes into its folder as well
"$PY" "${INSTALL[@]}" --target "$SITE/kohya" .whl/kohya/*.whl .whl/danlu/bitsandbytes-*.whl
echo "installed wheels in $(( $(date +%s) - START )) s"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
DANLU_PATH=""; [ "$DANLU_WHEELS" = 1 ] && DANLU_PATH="$SITE/danlu"
VERSIONS='import diffusers, transformers, accelerate, huggingface_hub as h; print(diffusers.__version__, transformers.__version__, accelerate.__version__, h.__version__)'
echo "danlu sees diffusers transformers accelerate hub: $(PYTHONPATH=engine:$DANLU_PATH${PYTHONPATH:+:$PYTHONPATH} "$PY" -c "$VERSIONS")"
echo "kohya sees diffusers transformers accelerate hub: $(PYTHONPATH=$SITE/kohya${PYTHONPATH:+:$PYTHONPATH} "$PY" -c "$VERSIONS")"
if [ -n "$STEP_OPTIONS" ]; then  # the model only (bench.py --rounds 0), then each step option on and off
  PYTHONUNBUFFERED=1 "$PY" bench/gpu/bench.py --rounds 0 --only danlu "${ARGS[@]}" >/dev/null
  PYTHONUNBUFFERED=1 PYTHONPATH=engine:$DANLU_PATH${PYTHONPATH:+:$PYTHONPATH} "$PY" bench/train/step_options.py \
    --device cuda --model /tmp/danlu-gpu-bench/models/sd15-real-seed0.safetensors --resolution 512 --rank 128 \
    --precision bf16 --steps 30 --rounds "$STEP_OPTIONS" --only sync,optimizer,channels_last,sdpa,compile
  echo "total $(( $(date +%s) - START )) s"; exit 0
fi
PYTHONUNBUFFERED=1 "$PY" bench/gpu/bench.py --danlu-path "$DANLU_PATH" --kohya-path "$SITE/kohya" --kohya .kohya/sd-scripts "${ARGS[@]}"
echo "total $(( $(date +%s) - START )) s"
