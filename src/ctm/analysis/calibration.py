"""Calibration: does a model's confidence match how often it is right?"""

from __future__ import annotations

from pathlib import Path

import torch

from ..metrics import BINS, bin_statistics, expected_calibration_error
from .figures import pyplot, save_figure


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
    return save_figure(figure, path)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, steps: int = 100) -> float:
    """The temperature T > 0 minimising the cross-entropy of logits / T (post-hoc temperature
    scaling). logits (N, C), targets (N,)."""
    logits, targets = logits.detach().double(), targets.detach().long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


@torch.no_grad()
def logits_at_certain_tick(model: torch.nn.Module, batches, device="cpu"  # noqa: ANN001
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Every output group's logits (N·G, C) at its sample's most-certain tick, and targets."""
    from ..losses import grouped_logits

    all_logits, all_targets = [], []
    for batch in batches:
        out = model(batch.inputs.to(device))
        logits = grouped_logits(out.logits, model.config.out_groups_shape).cpu()  # (B, T, G, C)
        tick = out.certainty.argmax(1).cpu()
        chosen = logits[torch.arange(len(tick)), tick]  # (B, G, C)
        all_logits.append(chosen.reshape(-1, chosen.shape[-1]))
        all_targets.append(batch.targets.reshape(-1).cpu())
    return torch.cat(all_logits), torch.cat(all_targets)


def confidence_and_correct(logits: torch.Tensor, targets: torch.Tensor,
                           temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Probability of each predicted class under softmax(logits / temperature), and whether
    the prediction is right. logits (N, C), targets (N,)."""
    confidence, predicted = torch.softmax(logits.double() / temperature, dim=-1).max(-1)
    return confidence, (predicted == targets).double()


def scaled_ece(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> float:
    """ECE of softmax(logits / temperature) predictions."""
    return expected_calibration_error(*confidence_and_correct(logits, targets, temperature))


def temperature_comparison(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Post-hoc temperature scaling, for comparison with the CTM's own calibration: with no
    separate validation split, fit the temperature on every other held-out prediction (logits
    (N, C) at the most-certain tick, targets (N,)) and measure ECE on the rest, before and
    after."""
    temperature = fit_temperature(logits[0::2], targets[0::2])
    return {"temperature": temperature,
            "ece_before_scaling": scaled_ece(logits[1::2], targets[1::2]),
            "ece_temperature_scaled": scaled_ece(logits[1::2], targets[1::2], temperature)}
