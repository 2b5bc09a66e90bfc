"""The `ctm` command as a user meets it: outputs, replays, and one-line errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ctm.cli import main

TINY = ["--length", "4", "--eval-size", "32", "--d-model", "16", "--d-input", "8", "--heads",
        "2", "--ticks", "3", "--n-sync-out", "8", "--n-sync-action", "8", "--batch-size", "8",
        "--eval-every", "3", "--checkpoint-every", "3", "--log-every", "1", "--no-progress"]


def one_line_error(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ctm: error:") and len(err.splitlines()) == 1, err
    assert fragment in err


def test_tasks_lists_every_task(capsys):
    assert main(["tasks"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["explore", "images", "maze", "parity", "qa", "rl", "sort", "sudoku"]


def test_version_is_the_packages(capsys):
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    for flag in ("--version", "-V"):
        assert main([flag]) == 0
        assert capsys.readouterr().out == f"ctm {project['project']['version']}\n"


def test_train_then_eval_json_and_table(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "3", *TINY]) == 0
    out = capsys.readouterr().out
    assert "whole-sequence" in out and "tick" in out
    assert main(["eval", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["sequence_accuracy"] <= metrics["position_accuracy"] <= 1.0
    assert len(metrics["sequence_accuracy_per_tick"]) == 3
    assert main(["eval", str(run)]) == 0
    assert "per-position" in capsys.readouterr().out


def test_eval_with_early_exit(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "2", *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--halt-at", "0.0", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["halt_at"] == 0.0 and row["mean_ticks"] == 1.0
    assert {"sequence_accuracy", "model_seconds", "speedup"} <= set(row)
    assert main(["eval", str(run), "--halt-sweep", "0.2,1.0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["full", "0.20", "1.00"]
    assert lines[3].split()[3] == "3.00"  # threshold 1.0: nothing halts before the last tick
    one_line_error(capsys, ["eval", str(run), "--halt-at", "2"], "thresholds must be in [0, 1]")
    assert main(["eval", str(run), "--halt-at", "1.0", "--halt-certainty", "least",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["halt_certainty"] == "least" and row["mean_ticks"] == 3.0


def test_eval_can_change_task_options_and_the_held_out_seed(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "1", *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--json", "--eval-size", "7"]) == 0
    # 7 held-out sequences: accuracies are multiples of 1/7
    accuracy = json.loads(capsys.readouterr().out)["sequence_accuracy"]
    assert abs(accuracy * 7 - round(accuracy * 7)) < 1e-9
    assert main(["eval", str(run), "--json", "--quick"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert main(["eval", str(run), "--json", "--quick", "--seed", "0"]) == 0  # the run's seed
    assert json.loads(capsys.readouterr().out) == own
    assert main(["eval", str(run), "--json", "--quick", "--seed", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["ece"] != own["ece"]  # other held-out sequences
    one_line_error(capsys, ["eval", str(run), "--nonsense", "3"], "unrecognized arguments")
    one_line_error(capsys, ["eval", str(run), "--eval-size", "many"], "--eval-size")


def test_viz_for_parity(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "1", *TINY]) == 0
    assert main(["viz", str(run), "--count", "2", "--ticks", "1,3"]) == 0
    capsys.readouterr()
    for name in ("ticks_sweep.png", "metrics_per_tick.png", "reliability.png", "certainty.png",
                 "neuron_traces.png", "sequence_0_thinking.png", "sequence_1_thinking.png"):
        assert (run / "viz" / name).stat().st_size > 1000, name


def test_saved_config_replays_the_run(tmp_path, capsys):
    first, replay = tmp_path / "a", tmp_path / "b"
    assert main(["train", "parity", "--out", str(first), "--steps", "3", *TINY]) == 0
    assert main(["train", "--config", str(first / "config.json"), "--out", str(replay),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert (first / "config.json").read_text() == (replay / "config.json").read_text()
    a = (first / "model" / "model.safetensors").read_bytes()
    assert a == (replay / "model" / "model.safetensors").read_bytes()


def test_config_with_new_task_options_keeps_the_rest(tmp_path, capsys):
    first, longer = tmp_path / "a", tmp_path / "b"
    assert main(["train", "parity", "--out", str(first), "--steps", "1", *TINY]) == 0
    assert main(["train", "--config", str(first / "config.json"), "--length", "6", "--out",
                 str(longer), "--no-progress"]) == 0
    capsys.readouterr()
    config = json.loads((longer / "config.json").read_text())
    assert config["options"]["length"] == 6 and config["model"]["out_dims"] == 12
    assert config["model"]["d_model"] == 16 and config["train"]["steps"] == 1


def test_resume_continues_a_run_and_records_what_it_changed(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "6", *TINY]) == 0
    (run / "model" / "model.safetensors").unlink()  # as if it had stopped after step 6's
    assert main(["train", "--resume", str(run), "--eval-every", "2", "--no-progress"]) == 0
    capsys.readouterr()
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["eval_every"] == 2 and config["train"]["steps"] == 6
    steps = [json.loads(r)["step"] for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 6
    one_line_error(capsys, ["train", "--resume", str(run), "--d-model", "8"],
                   "cannot change --d-model")
    one_line_error(capsys, ["train", "--resume", str(run), "--steps", "12"],
                   f"--init-from {run} --steps N")


def test_init_from_takes_the_sources_model_unless_flags_change_it(tmp_path, capsys):
    source, tuned = tmp_path / "source", tmp_path / "tuned"
    assert main(["train", "parity", "--out", str(source), "--steps", "2", *TINY]) == 0
    assert main(["train", "parity", "--out", str(tuned), "--init-from", str(source), "--steps",
                 "1", "--length", "4", "--eval-size", "32", "--no-progress"]) == 0
    capsys.readouterr()
    config = json.loads((tuned / "config.json").read_text())
    assert config["model"] == json.loads((source / "config.json").read_text())["model"]
    assert config["train"]["init_from"] == str(source)
    one_line_error(capsys, ["train", "parity", "--out", str(tmp_path / "x"), "--init-from",
                            str(source), "--length", "4", "--d-model", "32"],
                   "its model differs (d_model: 16 there, 32 here)")
    one_line_error(capsys, ["train", "parity", "--out", str(tmp_path / "y"), "--init-from",
                            str(tmp_path / "nothing")], "--init-from:")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["train", "nosuchtask", "--out", "x"], "unknown task 'nosuchtask'"),
    (["train", "parity", "--out", "x", "--d-model", "big"], "invalid int value: 'big'"),
    (["train", "parity", "--out", "x", "--deep-nlm", "maybe"], "expected true or false"),
    (["train", "parity", "--out", "x", "--no-such-field", "1"], "unrecognized arguments"),
    (["train", "parity", "--out", "x", "--pairing", "all"], "pairing must be one of"),
    (["train", "parity"], "--out RUN_DIR"),
    (["eval", "/no/such/run"], "/no/such/run not found: give a run directory"),
    (["bench", "nosuchbench"], "unknown benchmark"),
    (["convert-original", "/no/w.pt", "/no/c.json", "out"], "not found"),
])
def test_user_mistakes_get_one_line(capsys, argv, fragment):
    one_line_error(capsys, argv, fragment)


def test_console_script_runs():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "ctm.cli", "tasks"], capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 0 and "parity" in done.stdout


def test_sigterm_ends_ctm_train_with_a_checkpoint_and_status_143(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "ctm", "train", "parity", "--length", "4", "--steps", "100000",
         "--d-model", "16", "--d-input", "8", "--heads", "2", "--ticks", "3",
         "--n-sync-out", "8", "--n-sync-action", "8", "--checkpoint-every", "100000",
         "--log-every", "1", "--threads", "1", "--compile", "off", "--no-progress",
         "--out", str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is training (a row has been logged)
        metrics = run / "metrics.jsonl"
        if metrics.exists() and metrics.read_text().strip():
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM: stopped at step" in output
    assert (run / "checkpoints" / "latest.json").is_file()  # none was due before step 100,000


def test_eval_and_viz_take_the_runs_task_options_as_flags(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "1", *TINY]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:  # argparse's help ends with SystemExit(0)
        main(["eval", str(run), "--help"])
    assert done.value.code == 0
    assert "--eval-size" in capsys.readouterr().out  # the parity task's own flag
    # flags before the path, and a task option, work as they do after it
    assert main(["eval", "--halt-at", "0.5", "--eval-size", "16", "--json", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["halt_at"] == 0.5
    one_line_error(capsys, ["eval"], "the following arguments are required: RUN_OR_MODEL")


@pytest.mark.parametrize("task", sorted(__import__("ctm.tasks", fromlist=["TASKS"]).TASKS))
def test_every_train_flag_says_what_it_does(task):
    from ctm.cli.train import build_parser

    bare = [a.dest for a in build_parser(task)._actions
            if a.help is None or a.help.startswith("(default") or a.help.startswith("(one of")]
    assert bare == [], f"flags of `ctm train {task}` with no description: {bare}"


def test_rl_help_shows_the_recipe_of_the_environment_given(capsys):
    from ctm.cli.train import build_parser

    def shown(argv, dest):
        action = next(a for a in build_parser("rl", [*argv, "--help"])._actions
                      if a.dest == dest)
        return action.help.rsplit("(default: ", 1)[1].rstrip(")")

    assert shown([], "options.reward_scale") == "0.1"  # CartPole-v1's recipe, not the field's
    assert shown(["--env", "Acrobot-v1"], "options.reward_scale") == "0.01"
    assert shown(["--env=Acrobot-v1"], "options.entropy_weight") == "0.1"
    assert shown(["--env", "Acrobot-v1"], "train.steps") == "300"
    assert shown(["--env", "NoSuchEnv-v0"], "options.reward_scale") == "0.1"  # parsing says why


@pytest.mark.parametrize("command", ["eval", "viz", "export", "bench"])
def test_every_flag_of_every_command_says_what_it_does(command):
    from ctm.cli import COMMANDS

    module = COMMANDS[command]
    parser = module.build_parser(*(["parity"] if command in ("eval", "viz") else []))
    bare = [a.dest for a in parser._actions
            if not a.help or a.help.startswith(("(default", "(one of"))]
    assert bare == [], f"flags of `ctm {command}` with no description: {bare}"


def test_help_text_comes_from_each_fields_own_comments():
    """A field's help is the comment after it and the comment lines under it, or, for a field
    without a comment of its own, the comment lines above it: lines above such a field are
    never taken as the previous field's continuation."""
    from dataclasses import dataclass

    from ctm.flags import field_descriptions

    @dataclass
    class Sample:
        alpha: int = 1  # the first
        # and its second line
        beta: int = 2  # beta's own
        # these lines are about gamma,
        # which has no comment of its own
        gamma: int = 3
        delta: int = 4  # delta

    assert field_descriptions(Sample) == {
        "alpha": "the first and its second line", "beta": "beta's own",
        "gamma": "these lines are about gamma, which has no comment of its own",
        "delta": "delta"}
