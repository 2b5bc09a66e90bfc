"""Everything about a run: its replayable config and which fields a resume may change
(`config`), the names in its directory (`layout`), checkpoints with checksums (`checkpoint`),
how a run is put together from flags and files (`compose`), and one lookup from a run, a saved
model or `bundled:NAME` to (run config, model) (`lookup`)."""

from .config import RESUMABLE, RunConfig, TrainConfig, build_task
from .lookup import load_run

__all__ = ["RESUMABLE", "RunConfig", "TrainConfig", "build_task", "load_run"]
