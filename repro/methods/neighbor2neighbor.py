"""Neighbor2Neighbor (Huang et al., CVPR 2021): Noise2Noise on two sub-images of one noisy image.

**Random neighbour sub-sampler** G = (g1, g2). The noisy image y (N, C, H, W) is cut into 2×2 cells; in
every cell one of the eight ordered pairs of *edge-sharing* positions is drawn at random (uniformly,
independently per cell and per image, the same positions for every channel). g1(y) collects the first
pixel of each pair, g2(y) the second: two (N, C, H/2, W/2) images whose pixels are neighbours in y. With
pixel-wise independent noise the two sub-images carry independent noise of the same scene, up to the
small gap between neighbouring clean pixels, ε = g2(x) − g1(x).

**Loss** (paper Eq. 7; official ``train.py``), with f the network and ‖·‖² the mean squared error:

    L_rec = ‖f(g1(y)) − g2(y)‖²
    L_reg = ‖f(g1(y)) − g2(y) − (g1(f(y)) − g2(f(y)))‖²
    L     = L_rec + γ · L_reg

f(y), the network on the whole noisy image, is computed **without gradient** (the official code runs it
under ``torch.no_grad()``), so L_reg only pulls f(g1(y)) toward g2(y) + g1(f(y)) − g2(f(y)). For an ideal
denoiser (f(y) = x, f(g1(y)) = g1(x)) the bracket's expectation over the noise is g1(x) − g2(x) − (g1(x) −
g2(x)) = 0, while L_rec alone is minimised by f(g1(y)) = g2(x) = g1(x) + ε, which over-smooths the
sub-image. γ ramps up during training as
γ = epoch / n_epochs · increase_ratio (epoch = 1..n_epochs, constant within an epoch; official ``train.py``
``Lambda``), with increase_ratio 2 (the official README's training command): from 0.02 to 2.

**Inference**: the network's output on the full noisy image (no special rule; ``Paper.inference`` is None).

>>> g = torch.Generator().manual_seed(0)
>>> y = torch.arange(16.0).reshape(1, 1, 4, 4)
>>> pairs = draw_pairs(y.shape, g)
>>> pairs.g1(y).shape, pairs.g2(y).shape
(torch.Size([1, 1, 2, 2]), torch.Size([1, 1, 2, 2]))
>>> d = (pairs.g1(y) - pairs.g2(y)).abs()  # neighbours in a row differ by 1, in a column by 4 (width 4)
>>> bool(((d == 1) | (d == 4)).all())
True
>>> [regularizer_weight(i, 1000) for i in (0, 9, 10, 999)]  # 100 "epochs" of 10 iterations each
[0.02, 0.02, 0.04, 2.0]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..noise import Gaussian, Poisson
from ..patches import PatchSampler
from . import noise2noise as n2n

PAPER = "neighbor2neighbor"

# The 2×2 cell's positions, row-major: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right. The eight
# ordered pairs of positions that share an edge (two rows, two columns, each either way round); diagonal
# positions are never paired. Official train.py (generate_mask_pair) draws one of eight such pairs per cell.
PAIRS = torch.tensor([[0, 1], [1, 0], [2, 3], [3, 2],  # same row
                      [0, 2], [2, 0], [1, 3], [3, 1]])  # same column

# Hyper-parameters, each with where it was read: TaoHuang2018/Neighbor2Neighbor at e66389e (train.py argparse
# defaults, README); ../shared/claims/NOTES.md §5 and ../shared/notes/peers-and-official-code.md §4.5 quote them.
LR = 3e-4  # train.py --lr 3e-4
BETAS = (0.9, 0.999)  # train.py: optim.Adam(network.parameters(), lr=opt.lr), i.e. PyTorch's default betas
LR_DECAY = 0.5  # train.py --gamma 0.5: MultiStepLR factor
EPOCHS = 100  # train.py --n_epoch 100; also the number of steps of the gamma ramp
# train.py: MultiStepLR milestones int(20 r) - 1, int(40 r) - 1, ... (r = n_epoch / 100), one scheduler.step() after
# each epoch: epochs 1-19 at 3e-4, 20-39 at 1.5e-4, ..., 80-100 at 3e-4 / 16. As fractions of the run (where each
# lower rate starts, repro.train.learning_rate): after 19, 39, 59, 79 of the 100 epochs.
LR_MILESTONES = tuple((int(k * EPOCHS / 100) - 1) / EPOCHS for k in (20, 40, 60, 80))
INCREASE_RATIO = 2.0  # README training command --increase_ratio=2 (train.py's default is 2.0 as well)
PATCH_SIZE = 256  # train.py --patchsize 256
BATCH_SIZE = 4  # train.py --batchsize 4
FEATURES = 48  # train.py --n_feature 48; our repro.models.UNet has 48 encoder channels as well
# README: ImageNet validation images between 256x256 and 512x512 pixels, 44,328 of them; 100 epochs of
# batches of 4 (drop_last) are 100 * 11,082 steps.
OFFICIAL_TRAIN_IMAGES = 44_328
PAPER_ITERATIONS = EPOCHS * (OFFICIAL_TRAIN_IMAGES // BATCH_SIZE)

# Training noise: the official code trains one network per test setting (gauss25: sigma = 25 fixed; gauss5_50:
# sigma ~ U[5, 50]; poisson30; poisson5_50). We train as our Noise2Noise does (sigma ~ U[0, 50], lambda ~ U[0, 50],
# drawn per example; blind to the level), so that Neighbor2Neighbor and N2N/N2C differ only in their loss.
TRAIN_NOISE: dict[str, Gaussian | Poisson] = {"gaussian": n2n.TRAIN_NOISE["gaussian"],
                                               "poisson": n2n.TRAIN_NOISE["poisson"]}
TRAIN_SET, TRAIN_EXCLUDE = n2n.TRAIN_SET, n2n.TRAIN_EXCLUDE  # ImageNet is not available offline: N2N's data

BUDGETS = {
    # smoke and cpu: exactly Noise2Noise's (same iterations, crops, batch, ramp-down, data), so that the
    # comparison with N2N/N2C is at equal steps. A step costs less than an N2N step: the gradient pass runs on
    # the half-size sub-images, plus one forward pass without gradient on the full crop.
    "smoke": dict(n2n.BUDGETS["smoke"]),
    "cpu": dict(n2n.BUDGETS["cpu"]),
    # paper: the official 100 epochs over 44,328 images in batches of 4 at 256x256, and its schedule: lr halved
    # after epochs 19/39/59/79 (LR_MILESTONES, LR_DECAY), no ramp-down. Our "epochs" are equal shares of the run.
    "paper": {"iterations": PAPER_ITERATIONS, "patch_size": PATCH_SIZE, "batch_size": BATCH_SIZE,
              "rampdown_fraction": 0.0, "lr_milestones": LR_MILESTONES, "lr_decay": LR_DECAY,
              "train_images": None, "val_every": 10_000, "eval_images": None},
}


def _cells(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H//2, W//2, 4): each 2×2 cell's pixels, row-major (an odd last row/column is dropped)."""
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    cells = x[..., : 2 * h2, : 2 * w2].reshape(n, c, h2, 2, w2, 2)
    return cells.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h2, w2, 4)


