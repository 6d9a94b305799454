"""Noise2Noise experiments: the U-Net trained with noisy (N2N) or clean (N2C) targets, into a run folder.

The paper's losses and hyper-parameters with their sources are :mod:`repro.methods.noise2noise`. Training
data: CBSD432 without BSD300's 32 test scenes (400 images; the paper's ~50k ImageNet images are not
available offline); each noisy copy draws its own noise level from the training range. Bernoulli noise trains N2N
with the paper's masked loss (the target's dropped pixels do not count) and N2C with the clean image.
The U-Net recipe itself (:func:`train_unet`) is shared with Neighbor2Neighbor, which trains it with its own loss.
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from .. import data, noise as noises, protocols, report
from ..baselines import BM3D
from ..checkpoints import MODEL_FILE, load
from ..evaluate import Validator, noisy_input
from ..methods import noise2noise as n2n
from ..models import UNet
from ..pipeline import train_and_evaluate
from ..runs import Run
from .config import train_config

PROTOCOL = n2n.PAPER  # the paper's own protocol, which every method trained by train_unet is scored under


def test_noise(noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0, p: float = 0.5):
    """The noise the Noise2Noise protocol scores under: Gaussian σ, Poisson λ or Bernoulli p (paper §3.2: 0.5)."""
    if noise not in ("gaussian", "poisson", "bernoulli"):
        raise ValueError(f"Noise2Noise is scored here under gaussian, poisson or bernoulli noise, not '{noise}'")
    return noises.make(noise, {"gaussian": sigma, "poisson": lam, "bernoulli": p}[noise])


def run_name(method: str, noise: str, budget: str, seed: int) -> str:
    return f"{method}_{noise}_{budget}_seed{seed}"


def train_unet(*, paper: str, method: str, noise: str, loss_fn, training_sampler, hp: dict, optimiser: dict,
               evaluation_noise, params: dict, budget: str, device, results_dir, precision: str, seed: int,
               time_limit_s: float | None, progress: bool) -> Run:
    """Our Noise2Noise U-Net recipe with ``loss_fn``: what a method compared with N2N/N2C at equal steps trains.

    Fixed here, for every method that calls it: the network (:class:`repro.models.UNet`, 3 channels), the
    training images (``n2n.TRAIN_SET`` minus ``n2n.TRAIN_EXCLUDE``, the first ``hp["train_images"]``), the
    iterations, crops, batch and learning-rate schedule of the budget ``hp`` (ramp-down ``rampdown_fraction``;
    a step decay where ``hp`` has ``lr_milestones``/``lr_decay``), the validation (four 256×256 Kodak crops),
    the run name and the Noise2Noise protocol. The caller gives what is its own: ``loss_fn``, the sampler
    (``training_sampler(images, patch_size, noise, seed=...)``), Adam's ``optimiser`` settings (``lr``,
    ``betas``), the test noise and the head of run.json's ``params`` (data, training noise and ``hp`` follow).
    """
    images = [im.pixels for im in data.load(n2n.TRAIN_SET, exclude=n2n.TRAIN_EXCLUDE)][: hp["train_images"]]
    sampler = training_sampler(images, hp["patch_size"], noise, seed=seed)
    config = train_config(hp, **optimiser, precision=precision, seed=seed)
    return train_and_evaluate(
        results_dir=results_dir, paper=paper, run_name=run_name(method, noise, budget, seed), method=method,
        model=UNet(3), architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=loss_fn,
        sampler=sampler, config=config, protocol=protocols.get(PROTOCOL), eval_noise=evaluation_noise,
        budget=budget, device=device,
        params={**params, "train_set": f"{n2n.TRAIN_SET} minus {n2n.TRAIN_EXCLUDE} ({len(images)} images)",
                "train_noise": sampler.noise.label, **hp},
        validate=Validator("kodak24", evaluation_noise, n_images=4, crop=256), eval_images=hp["eval_images"],
        time_limit_s=time_limit_s, progress=progress)


def train(method: str = "n2n", noise: str = "gaussian", sigma: float = 25.0, lam: float = 30.0, p: float = 0.5, *,
          budget: str, device, results_dir, precision: str = "bf16", seed: int = 0, time_limit_s: float | None = None,
          progress: bool = True) -> Run:
    """Train ``method`` ('n2n' or 'n2c') at ``budget`` and evaluate it under the Noise2Noise protocol."""
    loss_fn = n2n.loss(method, noise)
    return train_unet(
        paper=n2n.PAPER, method=method, noise=noise, loss_fn=loss_fn, training_sampler=n2n.training_sampler,
        hp=n2n.BUDGETS[budget], optimiser={"lr": n2n.LR, "betas": n2n.BETAS},
        evaluation_noise=test_noise(noise, sigma, lam, p),
        params={"method": method, "noise": noise, "sigma": sigma, "lam": lam,
                **({"p": p, "loss": type(loss_fn).__name__} if noise == "bernoulli" else {}), "precision": precision},
        budget=budget, device=device, results_dir=results_dir, precision=precision, seed=seed,
        time_limit_s=time_limit_s, progress=progress)


def comparison_figure(run_path, *, device="cpu", path=None, own_panel: str | None = None) -> Figure:
    """The run's visual comparison: a 256×256 crop of Kodak image 23 (first realisation of the protocol's
    seeded noise, the run's test noise): noisy, BM3D (Gaussian noise, σ known), every trained Noise2Noise-paper
    model beside ``run_path`` with the same noise, budget and seed (N2C, N2N, …), and clean; PSNR (uint8) on
    the crop. The models denoise the whole image, BM3D the crop. Saved with :func:`repro.report.save_figure`
    to ``path`` when given; returns the figure.

    A run of another paper trained with :func:`train_unet` (Neighbor2Neighbor) names its own panel
    ``own_panel``: it comes before the Noise2Noise-paper models, which are looked up in that paper's folder.
    """
    run_path = Path(run_path)
    params = Run(run_path).info["params"]
    noise = params["noise"]
    evaluation_noise = test_noise(noise, params["sigma"], params["lam"], params.get("p", 0.5))
    protocol = protocols.get(PROTOCOL)
    clean_full = protocol.prepare(data.load("kodak24")[22].pixels, "kodak24")
    noisy_full = noisy_input(protocol, evaluation_noise, clean_full, "kodak24", 22, 0)
    crop = (..., slice(96, 352), slice(224, 480))
    noisy, clean = noisy_full[crop], clean_full[crop]
    panels = {"noisy": noisy}
    if noise == "gaussian":
        panels["BM3D"] = BM3D(params["sigma"])(noisy)
    if own_panel is not None:
        panels[own_panel] = load(run_path, device=device)(noisy_full)[crop]
    same = run_path.name.split("_", 1)[1]  # <noise>_<budget>_seed<seed> of run_name (budget cpu-6k is named cpu6k)
    for other in sorted((run_path.parent.parent / n2n.PAPER).glob(f"*_{same}")):
        if (other / MODEL_FILE).exists():
            panels[other.name.split("_")[0].upper()] = load(other, device=device)(noisy_full)[crop]
    fig = report.crops_figure(panels, clean)
    if path is not None:
        report.save_figure(fig, path)
    return fig
