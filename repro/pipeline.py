"""Train a method into a run folder, then evaluate it under a protocol: what each paper's notebook calls.

Everything a number needs to be trusted is recorded on the way: parameters, budget, device, precision,
iterations, wall times, seed and git commit (run.json), the training curve (curve.csv), the weights
(model.pt, loadable with :func:`repro.load`) and per-image PSNR (per_image.csv). Re-running the same call
resumes: training from its checkpoint, evaluation from the images already scored.

The initial weights are those of ``architecture(**arch_kwargs)`` built under the run's seed
(:func:`initial_weights`), whatever state the global generator was in when the caller built ``model``:
the same seed and thread count give the same weights and the same PSNR, bit for bit.

``max_steps`` (or the environment variable ``REPRO_MAX_STEPS``) runs a configuration briefly: the same
crops, batch, schedule (its ramps computed over the full ``config.iterations``) and evaluation protocol,
training stopped after ``max_steps``. Such a run can never pass for the configuration itself: its budget
reads ``<budget>-max<N>`` (e.g. ``paper-max3``, also the run folder's suffix ``_max<N>``), its status
``truncated`` (never ``complete``), and run.json records ``max_steps`` and ``iterations_planned``.
For tests of long protocols, ``REPRO_MAX_EVAL_IMAGES`` caps the images evaluated per data set and
``REPRO_MAX_EVAL_REPEATS`` the noise realisations per image (recorded as ``eval_images_cap`` and
``eval_repeats_cap``; every data set of the protocol is still evaluated, at full size).

Under ``torchrun`` (several ranks, see :mod:`repro.distributed`) every rank trains its share of the
batch; rank 0 alone opens and writes the run folder, evaluates and writes the summary, and the other
ranks return the run folder as it stands when training ends.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import torch

from . import distributed, runs
from .evaluate import evaluate, summarize
from .checkpoints import Denoiser, architectures, save_model
from .noise import NoiseModel
from .protocols import Protocol
from .seeding import seeded
from .train import TrainConfig, train


def initial_weights(architecture: str, arch_kwargs: dict, seed: int) -> dict:
    """The state dict of a freshly built ``architecture(**arch_kwargs)``, its weights drawn from ``seed``."""
    with seeded(seed):
        return architectures()[architecture](**arch_kwargs).state_dict()


TRUNCATED = "truncated"  # the status of a run stopped by max_steps


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def truncated_label(budget: str, max_steps: int) -> str:
    """The budget a run stopped after ``max_steps`` is recorded under.

    >>> truncated_label("paper", 3)
    'paper-max3'
    """
    return f"{budget}-max{max_steps}"


def _same_precision(path: Path, precision: str) -> None:
    """Refuse to resume (or re-evaluate) a run folder in another precision than it trained in: its weights would
    mix two, and ``precision="auto"`` resolves by the machine, so a run paused on one CPU may meet another."""
    previous = json.loads((path / "run.json").read_text()).get("precision") if (path / "run.json").exists() else None
    if previous is not None and previous != precision:
        raise ValueError(f"{path} trained in {previous}; this call asks for {precision} (precision='auto' follows "
                         f"this machine's hardware): pass precision='{previous}' to resume or re-evaluate it, or "
                         f"remove the folder to train it again in {precision}")


PAUSED_STATE = "paused.pt"  # a paused run's checkpoint, committed with its folder (checkpoint.pt is git-ignored)


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # per process: ranks may copy at once
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _restore_paused_state(path: Path) -> None:
    """A paused run resumes in a fresh clone, which has its committed paused.pt but no checkpoint.pt."""
    if (path / PAUSED_STATE).exists() and not (path / "checkpoint.pt").exists():
        _copy_atomic(path / PAUSED_STATE, path / "checkpoint.pt")
        print(f"resuming from {path / PAUSED_STATE} (the state committed when the run was paused)")


def _completed(path: Path, iterations: int) -> bool:
    """Whether ``path`` holds a complete run of this configuration, which a call then reuses as it is.

    Without this, calling a notebook again on a complete run would train it again: its checkpoint is not
    committed, so a fresh clone starts from iteration 0 and, hours later, overwrites the committed numbers.
    """
    if not (path / "run.json").exists():
        return False
    info = json.loads((path / "run.json").read_text())
    if info.get("status") != "complete":
        return False
    if info.get("iterations") != iterations or not (path / "model.pt").exists():
        raise ValueError(f"{path} is a complete run of {info.get('iterations')} iterations"
                         f"{'' if (path / 'model.pt').exists() else ' without its model.pt'}; this call asks for "
                         f"{iterations}: remove the folder (or give another results_dir) to train it again")
    return True


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
    max_steps: int | None = None,
) -> runs.Run:
    max_steps = max_steps if max_steps is not None else _env_int("REPRO_MAX_STEPS")
    if max_steps is not None and max_steps >= config.iterations:
        max_steps = None  # the whole configuration: an ordinary run
    extra = {}
    if max_steps is not None:
        budget, run_name = truncated_label(budget, max_steps), f"{run_name}_max{max_steps}"
        extra["max_steps"] = max_steps
        print(f"max_steps={max_steps}: the {config.iterations}-iteration schedule stops after {max_steps} steps; "
              f"recorded as budget {budget}, status '{TRUNCATED}'")
    cap = _env_int("REPRO_MAX_EVAL_IMAGES")
    if cap is not None:
        eval_images = min(eval_images, cap) if eval_images else cap
        extra["eval_images_cap"] = cap
    repeats_cap = _env_int("REPRO_MAX_EVAL_REPEATS")
    if repeats_cap is not None:
        protocol = dataclasses.replace(protocol, repeats={name: min(protocol.repeats_for(name), repeats_cap)
                                                          for name in protocol.datasets})
        extra["eval_repeats_cap"] = repeats_cap
    if distributed.world_size() > 1:
        extra["world_size"] = distributed.world_size()
    main = distributed.is_main()
    path = Path(results_dir) / paper / run_name
    _same_precision(path, config.precision)  # on every rank, not in Run.open (rank 0's): none is left waiting
    if _completed(path, config.iterations):  # every rank reads the same folder, so all return here
        print(f"{path} is complete ({config.iterations} iterations): reused as it is, not trained again; "
              f"remove the folder to train it again")
        return runs.Run(path)
    if main:  # under torchrun, rank 0 alone writes the run folder
        run = runs.Run.open(results_dir, paper, run_name, method=method, noise=eval_noise.name,
                            param=eval_noise.label, protocol=protocol.name, budget=budget, device=str(device),
                            precision=config.precision, seed=config.seed, iterations=0, train_wall_s=0.0,
                            training_data=sampler.label, params=params, **extra)
    model.load_state_dict(initial_weights(architecture, arch_kwargs, config.seed))  # a checkpoint overrides it
    _restore_paused_state(path)
    result = train(model, loss_fn, sampler, config, path, device=device, validate=validate,
                   time_limit_s=time_limit_s, progress=progress, max_steps=max_steps)
    if not main:
        return runs.Run(path)
    run.update(iterations=result.iterations, train_wall_s=round(result.wall_s, 1),
               iterations_planned=config.iterations)
    if result.stopped_early:  # "paused" until the same call resumes it (runs.Run.open sets "running" again)
        _copy_atomic(run.path / "checkpoint.pt", run.path / PAUSED_STATE)
        run.update(status="paused")
        print(f"Training paused at iteration {result.iterations}/{config.iterations} (time limit); "
              f"run the same command again to resume. Its state is in {run.path / PAUSED_STATE}: commit it "
              f"with the run folder to resume in another clone.")
        return run
    (run.path / PAUSED_STATE).unlink(missing_ok=True)  # the model and the curve are the record now
    save_model(run.path, model, architecture, arch_kwargs, paper, method, inference,
               info={"run": run.info["run"], "iterations": result.iterations, "budget": budget})
    denoiser = Denoiser(model, paper, method, inference, device=device)
    start = time.perf_counter()
    table = evaluate(denoiser, protocol, eval_noise, datasets=datasets, n_images=eval_images,
                     per_image_csv=run.per_image_csv, device=device, progress=progress)
    if result.truncated:  # evaluated like the configuration, but never 'complete'
        run.update(status=TRUNCATED, eval_wall_s=round(time.perf_counter() - start, 1), finished=runs._now())
    else:
        run.finish(eval_wall_s=round(time.perf_counter() - start, 1))
    runs.write_summary(results_dir)
    print(summarize(table).to_string(index=False))
    return run
