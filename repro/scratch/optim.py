"""Plain stochastic gradient descent, the course's optimiser.

>>> import torch
>>> from repro.scratch import Conv2d
>>> conv = Conv2d(1, 1, 1)
>>> _ = conv.weight_grad.fill_(2.0)
>>> before = conv.weight.clone()
>>> SGD(conv.param(), lr=0.5).step()
>>> bool(torch.allclose(conv.weight, before - 1.0))
True
"""
from __future__ import annotations

import torch


class SGD:
    """p ← p − lr·∇p for each (tensor, gradient) pair, in place (no momentum, no weight decay)."""

    def __init__(self, params: list[tuple[torch.Tensor, torch.Tensor]], lr: float):
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.params, self.lr = list(params), lr

    def step(self) -> None:
        with torch.no_grad():
            for tensor, grad in self.params:
                tensor.add_(grad, alpha=-self.lr)  # the same arithmetic as torch.optim.SGD

    def zero_grad(self) -> None:
        for _, grad in self.params:
            grad.zero_()
