"""ctm: Continuous Thought Machines in PyTorch."""

from .model import CTM, CTMConfig, CTMOutput

__all__ = ["CTM", "CTMConfig", "CTMOutput"]
__version__ = "0.1.0"
