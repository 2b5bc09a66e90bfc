#!/usr/bin/env bash
# Mazes, end to end on the CPU: train a small maze CTM briefly, then evaluate and visualise the
# maze model shipped with ctm (bundled:maze15), writing its pictures into the same run
# directory. About 10 minutes on 2 CPU cores, set-up included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
run="runs/maze-demo-$(date +%Y%m%d-%H%M%S)"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
ctm=.venv/bin/ctm
# a few minutes of training: it learns the first moves of a route, not whole routes
$ctm train maze --out "$run" --steps 400 --batch-size 16 --ticks 15 --warmup-steps 50 \
  --eval-every 200 --eval-size 128 --checkpoint-every 100 --seed 0 --threads 2 "$@"
# the bundled model: 500 held-out 15x15 mazes, then pictures of it thinking
$ctm eval bundled:maze15 --quick --option eval_size=500 --threads 2
$ctm viz bundled:maze15 --out "$run/bundled-viz" --option eval_size=200 --ticks 10,25,50 \
  --count 3 --threads 2
echo "pictures of the bundled model thinking: $run/bundled-viz"
