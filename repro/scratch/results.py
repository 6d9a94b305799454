"""Reading the from-scratch runs back for the notebook and the book: tables and figures from run folders only.

>>> import tempfile
>>> runs_frame(tempfile.mkdtemp()).empty
True
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .. import budgets
from ..evaluate import read_per_image
from ..runs import default_results_dir
from .course import COURSE, REPORTED_BEST_PSNR_DB, SWEEP_TABLES

PAPER = "scratch_n2n"
SETTINGS = ["n_pairs", "epochs", "batch_size", "lr", "channel_factor", "kernel_size"]
FRAME_COLUMNS = ["run", "role", "backend", "budget", "seed", "noise", "param", *SETTINGS, "iterations",
                 "s_per_epoch", "cpu_s_per_epoch", "threads", "device", "device_name", "test_psnr_db",
                 "test_psnr_pooled_db",
                 "full_image_psnr_db", "n_test_patches", "input_psnr_db", "status"]


def _root(results_dir) -> Path:
    return Path(results_dir) if results_dir else default_results_dir()


def runs_frame(results_dir=None) -> pd.DataFrame:
    """One row per scratch_n2n run folder: role (main/sweep), backend, settings, timing and PSNRs."""
    rows = []
    for path in sorted((_root(results_dir) / PAPER).glob("*/run.json")):
        info = json.loads(path.read_text())
        p = info.get("params", {})
        rows.append({"run": path.parent.name, "role": p.get("role", "main"), "backend": p.get("backend"),
                     "budget": info.get("budget"), "seed": info.get("seed"), "noise": info.get("noise"),
                     "param": info.get("param"), **{k: p.get(k) for k in SETTINGS},
                     **{k: info.get(k) for k in ["iterations", "s_per_epoch", "cpu_s_per_epoch", "threads",
                                                 "device", "device_name",
                                                 "test_psnr_db", "test_psnr_pooled_db", "full_image_psnr_db",
                                                 "status"]},
                     "n_test_patches": p.get("n_test_patches"), "input_psnr_db": p.get("input_psnr_db")})
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def curve(run: str, results_dir=None) -> pd.DataFrame:
    return pd.read_csv(_root(results_dir) / PAPER / run / "curve.csv")


def per_image(run: str, results_dir=None) -> pd.DataFrame:
    return read_per_image(_root(results_dir) / PAPER / run / "per_image.csv")  # without a line torn by a crash


def last_epoch_psnr(run: str, results_dir=None) -> tuple[float, float, int]:
    """Mean and standard deviation of the held-out PSNR evaluations of the last epoch, and their number.

    A description of where constant-step SGD wanders at the end of training, not the PSNR of one model.
    """
    c = curve(run, results_dir).dropna(subset=["val_psnr_db"])
    last = c[c.epoch > c.epoch.max() - 1]
    return float(last.val_psnr_db.mean()), float(last.val_psnr_db.std(ddof=1)), len(last)


def twins(results_dir=None) -> pd.DataFrame:
    """Scratch and torch runs of the main role with identical settings, budget, noise and seed, side by side."""
    frame = runs_frame(results_dir)
    frame = frame[(frame.role == "main") & (frame.status == "complete")]
    key = ["budget", "seed", "param", *SETTINGS]
    merged = frame[frame.backend == "scratch"].merge(frame[frame.backend == "torch"], on=key,
                                                     suffixes=("_scratch", "_torch"))
    return merged


def twin_comparison(scratch_run: str, torch_run: str, results_dir=None) -> dict:
    """How far apart the two frameworks ended: curves, PSNR, weights and time per epoch."""
    a, b = curve(scratch_run, results_dir), curve(torch_run, results_dir)
    both = a.merge(b, on="iteration", suffixes=("_scratch", "_torch")).dropna(subset=["loss_scratch"])
    rel_loss = ((both.loss_scratch - both.loss_torch).abs() / both.loss_torch.abs())
    root = _root(results_dir) / PAPER
    ws = torch.load(root / scratch_run / "model.pt", weights_only=True)
    wt = torch.load(root / torch_run / "model.pt", weights_only=True)
    weight_rel = max(float((ws[k] - wt[k]).abs().max() / wt[k].abs().max()) for k in ws)
    info = {r: json.loads((root / r / "run.json").read_text()) for r in (scratch_run, torch_run)}
    return {
        "logged points": len(both),
        "max relative loss difference": float(rel_loss.max()),
        "median relative loss difference": float(rel_loss.median()),
        "max relative weight difference at the end": weight_rel,
        "test PSNR scratch (dB)": info[scratch_run]["test_psnr_db"],
        "test PSNR torch (dB)": info[torch_run]["test_psnr_db"],
        "wall s/epoch scratch": info[scratch_run]["s_per_epoch"],
        "wall s/epoch torch": info[torch_run]["s_per_epoch"],
        "CPU s/epoch scratch": info[scratch_run].get("cpu_s_per_epoch"),
        "CPU s/epoch torch": info[torch_run].get("cpu_s_per_epoch"),
        "CPU time ratio scratch/torch": (info[scratch_run].get("cpu_s_per_epoch") or float("nan"))
        / (info[torch_run].get("cpu_s_per_epoch") or float("nan")),
        "threads": info[scratch_run].get("threads"),
    }


def sweep_frame(budget: str, seed: int = 0, param: str | None = None, results_dir=None) -> pd.DataFrame:
    """The sweep of ``budget``: one row per table entry (the report's setting appears in every table)."""
    frame = runs_frame(results_dir)
    frame = frame[(frame.role == "sweep") & (frame.budget == budget) & (frame.seed == seed)
                  & (frame.status == "complete")]
    if param is not None:
        frame = frame[frame.param == param]
    rows = []
    for varied, values in SWEEP_TABLES.items():  # a budget sweeping fewer values just leaves rows out
        others = {k: getattr(COURSE, k) for k in SWEEP_TABLES if k != varied}
        for value in values:
            match = frame[(frame[varied] == value) & np.logical_and.reduce(
                [frame[k] == v for k, v in others.items()])]
            if len(match):
                r = match.iloc[0]
                last_mean, last_sd, last_n = last_epoch_psnr(r.run, results_dir)
                rows.append({"varied": varied, "value": value, "report_setting": value == getattr(COURSE, varied),
                             "last_epoch_psnr_db": last_mean, "last_epoch_psnr_sd_db": last_sd,
                             "last_epoch_evals": last_n, "test_psnr_db": r.test_psnr_db, "test_psnr_pooled_db": r.test_psnr_pooled_db,
                             "full_image_psnr_db": r.full_image_psnr_db, "iterations": r.iterations,
                             "s_per_epoch": r.s_per_epoch, "cpu_s_per_epoch": r.cpu_s_per_epoch,
                             "n_pairs": r.n_pairs, "epochs": r.epochs, "run": r.run})
    return pd.DataFrame(rows)


def paired_difference(run_a: str, run_b: str, results_dir=None, dataset: str = "kodak24_patch32") -> tuple:
    """Mean PSNR difference a − b over the same test patches, and its 95 % half-width."""
    a = per_image(run_a, results_dir)
    b = per_image(run_b, results_dir)
    d = a[a.dataset == dataset].merge(b[b.dataset == dataset], on="image")
    diff = d.psnr_db_x - d.psnr_db_y
    return float(diff.mean()), float(1.96 * diff.std(ddof=1) / np.sqrt(len(diff)))


def plot_twin(scratch_run: str, torch_run: str, results_dir=None) -> Figure:
    a, b = curve(scratch_run, results_dir), curve(torch_run, results_dir)
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax = fig.subplots(1, 3)
    for c, name, style in [(a, "scratch (explicit backward)", "-"), (b, "torch twin (autograd)", "--")]:
        ax[0].plot(c.iteration, c.loss, style, label=name, lw=1.2)
        v = c.dropna(subset=["val_psnr_db"])
        ax[2].plot(v.iteration, v.val_psnr_db, style, marker="o", ms=3, label=name)
    both = a.merge(b, on="iteration", suffixes=("_s", "_t")).dropna(subset=["loss_s"])
    ax[1].semilogy(both.iteration, (both.loss_s - both.loss_t).abs() / both.loss_t, lw=1)
    ax[0].set(xlabel="iteration", ylabel="training MSE (noisy target)", yscale="log", title="training loss")
    ax[1].set(xlabel="iteration", ylabel="|Δ loss| / loss", title="relative difference of the curves")
    ax[2].set(xlabel="iteration", ylabel="held-out patch PSNR (dB)", title="validation PSNR")
    for x in ax:
        x.grid(alpha=0.3)
    ax[0].legend(fontsize=8)
    ax[2].legend(fontsize=8)
    return fig


def plot_sweep(sweep: pd.DataFrame, reference_db: float | None = None, title: str = "") -> Figure:
    """Held-out PSNR against each varied hyper-parameter: the final model, and the last epoch's mean ± sd."""
    fig = Figure(figsize=(13, 3.4), layout="constrained")
    axes = fig.subplots(1, len(SWEEP_TABLES), sharey=True)
    for ax, varied in zip(axes, SWEEP_TABLES):
        part = sweep[sweep.varied == varied] if len(sweep) else sweep
        ax.errorbar(part.value, part.last_epoch_psnr_db, yerr=part.last_epoch_psnr_sd_db, fmt="o-", color="C0",
                    capsize=3, label="last epoch, mean ± sd")
        ax.plot(part.value, part.test_psnr_db, "s", color="C1", ms=5, label="final model")
        mine = part[part.report_setting]
        ax.plot(mine.value, mine.last_epoch_psnr_db, "o", mfc="none", color="C3", ms=12, label="report's setting")
        if varied == "lr":
            ax.set_xscale("log")
        if reference_db is not None:
            ax.axhline(reference_db, color="gray", ls=":", lw=1, label="noisy input")
        ax.set(xlabel=varied, title=varied)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out patch PSNR (dB)")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_examples(predict, test, n_patches: int = 6, crop: int = 192) -> Figure:
    """Noisy / denoised / clean for some test patches and a crop of the first full test image."""
    fig = Figure(figsize=(12, 6.4), layout="constrained")
    grid = fig.add_gridspec(3, n_patches + 3)
    idx = np.linspace(0, len(test) - 1, n_patches).astype(int)
    out = predict(test.noisy[idx]).clamp(0, 1).cpu()
    for j, i in enumerate(idx):
        for row, (img, label) in enumerate([(test.noisy[i], "noisy"), (out[j], "denoised"), (test.clean[i], "clean")]):
            ax = fig.add_subplot(grid[row, j])
            ax.imshow(img.clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label)
    noisy, clean = test.full_noisy[0], test.full_clean[0]
    full = predict(noisy).clamp(0, 1).cpu()
    for row, (img, label) in enumerate([(noisy, "noisy"), (full, "denoised"), (clean, "clean")]):
        ax = fig.add_subplot(grid[row, n_patches:])
        ax.imshow(img[0, :, :crop, :crop].clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{test.image_names[0]} (crop), {label}", fontsize=9)
    return fig


def comparison_with_report(results_dir=None, budget: str = "cpu", seed: int = 0) -> pd.DataFrame:
    """Our main runs and the sweep's best (by last-epoch mean) beside the report's stated best PSNR."""
    frame = runs_frame(results_dir)
    frame = frame[(frame.status == "complete") & (frame.budget == budget) & (frame.seed == seed)]
    rows = [{"model": "EPFL mini-project report, best model", "data": "course pairs (not public)",
             "training": f"{COURSE.n_pairs} pairs x {COURSE.epochs} epochs", "psnr_db": REPORTED_BEST_PSNR_DB,
             "psnr_pooled_db": np.nan, "last_epoch_psnr_db": np.nan, "last_epoch_evals": np.nan,
             "note": "stated in the project report, not independently verified"}]

    def ours(r, label):
        mean, _, n = last_epoch_psnr(r.run, results_dir)
        return {"model": label, "data": "CBSD432 pairs / Kodak24 patches",
                "training": f"{r.n_pairs} pairs x {r.epochs} epochs", "psnr_db": r.test_psnr_db,
                "psnr_pooled_db": r.test_psnr_pooled_db, "last_epoch_psnr_db": mean, "last_epoch_evals": n,
                "note": r.run}

    for r in frame[frame.role == "main"].itertuples():
        rows.append(ours(r, f"ours, {r.backend}, report's settings"))
    sweep = sweep_frame(budget, seed, results_dir=results_dir)
    if len(sweep):
        best = sweep.sort_values("last_epoch_psnr_db").iloc[-1]
        r = next(frame[frame.run == best.run].itertuples())
        rows.append(ours(r, f"ours, best of the sweep (b{r.batch_size}, lr {r.lr:g}, cf {r.channel_factor}, "
                            f"k {r.kernel_size})"))
    return pd.DataFrame(rows)


def plot_sweep_curves(sweep: pd.DataFrame, results_dir=None) -> Figure:
    """Held-out PSNR during training for every configuration of each table."""
    fig = Figure(figsize=(13, 3.4), layout="constrained")
    axes = fig.subplots(1, len(SWEEP_TABLES), sharey=True)
    for ax, varied in zip(axes, SWEEP_TABLES):
        for r in (sweep[sweep.varied == varied].itertuples() if len(sweep) else []):
            c = curve(r.run, results_dir).dropna(subset=["val_psnr_db"])
            ax.plot(c.epoch, c.val_psnr_db, marker="o", ms=2, lw=1.8 if r.report_setting else 1,
                    label=f"{r.value:g}" + (" (report)" if r.report_setting else ""))
        ax.set(xlabel="epoch", title=varied)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("held-out patch PSNR (dB)")
    return fig


def largest_budget(results_dir=None) -> str | None:
    """The largest budget with a complete main run (paper > cpu > smoke): what the book shows."""
    frame = runs_frame(results_dir)
    done = set(frame[(frame.status == "complete") & (frame.role == "main")].budget)
    return max(done, key=budgets.rank, default=None)
