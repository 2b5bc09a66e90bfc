"""The GPU scripts cannot run here, but their commands can: `--check` runs each of the
headline script's trainings for 2 steps of a tiny model on the CPU, so a renamed flag or a
refused combination fails here, not in a scarce GPU session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_headline_training_starts_with_the_flags_it_is_given(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "gpu" / "headline.sh"), "--check",
                             str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    names = ("parity16", "parity64", "qa-ctm", "qa-lstm", "sudoku9-ctm", "sudoku9-recursive")
    for name in names:
        assert f"{name}: status 0" in result.stdout, (result.stdout,
                                                     (tmp_path / f"{name}.log").read_text())
        assert (tmp_path / name / "model" / "model.safetensors").is_file(), name
    config = (tmp_path / "sudoku9-ctm" / "config.json").read_text()
    assert '"readout": "cells"' in config and '"optimizer": "muon"' in config
