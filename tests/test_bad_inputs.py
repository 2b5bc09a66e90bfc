"""Every case of the catalogue in bad_inputs.py: one clear line, the right exit status, and no
traceback; faults that ctm absorbs (a damaged checkpoint, a stray file) end in success with a
warning that names the file. docs/bad-inputs.md is generated from the same catalogue."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bad_inputs import CASES, TINY_RUN
from ctm.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"^[^:]+: [\d,]+(/[\d,]+)? \w+( \(\d+%\))?, \d+( min \d+)? s")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("base") / "run"
    assert main(["train", "parity", "--steps", "6", "--keep-checkpoints", "2", *TINY_RUN,
                 "--out", str(run)]) == 0
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == [
        "step-000003", "step-000006"]
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, finished_run, tmp_path, capsys, monkeypatch):
    ws = tmp_path / "ws"
    shutil.copytree(finished_run, ws / "run")
    monkeypatch.chdir(ws)
    if case.prepare is not None:
        case.prepare(ws)
    capsys.readouterr()
    status = main([a.replace("{ws}", str(ws)) for a in case.argv])
    out, err = capsys.readouterr()
    says = case.says.replace("{ws}", str(ws))
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert status == case.status, (status, err)
    if case.status != 0:
        errors = [line for line in lines if line.startswith("ctm: error:")]
        assert len(errors) == 1, err  # one error line (warnings may come before it)
        assert says in errors[0], err
        # besides ctm's lines, only progress, which long work reports before it finds the fault
        assert all(line.startswith("ctm: ") or PROGRESS.match(line) for line in lines), err
    elif case.warning:
        assert any(line.startswith("ctm: ") and says in line for line in lines), err
    else:
        assert says in out, out
    assert not (ws / "pwned").exists()  # nothing in a refused pickle ran


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def test_the_table_in_the_docs_is_the_catalogue():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bad_inputs_table.py"),
                           "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
