"""repro: five self-supervised denoising papers re-implemented under one evaluation protocol."""
from . import data, metrics, noise, protocols
from .evaluate import evaluate, summarize

__all__ = ["data", "metrics", "noise", "protocols", "evaluate", "summarize"]
__version__ = "0.1.0"
