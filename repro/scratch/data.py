"""The 32×32 pair data set standing in for the course's (which is not public).

* **Training**: ``n_pairs`` patches of 32×32 cut at uniformly random places from CBSD432 (BSDS500's
  432 colour images outside CBSD68), each noised twice independently: the pair (noisy_a, noisy_b) is
  what Noise2Noise trains on, the clean patch is never used for training. The set is drawn once and
  fixed (like the course's pickled tensors), not re-noised every epoch.
* **Test**: the 24 Kodak images, a different source from BSDS, noised once with a fixed seed
  (independent of the training seed, so every run sees the same test set); from each image
  ``per_image`` distinct cells of the non-overlapping 32×32 grid are kept as clean/noisy test patches.
  The full noisy images are kept too (the network is fully convolutional).

The noise: we do not know the course's. We chose additive Gaussian noise, σ = 25 on the 0-255 scale,
**not clipped** and kept in float: Noise2Noise needs target noise of zero mean, which clipping breaks
near black and white; σ = 25 is the level every paper here reports (a noisy input at ≈20.2 dB PSNR).
The course stored its pairs as uint8 tensors, so its noise was necessarily clipped and quantised.

>>> from repro import noise
>>> pairs = training_pairs(4, noise.Gaussian(25), seed=0)
>>> pairs.noisy_a.shape, pairs.noisy_a.dtype
(torch.Size([4, 3, 32, 32]), torch.float32)
>>> bool((pairs.noisy_a - pairs.noisy_b).abs().max() > 0)   # two independent noisy copies
True
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from .. import data
from ..noise import NoiseModel

PATCH = 32
TRAIN_SET = "cbsd432"
TEST_SET = "kodak24"
TEST_DATASET_LABEL = "kodak24_patch32"  # the per_image.csv "dataset" of test patches


def _generator(key: str) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(key.encode()))


def _as_float(pixels_u8: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, C) -> float32 (..., C, H, W) in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(pixels_u8))
    return t.movedim(-1, -3).float() / 255.0


@dataclass
class PairSet:
    """Training pairs: two independently noised copies of each clean patch (float32, N×3×32×32)."""

    noisy_a: torch.Tensor
    noisy_b: torch.Tensor
    clean: torch.Tensor  # uint8 N×3×32×32, kept for diagnostics only (never used by training)
    sources: list[str]  # "<image>_y<row>_x<col>" of each patch

    def __len__(self) -> int:
        return self.noisy_a.shape[0]

    def subset(self, n: int) -> "PairSet":
        """The first n pairs (pairs are i.i.d., so a prefix is a smaller sample of the same set)."""
        if n > len(self):
            raise ValueError(f"asked for {n} pairs, only {len(self)} were drawn")
        return PairSet(self.noisy_a[:n], self.noisy_b[:n], self.clean[:n], self.sources[:n])


def training_pairs(n_pairs: int, noise: NoiseModel, seed: int = 0, size: int = PATCH,
                   images: list[data.Image] | None = None, chunk: int = 4096) -> PairSet:
    """Draw ``n_pairs`` random ``size``² patches from CBSD432 and noise each twice (seeded by ``seed``)."""
    images = images if images is not None else data.load(TRAIN_SET)
    g = _generator(f"scratch_n2n/train/{seed}")
    which = torch.randint(len(images), (n_pairs,), generator=g)
    u = torch.rand(n_pairs, 2, generator=g, dtype=torch.float64)
    clean = np.empty((n_pairs, size, size, 3), dtype=np.uint8)
    sources = []
    for i, (k, (uy, ux)) in enumerate(zip(which.tolist(), u.tolist())):
        img = images[k]
        h, w = img.pixels.shape[:2]
        y, x = int(uy * (h - size + 1)), int(ux * (w - size + 1))
        clean[i] = data.to_rgb(img.pixels[y:y + size, x:x + size])
        sources.append(f"{img.name}_y{y}_x{x}")
    clean_t = torch.from_numpy(clean).permute(0, 3, 1, 2).contiguous()
    noisy_a = torch.empty(clean_t.shape, dtype=torch.float32)
    noisy_b = torch.empty(clean_t.shape, dtype=torch.float32)
    for start in range(0, n_pairs, chunk):  # in chunks, to keep the float copies of the clean set small
        x = clean_t[start:start + chunk].float() / 255.0
        noisy_a[start:start + chunk] = noise(x, generator=g)
        noisy_b[start:start + chunk] = noise(x, generator=g)
    return PairSet(noisy_a, noisy_b, clean_t, sources)


@dataclass
class HeldOutSet:
    """Clean/noisy test patches cut from noisy full images, and those full images."""

    clean: torch.Tensor  # float32 N×3×32×32
    noisy: torch.Tensor
    names: list[str]  # "<image>_y<row>_x<col>"
    full_clean: list[torch.Tensor]  # each 1×3×H×W
    full_noisy: list[torch.Tensor]
    image_names: list[str]

    def __len__(self) -> int:
        return self.clean.shape[0]


def held_out_set(noise: NoiseModel, per_image: int = 64, n_images: int | None = None, size: int = PATCH,
                 images: list[data.Image] | None = None) -> HeldOutSet:
    """Kodak24 noised once per image with a fixed seed; ``per_image`` random grid cells of each as patches."""
    images = (images if images is not None else data.load(TEST_SET))[:n_images]
    clean_p, noisy_p, names, full_clean, full_noisy = [], [], [], [], []
    for index, img in enumerate(images):
        clean = _as_float(data.to_rgb(img.pixels))[None]
        noisy = noise(clean, generator=_generator(f"scratch_n2n/{TEST_SET}/{index}"))
        full_clean.append(clean)
        full_noisy.append(noisy)
        rows, cols = clean.shape[2] // size, clean.shape[3] // size
        cells = torch.randperm(rows * cols, generator=_generator(f"scratch_n2n/{TEST_SET}/cells/{index}"))
        for cell in sorted(cells[:per_image].tolist()):
            y, x = (cell // cols) * size, (cell % cols) * size
            clean_p.append(clean[0, :, y:y + size, x:x + size])
            noisy_p.append(noisy[0, :, y:y + size, x:x + size])
            names.append(f"{img.name}_y{y}_x{x}")
    return HeldOutSet(torch.stack(clean_p), torch.stack(noisy_p), names, full_clean, full_noisy,
                   [img.name for img in images])
