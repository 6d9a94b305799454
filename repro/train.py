"""The one training loop every trained method uses (in the spirit of NVlabs edm's ``training_loop``).

It is parameterised by small callables: ``loss_fn(model, batch, generator) -> scalar`` (see
repro.methods) and a sampler with ``sample(batch_size, generator) -> Batch`` (repro.patches). Durations
are iterations. A loss with a schedule of its own may define ``set_iteration(iteration, total)``; it is
called before every step, so a resumed run follows the same schedule. What it adds around them:

* Adam with the paper's betas and the learning-rate ramps of the NVlabs code (raised-cosine ramp-up,
  squared-cosine ramp-down over the last fraction of iterations), or a step decay (PyTorch's
  ``MultiStepLR``: the rate multiplied by ``lr_decay`` at each milestone, a fraction of the run);
* device ``auto`` (CUDA when present) and a precision policy: ``bf16`` (autocast, about 2.3x faster on
  CPUs with hardware bf16, 3-4x slower on those without: notebooks pick with ``repro.device.resolve_precision``)
  or ``fp32``, both in channels_last on CPU;
* a progress bar with loss and ETA, a training curve (``curve.csv``) with periodic validation PSNR;
* checkpoints that resume exactly: model, optimiser, RNG state and curve are saved together, and a
  resumed run ends with the same weights as an uninterrupted one (tests/test_train.py);
* a non-finite loss stops the run with a clear error;
* ``max_steps``: the configuration's schedule (ramps over ``config.iterations``) stopped after that many
  steps, with a last curve row and validation there: a ``paper`` configuration run briefly (pipeline);
* several devices under ``torchrun --nproc_per_node=N`` (repro.distributed): each rank draws the global
  batch from the same seeded stream and trains on its slice, gradients are averaged, rank 0 writes.
"""
from __future__ import annotations

import csv
import math
import os
import time
from contextlib import nullcontext
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import torch

from . import distributed
from .device import PRECISIONS
from .progress import progress_bar


