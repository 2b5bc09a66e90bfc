#!/usr/bin/env bash
# The main job: set up, train a CTM on cumulative parity of 8 bits on the CPU, and print its
# accuracy per tick. About 5 minutes on 2 CPU cores, set-up included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
run="runs/parity8-$(date +%Y%m%d-%H%M%S)"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
.venv/bin/ctm train parity --length 8 --steps 1500 --seed 0 --threads 2 --out "$run" "$@"
