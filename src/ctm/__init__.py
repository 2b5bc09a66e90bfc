"""ctm: Continuous Thought Machines in PyTorch."""

from .model import CTM, CTMConfig, CTMOutput
from .run.lookup import load

__all__ = ["CTM", "CTMConfig", "CTMOutput", "load"]
__version__ = "0.1.0"
