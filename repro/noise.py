"""Noise models on images scaled to [0, 1], each seeded through a ``torch.Generator``.

A parameter is either a known value (``Gaussian(25)``) or a training range drawn per example
(``Gaussian((0, 50))``, as Noise2Noise trains its blind denoisers). Gaussian σ is on the 0-255 scale
everywhere, as in every paper here. Clipping of the noisy image is an explicit choice: Noise2Noise,
SSDN and Noise2Score never clip; the Zero-Shot Noise2Noise notebook clips Gaussian noise.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> y = Gaussian(25)(torch.full((1, 1, 64, 64), 0.5), generator=g)
>>> round(float((y - 0.5).std() * 255))
25
>>> Gaussian(25).label, Poisson(30).label, Gaussian((0, 50)).label
('sigma=25', 'lam=30', 'sigma=0-50')
>>> Gaussian(-1)
Traceback (most recent call last):
...
ValueError: Gaussian sigma must be >= 0 (on the 0-255 scale), got -1
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .seeding import seeded

Param = float | tuple[float, float]


def _check(name: str, value: Param, ok, rule: str) -> None:
    values = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1]):
        raise ValueError(f"{name} range must be (low, high) with low <= high, got {value}")
    for v in values:
        if not ok(float(v)):
            raise ValueError(f"{name} must be {rule}, got {value}")


def _fmt(v: float) -> str:
    return f"{v:g}"


def _label(key: str, value: Param) -> str:
    if isinstance(value, tuple):
        return f"{key}={_fmt(value[0])}-{_fmt(value[1])}"
    return f"{key}={_fmt(value)}"


def _per_example(value: Param, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The parameter as a (N,1,1,1) tensor: constant, or drawn uniformly per example."""
    n = x.shape[0]
    if isinstance(value, tuple):
        u = torch.rand(n, generator=generator, device=_gen_device(generator, x)).to(x.device, x.dtype)
        v = value[0] + (value[1] - value[0]) * u
    else:
        v = torch.full((n,), float(value), device=x.device, dtype=x.dtype)
    return v.view(n, 1, 1, 1)


