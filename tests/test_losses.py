"""Tick selection, per-group averaging and the maze curriculum on hand-made tensors."""

import math

import pytest
import torch

from ctm.losses import curriculum_mask, per_tick_cross_entropy, two_tick_loss


def test_two_tick_rule_picks_lowest_loss_and_most_certain_ticks():
    per_tick = torch.tensor([[3.0, 1.0, 2.0],
                             [0.5, 4.0, 6.0]])
    certainty = torch.tensor([[0.1, 0.2, 0.9],
                              [0.3, 0.8, 0.1]])
    result = two_tick_loss(per_tick, certainty)
    assert result.lowest_loss_tick.tolist() == [1, 0]
    assert result.most_certain_tick.tolist() == [2, 1]
    # 0.5 * (mean(1.0, 0.5) + mean(2.0, 4.0))
    assert result.loss.item() == pytest.approx(0.5 * (0.75 + 3.0))


def test_per_tick_cross_entropy_averages_over_groups():
    # one sample, one tick, two groups of two classes
    logits = torch.tensor([[[[0.0, 0.0], [math.log(3.0), 0.0]]]])  # (1, 1, 2, 2)
    targets = torch.tensor([[0, 0]])
    expected = (math.log(2.0) + -math.log(0.75)) / 2
    assert per_tick_cross_entropy(logits, targets).item() == pytest.approx(expected)
    mask = torch.tensor([[0.0, 1.0]])
    assert per_tick_cross_entropy(logits, targets, mask).item() == pytest.approx(-math.log(0.75))


def test_per_tick_cross_entropy_checks_target_shape():
    with pytest.raises(ValueError, match="do not match"):
        per_tick_cross_entropy(torch.zeros(2, 3, 4, 5), torch.zeros(2, 3, dtype=torch.long))


def one_hot_route(moves, classes=5):
    """(R,) predicted moves -> logits (R, C) whose argmax is those moves."""
    return torch.nn.functional.one_hot(torch.tensor(moves), classes).float()


def test_curriculum_mask_counts_up_to_best_prefix_plus_lookahead():
    target = torch.tensor([[0, 1, 2, 3, 4, 4, 4, 4, 4, 4]])
    # tick 0 gets the first 2 steps right, tick 1 the first 4: best prefix ends at step 3
    tick0 = one_hot_route([0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    tick1 = one_hot_route([0, 1, 2, 3, 0, 4, 4, 4, 4, 4])
    logits = torch.stack([tick0, tick1]).unsqueeze(0)  # (1, T=2, R=10, C=5)
    assert curriculum_mask(logits, target, lookahead=2).tolist() == [[1.0] * 5 + [0.0] * 5]
    assert curriculum_mask(logits, target, lookahead=5).tolist() == [[1.0] * 8 + [0.0] * 2]


def test_curriculum_mask_when_the_first_step_is_wrong_and_when_all_are_right():
    target = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2, 2, 2]])
    wrong_first = one_hot_route([0, 1, 1, 1, 1, 1, 1, 1])
    all_right = one_hot_route([2] * 8)
    logits = torch.stack([wrong_first, all_right]).unsqueeze(1)  # (B=2, T=1, R=8, C=5)
    mask = curriculum_mask(logits, target, lookahead=3)
    assert mask[0].tolist() == [1.0, 1.0, 1.0] + [0.0] * 5  # steps 0..2
    assert mask[1].tolist() == [1.0] * 8  # capped by the route length


def test_grouped_accuracy_and_table_on_hand_made_logits():
    from ctm.metrics import GroupedAccuracy, per_tick_table

    # 2 samples, 2 ticks, 2 groups, 2 classes; targets all class 1
    logits = torch.tensor([[[[0., 1.], [1., 0.]], [[0., 1.], [0., 1.]]],
                           [[[1., 0.], [1., 0.]], [[0., 1.], [1., 0.]]]])
    targets = torch.ones(2, 2, dtype=torch.long)
    certainty = torch.tensor([[0.1, 0.9], [0.8, 0.2]])  # sample 0 -> tick 1, sample 1 -> tick 0
    accuracy = GroupedAccuracy()
    accuracy.update(logits, targets, certainty)
    result = accuracy.result("group", "whole")
    assert result["group_accuracy"] == pytest.approx((1.0 + 0.0) / 2)
    assert result["whole_accuracy"] == pytest.approx(0.5)
    assert result["mean_certain_tick"] == pytest.approx(1.5)
    assert result["group_accuracy_per_tick"] == pytest.approx([0.25, 0.75])
    assert result["whole_accuracy_per_tick"] == pytest.approx([0.0, 0.5])
    table = per_tick_table({"group": result["group_accuracy_per_tick"]})
    assert table[0].split() == ["tick", "group"] and table[2].split() == ["2", "75.00%"]
