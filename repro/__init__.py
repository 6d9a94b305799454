"""repro: five self-supervised denoising papers re-implemented under one evaluation protocol.

>>> import repro
>>> callable(repro.load)
True
"""
from . import data, metrics, noise, protocols
from .checkpoints import Denoiser, load

__all__ = ["data", "metrics", "noise", "protocols", "Denoiser", "load"]
__version__ = "0.1.0"
