"""Noise2Score (Kim & Ye, NeurIPS 2021): learn the score of the noisy images, denoise by Tweedie's formula.

Training sees noisy images only. A network R is trained with the amortised residual denoising
autoencoder (AR-DAE) loss

    L(R) = E_{y,u} || σ_a R(y + σ_a u) + u ||²,   u ~ N(0, I),

whose minimiser is the score ∇ log p of the noisy images smoothed by N(0, σ_a²) (denoising score
matching: L(R) = σ_a² E||R - s_σa||² + const, tests/test_noise2score.py). σ_a is annealed from σ_max
to σ_min so that, at the end, R(y) ≈ s(y) = ∇_y log p(y). Denoising is then closed-form: Tweedie's
formula for the exponential family the noise belongs to (:func:`tweedie_gaussian`,
:func:`tweedie_poisson`, :func:`tweedie_gamma`). At test time the network sees y unperturbed.

Settings are the official code's (cubeyoung/Noise2Score; ``../shared/claims/NOTES.md`` §3) unless
marked. Two deliberate departures, each kept selectable:

* σ_a is annealed linearly **over the whole run** (``schedule="run"``, the paper's description). The
  official ``train.py`` calls ``set_sigma(epoch_iter)`` with a counter that restarts every epoch, so σ_a
  never goes below about σ_max(1 - samples per epoch / 22000); ``schedule="official"`` reproduces that.
* The learning rate follows the engine's smooth ramp-down over the last half of the run instead of the
  official StepLR (x0.1 after epoch 50 of 100).

>>> import torch
>>> from repro.models import UNet
>>> from repro.patches import Batch
>>> loss = ARDAELoss("gaussian")
>>> loss.set_iteration(0, 100); round(loss.sigma, 4)
0.0495
>>> y = torch.rand(2, 1, 32, 32)
>>> float(loss(UNet(1), Batch(y, (y,)), torch.Generator().manual_seed(0)).detach()) > 0
True
>>> denoise = make_denoiser(UNet(1), noise="gaussian", param=25)
>>> denoise(y).shape
torch.Size([2, 1, 32, 32])
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..noise import Gamma, Gaussian, Poisson

PAPER = "noise2score"

# ---------------------------------------------------------------------------------------------------
# Hyper-parameters, each with where it was read (cubeyoung/Noise2Score at b292450).

LR = 2e-4  # options/train_options.py: --lr 2e-4
BETAS = (0.5, 0.999)  # train_options.py --beta1 0.5; models/*_model.py: Adam(betas=(opt.beta1, 0.999))
BATCH_SIZE = 8  # options/base_options.py: --batch_size 8
PATCH_SIZE = 128  # data/aligned_dataset.py: patch(..., patch_size=128), random flips and transposes
EPOCHS = 100  # train_options.py: --n_epochs 100 (StepLR x0.1 every 50: --lr_decay_iters 50)
PASSES_PER_EPOCH = 20  # aligned_dataset.py __len__: len(A_paths) * 20 samples per training epoch
RAMPDOWN_FRACTION = 0.5  # our stand-in for the StepLR at epoch 50: cos² ramp-down over the last half
ANNEAL = {  # models/{Gaussian,Poisson,Gamma}_model.py: sigma_max, sigma_min of the AR-DAE perturbation
    "gaussian": (0.05, 0.001),  # on the [0, 1] image scale
    "gamma": (0.05, 0.001),
    "poisson": (1.0, 0.5),  # in the count domain y / zeta the Poisson network is fed
}
OFFICIAL_ANNEAL_SAMPLES = 2 * 11000  # *_model.py: sigma_annealing, compared with train.py's epoch_iter
# AR-DAE needs fp32: with bf16 autocast a perturbation σ_a·u of 0.001 is below the input's resolution
# (2^-9 near 0.5), so the network cannot see u and the loss carries no score signal.
PRECISION = "fp32"
TRAIN_SETS = {"color": "cbsd432", "gray": "bsd400"}  # README: DIV2K + CBSD400 (gray: rgb2gray of them)
EVAL_SETS = {"color": ("cbsd68", "kodak24"), "gray": ("set12", "bsd68")}  # Table 2's four test sets
# Unknown parameter: the official blind models train on a log-uniform range and pick the parameter at
# test time by a 1-D search minimising a Charbonnier TV-L1 term (models/Gaussian_blind_model.py).
BLIND_TRAIN_SIGMA = (20.0, 55.0)  # Gaussian_blind_model.set_param_s: sigma in [20, 55]/255
# Each search is (first, last, n): n values first (1 - p) + last p, p = 1/n .. 1, in the noise's own unit.
TV_SEARCH = {
    "gaussian": (5.0, 55.0, 50),  # Gaussian_blind_model.forward_tv: sigma in (5, 55]/255
    "poisson": (0.1, 0.005, 100),  # Poisson_blind_model.forward_tv: zeta from 0.1 down to 0.005
    "gamma": (40.0, 120.0, 80),  # Gamma_blind_model.forward_tv: k in (40, 120]
}
POISSON_TV_WEIGHT = 0.1  # Poisson_blind_model.forward_tv: 0.1 * TV + the Poisson term (Gamma's TV weight is 1)
TV_EPS = 1e-6 ** 2  # L1_TVLoss_Charbonnier: e = 0.000001 ** 2

BUDGETS = {
    # smoke: seconds, for CI. cpu: 6000 steps, about an hour per model on 2 cores (measured run times are in
    # each run.json and the book; an earlier 1500-step budget is kept as cpu-1500). paper: the official 100
    # epochs of 20 passes over the training images at batch 8 (iterations=None: iterations_for() computes it).
    # val_images: validation crops of the first test set (smoke: 2, to stay in seconds).
    "smoke": {"iterations": 12, "patch_size": 64, "batch_size": 4, "train_images": 8, "val_every": 6,
              "val_images": 2, "eval_images": 1},
    "cpu": {"iterations": 6000, "patch_size": PATCH_SIZE, "batch_size": BATCH_SIZE, "train_images": None,
            "val_every": 1000, "val_images": 4, "eval_images": None},
    "paper": {"iterations": None, "patch_size": PATCH_SIZE, "batch_size": BATCH_SIZE, "train_images": None,
              "val_every": 5000, "val_images": 4, "eval_images": None},
}


def iterations_for(budget: str, n_train_images: int) -> int:
    """Training iterations of a budget; ``paper`` is 100 epochs x 20 passes over the images at batch 8.

    >>> iterations_for("paper", 432), iterations_for("paper", 400), iterations_for("smoke", 432)
    (108000, 100000, 12)
    """
    hp = BUDGETS[budget]
    if hp["iterations"] is not None:
        return hp["iterations"]
    return EPOCHS * PASSES_PER_EPOCH * n_train_images // hp["batch_size"]


# ---------------------------------------------------------------------------------------------------
# The noise parameter: σ on the 0-255 scale (Gaussian), λ = 1/ζ (Poisson), shape k (Gamma).


def noise_model(noise: str, param: float | tuple[float, float]):
    """The :mod:`repro.noise` model of a Noise2Score setting (Poisson ``param`` is λ = 1/ζ)."""
    kinds = {"gaussian": Gaussian, "poisson": Poisson, "gamma": Gamma}
    if noise not in kinds:
        raise ValueError(f"Noise2Score is set up for {sorted(kinds)} noise, not '{noise}'")
    return kinds[noise](param)


def perturbation_unit(noise: str, param: float) -> float:
    """The image-scale size of one unit of σ_a: ζ = 1/λ for Poisson, else 1.

    The Poisson score is the score of the counts z = y/ζ, and σ_a (1 -> 0.5) is in count units. The
    official code feeds the network z itself; we feed it y = ζz, the same information on the [0, 1]
    scale the U-Net's initialisation and input shift expect, so z + σ_a u becomes y + ζσ_a u.
    """
    return 1.0 / float(param) if noise == "poisson" else 1.0


# ---------------------------------------------------------------------------------------------------
# The AR-DAE loss and its σ_a schedule

SCHEDULES = ("run", "official", "constant")


def annealed_sigma(schedule: str, iteration: int, total: int, sigma_max: float, sigma_min: float,
                   batch_size: int = BATCH_SIZE, epoch_iterations: int | None = None,
                   anneal_fraction: float = 1.0) -> float:
    """σ_a at ``iteration`` (0-based) of ``total``.

    * ``run``: linear from σ_max to σ_min over the first ``anneal_fraction`` of the run (default: the
      whole run, the paper's annealing), then σ_min;
    * ``official``: the official code's counter, which counts samples and restarts every epoch of
      ``epoch_iterations`` iterations, reaching σ_min only after 22000 samples of one epoch;
    * ``constant``: σ_max throughout (no annealing).

    >>> [round(annealed_sigma("run", i, 100, 0.05, 0.001), 4) for i in (0, 49, 99)]
    [0.0495, 0.0255, 0.001]
    >>> [round(annealed_sigma("run", i, 100, 0.05, 0.001, anneal_fraction=0.5), 4) for i in (24, 49, 99)]
    [0.0255, 0.001, 0.001]
    >>> [round(annealed_sigma("official", i, 3000, 0.05, 0.001, 8, 1000), 4) for i in (0, 999, 1000)]
    [0.05, 0.0322, 0.05]
    """
    if schedule == "constant":
        return sigma_max
    if schedule == "run":
        perc = min((iteration + 1) / (anneal_fraction * total), 1.0)
    elif schedule == "official":
        if not epoch_iterations:
            raise ValueError("schedule='official' needs epoch_iterations (iterations per epoch)")
        samples = (iteration % epoch_iterations + 1) * batch_size  # train.py: epoch_iter += batch_size
        perc = min(samples / OFFICIAL_ANNEAL_SAMPLES, 1.0)
    else:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got '{schedule}'")
    return sigma_max * (1 - perc) + sigma_min * perc


class ARDAELoss:
    """AR-DAE loss ``mean((σ_a R(y + σ_a u) + u)²)`` on the first noisy copy of a batch.

    ``u`` is drawn from the training loop's ``generator`` (so a resumed run is exact) and σ_a is one
    scalar per batch, as in the official ``UNet.forward``. The network runs in fp32 whatever the
    autocast policy (see ``PRECISION``). ``output_relu`` clamps R at 0 as a final ReLU would (the
    diagnosis of a published re-implementation; never part of the method).

    ``antithetic=True`` (ours, not the paper's) evaluates every y with both u and -u and averages the
    two losses. The expected loss, hence the minimiser, is unchanged (-u has the law of u), but the term
    2σ_a u·R(y) of the plain estimate (mean zero, standard deviation O(σ_a) against a signal of O(σ_a²))
    cancels exactly. Measured on the trained gray model, the gradient variance falls 5x at σ_a = 0.05 and
    300x at 0.001, yet training at equal cost learns no faster (``results/noise2score/diagnostics``), so it
    stays an option. It costs two network passes per image (train with half the batch for the same cost).
    """

    def __init__(self, noise: str = "gaussian", param: float = 25.0, schedule: str = "run",
                 sigma_range: tuple[float, float] | None = None, batch_size: int = BATCH_SIZE,
                 epoch_iterations: int | None = None, output_relu: bool = False, anneal_fraction: float = 1.0,
                 antithetic: bool = False):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got '{schedule}'")
        self.sigma_max, self.sigma_min = sigma_range or ANNEAL[noise]
        self.noise, self.unit, self.schedule = noise, perturbation_unit(noise, param), schedule
        self.batch_size, self.epoch_iterations, self.output_relu = batch_size, epoch_iterations, output_relu
        self.anneal_fraction, self.antithetic = anneal_fraction, antithetic
        self.sigma = self.sigma_max

    def set_iteration(self, iteration: int, total: int) -> None:
        self.sigma = annealed_sigma(self.schedule, iteration, total, self.sigma_max, self.sigma_min,
                                    self.batch_size, self.epoch_iterations, self.anneal_fraction)

    def __call__(self, model, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        y = batch.noisy[0].float()
        gen_device = generator.device if generator is not None else y.device
        u = torch.randn(y.shape, generator=generator, device=gen_device).to(y.device)
        if self.antithetic:
            y, u = torch.cat([y, y]), torch.cat([u, -u])
        with torch.autocast(y.device.type, enabled=False):
            r = model(y + self.unit * self.sigma * u).float()
            if self.output_relu:
                r = F.relu(r)
            return F.mse_loss(self.sigma * r, -u)


# ---------------------------------------------------------------------------------------------------
# Tweedie's formula, one function per noise model; ``score`` is the network's output R(y) ≈ ∇ log p(y).


def tweedie_gaussian(y: torch.Tensor, score: torch.Tensor, sigma: float) -> torch.Tensor:
    """E[x | y] for y = x + σn, n ~ N(0, I):  x̂ = y + σ² ∇ log p(y).

    ``sigma`` is on the scale of ``y`` (25/255 for the paper's σ = 25 on [0, 1] images).
    """
    return y + sigma ** 2 * score


def tweedie_poisson(y: torch.Tensor, score_z: torch.Tensor, zeta: float) -> torch.Tensor:
    """Poisson y = ζ z, z ~ Poisson(x/ζ):  x̂ = (y + ζ/2) exp(s_z(y/ζ)).

    ``score_z`` is the score of the counts z = y/ζ (the network is fed y/ζ); the formula is the
    exponential-family Tweedie step with the continuous approximation ψ(z + 1) ≈ log(z + 1/2).
    """
    return (y + zeta / 2) * torch.exp(score_z)


def tweedie_gamma(y: torch.Tensor, score: torch.Tensor, k: float) -> torch.Tensor:
    """Gamma y = x g, g ~ Gamma(shape k, scale 1/k):  x̂ = k y / ((k - 1) - y ∇ log p(y)).

    This is 1 / E[1/x | y]: Tweedie gives the posterior mean of the natural parameter -k/x.
    """
    return k * y / ((k - 1) - y * score)


# ---------------------------------------------------------------------------------------------------
# Unknown noise parameter: estimate it per image at test time.
#
# The official blind models pick the parameter by a 1-D search whose criterion is a Charbonnier TV of the
# Tweedie output plus, for Poisson and Gamma, a likelihood-like term (models/*_blind_model.py forward_tv).
# We run the same searches with the same criteria on the score of the known-parameter model: the score
# ∇ log p(y) is a property of the noisy images, not of the parameter Tweedie is then given, so one network
# evaluation serves every candidate. (The official Poisson blind model instead feeds y/ζ for each
# candidate to a network trained over ζ in [0.005, 0.1]; see the chapter.)


def charbonnier_tv(x: torch.Tensor) -> torch.Tensor:
    """The official L1_TVLoss_Charbonnier: mean sqrt(dh² + ε) + mean sqrt(dw² + ε), per image (N,)."""
    dh = x[..., 1:, :] - x[..., :-1, :]
    dw = x[..., :, 1:] - x[..., :, :-1]
    return torch.sqrt(dh ** 2 + TV_EPS).flatten(1).mean(1) + torch.sqrt(dw ** 2 + TV_EPS).flatten(1).mean(1)


def search_grid(noise: str = "gaussian") -> torch.Tensor:
    """The official candidates: σ (0-255 scale), ζ = 1/λ or k, in the official search order.

    >>> [(len(g), round(float(g[0]), 4), float(g[-1])) for g in map(search_grid, ("gaussian", "poisson", "gamma"))]
    [(50, 6.0, 55.0), (100, 0.099, 0.005), (80, 41.0, 120.0)]
    """
    first, last, n = TV_SEARCH[noise]
    perc = torch.arange(1, n + 1, dtype=torch.float64) / n
    return first * (1 - perc) + last * perc


def _mean_where(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean of ``values`` over the pixels where ``mask`` holds (the official ``x[recon > 0]``)."""
    mask = mask.to(values.dtype)
    return (values * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1)


def search_criterion(noise: str, recon: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The official forward_tv criterion per image (N,), smaller is better.

    Gaussian: TV(x̂). Poisson: 0.1 TV(max(x̂, 0)) + mean over x̂ > 0 of x̂ - y log x̂ (the Poisson negative
    log-likelihood of y = ζz up to ζ and constants). Gamma: TV(x̂) + mean over x̂ > 0 of log x̂ + y/x̂ + (y/x̂)²
    (the official code's term, which adds (y/x̂)² to the Gamma negative log-likelihood's log x̂ + y/x̂).
    """
    if noise == "gaussian":
        return charbonnier_tv(recon)
    positive = recon > 0
    safe = torch.where(positive, recon, torch.ones_like(recon))  # log and division only where counted
    if noise == "poisson":
        return POISSON_TV_WEIGHT * charbonnier_tv(recon.clamp_min(0)) + _mean_where(safe - y * torch.log(safe), positive)
    ratio = y / safe
    return charbonnier_tv(recon) + _mean_where(torch.log(safe) + ratio + ratio ** 2, positive)


def tweedie(noise: str, y: torch.Tensor, score: torch.Tensor, param, score_param: float | None = None) -> torch.Tensor:
    """Tweedie's estimate for a parameter in the setting's unit: σ (0-255), λ = 1/ζ, or k.

    For Poisson, ``score`` is the count score of a network trained at λ = ``score_param`` (see
    :func:`perturbation_unit`); the count score at another λ is that one times λ_train / λ.
    """
    if noise == "gaussian":
        return tweedie_gaussian(y, score, param / 255.0)
    if noise == "gamma":
        return tweedie_gamma(y, score, param)
    score_param = param if score_param is None else score_param
    return tweedie_poisson(y, score * (score_param / param), 1.0 / param)


def estimate_param_tv(noise: str, y: torch.Tensor, score: torch.Tensor, score_param: float | None = None,
                      grid: torch.Tensor | None = None) -> torch.Tensor:
    """The parameter per image (σ on 0-255, λ, or k) whose Tweedie output minimises :func:`search_criterion`.

    The score does not depend on the parameter, so the whole search costs one network evaluation.
    ``score_param`` is the λ the Poisson network was trained at.
    """
    grid = search_grid(noise) if grid is None else grid
    params = 1.0 / grid if noise == "poisson" else grid  # ζ -> λ
    scores = torch.stack([search_criterion(noise, tweedie(noise, y, score, float(p), score_param), y)
                          for p in params])  # (G, N)
    return params.to(y.device, torch.float32)[scores.argmin(0)]


def estimate_sigma_mad(y: torch.Tensor) -> torch.Tensor:
    """σ (0-255 scale) per image by the wavelet MAD rule: median |HH| / 0.6745 of a one-level Haar transform.

    Donoho & Johnstone 1994 §4.2; a network-free noise-level estimator.

    >>> g = torch.Generator().manual_seed(0)
    >>> y = 0.5 + 25 / 255 * torch.randn(1, 1, 256, 256, generator=g)
    >>> round(float(estimate_sigma_mad(y)[0]))
    25
    """
    h, w = y.shape[-2] // 2 * 2, y.shape[-1] // 2 * 2
    x = y[..., :h, :w]
    hh = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
    return hh.abs().flatten(1).median(1).values / 0.6745 * 255.0


ESTIMATORS = {"tv": "official TV-L1 (Charbonnier) search on the Tweedie output", "mad": "wavelet MAD"}
ESTIMATORS_FOR = {"gaussian": ("tv", "mad"), "poisson": ("tv",), "gamma": ("tv",)}  # MAD assumes Gaussian noise


# ---------------------------------------------------------------------------------------------------
# Inference: the trained score network plus Tweedie, as a module (Validator and repro.load use it).


class ScoreDenoiser(nn.Module):
    """noisy y -> Tweedie estimate from the score network ``model`` (which sees y; for Poisson its output
    is the score of the counts y/ζ, see :func:`perturbation_unit`).

    ``estimate`` ignores ``param`` and estimates the parameter per image ("tv": every noise, the official
    search; "mad": Gaussian only); for Poisson, ``param`` stays the λ the network was trained at, which
    scales its count score. ``relu`` clamps the score at 0 before Tweedie (the diagnosis of a final ReLU;
    not the method).
    """

    def __init__(self, model: nn.Module, noise: str = "gaussian", param: float = 25.0,
                 estimate: str | None = None, relu: bool = False):
        super().__init__()
        noise_model(noise, param)  # validates noise and param
        if estimate is not None and estimate not in ESTIMATORS_FOR[noise]:
            raise NotImplementedError(f"for {noise} noise the parameter can be estimated with "
                                      f"{list(ESTIMATORS_FOR[noise])}, not '{estimate}'")
        self.model, self.noise, self.param, self.estimate, self.relu = model, noise, float(param), estimate, relu
        self.in_channels = getattr(model, "in_channels", None)
        self.last_param: torch.Tensor | None = None  # the estimated parameter of the last call
        self.estimates: list[float] = []  # every estimate so far, one per image, in the setting's unit

    def score(self, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(y.device.type, enabled=False):
            s = self.model(y.float()).float()
        return F.relu(s) if self.relu else s

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        s = self.score(y)
        if self.estimate is None:
            return tweedie(self.noise, y, s, self.param)
        if self.estimate == "mad":
            param = estimate_sigma_mad(y)
        else:
            param = estimate_param_tv(self.noise, y, s, score_param=self.param)
        self.last_param = param.detach().cpu()
        self.estimates.extend(self.last_param.tolist())
        return tweedie(self.noise, y, s, param.view(-1, *([1] * (y.dim() - 1))), score_param=self.param)


def make_denoiser(model: nn.Module, method: str = PAPER, noise: str = "gaussian", param: float = 25.0,
                  estimate: str | None = None, relu: bool = False, **_) -> ScoreDenoiser:
    """The inference rule :class:`repro.checkpoints.Denoiser` applies to a saved Noise2Score network."""
    return ScoreDenoiser(model, noise=noise, param=param, estimate=estimate, relu=relu)


# ---------------------------------------------------------------------------------------------------
# Naming


@dataclass(frozen=True)
class Setting:
    """One Noise2Score configuration: noise, its parameter and the colour mode."""

    noise: str = "gaussian"
    param: float = 25.0
    channels: str = "color"  # color | gray

    @property
    def n_channels(self) -> int:
        return 3 if self.channels == "color" else 1

    @property
    def label(self) -> str:
        return noise_model(self.noise, self.param).label

    def run_name(self, method: str, budget: str, seed: int) -> str:
        """e.g. ``noise2score_gaussian_sigma25_color_cpu_seed0``."""
        return f"{method}_{self.noise}_{self.label.replace('=', '')}_{self.channels}_{budget}_seed{seed}"


def epoch_iterations(n_train_images: int, batch_size: int = BATCH_SIZE) -> int:
    """Iterations per official epoch (20 passes over the images): what the official σ_a counter spans."""
    return max(1, math.ceil(PASSES_PER_EPOCH * n_train_images / batch_size))


# ---------------------------------------------------------------------------------------------------
# The networks (training and evaluation recipes: repro.experiments.noise2score)

ARCHITECTURES = ("unet", "sharedweightunet")


def build_model(architecture: str, channels: int, init: str = "normal") -> tuple[nn.Module, dict]:
    """The main network (``unet``, no weight sharing) or the official code's ablation variant."""
    if architecture == "unet":
        from ..models import UNet

        return UNet(channels), {"in_channels": channels}
    if architecture == "sharedweightunet":
        from ..models.n2s_unet import SharedWeightUNet

        return SharedWeightUNet(channels, init=init), {"in_channels": channels, "init": init}
    raise ValueError(f"architecture must be one of {ARCHITECTURES}, got '{architecture}'")
