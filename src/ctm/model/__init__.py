"""The CTM model: config, the fast tick loop, and its building blocks."""

from .build import build_model, load_model, save_model
from .config import CTMConfig, CTMOutput
from .ctm import CTM, certainty, normalised_entropy

__all__ = ["CTM", "CTMConfig", "CTMOutput", "build_model", "certainty", "load_model",
           "normalised_entropy", "save_model"]
