"""SSDN (Laine, Karras, Lehtinen, Aila, NeurIPS 2019): a blind-spot prior and its Bayesian posterior mean.

The blind-spot network (:mod:`repro.models.blindspot`) never sees the pixel it predicts, so it cannot
learn the identity. For every pixel it predicts a Gaussian *prior* over the clean value x from the
neighbourhood, N(μ_x, Σ_x); with Gaussian noise N(0, Σ_n), Σ_n = σ²I, the noisy value y is distributed
N(μ_x, Σ_x + Σ_n). Training minimises that negative log-likelihood of y (computed in float64), on noisy
images only. At test time the pixel the network never saw comes back through the posterior mean

    E[x | y] = (Σ_x⁻¹ + Σ_n⁻¹)⁻¹ (Σ_x⁻¹ μ_x + Σ_n⁻¹ y) = μ_x + Σ_x (Σ_x + Σ_n)⁻¹ (y − μ_x).

We evaluate the right-hand form: the same number, but it needs no inverse of Σ_x, which may be singular.

Parametrisation (official code): colour outputs 9 channels, the mean (3) and the 6 entries of an
upper-triangular factor A (filled row by row) with Σ_x = A·Aᵀ; the diagonal-covariance ablation outputs
the mean and the diagonal of A (6 channels); gray outputs a mean and a standard deviation a, Σ_x = a².

The noise level σ is either known (given), or unknown: one learned scalar for the whole data set
(``global``), or estimated per image by an auxiliary non-blind network averaged over the image
(``per_image``). An unknown estimate is mapped through softplus(x − 4) + 10⁻³, so it is positive and
starts near zero, and the loss subtracts 0.1·σ̂: without it the likelihood can explain the noise as
uncertainty of the prior as well as noise, and σ̂ would be underestimated.

Ablation ``ssdn_mu``: the same blind-spot network trained with L2 against the noisy input, whose output
(the mean of the prior alone, no posterior) is the denoised image. Baselines ``n2c`` / ``n2n`` train the
non-blind Noise2Noise U-Net with :mod:`repro.methods.noise2noise`'s losses, at the same fixed σ, and
``n2v`` trains it with :mod:`repro.methods.noise2void`'s masking (the blind spot made in the data).

>>> import torch
>>> from repro.models.blindspot import SSDNNetwork
>>> from repro.patches import Batch
>>> net = SSDNNetwork(3, prior_channels(3), noise_estimator="global")
>>> y = torch.rand(2, 3, 32, 32)
>>> loss = SSDNLoss(sigma=None)(net, Batch(y, (y,)))
>>> loss.dtype, bool(torch.isfinite(loss))
(torch.float64, True)
>>> make_denoiser(net, "ssdn_unknown_sigma")(y).shape
torch.Size([2, 3, 32, 32])
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..imageops import apply_in_tiles
from ..noise import Gaussian
from . import noise2noise, noise2void

PAPER = "ssdn"

# ---- Hyper-parameters, each with where it was read: NVlabs/selfsupervised-denoising
# ``selfsupervised_denoising.py`` (function and config named), see ../shared/claims/NOTES.md §2.
LR = 3e-4  # train(learning_rate=3e-4) and main()'s config
BETAS = (0.9, 0.99)  # train(): AdamOptimizer beta1=0.9, beta2=0.99
RAMPUP_FRACTION = 0.1  # train(rampup_fraction=0.1): raised cosine over the first 10 %
RAMPDOWN_FRACTION = 0.3  # train(rampdown_fraction=0.3): squared cosine over the last 30 %
NOISE_FLOOR = 1e-3  # blindspot_pipeline: known σ is max(σ, 1e-3) (on [0, 1])
ESTIMATE_OFFSET, ESTIMATE_FLOOR = 4.0, 1e-3  # blindspot_pipeline: softplus(x - 4) + 1e-3
# blindspot_pipeline: "loss - 0.1 * noise_std". Colour: the loss is the NLL (½ log det + ½ quadratic);
# gray: twice it ((y-μ)²/σ_y + log σ_y). On our NLL scale the gray weight is therefore 0.05.
SIGMA_REGULARISER = {3: 0.1, 1: 0.05}
PAPER_ITERATIONS = 500_000  # config_lst num_iter=2,000,000 images / minibatch 4
TRAIN_NOISE = {  # config_lst: 'gauss25' and 'gauss5_50' (σ known, global or per-image estimate)
    "sigma=25": Gaussian(25.0),
    "sigma=5-50": Gaussian((5.0, 50.0)),
}
TRAIN_SET, TRAIN_EXCLUDE = noise2noise.TRAIN_SET, noise2noise.TRAIN_EXCLUDE  # ImageNet val is not offline
SIGMA_MODES = ("known", "global", "per_image")
COVARIANCES = ("full", "diagonal")
METHODS = ("ssdn", "ssdn_diag", "ssdn_mu", "n2c", "n2n", "n2v")
BUDGETS = {
    # smoke: seconds, for CI; validation on one 64x64 crop, evaluation on one BSD300 image, one realisation.
    # cpu: 15000 steps of 4 64x64 crops in bf16, an hour on 2 idle cores at the timed 0.24 s/step (the
    #   sigma-known run averaged 0.29 s/step over its 2-thread part, ~70 min; sigma unknown (global) 0.36 s/step
    #   over steps 9000-15000 on 2 idle threads, ~90 min). A 64x64
    #   blind-spot step is ~8x a U-Net step, 128x128 ~13x (results/timing/cpu_step_seconds.csv). The first
    #   cpu budget, 3000 steps, was sized on a shared machine (load 10-15); its runs are kept as cpu-3k.
    #   One noise realisation per test image instead of the protocol's
    #   Kodak x10 / BSD300 x3 / Set14 x20 (repeats only narrow the interval; they would cost ~3 CPU-hours).
    #   A blind-spot net trained on 64x64 crops fails on whole images, so it denoises in 64x64 tiles (Tiled),
    #   overlapping by 2x8 pixels, each keeping its centre: +0.15 dB on Kodak over non-overlapping tiles, and a
    #   16-pixel margin adds nothing more (results/ssdn/diagnostics/overlap_*.csv).
    # paper: config_lst num_iter=2,000,000 *images* at minibatch 4 = 500k steps, 256x256 crops.
    "smoke": {"iterations": 10, "patch_size": 32, "batch_size": 4, "train_images": 8, "val_every": 5,
              "val_images": 1, "val_crop": 64, "eval_images": 1, "eval_repeats": 1, "eval_datasets": ["bsd300_test"],
              "inference_tile": 32, "inference_margin": 0},
    "cpu": {"iterations": 15000, "patch_size": 64, "batch_size": 4, "train_images": None, "val_every": 1500,
            "val_images": 4, "val_crop": 256, "eval_images": None, "eval_repeats": 1, "eval_datasets": None,
            "inference_tile": 64, "inference_margin": 8},
    "paper": {"iterations": 500_000, "patch_size": 256, "batch_size": 4, "train_images": None, "val_every": 10_000,
              "val_images": 4, "val_crop": 256, "eval_images": None, "eval_repeats": None, "eval_datasets": None,
              "inference_tile": None, "inference_margin": 0},
}


def prior_channels(channels: int = 3, covariance: str = "full") -> int:
    """Network outputs for a prior over ``channels`` values: the mean plus the factor of Σ_x.

    >>> prior_channels(3), prior_channels(3, "diagonal"), prior_channels(1)
    (9, 6, 2)
    """
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got '{covariance}'")
    if covariance == "diagonal" or channels == 1:
        return 2 * channels
    return channels + channels * (channels + 1) // 2


def prior_distribution(output: torch.Tensor, channels: int = 3, covariance: str = "full"):
    """Network output (N, K, H, W) -> mean (N, H, W, C) and covariance Σ_x (N, H, W, C, C), float64.

    >>> out = torch.zeros(1, 9, 1, 1); out[0, 3:, 0, 0] = torch.tensor([1., 2, 3, 4, 5, 6])
    >>> prior_distribution(out)[1][0, 0, 0].tolist()   # A = [[1,2,3],[0,4,5],[0,0,6]], Σ = A·Aᵀ
    [[14.0, 23.0, 18.0], [23.0, 41.0, 30.0], [18.0, 30.0, 36.0]]
    """
    if output.shape[1] != prior_channels(channels, covariance):
        raise ValueError(f"expected {prior_channels(channels, covariance)} channels for a {covariance} "
                         f"prior over {channels} channel(s), got {output.shape[1]}")
    out = output.double().permute(0, 2, 3, 1)
    mean, factor = out[..., :channels], out[..., channels:]
    if covariance == "diagonal" or channels == 1:
        return mean, torch.diag_embed(factor ** 2)
    rows, cols = torch.triu_indices(channels, channels, device=out.device)
    a = out.new_zeros(*out.shape[:-1], channels, channels)
    a[..., rows, cols] = factor
    return mean, a @ a.transpose(-1, -2)


def estimated_noise_std(raw: torch.Tensor) -> torch.Tensor:
    """Raw estimate -> σ̂ on [0, 1]: softplus(x − 4) + 10⁻³ (positive; 4.9/255 at the zero start).

    >>> round(float(estimated_noise_std(torch.zeros(())) * 255), 2)
    4.88
    """
    return F.softplus(raw.double() - ESTIMATE_OFFSET) + ESTIMATE_FLOOR


def noise_std(raw: torch.Tensor | None, sigma: float | tuple | None, batch: int, device,
              levels: torch.Tensor | None = None) -> torch.Tensor:
    """σ of each image (N, 1, 1) on [0, 1], float64: the known ``sigma`` (0-255 scale), or for a known range
    (a tuple, as ``gauss5_50`` with σ known) each image's own level ``levels`` (N,), or the estimate."""
    if isinstance(sigma, tuple):
        if levels is None:
            raise ValueError(f"this model knows sigma per image (trained on sigma in {list(sigma)}): give each image's "
                             "noise level (noise_level=..., 0-255 scale)")
        levels = torch.as_tensor(levels, dtype=torch.float64, device=device).flatten()
        return (levels / 255.0).clamp(min=NOISE_FLOOR).reshape(batch, 1, 1)
    if sigma is not None:
        return torch.full((batch, 1, 1), max(sigma / 255.0, NOISE_FLOOR), dtype=torch.float64, device=device)
    if raw is None:
        raise ValueError("σ is unknown (sigma=None) but the network has no noise estimator; build it with "
                         "noise_estimator='global' or 'per_image', or give the known sigma")
    return estimated_noise_std(raw).reshape(batch, 1, 1)


