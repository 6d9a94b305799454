"""Noise2Noise experiments: the U-Net trained with noisy (N2N) or clean (N2C) targets, into a run folder.

The paper's losses and hyper-parameters with their sources are :mod:`repro.methods.noise2noise`. Training
data: CBSD432 without BSD300's 32 test scenes (400 images; the paper's ~50k ImageNet images are not
available offline); each noisy copy draws its own noise level from the training range.
"""
from __future__ import annotations

from .. import data, noise as noises, protocols
from ..evaluate import Validator
from ..methods import noise2noise as n2n
from ..models import UNet
from ..patches import PatchSampler
from ..pipeline import train_and_evaluate
from ..runs import Run
from .config import train_config


def test_noise(noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0):
    """The noise the Noise2Noise protocol scores under: Gaussian σ or Poisson λ."""
    return noises.make(noise, sigma if noise == "gaussian" else lam)


def run_name(method: str, noise: str, budget: str, seed: int) -> str:
    return f"{method}_{noise}_{budget}_seed{seed}"


def train(method: str = "n2n", noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0, *, budget: str,
          device, results_dir, precision: str = "bf16", seed: int = 0, time_limit_s: float | None = None,
          progress: bool = True) -> Run:
    """Train ``method`` ('n2n' or 'n2c') at ``budget`` and evaluate it under the Noise2Noise protocol."""
    hp = n2n.BUDGETS[budget]
    images = [im.pixels for im in data.load(n2n.TRAIN_SET, exclude=n2n.TRAIN_EXCLUDE)][: hp["train_images"]]
    sampler = PatchSampler(images, hp["patch_size"], n2n.training_noise(noise), copies=2, seed=seed)
    config = train_config(hp, lr=n2n.LR, betas=n2n.BETAS, rampdown_fraction=hp["rampdown_fraction"],
                          precision=precision, seed=seed)
    evaluation_noise = test_noise(noise, sigma, lam)
    return train_and_evaluate(
        results_dir=results_dir, paper=n2n.PAPER, run_name=run_name(method, noise, budget, seed), method=method,
        model=UNet(3), architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=n2n.LOSSES[method](),
        sampler=sampler, config=config, protocol=protocols.get(n2n.PAPER), eval_noise=evaluation_noise,
        budget=budget, device=device,
        params={"method": method, "noise": noise, "sigma": sigma, "lam": lam, "precision": precision,
                "train_set": f"{n2n.TRAIN_SET} minus {n2n.TRAIN_EXCLUDE} ({len(images)} images)",
                "train_noise": n2n.training_noise(noise).label, **hp},
        validate=Validator("kodak24", evaluation_noise, n_images=4, crop=256), eval_images=hp["eval_images"],
        time_limit_s=time_limit_s, progress=progress)
