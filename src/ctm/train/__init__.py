"""Training: the one loop every task shares, batches prefetched in worker processes, and
training on several processes (torchrun). A run's config, layout, checkpoints and lookup live
in `ctm.run`."""

from .distributed import PeerLost, Processes
from .trainer import Trainer, TrainingDiverged, lr_at

__all__ = ["PeerLost", "Processes", "Trainer", "TrainingDiverged", "lr_at"]
