"""The GPU scripts cannot run here, but their commands can: `--print` lists the headline
script's trainings as the tiny 2-step CPU runs `--check` would start, and this test trains
each of them in-process, so a renamed flag or a refused combination fails here, not in a
scarce GPU session."""

import shlex
import subprocess
from pathlib import Path

import pytest

from ctm.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_headline_training_starts_with_the_flags_it_is_given(tmp_path, capsys):
    listed = subprocess.run(["bash", str(ROOT / "scripts" / "gpu" / "headline.sh"), "--print",
                             str(tmp_path)], capture_output=True, text=True, check=True,
                            timeout=60).stdout.splitlines()
    names = [shlex.split(line)[-1].rsplit("/", 1)[-1] for line in listed]
    assert names == ["parity16", "parity64", "parity64-ds", "qa-ctm", "qa-lstm", "sudoku9-ctm",
                     "sudoku9-recursive"]
    for line in listed:
        argv = shlex.split(line)
        assert main(["train", *argv]) == 0, (line, capsys.readouterr().err)
    for name in names:
        assert (tmp_path / name / "model" / "model.safetensors").is_file(), name
    config = (tmp_path / "sudoku9-ctm" / "config.json").read_text()
    assert '"readout": "cells"' in config and '"optimizer": "muon"' in config
    deep = (tmp_path / "parity64-ds" / "config.json").read_text()
    assert '"deep_supervision": true' in deep and '"optimizer": "muon"' in deep
    recursive = (tmp_path / "sudoku9-recursive" / "config.json").read_text()
    assert '"deep_supervision": true' in recursive and '"cycles": 3' in recursive
