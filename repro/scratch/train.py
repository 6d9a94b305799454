"""One training loop for both frameworks: the scratch model and its torch twin see the same batches.

A *learner* owns a model, its loss and its optimiser and exposes ``step(noisy_input, noisy_target)``
(one SGD step, returns the batch loss) and ``predict(noisy)``. :func:`fit` draws the batch order from the
seed alone (:func:`batch_order`), so two learners fitted with the same seed see identical batches.

>>> [len(b) for b in batch_order(10, 4, seed=0, epoch=0)]
[4, 4, 2]
"""
from __future__ import annotations

import math
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import metrics
from ..progress import progress_bar
from .data import HeldOutSet, PairSet
from .losses import MSE
from .module import Sequential
from .optim import SGD

CURVE_COLUMNS = ["iteration", "epoch", "loss", "val_psnr_db", "train_wall_s", "train_cpu_s"]


class ScratchLearner:
    """The hand-written framework: forward, MSE, explicit backward, SGD."""

    backend = "scratch"

    def __init__(self, model: Sequential, lr: float):
        self.model, self.loss, self.optimizer = model, MSE(), SGD(model.param(), lr)

    def step(self, noisy_input: torch.Tensor, noisy_target: torch.Tensor) -> torch.Tensor:
        value = self.loss(self.model(noisy_input), noisy_target)
        self.optimizer.zero_grad()
        self.model.backward(self.loss.backward())
        self.optimizer.step()
        return value

    def predict(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.model(noisy)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


class TorchLearner:
    """The twin: torch.nn modules, ``F.mse_loss``, autograd and ``torch.optim.SGD``."""

    backend = "torch"

    def __init__(self, model: nn.Module, lr: float):
        self.model, self.optimizer = model, torch.optim.SGD(model.parameters(), lr=lr)

    def step(self, noisy_input: torch.Tensor, noisy_target: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            value = F.mse_loss(self.model(noisy_input), noisy_target)
            self.optimizer.zero_grad(set_to_none=True)
            value.backward()
        self.optimizer.step()
        return value.detach()

    def predict(self, noisy: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(noisy)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """Index batches of one epoch: a permutation drawn from (seed, epoch) only; the last batch may be short."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return list(torch.randperm(n, generator=g).split(batch_size))


def predict_batched(learner, noisy: torch.Tensor, device, batch: int = 512) -> torch.Tensor:
    return torch.cat([learner.predict(noisy[i:i + batch].to(device)).float().cpu()
                      for i in range(0, noisy.shape[0], batch)])


def patch_psnr(learner, test: HeldOutSet, device) -> tuple[torch.Tensor, float]:
    """Per-patch float PSNR (estimate clamped to [0, 1], peak 1) and the course's pooled PSNR.

    The course's test script computed ``-10·log10(mean squared error over the whole set)``, i.e. the PSNR
    of the pooled MSE; the per-patch mean (our convention everywhere else) is at least as high.
    """
    estimate = predict_batched(learner, test.noisy, device).clamp(0, 1)
    per_patch = metrics.psnr(estimate, test.clean, "float")
    pooled = float(-10 * torch.log10(((estimate.double() - test.clean.double()) ** 2).mean()))
    return per_patch, pooled


def full_image_psnr(learner, test: HeldOutSet, device) -> torch.Tensor:
    """Float PSNR of each full held-out image (its sides are multiples of 4, as the network needs)."""
    out = [metrics.psnr(learner.predict(noisy.to(device)).float().cpu(), clean, "float")[0]
           for noisy, clean in zip(test.full_noisy, test.full_clean)]
    return torch.stack(out)


def fit(learner, pairs: PairSet, test: HeldOutSet | None, *, epochs: int, batch_size: int, seed: int,
        device, evals_per_epoch: int = 2, logs_per_epoch: int = 10, progress: bool = True,
        desc: str = "train") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train for ``epochs`` passes over ``pairs``; returns the curve and the seconds of each epoch.

    The curve has a row at iteration 0 (validation only) and then ``logs_per_epoch`` rows per epoch with
    the mean training loss since the previous row; ``val_psnr_db`` (mean per-patch PSNR on the held-out
    patches, never used to choose anything) is filled ``evals_per_epoch`` times per epoch. Evaluation time
    is excluded from the epoch times, which are given as wall-clock seconds and as CPU seconds of this
    process: on a shared machine the wall clock measures the neighbours as much as the code, the CPU time
    does not (on a GPU only the wall clock means anything).
    """
    device = torch.device(device)
    n_batches = math.ceil(len(pairs) / batch_size)
    log_at = {min(n_batches, round(n_batches * (j + 1) / logs_per_epoch)) for j in range(logs_per_epoch)}
    eval_at = {min(n_batches, round(n_batches * (j + 1) / evals_per_epoch)) for j in range(evals_per_epoch)}
    rows, epochs_timing = [], []
    train_s = train_cpu = 0.0

    def validation() -> float:
        return float(patch_psnr(learner, test, device)[0].mean()) if test is not None else float("nan")

    rows.append({"iteration": 0, "epoch": 0.0, "loss": float("nan"), "val_psnr_db": validation(),
                 "train_wall_s": 0.0, "train_cpu_s": 0.0})
    noisy_a, noisy_b = pairs.noisy_a, pairs.noisy_b
    if device.type == "cuda":  # the whole set fits easily; keep it next to the model
        noisy_a, noisy_b = noisy_a.to(device), noisy_b.to(device)
    bar = progress_bar(total=epochs * n_batches, desc=desc, disable=not progress)
    iteration = 0
    for epoch in range(epochs):
        loss_sum, loss_count = torch.zeros((), device=device, dtype=torch.float64), 0
        t0, c0, epoch_s, epoch_cpu = time.perf_counter(), time.process_time(), 0.0, 0.0
        for b, index in enumerate(batch_order(len(pairs), batch_size, seed, epoch), start=1):
            x = noisy_a[index].to(device, non_blocking=True)
            y = noisy_b[index].to(device, non_blocking=True)
            loss_sum += learner.step(x, y).double()
            loss_count += 1
            iteration += 1
            bar.update(1)
            if b in log_at:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
                epoch_s, epoch_cpu, train_s, train_cpu = epoch_s + elapsed, epoch_cpu + cpu, train_s + elapsed, \
                    train_cpu + cpu
                row = {"iteration": iteration, "epoch": epoch + b / n_batches,
                       "loss": float(loss_sum) / loss_count, "val_psnr_db": float("nan"),
                       "train_wall_s": round(train_s, 3), "train_cpu_s": round(train_cpu, 3)}
                if b in eval_at:
                    row["val_psnr_db"] = validation()
                rows.append(row)
                loss_sum.zero_()
                loss_count = 0
                t0, c0 = time.perf_counter(), time.process_time()
        epochs_timing.append({"epoch": epoch + 1, "wall_s": epoch_s, "cpu_s": epoch_cpu})
    bar.close()
    return pd.DataFrame(rows, columns=CURVE_COLUMNS), pd.DataFrame(epochs_timing)
