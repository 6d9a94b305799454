"""Neighbor2Neighbor experiments: the Noise2Noise U-Net trained on one noisy copy per crop, into a run folder.

The loss, sub-sampler and hyper-parameters with their sources are :mod:`repro.methods.neighbor2neighbor`.
This recipe is our Noise2Noise one (:func:`repro.experiments.noise2noise.train_unet`) given this paper's loss,
its one-copy sampler and its Adam (β2 = 0.999, PyTorch's default, where NVlabs' N2N has 0.99), so that
Neighbor2Neighbor and N2N/N2C differ in their loss: the same network (:class:`repro.models.UNet`, 48 encoder
channels; the official code uses an SSDN-style U-Net with 48 features), the same training data (CBSD432
without BSD300's 32 test scenes, 400 images; the paper's 44,328 ImageNet images are not available offline),
the same iterations, crops, batch and learning-rate ramp-down at the ``smoke`` and ``cpu`` budgets
(Noise2Noise's; ``paper`` is the official length and step schedule), the same seed, and scoring under the
``noise2noise`` protocol on Kodak24, BSD300 test and Set14 (one seeded realisation; uint8 PSNR; the paper
scores Laine et al.'s protocol instead: Kodak x10, BSD300 x3, Set14 x20 realisations).

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

from .. import noise as noises
from ..methods import neighbor2neighbor as nb2nb
from ..runs import Run
from . import noise2noise as n2n_recipe

PROTOCOL = n2n_recipe.PROTOCOL  # scored exactly as the Noise2Noise runs it is compared with
run_name = n2n_recipe.run_name  # <method>_<noise>_<budget>_seed<seed>, as theirs


def test_noise(noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0):
    """The noise the runs are scored under: Gaussian σ (default 25) or Poisson λ (default 30)."""
    if noise not in nb2nb.TRAIN_NOISE:
        raise ValueError(f"Neighbor2Neighbor is scored here under {' or '.join(nb2nb.TRAIN_NOISE)} noise, not '{noise}'")
    return noises.make(noise, {"gaussian": sigma, "poisson": lam}[noise])


def train(method: str = "neighbor2neighbor", noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0, *,
          budget: str, device, results_dir, precision: str = "bf16", seed: int = 0, time_limit_s: float | None = None,
          progress: bool = True) -> Run:
    """Train Neighbor2Neighbor at ``budget`` and evaluate it under the Noise2Noise protocol: the Noise2Noise
    recipe (:func:`repro.experiments.noise2noise.train_unet`) with this paper's loss, one-copy sampler and Adam."""
    loss_fn = nb2nb.loss(method)
    return n2n_recipe.train_unet(
        paper=nb2nb.PAPER, method=method, noise=noise, loss_fn=loss_fn, training_sampler=nb2nb.training_sampler,
        hp=nb2nb.BUDGETS[budget], optimiser={"lr": nb2nb.LR, "betas": nb2nb.BETAS},
        evaluation_noise=test_noise(noise, sigma, lam),
        params={"method": method, "noise": noise, "sigma": sigma, "lam": lam, "precision": precision,
                "loss": type(loss_fn).__name__, "increase_ratio": loss_fn.increase_ratio,
                "gamma_schedule": f"epoch/{loss_fn.epochs} * {loss_fn.increase_ratio}, {loss_fn.epochs} equal epochs"},
        budget=budget, device=device, results_dir=results_dir, precision=precision, seed=seed,
        time_limit_s=time_limit_s, progress=progress)


def comparison_figure(run_path, *, device="cpu", path=None):
    """The run's visual comparison: the Noise2Noise one (:func:`repro.experiments.noise2noise.comparison_figure`,
    a crop of Kodak image 23 with BM3D and our N2N/N2C of the same noise, budget and seed) with this run's panel."""
    return n2n_recipe.comparison_figure(run_path, device=device, path=path, own_panel="Nb2Nb")
