"""Classical baselines through the ``bm3d`` package (Mäkinen, Azzari, Foi).

The package's licence is non-commercial and forbids redistribution, so it is a dependency, never vendored.
Colour images go through CBM3D (``bm3d_rgb``, opponent colour space), gray ones through BM3D. Poisson noise
goes through the Anscombe transform first (:class:`AnscombeBM3D`), the "ANSC" row of Noise2Noise's Table 1 and the
"Anscombe" row of Noise2Score's Table 2.
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


def anscombe(counts: np.ndarray) -> np.ndarray:
    """Anscombe's variance-stabilising transform 2·sqrt(c + 3/8): Poisson counts become roughly Gaussian with
    variance 1 (Anscombe, Biometrika 1948)."""
    return 2.0 * np.sqrt(np.maximum(counts, 0.0) + 3.0 / 8.0)


def inverse_anscombe(d: np.ndarray) -> np.ndarray:
    """The closed-form approximation of the exact unbiased inverse of :func:`anscombe` (Mäkitalo & Foi, IEEE
    TIP 20(9), 2011, eq. 9): the count c whose E[anscombe(Poisson(c))] is ``d``,

    .. math:: c = \\tfrac14 d^2 + \\tfrac14\\sqrt{3/2}\\,d^{-1} - \\tfrac{11}{8} d^{-2} + \\tfrac58\\sqrt{3/2}\\,d^{-3} - \\tfrac18 .

    The algebraic inverse (d/2)² − 3/8 is biased low by about 1/4 count, a visible darkening at low counts.
    ``d`` below 2·sqrt(3/8) (the transform of 0 counts, where this formula gives 0) is taken as that.

    >>> float(inverse_anscombe(anscombe(np.array(0.0)))), round(float(inverse_anscombe(np.array(20.0))), 3)
    (0.0, 99.887)
    """
    d = np.maximum(d, 2.0 * np.sqrt(3.0 / 8.0))
    c = d ** 2 / 4 + np.sqrt(1.5) / (4 * d) - 11 / (8 * d ** 2) + 5 * np.sqrt(1.5) / (8 * d ** 3) - 1 / 8
    return np.maximum(c, 0.0)


class AnscombeBM3D:
    """Poisson denoising by variance stabilisation: counts λ·y → Anscombe → BM3D/CBM3D with σ = 1 (in counts'
    Anscombe units) → exact unbiased inverse → /λ. ``lam`` is the photon count at white, as in
    :class:`repro.noise.Poisson` (y = Poisson(λ·x)/λ; Noise2Score's ζ = 1/λ); the estimate is clipped to [0, 1].

    >>> AnscombeBM3D(30).name, AnscombeBM3D(30)(torch.rand(1, 3, 16, 16)).shape
    ('anscombe_bm3d', torch.Size([1, 3, 16, 16]))
    """

    name = "anscombe_bm3d"

    def __init__(self, lam: float):
        if lam <= 0:
            raise ValueError(f"Anscombe-BM3D needs the Poisson count at white lam > 0, got {lam}")
        self.lam = float(lam)

    def __call__(self, noisy: torch.Tensor) -> torch.Tensor:
        # BM3D is run on the stabilised image scaled by the transform of white, so its range is about [0, 1]
        scale = float(anscombe(np.array(self.lam)))
        stabilised = torch.from_numpy(anscombe(self.lam * noisy.detach().double().cpu().numpy()) / scale)
        denoised = BM3D(255.0 / scale)(stabilised).double().numpy() * scale
        return torch.from_numpy(inverse_anscombe(denoised) / self.lam).clamp(0, 1).float()
