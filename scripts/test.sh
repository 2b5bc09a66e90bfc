#!/usr/bin/env bash
# Set up, then run every test, the slow learning checks included (minutes on 2 cores: README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
.venv/bin/ruff check src tests
.venv/bin/python -m pytest -q "$@"
