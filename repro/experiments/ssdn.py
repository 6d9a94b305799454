"""SSDN experiments: a blind-spot network (or a baseline U-Net) trained at a budget, scored under the SSDN protocol.

The losses, the posterior mean and the hyper-parameters with their sources are :mod:`repro.methods.ssdn`.
Training data: CBSD432 without BSD300's 32 test scenes (400 images; the paper's 44k ImageNet images are
not offline); noise drawn fresh for every batch, never clipped. With σ known the network is given the
training σ; otherwise it learns σ (one global value, or per image with a second network).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from matplotlib.figure import Figure

from .. import data, noise as noises, protocols, report
from ..checkpoints import MODEL_FILE, load
from ..evaluate import Validator, noisy_input
from ..methods import ssdn
from ..patches import PatchSampler
from ..pipeline import train_and_evaluate
from ..runs import Run
from .config import train_config


@dataclasses.dataclass(frozen=True)
class Setting:
    """One SSDN run's method, noise-level mode and noise levels (``train_sigma``: '25' or '5-50').

    A network trained on σ∈[5,50] is tested on that range, as the paper's σ∈[5,50] column: σ drawn per image
    (official ``gauss5_50``: σ ~ U[5,50]/255 per image, in validation as in training) from the protocol's seeded
    stream, so ``sigma`` (the fixed test level of a σ = 25 network) does not apply and must stay at its default.

    >>> Setting("ssdn_mu", train_sigma="5-50").test_noise.label, Setting("ssdn", sigma=50.0).test_noise.label
    ('sigma=5-50', 'sigma=50')
    """

    method: str = "ssdn"
    sigma_mode: str = "known"
    train_sigma: str = "25"
    sigma: float = 25.0

    def __post_init__(self):
        if self.over_range and self.sigma != 25.0:
            raise ValueError(f"train_sigma={self.train_sigma} runs are tested on sigma drawn per image from that "
                             f"range, as the official code does; sigma={self.sigma:g} does not apply (leave it at 25)")

    @property
    def blind_spot(self) -> bool:
        return self.method in ("ssdn", "ssdn_diag")

    @property
    def sigma_known(self) -> bool:
        return self.sigma_mode == "known" or not self.blind_spot

    @property
    def run_method(self) -> str:
        return ssdn.method_name(self.method, self.sigma_known)

    @property
    def train_noise(self):
        return ssdn.TRAIN_NOISE[f"sigma={self.train_sigma}"]

    @property
    def over_range(self) -> bool:
        """Trained (and tested) on σ drawn per image from a range, not at one level."""
        return isinstance(self.train_noise.sigma, tuple)

    @property
    def test_noise(self):
        return self.train_noise if self.over_range else noises.Gaussian(self.sigma)

    def run_name(self, budget: str, seed: int) -> str:
        head = f"{self.method}_{self.sigma_mode}" if self.blind_spot else self.method
        return f"{head}_sigma{self.train_sigma}_{budget}_seed{seed}"


def protocol(budget: str):
    """The SSDN protocol, its repeats cut at budgets that say so (smoke: one realisation)."""
    hp = ssdn.BUDGETS[budget]
    base = protocols.get(ssdn.PAPER)
    if hp["eval_repeats"] is None:
        return base
    return dataclasses.replace(base, repeats={name: hp["eval_repeats"] for name in base.datasets})


def inference(setting: Setting, budget: str) -> dict:
    """What :func:`repro.load` needs to apply the method: covariance, σ when known, tiles of the training size."""
    hp = ssdn.BUDGETS[budget]
    tile = hp["inference_tile"] if setting.method.startswith("ssdn") else None  # blind-spot nets see crops only
    sigma = None
    if setting.sigma_known and setting.blind_spot:  # a range: each image's own level, told at the call
        sigma = list(setting.test_noise.sigma) if setting.over_range else setting.sigma
    return {"channels": 3, "covariance": {"ssdn": "full", "ssdn_diag": "diagonal"}.get(setting.method),
            "sigma": sigma, "tile": tile,
            "margin": hp["inference_margin"] if tile else 0}  # tiles overlap, each keeps its centre


def validator(setting: Setting, budget: str) -> Validator:
    hp = ssdn.BUDGETS[budget]
    return Validator("kodak24", setting.test_noise, n_images=hp["val_images"], crop=hp["val_crop"])


def train(setting: Setting, *, budget: str, device, results_dir, precision: str = "bf16", seed: int = 0,
          time_limit_s: float | None = None, progress: bool = True) -> Run:
    """Train ``setting`` at ``budget`` and evaluate it under the SSDN protocol; returns its :class:`Run`."""
    hp = ssdn.BUDGETS[budget]
    mode = setting.sigma_mode if setting.blind_spot else "known"
    train_noise = setting.train_noise
    model, architecture, arch_kwargs = ssdn.build(setting.method, mode, iterations=hp["iterations"])
    loss_fn = ssdn.loss_for(setting.method, mode, train_noise.sigma)  # a range with σ known: each crop's own level
    rule = inference(setting, budget)
    images = [im.pixels for im in data.load(ssdn.TRAIN_SET, exclude=ssdn.TRAIN_EXCLUDE)][: hp["train_images"]]
    sampler = PatchSampler(images, hp["patch_size"], train_noise, copies=2 if setting.method == "n2n" else 1,
                           seed=seed)
    config = train_config(hp, lr=ssdn.LR, betas=ssdn.BETAS, rampup_fraction=ssdn.RAMPUP_FRACTION,
                          rampdown_fraction=ssdn.RAMPDOWN_FRACTION, precision=precision, seed=seed)
    check = validator(setting, budget)
    return train_and_evaluate(
        results_dir=results_dir, paper=ssdn.PAPER, run_name=setting.run_name(budget, seed),
        method=setting.run_method, model=model, architecture=architecture, arch_kwargs=arch_kwargs,
        loss_fn=loss_fn, sampler=sampler, config=config, protocol=protocol(budget), eval_noise=setting.test_noise,
        budget=budget, device=device,
        params={"method": setting.method, "sigma_mode": setting.sigma_mode if setting.blind_spot else "n/a",
                "train_noise": train_noise.label, "sigma": setting.sigma, "precision": precision,
                "architecture": architecture, "arch_kwargs": arch_kwargs,
                "train_set": f"{ssdn.TRAIN_SET} minus {ssdn.TRAIN_EXCLUDE} ({len(images)} images)",
                "lr": ssdn.LR, "rampup_fraction": ssdn.RAMPUP_FRACTION, "rampdown_fraction": ssdn.RAMPDOWN_FRACTION,
                **hp},
        validate=lambda net: check(ssdn.make_denoiser(net, setting.run_method, **rule)), inference=rule,
        datasets=hp["eval_datasets"], eval_images=hp["eval_images"], time_limit_s=time_limit_s, progress=progress)


def comparison_figure(run_path, *, device="cpu", path=None) -> Figure:
    """What the posterior mean adds, on the run's model: noisy input, the prior mean μ_x that a blind-spot
    network predicts without seeing the pixel (SSDN and its diagonal ablation only), the method's output
    (the posterior mean for SSDN) and clean, on a 256×256 crop of kodim23 (first noise realisation of the
    protocol), denoised as a crop; PSNR (uint8) of the crop. Without a ``model.pt`` only noisy and clean.
    Saved with :func:`repro.report.save_figure` to ``path`` when given; returns the figure.
    """
    run_path = Path(run_path)
    params = Run(run_path).info["params"]
    setting = Setting(params["method"], params["sigma_mode"] if params["sigma_mode"] != "n/a" else "known",
                      params["train_noise"].split("=")[1], params["sigma"])
    window = (..., slice(100, 356), slice(250, 506))
    test_protocol = protocols.get(ssdn.PAPER)  # only realisation 0: the budget's number of repeats does not matter
    clean_full = test_protocol.prepare(data.load("kodak24")[22].pixels, "kodak24")
    noisy, level = noisy_input(test_protocol, setting.test_noise, clean_full, "kodak24", 22, 0, with_level=True)
    noisy = noisy[window]
    panels = {"noisy": noisy}
    if (run_path / MODEL_FILE).exists():
        trained = load(run_path, device=device)
        with torch.no_grad():
            if setting.blind_spot:
                prior, _ = trained.model(noisy.to(trained.device))
                panels["prior mean μ_x"] = prior[:, :3].float().cpu()
            panels[setting.run_method] = trained(noisy, level if trained.takes_noise_level else None).cpu()
    fig = report.crops_figure(panels, clean_full[window])
    if path is not None:
        report.save_figure(fig, path)
    return fig
