"""Expected calibration error and reliability diagrams on hand-computed cases."""

import pytest
import torch

from ctm.analysis.calibration import (
    bin_statistics,
    expected_calibration_error,
    reliability_diagram,
)


def test_ece_hand_computed():
    # bin (0.8667, 0.9333]: confidences 0.9, 0.9, right 1 of 2 -> |0.5 - 0.9| = 0.4, share 2/4
    # bin (0.2667, 0.3333]: confidences 0.3, 0.3, right 1 of 2 -> |0.5 - 0.3| = 0.2, share 2/4
    confidence = torch.tensor([0.9, 0.9, 0.3, 0.3])
    correct = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.5 * 0.4 + 0.5 * 0.2)


def test_perfect_and_worst_calibration():
    assert expected_calibration_error(torch.ones(10), torch.ones(10)) == pytest.approx(0.0)
    assert expected_calibration_error(torch.ones(10), torch.zeros(10)) == pytest.approx(1.0)


def test_bins_cover_zero_to_one():
    count, _, _ = bin_statistics(torch.tensor([0.0, 0.05, 0.5, 1.0]), torch.ones(4))
    assert count[0] == 2 and count[7] == 1 and count[14] == 1 and count.sum() == 4


def test_reliability_diagram_is_written(tmp_path):
    confidence = torch.rand(200, generator=torch.Generator().manual_seed(0))
    correct = (torch.rand(200, generator=torch.Generator().manual_seed(1)) < confidence).float()
    path = reliability_diagram(confidence, correct, tmp_path / "r.png", "test")
    assert path.stat().st_size > 1000


def test_grouped_accuracy_reports_ece_at_the_most_certain_tick():
    from ctm.metrics import GroupedAccuracy

    # one sample, two ticks, one group of two classes; tick 1 is most certain and right
    logits = torch.tensor([[[[0.0, 0.0]], [[0.0, 2.0]]]])
    accuracy = GroupedAccuracy()
    accuracy.update(logits, torch.tensor([[1]]), torch.tensor([[0.1, 0.9]]))
    result = accuracy.result("g", "w")
    p = torch.softmax(torch.tensor([0.0, 2.0]), 0)[1].item()
    assert result["ece"] == pytest.approx(1 - p)  # right with confidence p
    assert result["ece_per_tick"][0] == pytest.approx(0.5)  # argmax ties -> class 0, wrong


def test_fit_temperature_recovers_a_known_temperature():
    from ctm.analysis.calibration import fit_temperature, scaled_ece

    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 5, generator=generator) * 2
    targets = torch.multinomial(torch.softmax(true_logits, -1), 1, generator=generator)[:, 0]
    overconfident = true_logits * 3  # a model whose logits are 3x too sharp
    temperature = fit_temperature(overconfident, targets)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert scaled_ece(overconfident, targets, temperature) < scaled_ece(overconfident, targets)


def test_eval_with_temperature_scaling(tmp_path, capsys):
    import json

    from ctm.cli import main

    argv = ["train", "images", "--steps", "2", "--batch-size", "8", "--d-model", "16",
            "--ticks", "2", "--no-progress", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--temperature-scaling", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["temperature"] > 0
    assert 0 <= metrics["ece_before_scaling"] <= 1 and 0 <= metrics["ece_temperature_scaled"] <= 1
