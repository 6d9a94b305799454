"""Element-wise activations with explicit backward passes.

>>> import torch
>>> s = Sigmoid()
>>> y = s(torch.zeros(3))
>>> y.tolist(), s.backward(torch.ones(3)).tolist()
([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
"""
from __future__ import annotations

import torch

from .module import Module


class ReLU(Module):
    """max(x, 0); the gradient at exactly 0 is taken as 0, as torch does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._positive = x > 0
        return x.clamp_min(0)

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        return grad_out * self._positive

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    """1 / (1 + exp(-x)); the backward uses the stored output, σ' = σ(1 - σ)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._out = torch.sigmoid(x)
        return self._out

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        return grad_out * self._out * (1 - self._out)

    def __repr__(self) -> str:
        return "Sigmoid()"