def take(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The sub-image of ``x`` (N, C, H, W) holding, in each 2×2 cell, the pixel at ``positions`` (N, H//2, W//2)."""
    index = positions.to(x.device)[:, None, :, :, None].expand(-1, x.shape[1], -1, -1, 1)
    return _cells(x).gather(-1, index).squeeze(-1)


@dataclass(frozen=True)
class NeighborPairs:
    """One draw of the random neighbour sub-sampler: per image and 2×2 cell, the positions (0..3) of g1 and g2."""

    first: torch.Tensor  # (N, H//2, W//2), int64
    second: torch.Tensor

    def g1(self, x: torch.Tensor) -> torch.Tensor:
        return take(x, self.first)

    def g2(self, x: torch.Tensor) -> torch.Tensor:
        return take(x, self.second)


def draw_pairs(shape, generator: torch.Generator | None = None) -> NeighborPairs:
    """Draw the sub-sampler G = (g1, g2) for images of ``shape`` (N, C, H, W): one of :data:`PAIRS` per cell.

    The draw is on the CPU from ``generator`` (the training loop's seeded one), so the same seed gives the same
    sub-images on any device.
    """
    n, h, w = shape[0], shape[-2], shape[-1]
    if h < 2 or w < 2:
        raise ValueError(f"the neighbour sub-sampler needs images of at least 2x2 pixels, got {h}x{w}")
    choice = torch.randint(len(PAIRS), (n, h // 2, w // 2), generator=generator)
    pair = PAIRS[choice]
    return NeighborPairs(pair[..., 0].contiguous(), pair[..., 1].contiguous())


def neighbor_subsample(y: torch.Tensor, generator: torch.Generator | None = None):
    """(g1(y), g2(y), G): the two half-size sub-images of ``y`` and the draw that made them."""
    pairs = draw_pairs(y.shape, generator)
    return pairs.g1(y), pairs.g2(y), pairs


def regularizer_weight(iteration: int, total: int, increase_ratio: float = INCREASE_RATIO,
                       epochs: int = EPOCHS) -> float:
    """γ at 0-based ``iteration`` of ``total``: epoch / epochs · increase_ratio, with ``total`` split into ``epochs``
    equal "epochs" (epoch = 1..epochs), as the official code steps it once per epoch."""
    epoch = min(epochs, iteration * epochs // max(total, 1) + 1)
    return round(epoch / epochs * increase_ratio, 12)


class Neighbor2NeighborLoss:
    """``loss(model, batch, generator)``: L_rec + γ · L_reg on the batch's one noisy copy (``batch.noisy[0]``).

    ``gamma=None`` (default) ramps γ with the training loop's ``set_iteration`` (:func:`regularizer_weight`,
    starting from γ = increase_ratio before the first call); a number fixes it (0: L_rec only, the plain
    sub-sampled Noise2Noise loss; DeepInverse's ``Neighbor2Neighbor`` keeps γ = 2 fixed). The clean image is
    never used.

    >>> from repro.models import UNet
    >>> from repro.patches import Batch
    >>> y = torch.rand(2, 3, 32, 32)
    >>> loss = Neighbor2NeighborLoss()
    >>> loss.set_iteration(0, 100); loss.gamma
    0.02
    >>> float(loss(UNet(3), Batch(y, (y,)), torch.Generator().manual_seed(0)).detach()) > 0
    True
    """

    name = "neighbor2neighbor"

    def __init__(self, gamma: float | None = None, increase_ratio: float = INCREASE_RATIO, epochs: int = EPOCHS):
        self.ramp = gamma is None
        self.increase_ratio, self.epochs = increase_ratio, epochs
        self.gamma = increase_ratio if gamma is None else float(gamma)

    def set_iteration(self, iteration: int, total: int) -> None:
        if self.ramp:
            self.gamma = regularizer_weight(iteration, total, self.increase_ratio, self.epochs)

    def terms(self, model, batch, generator=None) -> dict[str, torch.Tensor]:
        """L_rec and L_reg for one draw of the sub-sampler (float32 scalars; gradient only through f(g1(y)))."""
        y = batch.noisy[0]
        pairs = draw_pairs(y.shape, generator)
        with torch.no_grad():
            full = model(y)
        diff = model(pairs.g1(y)).float() - pairs.g2(y).float()
        gap = pairs.g1(full).float() - pairs.g2(full).float()
        return {"rec": diff.square().mean(), "reg": (diff - gap).square().mean()}

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        if self.gamma == 0:  # L_rec alone: the same value without the extra pass on the full image
            y = batch.noisy[0]
            pairs = draw_pairs(y.shape, generator)
            return (model(pairs.g1(y)).float() - pairs.g2(y).float()).square().mean()
        terms = self.terms(model, batch, generator)
        return terms["rec"] + self.gamma * terms["reg"]


LOSSES = {"neighbor2neighbor": Neighbor2NeighborLoss}


def training_noise(noise: str):
    if noise not in TRAIN_NOISE:
        raise ValueError(f"Neighbor2Neighbor is set up here for {sorted(TRAIN_NOISE)} noise, not '{noise}'")
    return TRAIN_NOISE[noise]


def training_sampler(images, patch_size: int, noise: str, seed: int = 0) -> PatchSampler:
    """Crops with **one** noisy copy, fresh noise every batch (its crops and noise are those of the first copy
    Noise2Noise's two-copy sampler draws with the same generator)."""
    return PatchSampler(images, patch_size, training_noise(noise), copies=1, seed=seed)


def loss(method: str = "neighbor2neighbor", gamma: float | None = None) -> Neighbor2NeighborLoss:
    if method not in LOSSES:
        raise ValueError(f"method must be one of {sorted(LOSSES)}, got '{method}'")
    return LOSSES[method](gamma=gamma)
