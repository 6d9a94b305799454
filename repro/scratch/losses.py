"""The mean squared error, with its gradient w.r.t. the prediction.

>>> import torch
>>> mse = MSE()
>>> float(mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])))
5.0
>>> mse.backward().tolist()   # 2 (prediction - target) / number of elements
[1.0, 3.0]
"""
from __future__ import annotations

import torch

from .module import Module


class MSE(Module):
    """mean((prediction - target)^2) over every element, as ``torch.nn.MSELoss()`` (reduction "mean")."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._diff = prediction - target
        return (self._diff ** 2).mean()

    def backward(self, grad_out: float | torch.Tensor = 1.0) -> torch.Tensor:
        """Gradient w.r.t. the prediction (the target is data and gets none)."""
        return self._diff * (2.0 / self._diff.numel()) * grad_out

    def __repr__(self) -> str:
        return "MSE()"
