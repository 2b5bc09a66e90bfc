"""The CTM model: config, the fast tick loop, and its building blocks."""

from .config import CTMConfig, CTMOutput
from .ctm import CTM, certainty, normalised_entropy

__all__ = ["CTM", "CTMConfig", "CTMOutput", "certainty", "normalised_entropy"]
