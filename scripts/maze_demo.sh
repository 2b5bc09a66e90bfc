#!/usr/bin/env bash
# Mazes, end to end on the CPU: train a small maze CTM briefly, then evaluate and visualise the
# maze model shipped with ctm (bundled:maze15), writing its pictures into the same run
# directory. A few minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
run="runs/maze-demo-$(date +%Y%m%d-%H%M%S)"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
ctm=.venv/bin/ctm
# a minute of training: a small CTM on tiny 7x7-pixel mazes (3x3 cells, routes of up to 8
# moves) learns to solve a good share of them; 15x15 mazes take hours (MODEL.md)
$ctm train maze --out "$run" --size 7 --route-length 8 --d-model 64 --d-input 32 --heads 2 \
  --ticks 8 --memory-length 5 --n-sync-out 32 --n-sync-action 32 --n-self 0 --synapse-depth 1 \
  --steps 600 --batch-size 32 --warmup-steps 50 --eval-every 200 --eval-size 256 \
  --checkpoint-every 200 --seed 0 --threads 2 "$@"
# the bundled model: 500 held-out 15x15 mazes, then pictures of it thinking
$ctm eval bundled:maze15 --quick --eval-size 500 --threads 2
$ctm viz bundled:maze15 --out "$run/bundled-viz" --eval-size 200 --ticks 5,10,20,30 \
  --count 3 --threads 2
echo "pictures of the bundled model thinking: $run/bundled-viz"
