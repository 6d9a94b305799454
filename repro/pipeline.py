"""Train a method into a run folder, then evaluate it under a protocol: what each paper's notebook calls.

Everything a number needs to be trusted is recorded on the way: parameters, budget, device, precision,
iterations, wall times, seed and git commit (run.json), the training curve (curve.csv), the weights
(model.pt, loadable with :func:`repro.load`) and per-image PSNR (per_image.csv). Re-running the same call
resumes: training from its checkpoint, evaluation from the images already scored.

The initial weights are those of ``architecture(**arch_kwargs)`` built under the run's seed
(:func:`initial_weights`), whatever state the global generator was in when the caller built ``model``:
the same seed and thread count give the same weights and the same PSNR, bit for bit.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from . import runs
from .evaluate import evaluate, summarize
from .checkpoints import Denoiser, _architectures, save_model
from .noise import NoiseModel
from .protocols import Protocol
from .seeding import seeded
from .train import TrainConfig, train


def initial_weights(architecture: str, arch_kwargs: dict, seed: int) -> dict:
    """The state dict of a freshly built ``architecture(**arch_kwargs)``, its weights drawn from ``seed``."""
    with seeded(seed):
        return _architectures()[architecture](**arch_kwargs).state_dict()


def train_and_evaluate(
    *,
    results_dir: str | Path,
    paper: str,
    run_name: str,
    method: str,
    model: torch.nn.Module,
    architecture: str,
    arch_kwargs: dict,
    loss_fn,
    sampler,
    config: TrainConfig,
    protocol: Protocol,
    eval_noise: NoiseModel,
    budget: str,
    device: torch.device,
    params: dict,
    validate=None,
    inference: dict | None = None,
    datasets: list[str] | None = None,
    eval_images: int | None = None,
    time_limit_s: float | None = None,
    progress: bool = True,
) -> runs.Run:
    run = runs.Run.open(results_dir, paper, run_name, method=method, noise=eval_noise.name, param=eval_noise.label,
                        protocol=protocol.name, budget=budget, device=str(device), precision=config.precision,
                        seed=config.seed, iterations=0, train_wall_s=0.0, training_data=sampler.label,
                        params=params)
    model.load_state_dict(initial_weights(architecture, arch_kwargs, config.seed))  # a checkpoint overrides it
    result = train(model, loss_fn, sampler, config, run.path, device=device, validate=validate,
                   time_limit_s=time_limit_s, progress=progress)
    run.update(iterations=result.iterations, train_wall_s=round(result.wall_s, 1),
               iterations_planned=config.iterations)
    if result.stopped_early:  # "paused" until the same call resumes it (runs.Run.open sets "running" again)
        run.update(status="paused")
        print(f"Training paused at iteration {result.iterations}/{config.iterations} (time limit); "
              f"run the same command again to resume from {run.path / 'checkpoint.pt'}.")
        return run
    save_model(run.path, model, architecture, arch_kwargs, paper, method, inference,
               info={"run": run.info["run"], "iterations": result.iterations, "budget": budget})
    denoiser = Denoiser(model, paper, method, inference, device=device)
    start = time.perf_counter()
    table = evaluate(denoiser, protocol, eval_noise, datasets=datasets, n_images=eval_images,
                     per_image_csv=run.per_image_csv, device=device, progress=progress)
    run.finish(eval_wall_s=round(time.perf_counter() - start, 1))
    runs.write_summary(results_dir)
    print(summarize(table).to_string(index=False))
    return run
