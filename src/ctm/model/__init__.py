"""The CTM model: config, the fast tick loop, and its building blocks.

Importing the package fills its registries (backbones, input modes, architectures)."""

from . import baselines  # noqa: F401  (registers the baseline architectures)
from .build import build_model, load_model, save_model
from .config import CTMConfig, CTMOutput
from .ctm import CTM, certainty, normalised_entropy
from .registry import ARCHITECTURES, BACKBONES, INPUT_MODES

__all__ = ["ARCHITECTURES", "BACKBONES", "CTM", "INPUT_MODES", "CTMConfig", "CTMOutput",
           "build_model", "certainty", "load_model", "normalised_entropy", "save_model"]
