"""Small tensor operations on images shared by models and the evaluation harness."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_reflect(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad bottom/right so H and W are multiples of ``multiple`` (replicate if too small to reflect).

    >>> pad_reflect(torch.zeros(1, 1, 45, 70), 32).shape
    torch.Size([1, 1, 64, 96])
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
