"""Noise2Score experiments: train one setting into a run folder; evaluate a trained model with another rule.

The method itself (AR-DAE loss, Tweedie's formulas, hyper-parameters with their sources) is
:mod:`repro.methods.noise2score`; this module only puts it to work: data, sampler, schedule, run folder.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from .. import data, report, runs
from ..checkpoints import load
from ..evaluate import Validator, evaluate, noisy_input
from ..methods.noise2score import (BETAS, BLIND_TRAIN_SIGMA, BUDGETS, EVAL_SETS, LR, PAPER, PRECISION,
                                   RAMPDOWN_FRACTION, TRAIN_SETS, ARDAELoss, ScoreDenoiser, Setting, build_model,
                                   epoch_iterations, iterations_for, noise_model)
from ..noise import Gaussian
from ..patches import PatchSampler
from ..pipeline import train_and_evaluate
from ..protocols import get as get_protocol
from .config import train_config


def training_images(setting: Setting, budget: str) -> list:
    images = [im.pixels for im in data.load(TRAIN_SETS[setting.channels])][: BUDGETS[budget]["train_images"]]
    convert = data.to_rgb if setting.n_channels == 3 else data.to_gray
    return [convert(px) for px in images]


def training_image_count(setting: Setting, budget: str) -> int:
    """How many images :func:`training_images` returns, from the set's manifest, without reading them."""
    return len(data.get(TRAIN_SETS[setting.channels]).files()[: BUDGETS[budget]["train_images"]])


def train_setting(setting: Setting, *, results_dir, budget: str, device, seed: int = 0, method: str = PAPER,
                  schedule: str = "run", sigma_range: tuple[float, float] | None = None,
                  architecture: str = "unet", init: str = "normal", output_relu: bool = False,
                  blind: bool = False, estimate: str | None = None, precision: str = PRECISION,
                  antithetic: bool = False, time_limit_s: float | None = None, progress: bool = True):
    """Train a score network for ``setting`` and evaluate it under the Noise2Score protocol.

    The defaults are the method as reproduced; the keyword arguments exist for the diagnosis
    (:mod:`repro.experiments.noise2score_diagnosis`) and the unknown-σ model (``blind=True``: fresh noise with
    σ drawn from BLIND_TRAIN_SIGMA per example, evaluated with ``estimate``). ``antithetic=True`` trains
    with the antithetic AR-DAE estimate (:class:`ARDAELoss`) on half the batch, so that a step costs the
    same number of network passes. Returns the :class:`repro.runs.Run`.
    """

    hp = BUDGETS[budget]
    n_images = training_image_count(setting, budget)
    images = lambda: training_images(setting, budget)  # noqa: E731 (read on first use: a complete run is reused unread)
    iterations = iterations_for(budget, n_images)
    batch_size = hp["batch_size"] // 2 if antithetic else hp["batch_size"]  # same network passes per step
    eval_noise = noise_model(setting.noise, setting.param)
    if blind:
        if setting.noise != "gaussian":
            raise NotImplementedError("blind (unknown-parameter) training is implemented for Gaussian noise")
        # Gaussian_blind_model.py draws fresh noise every batch (no fixed noisy set) with a random σ.
        sampler = PatchSampler(images, hp["patch_size"], Gaussian(BLIND_TRAIN_SIGMA), copies=1, seed=seed)
    else:
        # The official loader reads one pre-generated noisy .npy per training image (fixed noise).
        sampler = PatchSampler(images, hp["patch_size"], eval_noise, copies=1, fixed_noise=True, seed=seed)
    config = train_config(hp, iterations=iterations, batch_size=batch_size, lr=LR, betas=BETAS,
                          rampdown_fraction=RAMPDOWN_FRACTION, precision=precision, seed=seed)
    loss = ARDAELoss(setting.noise, setting.param, schedule=schedule, sigma_range=sigma_range,
                     batch_size=batch_size, epoch_iterations=epoch_iterations(n_images, batch_size),
                     output_relu=output_relu, antithetic=antithetic)
    model, arch_kwargs = build_model(architecture, setting.n_channels, init)
    inference = {"noise": setting.noise, "param": setting.param, "estimate": estimate, "relu": output_relu}
    validator = Validator(EVAL_SETS[setting.channels][0], eval_noise, n_images=hp["val_images"],
                          crop=256, channels=setting.n_channels, flavour="float")
    validate = lambda net: validator(ScoreDenoiser(net, **inference))  # noqa: E731
    params = {"setting": setting.__dict__, "schedule": schedule, "sigma_a": [loss.sigma_max, loss.sigma_min],
              "architecture": architecture, "init": init if architecture != "unet" else "he",
              "output_relu": output_relu, "blind": blind, "estimate": estimate, "precision": precision,
              "train_set": f"{TRAIN_SETS[setting.channels]} ({n_images} images)",
              "train_noise": sampler.noise.label, "lr": LR, "betas": BETAS,
              "rampdown_fraction": RAMPDOWN_FRACTION, **hp, "iterations": iterations, "batch_size": batch_size,
              "ardae_estimator": "antithetic" if antithetic else "plain"}
    return train_and_evaluate(
        results_dir=results_dir, paper=PAPER, run_name=setting.run_name(method, budget, seed), method=method,
        model=model, architecture=architecture, arch_kwargs=arch_kwargs, loss_fn=loss, sampler=sampler,
        config=config, protocol=get_protocol(PAPER), eval_noise=eval_noise, budget=budget, device=device,
        params=params, validate=validate, inference=inference, datasets=list(EVAL_SETS[setting.channels]),
        eval_images=hp["eval_images"], time_limit_s=time_limit_s, progress=progress)


