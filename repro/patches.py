"""Training patches: random crops with flips and 90° rotations, and their noisy copies.

Two regimes, labelled in every run because they differ by 0.3-0.5 dB (Neighbor2Neighbor issue #16):

* ``fixed_noise=False`` (default; Noise2Noise, SSDN, Neighbor2Neighbor code): noise is drawn fresh for
  every batch, so over training the network sees many realisations of each clean image;
* ``fixed_noise=True`` (Noise2Score code, and the only honest setting for real noisy data): each
  training image gets its noisy copies once, pre-generated with the seed, and crops are cut from them.

>>> import numpy as np, torch
>>> from repro.noise import Gaussian
>>> images = [np.full((40, 50, 3), 128, np.uint8)]
>>> sampler = PatchSampler(images, 32, Gaussian(25), copies=2)
>>> batch = sampler.sample(4, torch.Generator().manual_seed(0))
>>> batch.clean.shape, len(batch.noisy), bool((batch.noisy[0] != batch.noisy[1]).any())
(torch.Size([4, 3, 32, 32]), 2, True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .noise import NoiseModel, draw


@dataclass
class Batch:
    """Clean crops (N, C, P, P) and independent noisy copies of them, all on [0, 1]; ``levels``: the σ (0-255)
    of each example of the first copy when the noise model reports it (Gaussian), else None."""

    clean: torch.Tensor
    noisy: tuple[torch.Tensor, ...]
    levels: torch.Tensor | None = None

    def to(self, device, memory_format=torch.contiguous_format) -> "Batch":
        move = lambda t: t.to(device, non_blocking=True).contiguous(memory_format=memory_format)  # noqa: E731
        levels = None if self.levels is None else self.levels.to(device)
        return Batch(move(self.clean), tuple(move(t) for t in self.noisy), levels)


class PatchSampler:
    """Draw batches of augmented crops from a list of uint8 (H, W, C) images."""

    def __init__(self, images: list[np.ndarray] | Callable[[], list[np.ndarray]], patch_size: int,
                 noise: NoiseModel, copies: int = 2, fixed_noise: bool = False, seed: int = 0, augment: bool = True):
        # A callable is called on first use: a complete run that a recipe reuses then reads no training set.
        self._source, self._images = images, None
        self.patch_size, self.noise, self.copies = patch_size, noise, copies
        if not callable(images):
            self.images  # noqa: B018 (a list is checked at once)
        self.fixed_noise, self.augment = fixed_noise, augment
        self._fixed_seed = seed + 7919  # a stream of its own, independent of crop order
        self._fixed: list[tuple[torch.Tensor, ...]] | None = None
        self._fixed_levels: list[torch.Tensor] | None = None

    @property
    def images(self) -> list[torch.Tensor]:
        """The training images as float (C, H, W) tensors on [0, 1], read on first use if given as a loader."""
        if self._images is None:
            images = self._source() if callable(self._source) else self._source
            if not images:
                raise ValueError("PatchSampler needs at least one training image")
            small = [im.shape[:2] for im in images if min(im.shape[:2]) < self.patch_size]
            if small:
                raise ValueError(f"patch_size {self.patch_size} is larger than {len(small)} training image(s), "
                                 f"e.g. {small[0]}")
            self._images = [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0
                            for im in images]
        return self._images

    @property
    def fixed(self) -> list[tuple[torch.Tensor, ...]] | None:
        """The fixed noisy set (``fixed_noise=True``), drawn on first use from its own seeded stream.

        Drawn lazily so that a complete run which a recipe reuses does not wait for it (~90 s for Gamma noise
        on CBSD432); the draws depend only on ``seed``, not on when they are made.
        """
        if self.fixed_noise and self._fixed is None:
            g = torch.Generator().manual_seed(self._fixed_seed)
            fixed, levels = [], []
            for im in self.images:
                drawn, level = self._noisy_copies(im[None], g)
                fixed.append(tuple(c[0] for c in drawn))
                levels.append(level)
            self._fixed, self._fixed_levels = fixed, None if levels[0] is None else levels
        return self._fixed

    @property
    def fixed_levels(self) -> list[torch.Tensor] | None:
        """σ of each image's first fixed copy, where the noise model reports one."""
        return self._fixed_levels if self.fixed is not None else None

    @property
    def label(self) -> str:
        return "fixed noisy set" if self.fixed_noise else "fresh noise per batch"

    def _noisy_copies(self, clean: torch.Tensor, generator) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        """``copies`` noisy versions of ``clean``, drawn in order, and the σ of each example of the first."""
        if self.copies == 0:  # a subclass draws its own copies: draw nothing here, or its stream would shift
            return (), None
        first, levels = draw(self.noise, clean, generator)
        return (first, *(self.noise(clean, generator=generator) for _ in range(self.copies - 1))), levels

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        p = self.patch_size
        clean, noisy, levels = [], [[] for _ in range(self.copies)], []
        fixed, fixed_levels = self.fixed, self.fixed_levels
        for _ in range(batch_size):
            i = int(torch.randint(len(self.images), (1,), generator=generator))
            c, h, w = self.images[i].shape
            top = int(torch.randint(h - p + 1, (1,), generator=generator))
            left = int(torch.randint(w - p + 1, (1,), generator=generator))
            k, flip = (int(torch.randint(4, (1,), generator=generator)), bool(torch.randint(2, (1,), generator=generator))) \
                if self.augment else (0, False)

            def cut(image: torch.Tensor) -> torch.Tensor:
                crop = image[:, top:top + p, left:left + p].rot90(k, dims=(1, 2))
                return crop.flip(2) if flip else crop

            clean.append(cut(self.images[i]))
            if fixed is not None:
                for j in range(self.copies):
                    noisy[j].append(cut(fixed[i][j]))
                if fixed_levels is not None:
                    levels.append(fixed_levels[i])
        clean_t = torch.stack(clean)
        if fixed is not None:
            noisy_t = tuple(torch.stack(n) for n in noisy)
            levels_t = torch.cat(levels) if levels else None
        else:
            noisy_t, levels_t = self._noisy_copies(clean_t, generator)
        return Batch(clean_t, noisy_t, levels_t)
