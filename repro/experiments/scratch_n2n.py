"""The from-scratch Noise2Noise experiments: the main run, its torch twin, their timing and the hyper-parameter sweep.

The hand-written framework, the course's model and settings, the data and the training loop are
:mod:`repro.scratch`; this module trains with them into run folders. :func:`run` is what the notebook calls.

Each training run writes a run folder ``results/scratch_n2n/<name>/`` (:class:`repro.runs.Run`) with

* ``run.json``: settings, budget, device, threads, time per epoch, test PSNRs;
* ``curve.csv``: iteration, epoch, loss (mean training loss since the previous row), val_psnr_db
  (mean per-patch PSNR on the held-out patches; logged only, never used to choose anything);
* ``per_image.csv``: one row **per held-out 32×32 test patch** (data set ``kodak24_patch32``) and one
  **per full held-out image** (data set ``kodak24``), float PSNR (estimate clamped to [0, 1], peak 1);
* ``model.pt``: the weights (``repro.scratch.load`` or the twin's ``load_state_dict`` read them).

A complete run folder with the same settings is reused, not retrained, so a notebook re-runs in seconds
and an interrupted sweep resumes at the first missing configuration.

Budgets (every number per training run; "pairs" are 32×32 noisy pairs, "epochs" passes over them):

* ``smoke``: 512 pairs × 1 epoch; sweep 128 pairs × 1 epoch over two values of two tables; test = 1 Kodak
  image, 16 patches. Seconds.
* ``cpu``: the main run and its twin at the report's own length, 50,000 pairs × 10 epochs (≈20-25 min
  each on one core); the sweep at 10,000 pairs × 3 epochs per configuration (6 % of the report's
  training, ≈15 min for the whole sweep on one core); test = 24 Kodak images × 64 patches.
* ``paper``: everything, sweep included, at 50,000 pairs × 10 epochs (a GPU's budget).

>>> BUDGETS["cpu"].main_pairs, BUDGETS["cpu"].sweep_epochs
(50000, 3)
>>> [c["lr"] for c in sweep_configs() if c["varied"] == "lr"]
[0.01, 0.1, 1.0, 5.0, 10.0, 25.0]
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from .. import metrics, noise as noises, runs
from ..evaluate import COLUMNS as PER_IMAGE_COLUMNS
from ..noise import NoiseModel
from ..scratch import data as scratch_data, results as scratch_results
from ..scratch.course import COURSE, SWEEP_TABLES, CourseSettings, course_model
from ..scratch.module import save
from ..scratch.train import ScratchLearner, TorchLearner, batch_order, fit, full_image_psnr, patch_psnr
from ..scratch.twin import torch_twin

PAPER = "scratch_n2n"
PROTOCOL = "scratch_n2n_patches32"
PROTOCOL_TEXT = ("held-out Kodak24 (noised once, fixed seeds): 64 random 32x32 grid cells per image and the full "
                 "images; output clamped to [0,1]; float PSNR, peak 1, mean over patches (images); the course's "
                 "pooled-MSE PSNR is recorded beside it")


@dataclass(frozen=True)
class Budget:
    name: str
    main_pairs: int
    main_epochs: int
    sweep_pairs: int
    sweep_epochs: int
    test_images: int | None  # None: all 24 Kodak images
    test_per_image: int
    sweep_tables: dict | None = None  # None: the report's full tables (SWEEP_TABLES)
    sweep_evals_per_epoch: int = 10  # held-out evaluations per epoch in the sweep (see run_sweep)
    timing_rounds: int = 6  # interleaved timing: rounds of timing_steps SGD steps per framework
    timing_steps: int = 50

    def asdict(self) -> dict:
        return asdict(self)


BUDGETS = {
    "smoke": Budget("smoke", 512, 1, 128, 1, 1, 16, sweep_tables={"lr": (1.0, 5.0), "batch_size": (32, 64)},
                    sweep_evals_per_epoch=2, timing_rounds=2, timing_steps=3),
    "cpu": Budget("cpu", COURSE.n_pairs, COURSE.epochs, 10_000, 3, None, 64),
    "paper": Budget("paper", COURSE.n_pairs, COURSE.epochs, COURSE.n_pairs, COURSE.epochs, None, 64),
}


def sweep_configs(tables: dict[str, tuple] | None = None, base: CourseSettings = COURSE) -> list[dict]:
    """One-at-a-time variations around the report's best settings, one row per table entry.

    The report's best configuration appears in every table; it is trained once (same run folder).
    """
    rows = []
    for varied, values in (tables or SWEEP_TABLES).items():
        for value in values:
            settings = replace(base, **{varied: value})
            rows.append({"varied": varied, "value": value, **settings.asdict()})
    return rows


def run_name(backend: str, settings: CourseSettings, noise: NoiseModel, budget: str, seed: int,
             prefix: str = "") -> str:
    s = settings
    label = noise.label.replace("=", "")
    return (f"{prefix}{backend}_{label}_{budget}_n{s.n_pairs}_e{s.epochs}_b{s.batch_size}_lr{s.lr:g}"
            f"_cf{s.channel_factor}_k{s.kernel_size}_seed{seed}")


def _complete_with(path: Path, params: dict) -> bool:
    """True when the folder holds a finished run trained with exactly ``params``."""
    try:
        info = json.loads((path / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return info.get("status") == "complete" and info.get("params") == json.loads(json.dumps(params, default=str))


def train_run(results_dir: str | Path, name: str, settings: CourseSettings, pairs: scratch_data.PairSet,
              test: scratch_data.HeldOutSet, noise: NoiseModel, *, backend: str = "scratch", budget: str = "cpu",
              seed: int = 0, device="cpu", role: str = "main", evals_per_epoch: int = 2, progress: bool = True,
              extra: dict | None = None) -> runs.Run:
    """Train one model (``backend`` "scratch" or "torch", the twin) and write its run folder.

    The initial weights come from ``seed`` through :func:`course_model` for both backends (the twin
    copies them), and the batch order from ``seed`` too, so the two backends see the same run.
    """
    device = torch.device(device)
    params = {**settings.asdict(), "backend": backend, "role": role,
              "noise_clipped": bool(getattr(noise, "clip", False)),
              "train_set": scratch_data.TRAIN_SET, "test_set": scratch_data.TEST_SET,
              "n_test_patches": len(test), "n_test_images": len(test.full_clean), **(extra or {})}
    path = Path(results_dir) / PAPER / name
    if _complete_with(path, params):
        return runs.Run(path)
    if len(pairs) < settings.n_pairs:
        raise ValueError(f"settings ask for {settings.n_pairs} pairs, {len(pairs)} were drawn")
    pairs = pairs.subset(settings.n_pairs)
    model = course_model(settings.channel_factor, settings.kernel_size,
                         generator=torch.Generator().manual_seed(seed)).to(device)
    learner = ScratchLearner(model, settings.lr) if backend == "scratch" else TorchLearner(torch_twin(model),
                                                                                           settings.lr)
    method = ("scratch_n2n" if backend == "scratch" else "torch_twin_n2n") + ("_sweep" if role == "sweep" else "")
    run = runs.Run.open(results_dir, PAPER, name, method=method, noise=noise.name, param=noise.label,
                        protocol=PROTOCOL, budget=budget, device=device.type, seed=seed, params=params,
                        protocol_text=PROTOCOL_TEXT, threads=torch.get_num_threads(),
                        n_parameters=model.n_parameters())
    curve, timing = fit(learner, pairs, test, epochs=settings.epochs, batch_size=settings.batch_size,
                               seed=seed, device=device, evals_per_epoch=evals_per_epoch, progress=progress,
                               desc=name)
    curve.to_csv(run.path / "curve.csv", index=False)
    if backend == "scratch":
        save(model, run.path / "model.pt")
    else:  # the same {name: tensor} file, so either framework loads either model
        torch.save({k: v.cpu() for k, v in learner.state_dict().items()}, run.path / "model.pt")

    start = time.perf_counter()
    per_patch, pooled = patch_psnr(learner, test, device)
    patch_s = (time.perf_counter() - start) / len(test)
    t1 = time.perf_counter()
    per_full = full_image_psnr(learner, test, device)
    full_s = (time.perf_counter() - t1) / len(test.full_clean)
    rows = [{"dataset": scratch_data.TEST_DATASET_LABEL, "image": n, "repeat": 0, "psnr_db": round(float(v), 5),
             "seconds": round(patch_s, 6)} for n, v in zip(test.names, per_patch)]
    rows += [{"dataset": scratch_data.TEST_SET, "image": n, "repeat": 0, "psnr_db": round(float(v), 5),
              "seconds": round(full_s, 4)} for n, v in zip(test.image_names, per_full)]
    runs.write_atomic(run.per_image_csv, pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS).to_csv(index=False))
    n_batches = curve["iteration"].max()
    run.finish(iterations=int(n_batches), train_wall_s=round(timing.wall_s.sum(), 2),
               train_cpu_s=round(timing.cpu_s.sum(), 2), eval_wall_s=round(time.perf_counter() - start, 2),
               epoch_wall_s=timing.wall_s.round(2).tolist(), epoch_cpu_s=timing.cpu_s.round(2).tolist(),
               s_per_epoch=round(timing.wall_s.mean(), 2), cpu_s_per_epoch=round(timing.cpu_s.mean(), 2),
               test_psnr_db=round(float(per_patch.mean()), 4), test_psnr_pooled_db=round(pooled, 4),
               full_image_psnr_db=round(float(per_full.mean()), 4),
               final_val_psnr_db=round(float(curve["val_psnr_db"].dropna().iloc[-1]), 4))
    return run


def run_sweep(results_dir: str | Path, pairs: scratch_data.PairSet, test: scratch_data.HeldOutSet,
              noise: NoiseModel, *, budget: str, seed: int = 0, device="cpu", progress: bool = True,
              tables: dict[str, tuple] | None = None) -> list[runs.Run]:
    """Every configuration of the report's tables at the budget's sweep size (scratch framework).

    Plain SGD at a constant learning rate ends wherever its last step lands: the held-out PSNR of the
    course's setting swings by about a dB between evaluations. Each sweep run therefore evaluates
    ``sweep_evals_per_epoch`` times per epoch, so that tables can rank by the mean over the last epoch
    as well as by the final model (see :func:`repro.scratch.results.sweep_frame`).
    """
    b = BUDGETS[budget]
    done: dict[str, runs.Run] = {}
    for config in sweep_configs(tables or b.sweep_tables):
        settings = replace(COURSE, **{k: config[k] for k in ("lr", "batch_size", "channel_factor", "kernel_size")},
                           n_pairs=b.sweep_pairs, epochs=b.sweep_epochs)
        name = run_name("scratch", settings, noise, budget, seed, prefix="sweep_")
        if name not in done:  # the report's setting appears in every table: train it once
            done[name] = train_run(results_dir, name, settings, pairs, test, noise, backend="scratch", budget=budget,
                                   seed=seed, device=device, role="sweep", evals_per_epoch=b.sweep_evals_per_epoch,
                                   progress=progress, extra={"evals_per_epoch": b.sweep_evals_per_epoch})
    return list(done.values())


def interleaved_timing(settings: CourseSettings, pairs: scratch_data.PairSet, *, seed: int = 0, device="cpu",
                       rounds: int = 6, steps: int = 50) -> pd.DataFrame:
    """Seconds per SGD step of each framework, measured in alternating rounds on the same batches.

    The two full training runs are timed at different moments of a shared machine; here the frameworks
    alternate every ``steps`` steps, so a busy neighbour slows both alike. One row per (round, backend),
    wall-clock and CPU seconds of this process; ``*_per_epoch`` = per step × steps per epoch of ``settings``.
    """
    device = torch.device(device)
    model = course_model(settings.channel_factor, settings.kernel_size,
                         generator=torch.Generator().manual_seed(seed)).to(device)
    learners = [ScratchLearner(model, settings.lr), TorchLearner(torch_twin(model), settings.lr)]
    batches = batch_order(len(pairs), settings.batch_size, seed, epoch=0)
    steps_per_epoch = -(-settings.n_pairs // settings.batch_size)
    rows = []
    for r in range(rounds + 1):  # round 0 warms both up and is not reported
        for learner in learners:
            index = [batches[(r * steps + i) % len(batches)] for i in range(steps)]
            inputs = [(pairs.noisy_a[i].to(device), pairs.noisy_b[i].to(device)) for i in index]
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0, c0 = time.perf_counter(), time.process_time()
            for x, y in inputs:
                learner.step(x, y)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            per_step, cpu_per_step = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
            if r:
                rows.append({"round": r, "backend": learner.backend, "s_per_step": per_step,
                             "s_per_epoch": per_step * steps_per_epoch, "cpu_s_per_step": cpu_per_step,
                             "cpu_s_per_epoch": cpu_per_step * steps_per_epoch,
                             "threads": torch.get_num_threads(), "device": device.type})
    return pd.DataFrame(rows)


def input_psnr(test: scratch_data.HeldOutSet) -> dict:
    """PSNR of the noisy test input itself (what denoising starts from)."""
    per_patch = metrics.psnr(test.noisy.clamp(0, 1), test.clean, "float")
    pooled = float(-10 * torch.log10(((test.noisy.clamp(0, 1).double() - test.clean.double()) ** 2).mean()))
    return {"input_psnr_db": round(float(per_patch.mean()), 4), "input_psnr_pooled_db": round(pooled, 4)}


def run_table(results_dir: str | Path, names: list[str]) -> pd.DataFrame:
    """The facts of the named run folders (settings, time per epoch, PSNRs), one row each."""
    rows = []
    for name in names:
        info = json.loads((Path(results_dir) / PAPER / name / "run.json").read_text())
        p = info["params"]
        rows.append({"run": name, "backend": p["backend"], "n_pairs": p["n_pairs"], "epochs": p["epochs"],
                     "batch_size": p["batch_size"], "lr": p["lr"], "channel_factor": p["channel_factor"],
                     "kernel_size": p["kernel_size"], "iterations": info.get("iterations"),
                     "s_per_epoch": info.get("s_per_epoch"), "threads": info.get("threads"),
                     "device": info.get("device"), "test_psnr_db": info.get("test_psnr_db"),
                     "test_psnr_pooled_db": info.get("test_psnr_pooled_db"),
                     "full_image_psnr_db": info.get("full_image_psnr_db")})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------
# What the notebook runs


def main_settings(budget: str, epochs: int = 0, batch_size: int = 0, lr: float = 0.0,
                  n_pairs: int = 0) -> CourseSettings:
    """The main run's settings: the report's, with the budget's pairs and epochs; a non-zero argument overrides.

    >>> s = main_settings("smoke", lr=1.0)
    >>> (s.n_pairs, s.epochs, s.batch_size, s.lr)
    (512, 1, 64, 1.0)
    """
    b = BUDGETS[budget]
    return replace(COURSE, epochs=epochs or b.main_epochs, batch_size=batch_size or COURSE.batch_size,
                   lr=lr or COURSE.lr, n_pairs=n_pairs or b.main_pairs)


def timing_dir(results_dir: str | Path, settings: CourseSettings, budget: str, device, seed: int = 0) -> Path:
    device = torch.device(device)
    return Path(results_dir) / PAPER / (f"timing_{budget}_b{settings.batch_size}_cf{settings.channel_factor}"
                                        f"_k{settings.kernel_size}_{device.type}_seed{seed}")


def sweep_dir(results_dir: str | Path, noise: NoiseModel, budget: str, seed: int = 0) -> Path:
    return Path(results_dir) / PAPER / f"sweep_{budget}_{noise.label.replace('=', '')}_seed{seed}"


@dataclass
class Outcome:
    """What :func:`run` made; ``twin_run`` and ``timing`` are None without the twin, ``sweep`` without the sweep."""

    settings: CourseSettings
    noise: NoiseModel
    pairs: scratch_data.PairSet
    test: scratch_data.HeldOutSet
    noisy_input: dict
    main_run: runs.Run
    twin_run: runs.Run | None
    timing: pd.DataFrame | None
    sweep: pd.DataFrame | None


def run(noise: str = "gaussian", sigma: float = 25.0, *, budget: str, device, results_dir, seed: int = 0,
        epochs: int = 0, batch_size: int = 0, lr: float = 0.0, n_pairs: int = 0, twin: bool = True,
        sweep: bool = True, progress: bool = True) -> Outcome:
    """The notebook's work: the main run (:func:`main_settings`), its torch twin and the two frameworks timed
    in turns (``timing.csv``), the report's sweep (its table in ``sweep.csv``), then the summary.

    Every run folder already complete with the same settings, and a timing already measured, is reused.
    """
    b = BUDGETS[budget]
    noise_model = noises.make(noise, sigma)
    main = main_settings(budget, epochs, batch_size, lr, n_pairs)
    pairs = scratch_data.training_pairs(max(main.n_pairs, b.sweep_pairs if sweep else 0), noise_model, seed=seed)
    test = scratch_data.held_out_set(noise_model, per_image=b.test_per_image, n_images=b.test_images)
    noisy_input = input_psnr(test)
    common = dict(budget=budget, seed=seed, device=device, progress=progress, extra=noisy_input)
    main_run = train_run(results_dir, run_name("scratch", main, noise_model, budget, seed), main, pairs, test,
                         noise_model, backend="scratch", **common)
    twin_run = timing = table = None
    if twin:
        twin_run = train_run(results_dir, run_name("torch", main, noise_model, budget, seed), main, pairs, test,
                             noise_model, backend="torch", **common)
        folder = timing_dir(results_dir, main, budget, device, seed)
        if (folder / "timing.csv").exists():
            timing = pd.read_csv(folder / "timing.csv")
        else:
            timing = interleaved_timing(main, pairs, seed=seed, device=device, rounds=b.timing_rounds,
                                        steps=b.timing_steps)
            folder.mkdir(parents=True, exist_ok=True)
            timing.to_csv(folder / "timing.csv", index=False)
    if sweep:
        run_sweep(results_dir, pairs, test, noise_model, budget=budget, seed=seed, device=device, progress=progress)
        table = scratch_results.sweep_frame(budget, seed, noise_model.label, results_dir)
        folder = sweep_dir(results_dir, noise_model, budget, seed)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "sweep.csv", index=False)
    runs.write_summary(results_dir)
    return Outcome(main, noise_model, pairs, test, noisy_input, main_run, twin_run, timing, table)