def _gen_device(generator: torch.Generator | None, x: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


def _randn(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # Drawn on the generator's device so a seed gives the same noise whatever device x is on.
    return torch.randn(x.shape, generator=generator, device=_gen_device(generator, x)).to(x.device, x.dtype)


def _rand(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, device=_gen_device(generator, x)).to(x.device, x.dtype)


@dataclass(frozen=True)
class Gaussian:
    """Additive white Gaussian noise, y = x + σ/255·n, n ~ N(0, I)."""

    sigma: Param
    clip: bool = False
    name = "gaussian"

    def __post_init__(self):
        _check("Gaussian sigma", self.sigma, lambda v: v >= 0, ">= 0 (on the 0-255 scale)")

    @property
    def label(self) -> str:
        return _label("sigma", self.sigma)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(x, generator)[0]

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The noisy image and the σ (0-255 scale) of each example, shape (N,): what a method that is told the
        noise level of each image (SSDN with σ known over a range) needs. The same draws as calling the model.

        >>> x, noise = torch.zeros(3, 1, 8, 8), Gaussian((5.0, 50.0))
        >>> y, sigma = noise.sample(x, torch.Generator().manual_seed(0))
        >>> torch.equal(y, noise(x, torch.Generator().manual_seed(0))), bool(((sigma >= 5) & (sigma <= 50)).all())
        (True, True)
        """
        sigma = _per_example(self.sigma, x, generator)
        y = x + sigma / 255.0 * _randn(x, generator)
        return (y.clamp(0, 1) if self.clip else y), sigma.flatten()


@dataclass(frozen=True)
class Poisson:
    """Shot noise, y = Poisson(λ·x)/λ: λ is the photon count at white (N2N, SSDN, ZS-N2N).

    Noise2Score writes the same model with a scale ζ = 1/λ (ζ = 0.01 is λ = 100).
    """

    lam: Param
    clip: bool = False
    name = "poisson"

    def __post_init__(self):
        _check("Poisson lam", self.lam, lambda v: v >= 0, "> 0")
        if not isinstance(self.lam, tuple) and self.lam <= 0:
            raise ValueError(f"Poisson lam must be > 0, got {self.lam}")

    @property
    def label(self) -> str:
        return _label("lam", self.lam)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # A drawn λ of exactly 0 would divide by zero; 1e-3 is already pure noise.
        lam = _per_example(self.lam, x, generator).clamp_min(1e-3)
        rate = (lam * x.clamp_min(0)).expand_as(x).to(_gen_device(generator, x))
        y = torch.poisson(rate, generator=generator).to(x.device, x.dtype) / lam
        return y.clamp(0, 1) if self.clip else y


@dataclass(frozen=True)
class Gamma:
    """Multiplicative noise, y = x·g, g ~ Gamma(shape k, scale 1/k), mean 1 (Noise2Score)."""

    k: Param
    name = "gamma"

    def __post_init__(self):
        _check("Gamma k", self.k, lambda v: v > 0, "> 0")

    @property
    def label(self) -> str:
        return _label("k", self.k)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        k = _per_example(self.k, x, generator).expand_as(x).contiguous()
        # torch's Gamma sampler takes no generator; seed through the global RNG forked from ours.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=_gen_device(generator, x)))
        with seeded(seed):
            g = torch.distributions.Gamma(k.cpu().double(), k.cpu().double()).sample()
        return x * g.to(x.device, x.dtype)


@dataclass(frozen=True)
class Bernoulli:
    """Each pixel is dropped (set to 0) with probability p, all channels together.

    N2N (arXiv 1803.04189v3) §3.2, multiplicative Bernoulli noise: p is the probability that a pixel is
    corrupted, and its mask marks kept pixels 1 and zeroed ones 0. The paper speaks of pixels, not channels, and
    the official code has no Bernoulli noise to settle it; zero is black on the [0, 1] scale.
    """

    p: Param
    name = "bernoulli"

    def __post_init__(self):
        _check("Bernoulli p", self.p, lambda v: 0 <= v <= 1, "in [0, 1]")

    @property
    def label(self) -> str:
        return _label("p", self.p)

    def keep_mask(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The (N, 1, H, W) mask, 1 where a pixel is kept: the same draws as ``self(x, generator)``."""
        return (_rand(x[:, :1], generator) >= _per_example(self.p, x, generator)).to(x.dtype)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x * self.keep_mask(x, generator)


@dataclass(frozen=True)
class Impulse:
    """A fraction α of pixels replaced by a uniform random colour in [0, 1]^C (SSDN's impulse noise)."""

    alpha: Param
    name = "impulse"

    def __post_init__(self):
        _check("Impulse alpha", self.alpha, lambda v: 0 <= v <= 1, "in [0, 1]")

    @property
    def label(self) -> str:
        return _label("alpha", self.alpha)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        hit = (_rand(x[:, :1], generator) < _per_example(self.alpha, x, generator)).to(x.dtype)
        return x * (1 - hit) + _rand(x, generator) * hit


NoiseModel = Gaussian | Poisson | Gamma | Bernoulli | Impulse


def draw(noise: NoiseModel, x: torch.Tensor, generator: torch.Generator | None = None):
    """``noise`` applied to ``x`` and the σ (0-255) of each example where the model reports it (Gaussian),
    else None: one draw for the samplers and evaluations that may need to tell a denoiser the level.

    >>> y, levels = draw(Poisson(30.0), torch.full((2, 1, 4, 4), 0.5), torch.Generator().manual_seed(0))
    >>> y.shape, levels
    (torch.Size([2, 1, 4, 4]), None)
    """
    sample = getattr(noise, "sample", None)
    return sample(x, generator) if sample else (noise(x, generator), None)


def make(noise: str, value: Param, clip: bool = False) -> NoiseModel:
    """Build a noise model from a notebook parameter pair, e.g. ``make("gaussian", 25)``."""
    kinds = {"gaussian": Gaussian, "poisson": Poisson, "gamma": Gamma, "bernoulli": Bernoulli,
             "impulse": Impulse}
    if noise not in kinds:
        raise ValueError(f"unknown noise '{noise}'; choose one of {', '.join(kinds)}")
    if clip and noise not in ("gaussian", "poisson"):
        raise ValueError(f"clipping is only defined for gaussian and poisson noise, not {noise}")
    return kinds[noise](value, clip=clip) if clip else kinds[noise](value)
