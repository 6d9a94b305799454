"""PSNR in the flavours the papers use, and SSIM.

* ``uint8`` (NVlabs Noise2Noise, SSDN, Neighbor2Neighbor): both images are clipped to [0, 1], mapped to
  8 bits with rounding (``x*255 + 0.5`` then floor), and PSNR is taken with peak 255.
* ``float`` (Noise2Score, Zero-Shot Noise2Noise): the estimate is clamped to [0, 1], nothing is
  rounded, peak 1.
* ``float_raw`` (Noise2Void's BSD68 notebook): as ``float`` but the estimate is not clamped either
  (``PSNR(gt, img)`` on the raw prediction, [0, 255] scale), so an overshoot costs what it costs.

PSNR is computed per image; a set's score is the mean of per-image values, never the pooled MSE.

>>> import torch
>>> x = torch.full((1, 3, 8, 8), 0.5)
>>> round(float(psnr(x + 0.01, x, "float")[0]), 3)
40.0
>>> y = x.clone(); y[..., 0, 0] = 0.8  # one pixel 0.3 too bright: clamping to 1 would not change it...
>>> bool(psnr(y, x, "float")[0] == psnr(y, x, "float_raw")[0])
True
>>> y[..., 0, 0] = 1.4  # ...but an overshoot past white is clamped by "float", kept by "float_raw"
>>> bool(psnr(y, x, "float")[0] > psnr(y, x, "float_raw")[0])
True
"""
from __future__ import annotations

import numpy as np
import torch

FLAVOURS = ("uint8", "float", "float_raw")


def quantize(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] float -> uint8 values (as float64) with clip and round-half-up, as NVlabs' code does."""
    return torch.floor(x.double().clamp(0, 1) * 255.0 + 0.5)


def psnr(estimate: torch.Tensor, clean: torch.Tensor, flavour: str = "uint8") -> torch.Tensor:
    """Per-image PSNR in dB of (N, C, H, W) tensors on the [0, 1] scale; returns shape (N,)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"PSNR flavour must be one of {FLAVOURS}, got '{flavour}'")
    if estimate.shape != clean.shape:
        raise ValueError(f"shape mismatch: estimate {tuple(estimate.shape)} vs clean {tuple(clean.shape)}")
    if estimate.dim() == 3:
        estimate, clean = estimate[None], clean[None]
    if flavour == "uint8":
        a, b, peak = quantize(estimate), quantize(clean), 255.0
    elif flavour == "float":
        a, b, peak = estimate.double().clamp(0, 1), clean.double(), 1.0
    else:
        a, b, peak = estimate.double(), clean.double(), 1.0
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(peak**2 / mse)


def ssim(estimate: torch.Tensor, clean: torch.Tensor) -> np.ndarray:
    """Per-image SSIM (scikit-image, Gaussian-weighted as in Wang et al. 2004) on [0, 1] images."""
    from skimage.metrics import structural_similarity

    out = []
    for e, c in zip(estimate.detach().double().clamp(0, 1).cpu().numpy(), clean.double().cpu().numpy()):
        out.append(structural_similarity(c, e, channel_axis=0, data_range=1.0, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False))
    return np.array(out)


def mean_ci95(values) -> tuple[float, float]:
    """Mean and half-width of its 95% interval (normal approximation over images)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), float(1.96 * v.std(ddof=1) / np.sqrt(v.size))
