"""Neighbor2Neighbor experiments: the Noise2Noise U-Net trained on one noisy copy per crop, into a run folder.

The loss, sub-sampler and hyper-parameters with their sources are :mod:`repro.methods.neighbor2neighbor`.
This recipe mirrors :mod:`repro.experiments.noise2noise` so that Neighbor2Neighbor and N2N/N2C differ in
their loss only: the same network (:class:`repro.models.UNet`, 48 encoder channels; the official code uses
an SSDN-style U-Net with 48 features), the same training data (CBSD432 without BSD300's 32 test scenes,
400 images; the paper's 44,328 ImageNet images are not available offline), the same iterations, crops, batch
and learning-rate ramp-down per budget (``smoke``, ``cpu``: Noise2Noise's), the same seed, and scoring
under the ``noise2noise`` protocol on Kodak24, BSD300 test and Set14 (one seeded realisation; uint8 PSNR;
the paper scores Laine et al.'s protocol instead: Kodak x10, BSD300 x3, Set14 x20 realisations).

**Noise.** The test noise is Gaussian σ = 25 (or Poisson λ = 30); training draws σ ~ U[0, 50] (λ ~ U[0, 50])
per example, as our Noise2Noise does, so the network is blind to the level. The official code instead
trains a separate network per setting (``gauss25``: σ = 25 fixed for the σ = 25 column).

**Fresh noise every batch.** Our sampler adds fresh noise to the clean crops at every batch
(:class:`repro.patches.PatchSampler` with ``fixed_noise=False``, labelled "fresh noise per batch" in every run
folder); the official code does the same, re-noising the clean images at every epoch (``add_train_noise``).
Over training the network therefore sees many noisy realisations of each scene, which a user with one noisy
photo per scene never has. Training on one fixed, pre-generated noisy copy per image, a user reported Kodak
31.81 / BSD300 30.59 / Set14 30.56 dB at σ = 25, "around 0.4-0.5 dB less than the numbers reported in Table 1"
(https://github.com/TaoHuang2018/Neighbor2Neighbor/issues/16, open); in
https://github.com/TaoHuang2018/Neighbor2Neighbor/issues/11 the author answers that the synthetic experiments
follow the settings of Laine et al. (2019). Our numbers are therefore comparable with the paper's and with our
N2N runs, not with a single-noisy-image regime.
"""
from __future__ import annotations

from .. import data, noise as noises, protocols
from ..evaluate import Validator
from ..methods import neighbor2neighbor as nb2nb
from ..models import UNet
from ..pipeline import train_and_evaluate
from ..runs import Run
from .config import train_config

PROTOCOL = "noise2noise"  # scored exactly as the Noise2Noise runs it is compared with


def test_noise(noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0):
    """The noise the runs are scored under: Gaussian σ (default 25) or Poisson λ (default 30)."""
    if noise not in nb2nb.TRAIN_NOISE:
        raise ValueError(f"Neighbor2Neighbor is scored here under {' or '.join(nb2nb.TRAIN_NOISE)} noise, not '{noise}'")
    return noises.make(noise, {"gaussian": sigma, "poisson": lam}[noise])


def run_name(method: str, noise: str, budget: str, seed: int) -> str:
    return f"{method}_{noise}_{budget}_seed{seed}"


def train(method: str = "neighbor2neighbor", noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0, *,
          budget: str, device, results_dir, precision: str = "bf16", seed: int = 0, time_limit_s: float | None = None,
          progress: bool = True) -> Run:
    """Train Neighbor2Neighbor at ``budget`` and evaluate it under the Noise2Noise protocol."""
    hp = nb2nb.BUDGETS[budget]
    loss_fn = nb2nb.loss(method)
    evaluation_noise = test_noise(noise, sigma, lam)
    images = [im.pixels for im in data.load(nb2nb.TRAIN_SET, exclude=nb2nb.TRAIN_EXCLUDE)][: hp["train_images"]]
    sampler = nb2nb.training_sampler(images, hp["patch_size"], noise, seed=seed)
    config = train_config(hp, lr=nb2nb.LR, betas=nb2nb.BETAS, rampdown_fraction=hp["rampdown_fraction"],
                          precision=precision, seed=seed)
    return train_and_evaluate(
        results_dir=results_dir, paper=nb2nb.PAPER, run_name=run_name(method, noise, budget, seed), method=method,
        model=UNet(3), architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=loss_fn,
        sampler=sampler, config=config, protocol=protocols.get(PROTOCOL), eval_noise=evaluation_noise,
        budget=budget, device=device,
        params={"method": method, "noise": noise, "sigma": sigma, "lam": lam, "precision": precision,
                "loss": type(loss_fn).__name__, "increase_ratio": loss_fn.increase_ratio,
                "gamma_schedule": f"epoch/{loss_fn.epochs} * {loss_fn.increase_ratio}, {loss_fn.epochs} equal epochs",
                "train_set": f"{nb2nb.TRAIN_SET} minus {nb2nb.TRAIN_EXCLUDE} ({len(images)} images)",
                "train_noise": nb2nb.training_noise(noise).label, **hp},
        validate=Validator("kodak24", evaluation_noise, n_images=4, crop=256), eval_images=hp["eval_images"],
        time_limit_s=time_limit_s, progress=progress)
