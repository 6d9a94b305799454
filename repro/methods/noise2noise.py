"""Noise2Noise (Lehtinen et al., ICML 2018) and its clean-target baseline N2C.

The loss is the plain L2 between the network's output on one noisy copy and a second, independently
noisy copy (N2N) or the clean image (N2C). Following the official code, each copy draws its own noise
level from the training range (σ ~ U[0, 50] for Gaussian, λ ~ U[0, 50] for Poisson), so the denoiser is
blind to the noise level.

Multiplicative Bernoulli noise (paper §3.2, Eq. 7) drops pixels to 0; N2N then leaves the target's dropped pixels
out of the loss (:class:`MaskedN2NLoss`), and :class:`BernoulliPairSampler` hands the loss the target's mask.

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

from ..noise import Bernoulli, Gaussian, Poisson
from ..patches import Batch, PatchSampler

PAPER = "noise2noise"

# Hyper-parameters, each with where it was read (../shared/claims/NOTES.md §1 quotes these files).
TRAIN_NOISE = {
    "gaussian": Gaussian((0.0, 50.0)),  # NVlabs config.py: train_stddev_rng_range=(0.0, 50.0)
    "poisson": Poisson((0.0, 50.0)),  # NVlabs config.py: train_params chi_rng_range=(0.0, 50.0)  (λ ~ U[0,50])
    # Paper text §3.2 (arXiv 1803.04189v3): training varies p, the probability that a pixel is corrupted, over
    # [0.0, 0.95]; tests use p = 0.5; input and target have masks of their own. The official code has no Bernoulli
    # experiment (config.py: gaussian, poisson only), so a uniform p drawn per example and per copy is our
    # reading, as that code does for σ and λ. (NOTES.md had the range from a secondary note; the text confirms it.)
    "bernoulli": Bernoulli((0.0, 0.95)),
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
LR = 3e-4  # NVlabs config.py learning_rate=0.0003; the paper (appendix A.2) says 0.001: we follow the code
BETAS = (0.9, 0.99)  # NVlabs config.py: beta1=0.9, beta2=0.99, epsilon=1e-8
TRAIN_SET = "cbsd432"  # the paper used ~50k ImageNet validation images, which are not available offline here
TRAIN_EXCLUDE = "bsd300_test"  # cbsd432 holds 32 of BSD300's test scenes: keep them out of training


def _l2(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output.float(), target.float())


class N2NLoss:
    """L2 between f(first noisy copy) and the second noisy copy: no clean image is used."""

    name = "n2n"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        if len(batch.noisy) > 2:  # a BernoulliPairSampler batch: the plain L2 would pull outputs toward 0
            raise ValueError("this batch carries the target's keep-mask (Bernoulli noise): use MaskedN2NLoss")
        return _l2(model(batch.noisy[0]), batch.noisy[1])


class MaskedN2NLoss:
    """N2N for Bernoulli noise, paper Eq. 7: the L2 over the pixels kept in the target; its dropped pixels count 0.

    Eq. 7 writes one mask m and leaves out the missing pixels; we read m as the target's mask: the input's missing
    pixels are what the network must fill in, and N2C's clean target misses none (N2CLoss stays unmasked).
    Needs ``batch.noisy = (input, target, target keep-mask)`` as :class:`BernoulliPairSampler` draws them. Eq. 7
    is a plain sum over pixels (no division by the kept count) and the official code has no Bernoulli loss, so we
    divide the sum by the fixed element count, as ``_l2`` (``tf.reduce_mean`` in NVlabs train.py) does: over the
    target's mask its expectation is (1 - p) x the clean L2 of each example, which has the same minimiser.

    >>> from repro.models import UNet
    >>> x = torch.rand(2, 3, 32, 32)
    >>> keep = (torch.rand(2, 1, 32, 32) > 0.5).float()
    >>> float(MaskedN2NLoss()(UNet(3), Batch(x, (x, x * keep, keep))).detach()) > 0
    True
    """

    name = "n2n"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        if len(batch.noisy) != 3:
            raise ValueError("MaskedN2NLoss needs batch.noisy = (input, target, target keep-mask); draw the "
                             "batches with BernoulliPairSampler")
        noisy_input, target, keep = batch.noisy
        return (keep.float() * (model(noisy_input).float() - target.float())).square().mean()


class N2CLoss:
    """The supervised baseline: L2 between f(noisy) and the clean image."""

    name = "n2c"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        return _l2(model(batch.noisy[0]), batch.clean)


LOSSES = {"n2n": N2NLoss, "n2c": N2CLoss}


class BernoulliPairSampler(PatchSampler):
    """PatchSampler's crops, then an input and a target, each with its own Bernoulli mask, and the target's mask.

    The mask is taken from the corruption that made the target (``Bernoulli.keep_mask``): zeros in the target
    cannot tell a dropped pixel from a black one. ``batch.noisy = (input, target, target keep-mask (N, 1, H, W))``;
    input and target are the very draws of ``PatchSampler(images, patch_size, noise, copies=2)`` with that generator.
    """

    def __init__(self, images, patch_size: int, noise: Bernoulli, seed: int = 0, augment: bool = True):
        if not isinstance(noise, Bernoulli):
            raise TypeError(f"BernoulliPairSampler needs Bernoulli noise, got {type(noise).__name__}")
        super().__init__(images, patch_size, noise, copies=0, seed=seed, augment=augment)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        clean = super().sample(batch_size, generator).clean
        noisy_input = self.noise(clean, generator=generator)
        keep = self.noise.keep_mask(clean, generator)
        return Batch(clean, (noisy_input, clean * keep, keep))


def training_noise(noise: str):
    if noise not in TRAIN_NOISE:
        raise ValueError(f"Noise2Noise is set up here for {sorted(TRAIN_NOISE)} noise, not '{noise}'")
    return TRAIN_NOISE[noise]


def training_sampler(images, patch_size: int, noise: str, seed: int = 0) -> PatchSampler:
    """Crops with two noisy copies, each drawing its own noise level; for Bernoulli noise also the target's mask."""
    if noise == "bernoulli":
        return BernoulliPairSampler(images, patch_size, training_noise(noise), seed=seed)
    return PatchSampler(images, patch_size, training_noise(noise), copies=2, seed=seed)


def loss(method: str, noise: str):
    """The loss of ``method`` ('n2n' or 'n2c') for ``noise``: N2N on Bernoulli noise is the masked one (Eq. 7)."""
    if method not in LOSSES:
        raise ValueError(f"method must be one of {sorted(LOSSES)}, got '{method}'")
    return MaskedN2NLoss() if (method, noise) == ("n2n", "bernoulli") else LOSSES[method]()
