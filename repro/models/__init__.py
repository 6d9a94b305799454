"""Architectures only; training logic lives in repro.methods and repro.train."""
from .unet import UNet

__all__ = ["UNet"]
