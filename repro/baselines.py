"""Classical baselines through the ``bm3d`` package (Mäkinen, Azzari, Foi).

The package's licence is non-commercial and forbids redistribution, so it is a dependency, never vendored.
Colour images go through CBM3D (``bm3d_rgb``, opponent colour space), gray ones through BM3D.
"""
from __future__ import annotations

import numpy as np
import torch


class BM3D:
    """BM3D/CBM3D as a denoiser callable; ``sigma`` is the Gaussian noise level on the 0-255 scale.

    >>> BM3D(25).name, BM3D(25)(torch.full((1, 1, 16, 16), 0.5)).shape
    ('bm3d', torch.Size([1, 1, 16, 16]))
    """

    name = "bm3d"

    def __init__(self, sigma: float):
        if sigma <= 0:
            raise ValueError(f"BM3D needs the noise level sigma > 0 (0-255 scale), got {sigma}")
        self.sigma = float(sigma)

    def __call__(self, noisy: torch.Tensor) -> torch.Tensor:
        import bm3d  # imported here: it is slow to import and only this baseline needs it

        out = []
        for image in noisy.detach().double().cpu().numpy():
            hwc = np.transpose(image, (1, 2, 0))
            if hwc.shape[-1] == 3:
                est = bm3d.bm3d_rgb(hwc, self.sigma / 255.0)
            else:
                est = bm3d.bm3d(hwc[..., 0], self.sigma / 255.0)[..., None]
            out.append(np.transpose(np.asarray(est), (2, 0, 1)))
        return torch.from_numpy(np.stack(out)).float()
