"""Noise2Void (Krull, Buchholz, Jug, CVPR 2019): a blind spot made by masking the input, not the network.

A few pixels of each noisy training crop are replaced by a value drawn from their neighbourhood, and an
ordinary (non-blind) network is trained with L2 against the *original* noisy values, at those pixels
only. The network (almost) never sees the noise of a pixel it is scored on, so it cannot learn the
identity; it learns E[y | neighbourhood] = E[x | neighbourhood] for zero-mean noise independent across
pixels. ("Almost": the official replacement may draw the centre itself, one time in 25.) At test time
the whole, unmasked image goes in.

Settings follow the official reproducibility notebook (juglab/n2v ``examples/2D/denoising2D_BSD68``, see
../shared/claims/NOTES.md §6); each channel is masked at its own positions, as the official data wrapper
does.

>>> import torch
>>> from repro.models import UNet
>>> from repro.patches import Batch
>>> y = torch.rand(2, 3, 44, 66)
>>> masked, mask = mask_pixels(y, torch.Generator().manual_seed(0))
>>> int(mask.sum()) == 2 * 3 * 6  # one pixel per 22x22 box (2x3 boxes here), in each crop and channel
True
>>> bool((masked[mask == 0] == y[mask == 0]).all())
True
>>> float(N2VLoss()(UNet(3), Batch(y, (y,)), torch.Generator().manual_seed(0)).detach()) > 0
True
"""
from __future__ import annotations

import math

import torch

PAPER = "noise2void"

# ---- Hyper-parameters, each with where it was read: the official BSD68 reproducibility notebook
# (juglab/n2v examples/2D/denoising2D_BSD68, N2VConfig; ../shared/claims/NOTES.md §6).
LR = 4e-4  # train_learning_rate=0.0004
BETAS = (0.9, 0.999)  # Keras Adam defaults (the notebook sets none)
# ReduceLROnPlateau(factor=0.5, patience=10 epochs) on the validation loss; our one training engine has no
# plateau rule, so the rate ramps down over the last 30 % as in our SSDN runs (a stand-in, not the notebook's).
RAMPDOWN_FRACTION = 0.3
TRAIN_SET = "bsd400"  # DCNN400_train_gaussian25.npy: DnCNN's 400 gray 180x180 images, one fixed noisy copy each
PAPER_ITERATIONS = 200 * 400  # train_epochs=200 x train_steps_per_epoch=400, train_batch_size=128
BUDGETS = {
    # smoke: seconds, for CI; evaluation on one BSD68 image.
    # cpu: the steps, crops and batch of our SSDN-protocol N2V run (15000 steps of 4 64x64 crops, ~25 min on 2
    #   cores; results/ssdn/n2v_sigma25_cpu_seed0), so the gray and colour N2V rows cost the same.
    # paper: the notebook's 80,000 steps of 128 64x64 crops (n2v_patch_shape=(64, 64)).
    "smoke": {"iterations": 10, "patch_size": 32, "batch_size": 4, "train_images": 8, "val_every": 5,
              "val_images": 1, "eval_images": 1},
    "cpu": {"iterations": 15000, "patch_size": 64, "batch_size": 4, "train_images": None, "val_every": 1500,
            "val_images": 4, "eval_images": None},
    "paper": {"iterations": PAPER_ITERATIONS, "patch_size": 64, "batch_size": 128, "train_images": None,
              "val_every": 400, "val_images": 4, "eval_images": None},
}

MASKED_PERCENT = 0.198  # notebook: n2v_perc_pix=0.198 (per cent of pixels masked in each crop)
NEIGHBOURHOOD_RADIUS = 2  # notebook: n2v_neighborhood_radius=2, manipulator 'uniform_withCP' (5x5 window)


def box_size(percent: float = MASKED_PERCENT) -> int:
    """Side of the boxes of stratified sampling, one masked pixel per box (n2v: round(sqrt(100 / perc))).

    >>> box_size()
    22
    """
    return int(round(math.sqrt(100.0 / percent)))


def mask_pixels(noisy: torch.Tensor, generator: torch.Generator | None = None, percent: float = MASKED_PERCENT,
                radius: int = NEIGHBOURHOOD_RADIUS) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace stratified random pixels of every (crop, channel) by a random neighbour's value.

    One pixel is drawn uniformly in each ``box_size`` × ``box_size`` box (boxes cut by the border keep
    only positions inside the crop); its new value is that of a pixel drawn uniformly from the
    (2·radius+1)² window around it, the centre included ("withCP"), the window clipped at the border.
    Returns the masked input and a 0/1 mask of the scored positions, both shaped like ``noisy``.
    """
    if noisy.dim() != 4:
        raise ValueError(f"mask_pixels expects (N, C, H, W), got shape {tuple(noisy.shape)}")
    n, c, h, w = noisy.shape
    b = box_size(percent)
    boxes = (n, c, math.ceil(h / b), math.ceil(w / b))
    # Random draws on the CPU generator (reproducible whatever the device); indices moved once at the end.
    rows = torch.arange(0, h, b)[:, None] + torch.randint(b, boxes, generator=generator)
    cols = torch.arange(0, w, b)[None, :] + torch.randint(b, boxes, generator=generator)
    keep = (rows < h) & (cols < w)
    src_rows = (rows + torch.randint(-radius, radius + 1, boxes, generator=generator)).clamp(0, h - 1)
    src_cols = (cols + torch.randint(-radius, radius + 1, boxes, generator=generator)).clamp(0, w - 1)
    index_n = torch.arange(n)[:, None, None, None].expand(boxes)
    index_c = torch.arange(c)[None, :, None, None].expand(boxes)
    index_n, index_c, rows, cols, src_rows, src_cols = (
        t[keep].to(noisy.device) for t in (index_n, index_c, rows, cols, src_rows, src_cols))
    masked = noisy.clone()
    masked[index_n, index_c, rows, cols] = noisy[index_n, index_c, src_rows, src_cols]
    mask = torch.zeros_like(noisy)
    mask[index_n, index_c, rows, cols] = 1.0
    return masked, mask


class N2VLoss:
    """Mean squared error at the masked pixels only, between f(masked crop) and the original noisy crop."""

    name = "n2v"

    def __init__(self, percent: float = MASKED_PERCENT, radius: int = NEIGHBOURHOOD_RADIUS):
        self.percent, self.radius = percent, radius

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        noisy = batch.noisy[0]
        masked, mask = mask_pixels(noisy, generator, self.percent, self.radius)
        error = (model(masked).float() - noisy.float()) ** 2
        return (error * mask).sum() / mask.sum()
