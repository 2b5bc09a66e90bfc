#!/usr/bin/env bash
# A GPU recipe for a larger maze CTM (d_model 512, 50 ticks; the bundled model before the
# CPU-trained one replaced it), in slices that fit a time-limited GPU job.
#   bash scripts/gpu/train_maze.sh RUN_DIR SECONDS STEPS
# Starts the run in RUN_DIR (or resumes it when it exists) on CUDA and stops it cleanly, with a
# checkpoint, after SECONDS; call again with the same RUN_DIR to go on. Seed 0.
set -uo pipefail
run=$1 seconds=$2 steps=$3
workers=${CTM_DATA_WORKERS:-10}
if [ -f "$run/config.json" ]; then
  timeout -s TERM "$seconds" python -m ctm train --resume "$run" --compile tick \
    --data-workers "$workers" --device cuda --no-progress
else
  timeout -s TERM "$seconds" python -m ctm train maze --out "$run" --device cuda \
    --steps "$steps" --batch-size 256 --lr 1e-3 --warmup-steps 500 --seed 0 \
    --d-model 512 --d-input 128 --heads 4 --ticks 50 --memory-length 25 --synapse-depth 4 \
    --nlm-hidden 32 --n-sync-out 128 --n-sync-action 128 --n-self 0 \
    --eval-every 500 --eval-size 512 --checkpoint-every 250 --keep-checkpoints 1 \
    --log-every 25 --precision tf32 --compile tick --data-workers "$workers" --no-progress
fi
status=$?
# 124: timeout stopped it (the trainer saved a checkpoint first); 0: it finished
[ $status -eq 0 ] || [ $status -eq 124 ] || exit $status
