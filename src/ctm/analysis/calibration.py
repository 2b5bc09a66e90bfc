"""Calibration: does a model's confidence match how often it is right?"""

from __future__ import annotations

from pathlib import Path

import torch

from .figures import pyplot

BINS = 15


def bin_statistics(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per equal-width confidence bin over [0, 1]: (count, mean confidence, accuracy).
    Bin k holds confidences in (k/bins, (k+1)/bins]; confidence 0 falls in the first bin."""
    confidence, correct = confidence.flatten().double(), correct.flatten().double()
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    count = torch.bincount(index, minlength=bins).double()
    conf_sum = torch.bincount(index, weights=confidence, minlength=bins)
    correct_sum = torch.bincount(index, weights=correct, minlength=bins)
    safe = count.clamp(min=1)
    return count, conf_sum / safe, correct_sum / safe


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor,
                               bins: int = BINS) -> float:
    """ECE = sum over bins of (share of samples) · |accuracy - mean confidence|."""
    if confidence.numel() == 0:
        raise ValueError("no predictions to calibrate")
    count, mean_conf, accuracy = bin_statistics(confidence, correct, bins)
    return float(((count / count.sum()) * (accuracy - mean_conf).abs()).sum())


def reliability_diagram(confidence: torch.Tensor, correct: torch.Tensor, path: str | Path,
                        title: str, bins: int = BINS) -> Path:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration."""
    plt = pyplot()
    count, mean_conf, accuracy = bin_statistics(confidence, correct, bins)
    edges = torch.linspace(0, 1, bins + 1)
    figure, axis = plt.subplots(figsize=(4, 4), dpi=120)
    used = count > 0
    axis.bar(edges[:-1][used].numpy(), accuracy[used].numpy(), width=1 / bins, align="edge",
             edgecolor="black", alpha=0.7, label="accuracy")
    axis.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfectly calibrated")
    ece = expected_calibration_error(confidence, correct, bins)
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
             title=f"{title}\nECE {100 * ece:.2f}%")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