def _inverse_and_det(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse and determinant of symmetric positive-definite (..., C, C) matrices.

    C = 1 and 3 in closed form (adjugate over determinant): batched LAPACK calls on millions of 3×3
    matrices cost about a second per training step on CPU, the closed form a few milliseconds.
    """
    c = s.shape[-1]
    if c == 1:
        return 1.0 / s, s[..., 0, 0]
    if c != 3:
        return torch.linalg.inv(s), torch.linalg.det(s)
    a, b, cc, d, e, f = s[..., 0, 0], s[..., 0, 1], s[..., 0, 2], s[..., 1, 1], s[..., 1, 2], s[..., 2, 2]
    m00, m01, m02 = d * f - e * e, cc * e - b * f, b * e - cc * d
    m11, m12, m22 = a * f - cc * cc, b * cc - a * e, a * d - b * b
    det = a * m00 + b * m01 + cc * m02
    adjugate = torch.stack([torch.stack([m00, m01, m02], -1), torch.stack([m01, m11, m12], -1),
                            torch.stack([m02, m12, m22], -1)], -2)
    return adjugate / det[..., None, None], det


def _total_covariance(cov_x: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(cov_x.shape[-1], dtype=cov_x.dtype, device=cov_x.device)
    return cov_x + noise_var[..., None, None] * eye


def gaussian_nll(y: torch.Tensor, mean: torch.Tensor, cov_x: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    """−log N(y; μ_x, Σ_x + σ²I) per pixel; y, mean (..., C), cov_x (..., C, C), noise_var broadcastable to (...)."""
    c = y.shape[-1]
    inverse, det = _inverse_and_det(_total_covariance(cov_x, noise_var))
    r = y - mean
    quadratic = (r[..., :, None] * inverse * r[..., None, :]).sum((-2, -1))
    return 0.5 * quadratic + 0.5 * torch.log(det) + 0.5 * c * math.log(2 * math.pi)


def posterior_mean(y: torch.Tensor, mean: torch.Tensor, cov_x: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    """E[x | y] for the prior N(mean, cov_x) and noise N(0, noise_var·I); shapes as :func:`gaussian_nll`.

    >>> y, mu = torch.tensor([[1.0]]), torch.tensor([[0.0]])      # one gray pixel, σ_x² = 3, σ² = 1
    >>> posterior_mean(y, mu, torch.tensor([[[3.0]]]), torch.tensor([1.0])).item()   # 3/(3+1)
    0.75
    """
    inverse, _ = _inverse_and_det(_total_covariance(cov_x, noise_var))
    gain = (inverse * (y - mean)[..., None, :]).sum(-1)  # (Σ_x + Σ_n)⁻¹ (y − μ_x)
    return mean + (cov_x * gain[..., None, :]).sum(-1)


class SSDNLoss:
    """Per-pixel NLL of the noisy input under the predicted prior plus the noise, averaged (float64).

    ``sigma``: the known noise level (0-255 scale); a range (lo, hi) when σ is known per example (each crop's
    own level, ``batch.levels``); or ``None`` when the network estimates it (then the −0.1·σ̂ term is added).
    """

    def __init__(self, channels: int = 3, covariance: str = "full", sigma: float | tuple | None = None):
        prior_channels(channels, covariance)  # validates
        self.channels, self.covariance, self.sigma = channels, covariance, sigma
        self.name = method_name("ssdn" if covariance == "full" else "ssdn_diag", sigma is not None)

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        noisy = batch.noisy[0]
        prior, raw = model(noisy)
        with torch.autocast(noisy.device.type, enabled=False):  # the likelihood stays in float64
            mean, cov_x = prior_distribution(prior, self.channels, self.covariance)
            std = noise_std(raw, self.sigma, noisy.shape[0], noisy.device, batch.levels)
            y = noisy.double().permute(0, 2, 3, 1)
            loss = gaussian_nll(y, mean, cov_x, std ** 2).mean()
            if self.sigma is None:
                loss = loss - SIGMA_REGULARISER[self.channels] * std.mean()
        return loss


class MeanOnlyLoss:
    """SSDN-μ: L2 between the blind-spot output and the noisy input itself (official 'blindspot_mean')."""

    name = "ssdn_mu"

    def __call__(self, model, batch, generator=None) -> torch.Tensor:
        noisy = batch.noisy[0]
        return F.mse_loss(model(noisy).float(), noisy.float())


def method_name(method: str, sigma_known: bool = True) -> str:
    """The run's method name under the claims' rule: ``ssdn_unknown_sigma`` when σ is estimated.

    >>> method_name("ssdn", False), method_name("ssdn_diag", True), method_name("ssdn_mu", False)
    ('ssdn_unknown_sigma', 'ssdn_diag', 'ssdn_mu')
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got '{method}'")
    return method if sigma_known or method not in ("ssdn", "ssdn_diag") else f"{method}_unknown_sigma"


def loss_for(method: str, sigma_mode: str = "known", sigma: float | tuple | None = 25.0, channels: int = 3):
    """The training loss of ``method``; ``sigma`` (0-255, or a range known per example) is used when
    ``sigma_mode`` is ``known``."""
    if sigma_mode not in SIGMA_MODES:
        raise ValueError(f"sigma_mode must be one of {SIGMA_MODES}, got '{sigma_mode}'")
    if method in ("ssdn", "ssdn_diag"):
        if sigma_mode == "known" and sigma is None:
            raise ValueError("sigma_mode='known' needs the training sigma: a level, or a range known per example")
        return SSDNLoss(channels, "full" if method == "ssdn" else "diagonal",
                        sigma if sigma_mode == "known" else None)
    if method == "ssdn_mu":
        return MeanOnlyLoss()
    if method in noise2noise.LOSSES:
        return noise2noise.LOSSES[method]()
    if method == "n2v":
        return noise2void.N2VLoss()
    raise ValueError(f"method must be one of {METHODS}, got '{method}'")


def global_noise_scale(iterations: int | None = None) -> float:
    """How much faster the global σ̂ may move than in the official code, so that a run of ``iterations``
    steps can travel as far as the paper's 500k steps could (1 at the paper's length, or when None).

    Adam moves a parameter by about one learning rate per step whatever the gradient's size. Over the
    official schedule the raw global estimate (initialised at 0; σ = 25 needs 1.72) can travel up to
    ~114; over 3000 steps only ~0.7, which caps σ̂ at 9.4/255: a short run could never learn σ = 25.
    Scaling the stored parameter restores the paper's reach; it changes nothing else.

    >>> global_noise_scale(None), global_noise_scale(500_000), round(global_noise_scale(3000), 1)
    (1.0, 1.0, 166.7)
    """
    return 1.0 if not iterations else max(1.0, PAPER_ITERATIONS / iterations)


def build(method: str, sigma_mode: str = "known", channels: int = 3,
          iterations: int | None = None) -> tuple[nn.Module, str, dict]:
    """The network of ``method`` with the architecture name and arguments :func:`repro.load` rebuilds it from.

    ``iterations``: the run's length, which sets :func:`global_noise_scale` for ``sigma_mode="global"``.
    """
    from ..models import UNet
    from ..models.blindspot import BlindSpotUNet, SSDNNetwork

    if method in ("ssdn", "ssdn_diag"):
        kwargs = {"in_channels": channels,
                  "prior_channels": prior_channels(channels, "full" if method == "ssdn" else "diagonal"),
                  "noise_estimator": None if sigma_mode == "known" else sigma_mode}
        if sigma_mode == "global":
            kwargs["noise_value_scale"] = global_noise_scale(iterations)
        return SSDNNetwork(**kwargs), "ssdnnetwork", kwargs
    if method == "ssdn_mu":
        kwargs = {"in_channels": channels, "out_channels": channels}
        return BlindSpotUNet(**kwargs), "blindspotunet", kwargs
    if method in ("n2c", "n2n", "n2v"):
        return UNet(channels), "unet", {"in_channels": channels}
    raise ValueError(f"method must be one of {METHODS}, got '{method}'")


class PosteriorMean(nn.Module):
    """An :class:`~repro.models.blindspot.SSDNNetwork` as a denoiser: noisy [0, 1] -> E[x | y].

    With ``sigma`` a range (σ known per image) it must be told each image's level: ``noise_level`` (N,),
    0-255 scale; ``takes_noise_level`` says so to callers such as :func:`repro.evaluate.evaluate`.
    """

    def __init__(self, network: nn.Module, channels: int = 3, covariance: str = "full",
                 sigma: float | tuple | None = None):
        super().__init__()
        self.network, self.channels, self.covariance, self.sigma = network, channels, covariance, sigma
        self.takes_noise_level = isinstance(sigma, tuple)

    def forward(self, noisy: torch.Tensor, noise_level: torch.Tensor | None = None) -> torch.Tensor:
        prior, raw = self.network(noisy)
        with torch.autocast(noisy.device.type, enabled=False):
            mean, cov_x = prior_distribution(prior, self.channels, self.covariance)
            std = noise_std(raw, self.sigma, noisy.shape[0], noisy.device, noise_level)
            estimate = posterior_mean(noisy.double().permute(0, 2, 3, 1), mean, cov_x, std ** 2)
        return estimate.permute(0, 3, 1, 2).to(noisy.dtype)


def noise_std_255(network: nn.Module, noisy: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """σ the posterior mean uses for each whole image, 0-255 scale: the known value or the network's estimate."""
    _, raw = network(noisy)
    return noise_std(raw, sigma, noisy.shape[0], noisy.device).flatten() * 255.0


class Tiled(nn.Module):
    """A network applied to tiles of its training crop size (overlapping when ``margin`` > 0).

    A blind-spot network trained on small crops does not carry over to larger images: its view is a
    half-plane in each rotated branch, and what lies beyond the crop's zero-padded border is part of what
    it learned (measured in results/ssdn/diagnostics/tiling.csv). Denoising in tiles of the training size
    keeps every tile in distribution; the ``paper`` budget trains on 256x256 crops and needs no tiles. With
    a ``margin`` the tiles overlap and each keeps its centre, so no pixel sits at a tile's inner edge
    (results/ssdn/diagnostics/overlap_*.csv).
    """

    def __init__(self, network: nn.Module, tile: int, margin: int = 0):
        super().__init__()
        self.network, self.tile, self.margin = network, tile, margin
        self.takes_noise_level = getattr(network, "takes_noise_level", False)

    def forward(self, noisy: torch.Tensor, noise_level: torch.Tensor | None = None) -> torch.Tensor:
        if noise_level is None:
            return apply_in_tiles(self.network, noisy, self.tile, margin=self.margin)
        level = torch.as_tensor(noise_level).flatten()
        # apply_in_tiles stacks the tiles position by position, every image at each: the levels repeat per position
        return apply_in_tiles(lambda t: self.network(t, level.repeat(len(t) // len(level))), noisy, self.tile,
                              margin=self.margin)


def make_denoiser(model: nn.Module, method: str = "ssdn", channels: int = 3, covariance: str | None = None,
                  sigma: float | tuple | list | None = None, tile: int | None = None, margin: int = 0,
                  **_ignored) -> nn.Module:
    """What :func:`repro.load` applies: the posterior mean for SSDN, the network's output otherwise.

    ``sigma``: the known level (0-255); a range [lo, hi] when each image's level is known and given at the call
    (``noise_level=``, as trained on σ∈[5,50] with σ known); None when the network estimates it.
    ``tile``: denoise in tiles of this size (see :class:`Tiled`; a per-image σ is then estimated per tile),
    None for whole images; ``margin``: overlap the tiles and keep each one's centre
    (:func:`repro.imageops.apply_in_tiles`).
    """
    if method.startswith("ssdn") and method != "ssdn_mu":
        covariance = covariance or ("diagonal" if method.startswith("ssdn_diag") else "full")
        model = PosteriorMean(model, channels, covariance, tuple(sigma) if isinstance(sigma, list) else sigma)
    return Tiled(model, tile, margin) if tile else model


def step_seconds(method: str = "ssdn", sigma_mode: str = "known", patch_size: int = 128, batch_size: int = 4,
                 precision: str = "bf16", steps: int = 5, warmup: int = 2, device: str = "cpu") -> dict:
    """:func:`repro.train.step_seconds` for ``method`` on colour crops: budget sizing."""
    from ..train import step_seconds as time_steps

    model, _, _ = build(method, sigma_mode)
    return time_steps(model, loss_for(method, sigma_mode, 25.0), (batch_size, 3, patch_size, patch_size), precision,
                      device, steps, warmup, LR, BETAS)
