#!/usr/bin/env bash
# Every speed figure the GPU part of the speed issue asks for, in one call on a CUDA machine:
#   bash scripts/gpu/speed.sh [OUT_DIR] [SECONDS_PER_COMMAND]
# 1. the compiled thought against eager on CUDA: logits, certainties and gradients
#    (scripts/gpu/compiled_check.py), float32 and bf16;
# 2. `ctm bench` of parity16, maze15 and cifar32 against the reference on the same card:
#    eager, the whole thought compiled, and the thought replayed as CUDA graphs
#    (reduce-overhead), in float32 and bf16;
# 3. a short `ctm train maze --device cuda` with the default path, with the compiled thought,
#    and eager, steps per second from metrics.jsonl.
# Results go to OUT_DIR (default $OUT, else gpu-speed) as JSON lines, one file per part, so a
# call cut short by its time limit still returns what it measured. Commands run most
# important first, each under `timeout`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-${OUT:-gpu-speed}}
limit=${2:-240}
mkdir -p "$out"
python -c "import ctm" 2>/dev/null || pip install --quiet --no-deps -e . > /dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/device.txt"
python -c "import torch; print(torch.__version__)" >> "$out/device.txt"

run() {  # run LABEL FILE COMMAND...: one JSON line per result, failures recorded too
  local label=$1 file=$2; shift 2
  local started=$SECONDS
  if timeout -s TERM "$limit" "$@" >> "$out/$file" 2>> "$out/stderr.txt"; then
    echo "$label: done in $((SECONDS - started)) s"
  else
    echo "$label: failed or cut at ${limit} s (status $?)"
    echo "{\"label\": \"$label\", \"failed\": true}" >> "$out/$file"
  fi
}

run "check float32" check.jsonl python scripts/gpu/compiled_check.py parity16 maze15 cifar32
run "check bf16" check.jsonl python scripts/gpu/compiled_check.py --bf16 parity16 maze15 cifar32
for precision in float32 bf16; do
  for scope in off thought; do
    run "bench $scope $precision" bench.jsonl ctm bench parity16 maze15 cifar32 --json \
      --device cuda --precision "$precision" --compile "$scope"
  done
  run "bench thought+graphs $precision" bench.jsonl ctm bench parity16 maze15 cifar32 --json \
    --device cuda --precision "$precision" --compile thought --compile-mode reduce-overhead
done
for scope in auto thought off; do
  rm -rf "$out/maze-$scope"
  run "train maze $scope" train.txt ctm train maze --size 15 --route-length 50 --steps 300 \
    --batch-size 64 --eval-every 300 --eval-size 256 --log-every 25 --device cuda \
    --compile "$scope" --no-progress --out "$out/maze-$scope"
  { echo "maze $scope: steps in 60 s, seconds a step"
    python scripts/gpu/steps_for.py "$out/maze-$scope" 60; } >> "$out/train.txt" 2>&1 || true
done
