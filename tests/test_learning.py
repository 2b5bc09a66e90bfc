"""Slow learning checks (a few minutes on 2 CPU cores): a CTM actually learns its task."""

import pytest

from ctm.train import RunConfig, Trainer


@pytest.mark.slow
def test_parity_8_reaches_98_percent_on_held_out_sequences(tmp_path):
    run = RunConfig.create("parity", {"length": 8, "eval_size": 1024}, {},
                           {"steps": 1500, "eval_every": 1500, "checkpoint_every": 1500,
                            "log_every": 100, "seed": 0})
    metrics = Trainer(run, tmp_path, progress=False).fit()
    assert metrics["sequence_accuracy"] >= 0.98, metrics
    # thinking helps: the first tick is near chance, the most-certain tick is not
    assert metrics["sequence_accuracy_per_tick"][0] < 0.5