def evaluate_with(base_run, name: str, method: str, denoiser, *, results_dir, device, eval_noise=None,
                  n_images: int | None = None, params: dict | None = None, progress: bool = True):
    """Evaluate ``denoiser`` (built from the model of ``base_run``, no training) into its own run folder.

    The new run records the model it used (``params.model_run``) and that model's budget and
    iterations, so the table says what each number cost.
    """
    info = base_run.info
    setting = Setting(**info["params"]["setting"])
    eval_noise = eval_noise or noise_model(setting.noise, setting.param)
    run = runs.Run.open(results_dir, PAPER, name, method=method, noise=setting.noise, param=setting.label,
                        protocol=PAPER, budget=info["budget"], device=str(device), precision=PRECISION,
                        seed=info.get("seed"), iterations=info.get("iterations", 0),
                        train_wall_s=info.get("train_wall_s", 0.0), training_data=info.get("training_data"),
                        params={"model_run": info["run"], "setting": setting.__dict__,
                                "eval_noise": getattr(eval_noise, "description", eval_noise.label), **(params or {})})
    start = time.perf_counter()
    evaluate(denoiser, get_protocol(PAPER), eval_noise, datasets=list(EVAL_SETS[setting.channels]),
             n_images=n_images, per_image_csv=run.per_image_csv, device=device, progress=progress)
    run.finish(eval_wall_s=round(time.perf_counter() - start, 1))
    runs.write_summary(results_dir)
    return run


def comparison_image(setting: Setting) -> tuple[str, int]:
    """The test image of the visual comparison: kodim23 of Kodak24 in colour, the first of Set12 in gray."""
    dataset = EVAL_SETS[setting.channels][-1 if setting.channels == "color" else 0]
    return dataset, 22 if dataset == "kodak24" else 0


def comparison_file(run_path) -> str:
    """The comparison figure's file name in the run folder, ``comparison_<dataset>_<image>.png``."""
    dataset, index = comparison_image(Setting(**runs.Run(run_path).info["params"]["setting"]))
    return f"comparison_{dataset}_{data.load(dataset)[index].name}.png"


def comparison_figure(run_path, *, device="cpu", path=None) -> Figure:
    """The run's visual comparison on one test image of its colour mode (:func:`comparison_image`, first
    seeded realisation of the protocol's noise): noisy input, the Tweedie estimate (``Noise2Score``), for
    Gaussian noise the same network with a final ReLU (the diagnosis' main suspect for a ~23 dB
    re-implementation), and clean; the 200×200 crop at (100, 100), outputs clamped to [0, 1], float PSNR of the crop.
    Saved with :func:`repro.report.save_figure` to ``path`` when given (the notebook's name is
    :func:`comparison_file`); returns the figure.
    """
    from .noise2score_diagnosis import EVAL_VARIANTS, VariantDenoiser  # it imports this module

    run_path = Path(run_path)
    setting = Setting(**runs.Run(run_path).info["params"]["setting"])
    dataset, index = comparison_image(setting)
    protocol = get_protocol(PAPER)
    clean = protocol.prepare(data.load(dataset)[index].pixels, dataset)
    noisy = noisy_input(protocol, noise_model(setting.noise, setting.param), clean, dataset, index, 0)
    model = load(run_path, device=device)
    panels = {"noisy": noisy, "Noise2Score": model(noisy)}
    if setting.noise == "gaussian":
        relu = VariantDenoiser(model.model, EVAL_VARIANTS["noise2score_relu_output"], setting.param)
        with torch.no_grad():
            panels["with a final ReLU"] = relu(noisy.to(model.device)).cpu()
    window = (..., slice(100, 300), slice(100, 300))
    fig = report.crops_figure({title: img.clamp(0, 1)[window] for title, img in panels.items()}, clean[window],
                              flavour="float")
    if path is not None:
        report.save_figure(fig, path)
    return fig
