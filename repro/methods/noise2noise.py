"""Noise2Noise (Lehtinen et al., ICML 2018) and its clean-target baseline N2C.

The loss is the plain L2 between the network's output on one noisy copy and a second, independently
noisy copy (N2N) or the clean image (N2C). Following the official code, each copy draws its own noise
level from the training range (σ ~ U[0, 50] for Gaussian, λ ~ U[0, 50] for Poisson), so the denoiser is
blind to the noise level.

>>> import torch
>>> from repro.models import UNet
>>> from repro.patches import Batch
>>> b = Batch(torch.rand(2, 3, 32, 32), (torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)))
>>> float(N2NLoss()(UNet(3), b).detach()) > 0
True
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..noise import Gaussian, Poisson

PAPER = "noise2noise"

# Hyper-parameters, each with where it was read (../shared/claims/NOTES.md §1 quotes these files).
TRAIN_NOISE = {
    "gaussian": Gaussian((0.0, 50.0)),  # NVlabs config.py: train_stddev_rng_range=(0.0, 50.0)
    "poisson": Poisson((0.0, 50.0)),  # NVlabs config.py: train_params chi_rng_range=(0.0, 50.0)  (λ ~ U[0,50])
}
BUDGETS = {
    # smoke: seconds, for CI. cpu: what our committed results use (see book, "Reproduce it"): 30000
    # iterations of 4x128x128 take ~56 min on 2 idle cores (0.11 s/iteration in bf16 + channels_last,
    # results/timing/cpu_step_seconds.csv).
    # paper: NVlabs README "--long-train": 500k iterations, 256x256 crops, batch 4, ramp-down over last 50%.
    "smoke": {"iterations": 20, "patch_size": 64, "batch_size": 4, "rampdown_fraction": 0.3, "train_images": 8,
              "val_every": 10, "eval_images": 2},
    "cpu": {"iterations": 30_000, "patch_size": 128, "batch_size": 4, "rampdown_fraction": 0.3, "train_images": None,
            "val_every": 2500, "eval_images": None},
    "paper": {"iterations": 500_000, "patch_size": 256, "batch_size": 4, "rampdown_fraction": 0.5,
              "train_images": None, "val_every": 10_000, "eval_images": None},
}
LR = 3e-4  # NVlabs config.py learning_rate=0.0003 (the paper appendix's 0.001 could not be confirmed)
BETAS = (0.9, 0.99)  # NVlabs config.py: beta1=0.9, beta2=0.99, epsilon=1e-8
TRAIN_SET = "cbsd432"  # the paper used ~50k ImageNet validation images, which are not available offline here
TRAIN_EXCLUDE = "bsd300_test"  # cbsd432 holds 32 of BSD300's test scenes: keep them out of training


def _l2(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output.float(), target.float())


class N2NLoss:
    """L2 between f(first noisy copy) and the second noisy copy: no clean image is used."""

    name = "n2n"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        return _l2(model(batch.noisy[0]), batch.noisy[1])


class N2CLoss:
    """The supervised baseline: L2 between f(noisy) and the clean image."""

    name = "n2c"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        return _l2(model(batch.noisy[0]), batch.clean)


LOSSES = {"n2n": N2NLoss, "n2c": N2CLoss}


def training_noise(noise: str):
    if noise not in TRAIN_NOISE:
        raise ValueError(f"Noise2Noise is set up here for {sorted(TRAIN_NOISE)} noise, not '{noise}'")
    return TRAIN_NOISE[noise]
