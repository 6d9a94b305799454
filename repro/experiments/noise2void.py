"""Noise2Void on its own table: trained on BSD400 gray crops, scored on BSD68 gray at σ = 25.

The masking loss and the notebook's hyper-parameters with their sources are :mod:`repro.methods.noise2void`.
As the official BSD68 reproducibility notebook does, training reads DnCNN's 400 gray images with **one fixed
noisy copy each** (its ``DCNN400_train_gaussian25.npy``; we draw that copy once, seeded), cuts 64×64 crops
and scores the whole test images under the ``noise2void`` protocol (one realisation, unclipped noise, PSNR of
the raw prediction). The network is ours, the Noise2Noise U-Net of our colour N2V row
(:class:`repro.models.UNet`, one channel), where the notebook has a depth-2 U-Net with 96 first-layer
features, batch norm and a residual connection. Validation (monitoring only) uses four Set12 crops, which
are not in the test set.

The paper's table also has Noise2Noise and "traditional" (N2C) rows, trained with the same network on the same
data (Sec. 4.1): ``method="n2c"`` trains on the fixed noisy copies N2V reads, against the clean images; ``"n2n"``
on a fixed pair of independent noisy copies of each image (input and target; drawn image by image from the same
seeded stream, so its first copies are not N2V's beyond the first image). Both use N2V's crops, steps and schedule.
"""
from __future__ import annotations

from .. import data, noise as noises, protocols
from ..evaluate import Validator
from ..methods import noise2noise as n2n
from ..methods import noise2void as n2v
from ..models import UNet
from ..patches import PatchSampler
from ..pipeline import train_and_evaluate
from ..runs import Run
from .config import train_config

SIGMA = 25.0  # the only level of the paper's BSD68 table (σ on the 0-255 scale)
VALIDATION_SET = "set12"
METHODS = ("n2v", "n2n", "n2c")  # the paper's BSD68 rows trained here (BM3D needs no training)
NOISY_COPIES = {"n2v": 1, "n2n": 2, "n2c": 1}  # fixed noisy copies per training image each method reads


def run_name(sigma: float, budget: str, seed: int, method: str = "n2v") -> str:
    """``<method>_gray_sigma<σ>_<budget>_seed<seed>``.

    >>> run_name(25.0, "cpu", 0), run_name(25.0, "cpu", 0, "n2c")
    ('n2v_gray_sigma25_cpu_seed0', 'n2c_gray_sigma25_cpu_seed0')
    """
    return f"{_known(method)}_gray_sigma{sigma:g}_{budget}_seed{seed}"


def loss(method: str):
    """N2V's masking loss, or Noise2Noise's L2 against the second noisy copy (n2n) or the clean image (n2c)."""
    return n2v.N2VLoss() if _known(method) == "n2v" else n2n.LOSSES[method]()


def _known(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got '{method}'")
    return method


def training_images(budget: str) -> list:
    return [data.to_gray(im.pixels) for im in data.load(n2v.TRAIN_SET)][: n2v.BUDGETS[budget]["train_images"]]


def train(sigma: float = SIGMA, *, method: str = "n2v", budget: str, device, results_dir, precision: str = "bf16",
          seed: int = 0, time_limit_s: float | None = None, progress: bool = True) -> Run:
    """Train ``method`` (n2v, n2n or n2c) at ``budget`` on BSD400 gray with Gaussian noise of ``sigma`` (0-255
    scale) and evaluate it under the ``noise2void`` protocol at the same level."""
    name = run_name(sigma, budget, seed, method)
    hp = n2v.BUDGETS[budget]
    noise = noises.Gaussian(sigma)
    images = training_images(budget)
    sampler = PatchSampler(images, hp["patch_size"], noise, copies=NOISY_COPIES[method], fixed_noise=True,
                           seed=seed)
    config = train_config(hp, lr=n2v.LR, betas=n2v.BETAS, rampdown_fraction=n2v.RAMPDOWN_FRACTION,
                          precision=precision, seed=seed)
    model, arch_kwargs = UNet(1), {"in_channels": 1}
    check = Validator(VALIDATION_SET, noise, n_images=hp["val_images"], crop=256, channels=1, flavour="float_raw")
    loss_fn = loss(method)
    specific = ({"masked_percent": loss_fn.percent, "neighbourhood_radius": loss_fn.radius} if method == "n2v"
                else {"noisy_copies": NOISY_COPIES[method]})
    return train_and_evaluate(
        results_dir=results_dir, paper=n2v.PAPER, run_name=name, method=method, model=model,
        architecture="unet", arch_kwargs=arch_kwargs, loss_fn=loss_fn, sampler=sampler, config=config,
        protocol=protocols.get(n2v.PAPER), eval_noise=noise, budget=budget, device=device,
        params={"method": method, "sigma": sigma, "precision": precision, "architecture": "unet",
                "arch_kwargs": arch_kwargs, "train_set": f"{n2v.TRAIN_SET} gray ({len(images)} images)",
                "train_noise": f"{noise.label}, {sampler.label}", **specific, "lr": n2v.LR, "betas": n2v.BETAS,
                "rampdown_fraction": n2v.RAMPDOWN_FRACTION, "validation": f"{VALIDATION_SET}, 256x256 crops", **hp},
        validate=check, eval_images=hp["eval_images"], time_limit_s=time_limit_s,
        progress=progress)
