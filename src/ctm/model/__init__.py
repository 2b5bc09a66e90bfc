"""The CTM model: config, the fast tick loop, and its building blocks.

Importing the package fills its registries (backbones, input modes, architectures)."""

# importing these registers the baseline architectures and the original code's RL agent
from . import baselines, original_rl  # noqa: F401
from .build import build_model, load_model, save_model
from .config import CTMConfig, CTMOutput
from .ctm import CTM, certainty, least_certainty, normalised_entropy
from .registry import ARCHITECTURES, BACKBONES, INPUT_MODES

__all__ = ["ARCHITECTURES", "BACKBONES", "CTM", "INPUT_MODES", "CTMConfig", "CTMOutput",
           "build_model", "certainty", "least_certainty", "load_model", "normalised_entropy",
           "save_model"]
