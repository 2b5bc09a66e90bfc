"""Training: the one loop every task shares, and batches prefetched in worker processes.
A run's config, layout, checkpoints and lookup live in `ctm.run`."""

from .trainer import Trainer, TrainingDiverged, lr_at

__all__ = ["Trainer", "TrainingDiverged", "lr_at"]
