"""Seeded construction: a run's initial weights come from its ``seed``, never from the global generator.

Everything random during training already draws from explicit ``torch.Generator`` objects (crops, noise,
masks, perturbations). The one draw that did not was a network's initial weights, made by its
constructor from torch's global generator, so two runs with the same seed started from different
weights. :func:`seeded` scopes that draw.

>>> import torch
>>> with seeded(3):
...     a = torch.nn.Linear(4, 2).weight
>>> with seeded(3):
...     b = torch.nn.Linear(4, 2).weight
>>> torch.equal(a, b)
True
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int):
    """Run the block with torch's global CPU generator set to ``seed``, restoring its state afterwards.

    Only the CPU generator is forked: weights are drawn on CPU and moved, so they match on every device.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
