"""Training: one loop for every task, checkpoints, and the run configuration."""

from .config import RunConfig, TrainConfig
from .trainer import Trainer, lr_at

__all__ = ["RunConfig", "TrainConfig", "Trainer", "lr_at"]
