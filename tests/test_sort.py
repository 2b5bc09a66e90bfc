"""The sorting task: CTC over ticks, greedy decoding, its metrics, its held-out orderings."""

import math

import numpy as np
import pytest
import torch

from ctm.losses import ctc_over_ticks
from ctm.metrics import ctc_greedy_decode
from ctm.model import CTMOutput
from ctm.run.config import RunConfig
from ctm.tasks.base import Batch
from ctm.tasks.sort import SortMeter, SortOptions, SortTask, ordering_reserved, spearman


def one_hot_logits(path: list[int], classes: int) -> torch.Tensor:
    """(1, T, C) logits whose best path is `path`."""
    logits = torch.full((1, len(path), classes), -10.0)
    logits[0, torch.arange(len(path)), torch.tensor(path)] = 10.0
    return logits


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    blank = 3
    (decoded, ticks), = ctc_greedy_decode(one_hot_logits([1, 1, 3, 1, 0, 3, 3, 2], 4), blank)
    # the second 1 follows a blank, so it is a new emission
    assert decoded.tolist() == [1, 1, 0, 2]
    assert ticks.tolist() == [0, 3, 4, 7]


def test_ctc_loss_against_a_hand_count():
    """One label (class 0) over two ticks, uniform outputs over {0, blank}: the paths that
    spell it are (0 0), (0 b), (b 0), so the likelihood is 3/4."""
    logits = torch.zeros(1, 2, 2)
    result = ctc_over_ticks(logits, torch.tensor([[0]]), torch.zeros(1, 2), blank=1)
    assert result.loss.item() == pytest.approx(-math.log(0.75), rel=1e-6)
    with pytest.raises(ValueError, match="needs ticks >= 3"):
        ctc_over_ticks(torch.zeros(1, 2, 4), torch.tensor([[0, 1, 2]]), torch.zeros(1, 2), 3)


def test_ctc_loss_falls_as_the_right_path_grows_likely():
    target = torch.tensor([[1, 0, 2]])
    right = one_hot_logits([1, 3, 0, 2], 4)
    wrong = one_hot_logits([0, 3, 1, 2], 4)
    low = ctc_over_ticks(right, target, torch.zeros(1, 4), blank=3).loss
    high = ctc_over_ticks(wrong, target, torch.zeros(1, 4), blank=3).loss
    assert low.item() < 1e-3 < 5 < high.item()


def test_meter_on_scripted_emissions():
    values = torch.tensor([[0.5, -1.0, 2.0], [0.5, -1.0, 2.0]])
    order = values.argsort(1)  # [1, 0, 2]
    logits = torch.cat([one_hot_logits([1, 3, 3, 0, 2, 3], 4),  # right; waits 0, 2, 0
                        one_hot_logits([0, 1, 2, 3, 3, 3], 4)])  # [0, 1, 2]: last one right
    meter = SortMeter(3)
    meter.update(CTMOutput(logits=logits, certainty=torch.zeros(2, 6), sync_out=logits[:, 0]),
                 Batch(values, order))
    result = meter.result()
    assert result["sequence_accuracy"] == 0.5
    assert result["position_accuracy"] == pytest.approx((3 + 1) / 6)
    assert result["position_accuracy_by_index"] == [0.5, 0.5, 1.0]
    assert result["mean_length_error"] == 0
    # pairs of right emissions in a row: sample 0 only; gaps 1.5 and 1.5, waits 2 and 0
    assert meter.gaps == [1.5, 1.5] and meter.waits == [2, 0]


def test_meter_counts_missing_emissions_as_wrong():
    values = torch.tensor([[0.1, 0.2, 0.3]])
    meter = SortMeter(3)
    logits = one_hot_logits([0, 3, 1, 3], 4)  # stops after two of three
    meter.update(CTMOutput(logits=logits, certainty=torch.zeros(1, 4), sync_out=logits[:, 0]),
                 Batch(values, values.argsort(1)))
    result = meter.result()
    assert result["sequence_accuracy"] == 0
    assert result["position_accuracy"] == pytest.approx(2 / 3)
    assert result["mean_length_error"] == 1


def test_spearman_against_known_values():
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1)
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1)
    # ties take average ranks: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4)
    expected = np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1]
    assert spearman(np.array([1.0, 2, 2, 3]), np.array([1, 2, 3, 4])) == pytest.approx(expected)
    assert spearman(np.array([1.0, 1, 1]), np.array([1, 2, 3])) is None


def test_held_out_orderings_never_reach_training():
    task = SortTask(SortOptions(length=6, eval_size=300))
    trained = torch.cat([task.train_batch(step, 64, seed=0).targets for step in range(40)])
    held_out = torch.cat([b.targets for b in task.eval_batches(128, seed=0)])
    assert not ordering_reserved(trained).any()
    assert ordering_reserved(held_out).all() and len(held_out) == 300
    seen = {tuple(r) for r in trained.tolist()}
    assert not seen & {tuple(r) for r in held_out.tolist()}
    # the targets are the ascending order of the inputs
    batch = task.train_batch(0, 8, seed=0)
    ordered = batch.inputs.gather(1, batch.targets)
    assert (ordered.diff(dim=1) > 0).all()


def test_too_few_orderings_say_the_figure_measures_fit():
    task = SortTask(SortOptions(length=4))
    assert "training fit" in task.held_out_note()
    assert "never draws" in SortTask(SortOptions(length=6)).held_out_note()


def test_models_that_cannot_sort_are_refused_by_name():
    with pytest.raises(ValueError, match="feedforward baseline thinks once"):
        RunConfig.create("sort", {"length": 5}, {"architecture": "feedforward"})
    with pytest.raises(ValueError, match="ticks must be >= 8"):
        RunConfig.create("sort", {"length": 8}, {"ticks": 7})
    with pytest.raises(ValueError, match="length must be in"):
        SortOptions(length=1)


def test_sort_model_defaults_use_direct_input():
    run = RunConfig.create("sort", {"length": 15})
    assert run.model.input_mode == "direct" and run.model.input_size == 15
    assert run.model.out_dims == 16 and run.model.ticks >= 15