@dataclass
class TrainConfig:
    """Optimiser and schedule. Defaults are NVlabs/noise2noise ``config.py`` (Adam β2=0.99, lr 3e-4, batch 4)."""

    iterations: int
    batch_size: int = 4
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-8
    rampup_fraction: float = 0.0  # SSDN: 0.1
    rampdown_fraction: float = 0.3  # N2N: last 30% (50% with --long-train)
    lr_milestones: tuple[float, ...] = ()  # step decay at these fractions of the run (none: the ramps alone)
    lr_decay: float = 0.5  # the factor applied at each milestone
    precision: str = "bf16"
    val_every: int = 1000
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int = 0

    def __post_init__(self):
        if self.iterations < 1 or self.batch_size < 1:
            raise ValueError(f"iterations and batch_size must be >= 1, got {self.iterations}, {self.batch_size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{self.precision}'")
        if not (0 <= self.rampup_fraction <= 1 and 0 <= self.rampdown_fraction <= 1):
            raise ValueError("ramp fractions must be in [0, 1]")
        self.lr_milestones = tuple(self.lr_milestones)  # a list from JSON or a caller compares equal on resume
        if not all(0 < m <= 1 for m in self.lr_milestones) or list(self.lr_milestones) != sorted(self.lr_milestones):
            raise ValueError(f"lr_milestones must be sorted fractions in (0, 1], got {self.lr_milestones}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """lr at ``iteration``: raised-cosine ramp-up, then (0.5 + 0.5 cos πt)² ramp-down (NVlabs train.py), times
    ``lr_decay`` to the number of milestones reached, t = iteration / iterations ≥ m (PyTorch ``MultiStepLR``).

    A milestone m is where the lower rate starts: MultiStepLR stepped once per epoch with milestone k lowers the
    rate after k epochs (epochs k+1, k+2, ... train at it), so m = k / epochs.

    >>> cfg = TrainConfig(iterations=100, lr=1.0, rampdown_fraction=0.3)
    >>> learning_rate(cfg, 0), learning_rate(cfg, 70), round(learning_rate(cfg, 85), 3), learning_rate(cfg, 100)
    (1.0, 1.0, 0.25, 0.0)
    >>> steps = TrainConfig(iterations=100, lr=1.0, rampdown_fraction=0.0, lr_milestones=(0.5, 0.8), lr_decay=0.5)
    >>> [learning_rate(steps, i) for i in (0, 49, 50, 79, 80, 99)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    t = iteration / config.iterations
    factor = 1.0
    if config.rampup_fraction > 0 and t < config.rampup_fraction:
        factor *= 0.5 - 0.5 * math.cos(math.pi * t / config.rampup_fraction)
    start = 1.0 - config.rampdown_fraction
    if config.rampdown_fraction > 0 and t >= start:
        factor *= (0.5 + 0.5 * math.cos(math.pi * (t - start) / config.rampdown_fraction)) ** 2
    for milestone in config.lr_milestones:  # none by default: the ramps' arithmetic is untouched
        if t >= milestone:
            factor *= config.lr_decay
    return config.lr * factor


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def memory_format(device: torch.device):
    # channels_last pays on CPU (oneDNN) in both precisions: ~2.3x with bf16, and in fp32 a Noise2Score
    # U-Net step (8x128x128) took 0.73 s instead of 1.15 (colour) and 0.87 instead of 1.19 (gray) on 2
    # threads. Same arithmetic, another summation order (tests/test_train.py). On CUDA the default layout.
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def step_seconds(model: torch.nn.Module, loss_fn: Callable, shape: tuple[int, int, int, int], precision: str = "bf16",
                 device: torch.device | str = "cpu", steps: int = 5, warmup: int = 2, lr: float = 3e-4,
                 betas: tuple[float, float] = (0.9, 0.99)) -> dict:
    """Median seconds of one training step (forward, loss, backward, Adam) on random (N, C, H, W) crops.

    For sizing budgets. Returns wall and process-CPU seconds; on a shared machine the CPU time of a
    one-thread process is what the step would take on a free core.
    """
    import statistics

    from .patches import Batch

    device = torch.device(device)
    fmt = memory_format(device)
    model.to(device).to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    g = torch.Generator().manual_seed(0)
    wall, cpu = [], []
    for i in range(warmup + steps):
        clean = torch.rand(shape, generator=g)
        batch = Batch(clean, tuple(clean + 0.1 * torch.randn(shape, generator=g) for _ in range(2))).to(device, fmt)
        start, start_cpu = time.perf_counter(), time.process_time()
        with autocast(device, precision):
            loss = loss_fn(model, batch, g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"wall_s": statistics.median(wall), "cpu_s": statistics.median(cpu)}


class NonFiniteLoss(FloatingPointError):
    pass


@dataclass
class TrainResult:
    iterations: int
    wall_s: float
    final_loss: float
    stopped_early: bool
    truncated: bool = False  # ended by max_steps, not by config.iterations


def _with_defaults(saved: dict) -> dict:
    """A checkpoint's configuration with the fields added to TrainConfig since it was written at their defaults
    (a checkpoint from before ``lr_milestones`` existed resumes: it ran without milestones)."""
    later = {f.name: f.default for f in fields(TrainConfig) if f.name not in saved and f.default is not MISSING}
    return {**saved, **later}


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(
    model: torch.nn.Module,
    loss_fn: Callable,
    sampler,
    config: TrainConfig,
    run_dir: str | Path,
    device: torch.device | str = "cpu",
    validate: Callable[[torch.nn.Module], float] | None = None,
    stop_at: int | None = None,
    time_limit_s: float | None = None,
    progress: bool = True,
    max_steps: int | None = None,
) -> TrainResult:
    """Train ``model`` in place, resuming from ``run_dir/checkpoint.pt`` when one is there.

    ``stop_at`` / ``time_limit_s`` end this session early (after a checkpoint), e.g. before a hard
    session limit; calling ``train`` again continues from there. ``max_steps`` ends the run itself after
    that many steps of the ``config.iterations`` schedule (``truncated``), logging and validating there.

    Under torchrun (several ranks) ``config.batch_size`` is the global batch; see :mod:`repro.distributed`.
    """
    device = distributed.setup(device)
    ranks, main = distributed.world_size(), distributed.is_main()
    if ranks > 1:
        rows = distributed.rank_slice(config.batch_size)  # refuses a batch that does not split evenly
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    run_dir = Path(run_dir)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, curve_path = run_dir / "checkpoint.pt", run_dir / "curve.csv"
    fmt = memory_format(device)
    model.to(device).to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
    generator = torch.Generator().manual_seed(config.seed)
    start_iter, elapsed, curve = 0, 0.0, []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        if _with_defaults(state["config"]) != asdict(config):
            raise ValueError(f"{ckpt_path} was written with a different configuration; use another run folder "
                             f"or delete the checkpoint.\n saved: {state['config']}\n now:   {asdict(config)}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start_iter, elapsed, curve = state["iteration"], state["elapsed_s"], state["curve"]
    if ranks > 1:
        distributed.broadcast_parameters(model)  # equal already (seeded or the same checkpoint): made sure

    def checkpoint(iteration: int, seconds: float) -> None:
        if not main:  # rank 0 alone writes; every rank holds the same weights, optimiser and generator state
            return
        extra = {"world_size": ranks} if ranks > 1 else {}
        _save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "generator": generator.get_state(), "iteration": iteration, "elapsed_s": seconds,
                      "curve": curve, "config": asdict(config), **extra}, ckpt_path)
        _write_curve(curve, curve_path)

    t0 = time.perf_counter() - elapsed
    session_t0 = time.perf_counter()
    running, count, last_loss = 0.0, 0, float("nan")
    last = config.iterations if max_steps is None else min(max_steps, config.iterations)  # the run's last step
    end = last if stop_at is None else min(stop_at, last)  # this session's
    bar = progress_bar(range(start_iter, end), desc="train", initial=start_iter, total=last,
                       disable=not progress or not main)
    done = start_iter
    model.train()
    for iteration in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, iteration)
        if hasattr(loss_fn, "set_iteration"):  # a loss with its own schedule (Noise2Score's annealed σ_a)
            loss_fn.set_iteration(iteration, config.iterations)
        if ranks == 1:
            batch = sampler.sample(config.batch_size, generator).to(device, fmt)
            loss_generator = generator
        else:  # the global batch, as one process would draw it, from the same stream on every rank; keep our rows
            batch = distributed.take(sampler.sample(config.batch_size, generator), rows).to(device, fmt)
            loss_generator = distributed.loss_generator(config.seed, iteration)
        with autocast(device, config.precision):
            loss = loss_fn(model, batch, loss_generator)
        if ranks > 1:  # every rank sees the mean loss and the same stop decision (else one would wait forever)
            over_time = time_limit_s is not None and time.perf_counter() - session_t0 > time_limit_s
            loss_value, over_time = distributed.agree(loss, over_time)
        if not torch.isfinite(loss) or (ranks > 1 and not math.isfinite(loss_value)):
            raise NonFiniteLoss(f"loss became {loss.item()} at iteration {iteration}; the last checkpoint "
                                f"({ckpt_path}) is intact. Lower the learning rate or check the data/noise range.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if ranks > 1:
            distributed.average_gradients(model)
        optimizer.step()
        last_loss = float(loss.detach()) if ranks == 1 else loss_value
        running, count = running + last_loss, count + 1
        done = iteration + 1
        final = done == config.iterations or (max_steps is not None and done == last)
        if done % config.log_every == 0 or final:
            row = {"iteration": done, "loss": running / count, "lr": learning_rate(config, iteration),
                   "elapsed_s": round(time.perf_counter() - t0, 2), "val_psnr_db": float("nan")}
            running, count = 0.0, 0
            if validate is not None and main and (done % config.val_every == 0 or final):
                model.eval()
                row["val_psnr_db"] = float(validate(model))
                model.train()
            curve.append(row)
            # the latest validation, not the nan of the loss-only rows between two validations
            latest = next((r["val_psnr_db"] for r in reversed(curve) if math.isfinite(r["val_psnr_db"])), None)
            bar.set_postfix(loss=f"{row['loss']:.5f}", **({"val": f"{latest:.2f}"} if latest is not None else {}))
        if ranks == 1:
            over_time = time_limit_s is not None and time.perf_counter() - session_t0 > time_limit_s
        if done % config.checkpoint_every == 0 or done == end or over_time:
            checkpoint(done, time.perf_counter() - t0)
        if over_time:
            break
    bar.close()
    model.eval()
    distributed.barrier()  # the last checkpoint is on disk before any rank goes on
    truncated = max_steps is not None and done == last < config.iterations
    return TrainResult(iterations=done, wall_s=time.perf_counter() - t0, final_loss=last_loss,
                       stopped_early=done < last, truncated=truncated)


def _write_curve(curve: list[dict], path: Path) -> None:
    if not curve:
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(curve[0]))
        writer.writeheader()
        writer.writerows(curve)
    os.replace(tmp, path)
