"""Zero-Shot Noise2Noise experiments: the published crop check, full-set run folders, timing, presets compared.

The method (network, pair downsampler, loss, the FAST and PAPER presets with their sources, fitting one
image) is :mod:`repro.methods.zsn2n`; this module puts it to work on the zs_n2n protocol's noisy images and
writes run folders under ``results/zs_n2n/``. :func:`run` is what the notebook calls: the method on one
image, the published check on Kodak crops, then a full set, in that order.

Run folders: ``<noise>_<dataset>`` (the paper's protocol, method ``zs-n2n``; the ``cpu`` and ``paper``
budgets share it, both are the paper's 3000 steps), ``fast_2fits_<noise>_<dataset>`` (:data:`repro.methods.zsn2n.FAST`,
two fits averaged, method ``zs-n2n fast, 2 fits``; :func:`preset_label`), ``fast_<noise>_<dataset>`` (its one-fit
form, the default until two fits; method ``zs-n2n fast``), all fitted on the same noisy images, and
``crops<size>_<noise>_kodak24`` (the crop check, ``per_crop.csv``, out of ``summary.csv``).
"""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .. import data, metrics, noise as noises, protocols, runs
from ..device import resolve_device
from ..evaluate import evaluate, noisy_input, read_per_image
from ..methods.zsn2n import (PAPER, PATHS, PRESETS, Fit, Settings, ZeroShotN2N, denoise_with, fast_precision, fit,
                             steps_for_budget)
from ..progress import progress_bar

NAME = "zs_n2n"  # results/zs_n2n/, its protocol and its entry in repro.papers
EXAMPLE_IMAGE = 0  # the method shown on one image: Kodak image 1


def noise_for(noise: str = "gaussian", sigma: float = 25.0, lam: float = 50.0):
    """Gaussian σ (noisy image clipped to [0, 1], as in the Colab) or Poisson λ (not clipped).

    >>> noise_for("gaussian", 25).label, noise_for("poisson", lam=50).label
    ('sigma=25', 'lam=50')
    """
    if noise not in ("gaussian", "poisson"):
        raise ValueError(f"ZS-N2N is scored here under gaussian or poisson noise, not '{noise}'")
    return noises.make(noise, sigma if noise == "gaussian" else lam)


def crop_side(budget: str) -> int:
    """Side of the centre crops of the published check and of the one-image example (smoke: 64).

    >>> crop_side("cpu"), crop_side("smoke")
    (256, 64)
    """
    return 64 if budget == "smoke" else 256


