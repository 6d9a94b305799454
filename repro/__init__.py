"""repro: five self-supervised denoising papers re-implemented under one evaluation protocol.

Submodules are imported on first use; the list of papers is :mod:`repro.papers`.

>>> import repro
>>> callable(repro.load)
True
"""
from importlib import import_module

__all__ = ["data", "metrics", "noise", "papers", "protocols", "evaluate", "runs", "report", "claims",
           "Denoiser", "load"]
__version__ = "0.1.0"
_FROM_CHECKPOINTS = ("Denoiser", "load")


def __getattr__(name):
    if name in _FROM_CHECKPOINTS:
        return getattr(import_module(".checkpoints", __name__), name)
    if name in __all__:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'repro' has no attribute '{name}'")