# ---------------------------------------------------------------------------------------------------
# The published check: centre crops, both paths on the same noisy crop


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central size x size window (the whole image along a shorter side).

    >>> centre_crop(torch.zeros(1, 3, 512, 768), 256).shape
    torch.Size([1, 3, 256, 256])
    """
    h, w = x.shape[-2:]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return x[..., top:top + size, left:left + size]


CROP_COLUMNS = ["dataset", "image", "crop", "path", "precision", "steps", "noisy_psnr_db", "psnr_db",
                "fit_seconds", "fit_cpu_seconds", "threads"]


def crop_check(protocol, noise, dataset: str, images, crop: int | None, paths: dict[str, int | None],
               csv_path: str | Path, steps: int | None = None, seed: int = 0,
               device: str | torch.device = "auto", progress: bool = True, first_index: int = 0) -> pd.DataFrame:
    """Fit each (image, path) on the same noisy crop; one row per fit, appended to ``csv_path`` as it goes.

    ``images`` are :class:`repro.data.Image` of ``dataset`` in set order (their index seeds the noise,
    as in :func:`repro.evaluate.evaluate`); ``paths`` maps each path to how many of the first images it
    runs on (``None``: all), so the slow reference path can be timed on a few. ``crop=None`` keeps the
    full image. Rows already in the CSV are skipped: a killed check resumes. ``first_index`` is the set
    index of ``images[0]`` (to split the work between processes writing the same CSV).
    """
    csv_path = Path(csv_path)
    done = set()
    if csv_path.exists() and csv_path.stat().st_size:
        previous = pd.read_csv(csv_path, dtype={"image": str})
        done = {(r.dataset, r.image, int(r.crop), r.path) for r in previous.itertuples()}
    crop_label = crop or 0
    jobs = [(index, image, path) for index, image in enumerate(images, first_index) for path, count in paths.items()
            if (count is None or index < count) and (dataset, image.name, crop_label, path) not in done]
    new_file = not done
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CROP_COLUMNS)
        if new_file:
            writer.writeheader()
        for index, image, path in progress_bar(jobs, desc=f"zs-n2n {dataset} crops", disable=not progress):
            clean = protocol.prepare(image.pixels, dataset)
            clean = centre_crop(clean, crop) if crop else clean
            noisy = noisy_input(protocol, noise, clean, dataset, index, 0)
            result = fit(noisy, steps, path, device, seed, progress=progress)
            estimate = denoise_with(result.model, noisy)
            writer.writerow({
                "dataset": dataset, "image": image.name, "crop": crop_label, "path": path,
                "precision": result.precision, "steps": result.steps,
                "noisy_psnr_db": round(float(metrics.psnr(noisy.clamp(0, 1), clean, protocol.psnr)[0]), 4),
                "psnr_db": round(float(metrics.psnr(estimate, clean, protocol.psnr)[0]), 4),
                "fit_seconds": round(result.seconds, 2), "fit_cpu_seconds": round(result.cpu_seconds, 2),
                "threads": torch.get_num_threads(),
            })
            handle.flush()
    return pd.read_csv(csv_path, dtype={"image": str})


def compare_paths(table: pd.DataFrame) -> pd.DataFrame:
    """Per image fitted by both paths: PSNR of each, their difference and the fast path's speed-up
    (wall clock, and CPU time of the fitting process, which other jobs on a shared machine do not inflate).

    >>> rows = [("a", "reference", 30.00, 100.0, 90.0), ("a", "fast", 30.02, 40.0, 30.0), ("b", "fast", 29.0, 4, 3)]
    >>> t = pd.DataFrame(rows, columns=["image", "path", "psnr_db", "fit_seconds", "fit_cpu_seconds"])
    >>> compare_paths(t.assign(dataset="k", crop=0))[["image", "delta_db", "speedup", "speedup_cpu"]].values.tolist()
    [['a', 0.02, 2.5, 3.0]]
    """
    keys = ["dataset", "image", "crop"]
    table = table.drop_duplicates(keys + ["path"])  # two processes may have fitted the same crop
    both = pd.merge(table[table.path == "reference"], table[table.path == "fast"], on=keys,
                    suffixes=("_reference", "_fast")).set_index(keys)
    out = pd.DataFrame({
        "psnr_reference_db": both.psnr_db_reference, "psnr_fast_db": both.psnr_db_fast,
        "delta_db": (both.psnr_db_fast - both.psnr_db_reference).round(4),
        "seconds_reference": both.fit_seconds_reference, "seconds_fast": both.fit_seconds_fast,
        "speedup": (both.fit_seconds_reference / both.fit_seconds_fast).round(2),
        "cpu_seconds_reference": both.fit_cpu_seconds_reference, "cpu_seconds_fast": both.fit_cpu_seconds_fast,
        "speedup_cpu": (both.fit_cpu_seconds_reference / both.fit_cpu_seconds_fast).round(2),
    })
    return out.reset_index()


# ---------------------------------------------------------------------------------------------------
# Run folders


def run_name(noise, dataset: str, budget: str, crop: int | None = None, n_images: int | None = None) -> str:
    """Folder name of a ZS-N2N run; ``cpu`` and ``paper`` budgets share it (both are the paper's 3000 steps).

    >>> from repro.noise import Gaussian
    >>> run_name(Gaussian(25), "kodak24", "cpu"), run_name(Gaussian(25), "kodak24", "smoke", crop=256, n_images=1)
    ('sigma25_kodak24', 'crops256_sigma25_kodak24_first1_smoke')
    """
    name = f"{noise.label.replace('=', '')}_{dataset}"
    if crop:
        name = f"crops{crop}_{name}"
    if n_images is not None:
        name += f"_first{n_images}"
    return name + ("_smoke" if steps_for_budget(budget) != PAPER.steps else "")


def _open_run(results_dir, name: str, noise, protocol, budget: str, device, steps: int, seed: int,
              settings: Settings = PAPER, method: str = "zs-n2n", **params):
    fields = {"steps": steps, "lr": settings.lr, "lr_step": settings.lr_step, "lr_gamma": settings.lr_gamma,
              "width": settings.width}
    if settings != PAPER:  # the paper's runs keep their run.json as it was
        fields.update({k: v for k, v in dataclasses.asdict(settings).items() if k not in fields and k != "steps"})
        fields["settings"] = settings.describe()
    # a folder holds the fits of one set of settings (as after a change of zsn2n.FAST, its finished images would
    # be labelled with others); not compared: "threads" (params' is the process's) and the wording of "settings"
    unchanged = tuple(k for k in fields if k not in ("threads", "settings"))
    return runs.Run.open(results_dir, NAME, name, unchanged=unchanged, method=method, noise=noise.name,
                         param=noise.label, protocol=protocol.name, budget=budget, device=str(device),
                         iterations=steps, train_wall_s=0.0, seed=seed,
                         params={**fields, "threads": torch.get_num_threads(), **params})


def crop_check_run(results_dir, protocol, noise, dataset: str = "kodak24", crop: int = 256,
                   n_images: int | None = None, n_reference: int = 0, budget: str = "cpu",
                   device: str | torch.device = "auto", seed: int = 0, progress: bool = True):
    """The published check in a run folder: per-crop PSNR of the fast path on the first ``n_images`` crops,
    and of the fp32 reference path on the first ``n_reference`` of them (same noisy crops), in
    ``per_crop.csv``. Not a per-image table of the full set, so it stays out of ``summary.csv``."""
    device = resolve_device(device) if isinstance(device, str) else device
    steps = steps_for_budget(budget)
    images = data.load(dataset)[:n_images]
    run = _open_run(results_dir, run_name(noise, dataset, budget, crop, n_images), noise, protocol, budget,
                    device, steps, seed, crop=crop, dataset=dataset, n_reference=n_reference,
                    fast_precision=fast_precision(device))
    table = crop_check(protocol, noise, dataset, images, crop, {"reference": n_reference, "fast": None},
                       run.path / "per_crop.csv", steps, seed, device, progress)
    compare = compare_paths(table)
    run.finish(n_fits=len(table), mean_speedup=float(compare.speedup.mean()) if len(compare) else None,
               mean_speedup_cpu=float(compare.speedup_cpu.mean()) if len(compare) else None,
               max_abs_delta_db=float(compare.delta_db.abs().max()) if len(compare) else None)
    return run, table


def preset_label(preset: str, settings: Settings | None = None) -> str:
    """The run-folder prefix of a preset's full-set runs: its name, with the number of fits averaged when more
    than one (each number of fits is a run of its own; ``settings`` defaults to the preset's).

    >>> preset_label("fast"), preset_label("fast", Settings(fits=1)), preset_label("paper")
    ('fast_2fits', 'fast', 'paper')
    """
    fits = (settings or PRESETS[preset]).fits
    return preset if fits == 1 else f"{preset}_{fits}fits"


def full_set_run(results_dir, protocol, noise, dataset: str, n_images: int | None = None, budget: str = "cpu",
                 device: str | torch.device = "auto", seed: int = 0, progress: bool = True, preset: str = "paper",
                 fits: int | None = None):
    """Evaluate ZS-N2N (fast path) on full-size images of a set, resumable image by image.

    ``preset`` "paper" (the committed ``sigma25_kodak24``-style runs) or "fast" (``zsn2n.FAST``, the default
    of ``repro denoise``: its own run folder ``fast_2fits_<noise>_<dataset>`` and method ``zs-n2n fast, 2 fits``,
    fitted on the same noisy images). ``fits`` overrides the preset's number of fits averaged (1: the folder
    ``fast_<noise>_<dataset>``, method ``zs-n2n fast``).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got '{preset}'")
    device = resolve_device(device) if isinstance(device, str) else device
    settings = PRESETS[preset] if fits is None else dataclasses.replace(PRESETS[preset], fits=fits)
    steps = steps_for_budget(budget)
    name = run_name(noise, dataset, budget, None, n_images)
    method = "zs-n2n" if preset == "paper" else f"zs-n2n {preset}"
    if settings.fits > 1:
        method += f", {settings.fits} fits"
    if preset != "paper" or settings.fits > 1:
        name, settings = f"{preset_label(preset, settings)}_{name}", dataclasses.replace(settings, steps=steps)
    run = _open_run(results_dir, name, noise, protocol, budget, device, steps, seed, settings,
                    method, dataset=dataset, n_images=n_images,
                    path="fast", fast_precision=fast_precision(device),
                    **({} if preset == "paper" else {"preset": preset}))
    denoiser = ZeroShotN2N(steps=steps, path="fast", device=device, seed=seed, settings=settings,
                           progress=progress)
    table = evaluate(denoiser, protocol, noise, datasets=[dataset], n_images=n_images,
                     per_image_csv=run.per_image_csv, device=device, progress=progress)
    # reached once every image is done; the sum of per-image fits counts every session of a resumed run
    run.finish(eval_wall_s=round(float(table.seconds.sum()), 1), fit_seconds_mean=round(float(table.seconds.mean()), 2))
    return run, table


def step_timing(shapes, steps: int = 20, warmup: int = 3, device: str | torch.device = "cpu",
                seed: int = 0) -> pd.DataFrame:
    """Seconds per optimisation step of each path on random images of the given (C, H, W) shapes.

    CPU time of this process is reported beside wall time: on a machine shared with other jobs it is
    the fair measure of the work each path does (with one thread it equals the wall time of an idle core).
    """
    device = resolve_device(device) if isinstance(device, str) else device
    rows = []
    for shape in shapes:
        y = torch.rand((1, *shape), generator=torch.Generator().manual_seed(seed))
        for path in PATHS:
            fit(y, warmup, path, device, seed)  # allocator and oneDNN kernel selection
            result = fit(y, steps, path, device, seed)
            rows.append({"shape": "x".join(map(str, shape)), "path": path, "precision": result.precision,
                         "steps": steps, "cpu_s_per_step": round(result.cpu_seconds / steps, 6),
                         "wall_s_per_step": round(result.seconds / steps, 6), "threads": torch.get_num_threads(),
                         "device": str(device)})
    table = pd.DataFrame(rows)
    ref = table[table.path == "reference"].set_index("shape")
    table["speedup_cpu"] = (table["shape"].map(ref.cpu_s_per_step) / table.cpu_s_per_step).round(2)
    return table


# ---------------------------------------------------------------------------------------------------
# The fast preset against the paper's protocol, on the same noisy images


def probe_inputs(indices, done=(), dataset: str = "kodak24", results_dir=None):
    """The probes' inputs (results/zs_n2n/*_probe.py): for each image index not named in ``done``, its name,
    clean and noisy images (Gaussian σ = 25, the same noisy input as the committed runs), and the committed
    PSNR of the paper protocol (``sigma25_<dataset>``) and of one fast fit (``fast_sigma25_<dataset>``, the
    default until two fits: the probes score ways of spending more work on it)."""
    root = Path(results_dir or runs.default_results_dir()) / NAME
    protocol, noise = protocols.get(NAME), noise_for("gaussian", sigma=25.0)
    paper, fast = (pd.read_csv(root / f"{name}_{dataset}" / "per_image.csv").set_index("image").psnr_db
                   for name in ("sigma25", "fast_sigma25"))
    images = data.load(dataset)
    for i in indices:
        image = images[i]
        if image.name in done:
            continue
        clean = protocol.prepare(image.pixels, dataset)
        yield image.name, clean, noisy_input(protocol, noise, clean, dataset, i, 0), paper[image.name], fast[image.name]


def probe_done(path, settings: Settings, variant: str | None = None) -> set:
    """The images a probe's CSV (appended image by image) already holds for ``variant``, so that a killed probe
    resumes; refused if those rows were fitted with other settings (as after a change of zsn2n.FAST), which the
    resumed probe would otherwise mix with its own."""
    path = Path(path)
    if not path.exists():
        return set()
    rows = pd.read_csv(path)
    rows = rows if variant is None else rows[rows.variant == variant]
    other = set(rows.settings) - {settings.describe()}
    if other:
        raise ValueError(f"{path.name}{f' ({variant})' if variant else ''} holds fits with other settings: "
                         f"{sorted(other)}; move it aside to probe {settings.describe()}")
    return set(rows.image)


def schedule_of(params: dict) -> str:
    """A run's learning rate and schedule, from its run.json ``params`` (a preset has changed them before), in
    :meth:`Settings.describe_lr`'s words.

    >>> schedule_of({"lr": 0.002, "schedule": "step", "lr_step": 1000, "lr_gamma": 0.5})
    'lr 0.002 halved every 1000 steps'
    >>> schedule_of({"lr": 0.003, "schedule": "cosine"})
    'lr 0.003 with cosine decay to 0'
    """
    return Settings(**{k: params[k] for k in ("lr", "lr_step", "lr_gamma", "schedule") if k in params}).describe_lr()


def compare_presets(results_dir=None, noise_label: str = "sigma25", datasets=("kodak24", "mcmaster18"),
                    preset: str = "fast", fits: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per data set, the ``preset`` run folder (``fast_2fits_sigma25_kodak24``; with ``fits=1``
    ``fast_sigma25_kodak24``) against the paper's (``sigma25_kodak24``), paired by image (the protocol's seeds give
    both the same noisy image): ``(summary, per_image)``; columns named after ``preset`` whatever ``fits``.

    ``summary``: images in both, the preset run's learning rate and schedule (:func:`schedule_of`), mean PSNR of
    each, the mean paired difference (preset - paper) with its 95% interval, the worst image and its difference, and
    mean seconds per image of each run (as recorded in its ``per_image.csv``, threads from its ``run.json``). Sets
    without both folders are left out.
    """
    root = Path(results_dir or runs.default_results_dir()) / NAME
    summary, pairs = [], []
    for dataset in datasets:
        label = preset_label(preset, None if fits is None else dataclasses.replace(PRESETS[preset], fits=fits))
        paper_dir, fast_dir = root / f"{noise_label}_{dataset}", root / f"{label}_{noise_label}_{dataset}"
        if not ((paper_dir / "per_image.csv").exists() and (fast_dir / "per_image.csv").exists()):
            continue
        paper = read_per_image(paper_dir / "per_image.csv").groupby("image")[["psnr_db", "seconds"]].mean()
        fast = read_per_image(fast_dir / "per_image.csv").groupby("image")[["psnr_db", "seconds"]].mean()
        both = paper.join(fast, lsuffix="_paper", rsuffix=f"_{preset}", how="inner")
        if both.empty:
            continue
        both["delta_db"] = both[f"psnr_db_{preset}"] - both["psnr_db_paper"]
        pairs.append(both.reset_index().assign(dataset=dataset))
        mean, ci = metrics.mean_ci95(both.delta_db.values)
        worst = both.delta_db.idxmin()
        params = [json.loads((d / "run.json").read_text()).get("params", {}) for d in (paper_dir, fast_dir)]
        summary.append({
            "dataset": dataset, "fits": params[1].get("fits", 1), "n_images": len(both),
            "schedule": schedule_of(params[1]),
            "psnr_paper_db": round(float(both.psnr_db_paper.mean()), 3),
            f"psnr_{preset}_db": round(float(both[f"psnr_db_{preset}"].mean()), 3),
            "delta_db": round(mean, 3), "delta_ci95_low": round(mean - ci, 3), "delta_ci95_high": round(mean + ci, 3),
            "worst_image": worst, "worst_delta_db": round(float(both.delta_db[worst]), 3),
            "seconds_paper": round(float(both.seconds_paper.mean()), 1),
            f"seconds_{preset}": round(float(both[f"seconds_{preset}"].mean()), 1),
            "threads_paper": params[0].get("threads"), f"threads_{preset}": params[1].get("threads"),
        })
    per_image = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame()
    return pd.DataFrame(summary), per_image


# (label, probe file, its variant or None, PSNR column, crops fitted per step over all fits, timing way)
SECOND_CORE_WAYS = [
    ("one fit, 16 crops a step, 1 thread (the default until two)", "ensemble_probe.csv", None, "seed0_db", 16,
     "default_1thread"),
    ("two such fits averaged, one per core (the default until cosine)", "ensemble_probe.csv", None, "two_seeds_db",
     32, "two_fits_1thread"),
    ("one fit, 32 crops a step, 2 threads", "settings_probe.csv", "batch32", "seed0_db", 32, "batch32_2threads"),
    ("two 32-crop fits averaged", "settings_probe.csv", "batch32", "average_db", 64, None),
    ("one fit, 16 crops, cosine decay from lr 3e-3", "settings_probe.csv", "cosine_lr3e-3_2seeds", "seed0_db", 16,
     None),
    ("two such cosine fits averaged (the default)", "settings_probe.csv", "cosine_lr3e-3_2seeds", "average_db", 32,
     None),
]
DEFAULT_WAY = SECOND_CORE_WAYS[-1][0]  # zsn2n.FAST: its probe rows record its settings


def second_core(results_dir=None) -> pd.DataFrame:
    """What spending more work on the fast default buys, on the probe images (results/zs_n2n/ensemble_probe.csv and
    settings_probe.csv, Kodak at Gaussian σ=25, the committed runs' noisy inputs) and what it costs in wall time
    (results/timing/zsn2n_cores.csv: full fits of a Kodak-size image on 2 otherwise idle cores, in the same run).

    One row per way probed on every image of the first (the default's probe; a probe still under way is left
    out), all on those images: the mean PSNR difference to
    the paper protocol's fit of the same noisy image, the worst image, the crops fitted per step (all fits
    together: the work), the median measured wall seconds of the fit (NaN: not timed), and whether it is the
    default (:data:`DEFAULT_WAY`).
    """
    root = Path(results_dir or runs.default_results_dir())
    timing_path = root / "timing" / "zsn2n_cores.csv"
    walls = (pd.read_csv(timing_path).groupby("way").fit_wall_s.median() if timing_path.exists() else pd.Series())
    files = {file for _, file, *_ in SECOND_CORE_WAYS if (root / NAME / file).exists()}
    probes = {file: pd.read_csv(root / NAME / file) for file in files}
    gaps = {}
    for label, file, variant, column, _, _ in SECOND_CORE_WAYS:
        if file not in probes:
            continue
        probe = probes[file]
        if variant is not None:
            probe = probe[probe.variant == variant]
        if len(probe):
            gaps[label] = (probe[column] - probe.paper_db).set_axis(probe.image)
    if not gaps:
        return pd.DataFrame()
    # a probe still under way (it appends image by image) is left out until it has every image of the first way's
    common = sorted(next(iter(gaps.values())).index)
    gaps = {label: g for label, g in gaps.items() if set(common) <= set(g.index)}
    rows = [{"way": label, "mean_minus_paper_db": gaps[label][common].mean(), "worst_db": gaps[label][common].min(),
             "images": len(common), "crops_per_step": crops, "fit_wall_s": walls.get(way, float("nan")),
             "default": label == DEFAULT_WAY}
            for label, _, _, _, crops, way in SECOND_CORE_WAYS if label in gaps]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------
# What the notebook runs


@dataclass
class Example:
    """The method on one image: a centre crop of a Kodak image, its noisy version, the fit and its estimate."""

    clean: torch.Tensor
    noisy: torch.Tensor
    denoised: torch.Tensor
    fit: Fit


@dataclass
class Outcome:
    """What :func:`run` made: the example, the crop check (None when skipped), the full-set run and its table,
    and the full set paired with the paper-protocol run (``preset`` other than "paper"; None otherwise)."""

    example: Example
    crop_run: runs.Run | None
    crops: pd.DataFrame | None
    run: runs.Run
    table: pd.DataFrame
    presets: pd.DataFrame | None


def example(protocol, noise, budget: str, device, seed: int = 0) -> Example:
    """Fit the centre crop (:func:`crop_side`) of Kodak image 1 under ``protocol``'s seeded ``noise`` (fast path)."""
    image = data.load("kodak24")[EXAMPLE_IMAGE]
    clean = centre_crop(protocol.prepare(image.pixels, "kodak24"), crop_side(budget))
    noisy = noisy_input(protocol, noise, clean, "kodak24", EXAMPLE_IMAGE, 0)
    fitted = fit(noisy, steps=steps_for_budget(budget), path="fast", device=device, seed=seed)
    return Example(clean, noisy, denoise_with(fitted.model, noisy), fitted)


def run(noise: str = "gaussian", sigma: float = 25.0, lam: float = 50.0, dataset: str = "kodak24",
        n_images: int = 0, n_crops: int = 24, n_reference: int = 3, *, budget: str, device, results_dir,
        seed: int = 0, preset: str = "paper", progress: bool = True) -> Outcome:
    """The notebook's work: the example, the published check on the centre crops of the first ``n_crops``
    Kodak images (0: skip; the reference path on the first ``n_reference``), then the first ``n_images``
    full-size images of ``dataset`` (0: all) with ``preset``, and its summary written.

    At budget ``smoke`` one image and at most one crop of each. Every step resumes from its CSV.
    """
    protocol, evaluation_noise = protocols.get(NAME), noise_for(noise, sigma, lam)
    if budget == "smoke":
        n_images, n_crops, n_reference = 1, min(n_crops, 1), min(n_reference, 1)
    shown = example(protocol, evaluation_noise, budget, device, seed)
    crop_run = crops = None
    if n_crops:
        n_kodak = len(data.load("kodak24"))
        crop_run, crops = crop_check_run(results_dir, protocol, evaluation_noise, "kodak24", crop=crop_side(budget),
                                         n_images=None if n_crops >= n_kodak else n_crops, n_reference=n_reference,
                                         budget=budget, device=device, seed=seed, progress=progress)
    full, table = full_set_run(results_dir, protocol, evaluation_noise, dataset, n_images=n_images or None,
                               budget=budget, device=device, seed=seed, progress=progress, preset=preset)
    runs.write_summary(results_dir)
    presets = None
    if preset != "paper":
        presets, _ = compare_presets(results_dir, evaluation_noise.label.replace("=", ""), [dataset], preset)
    return Outcome(shown, crop_run, crops, full, table, presets)
