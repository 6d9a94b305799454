"""Evaluate any denoiser on benchmark sets under a paper's protocol.

A denoiser is any callable from a noisy float tensor (N, C, H, W) on the [0, 1] scale to the denoised
tensor of the same shape: a trained network from :func:`repro.load`, BM3D, or a per-image fit such as
Zero-Shot Noise2Noise. Results are written one image at a time to a CSV when ``per_image_csv`` is given,
so a killed evaluation resumes where it stopped and recomputes nothing.

>>> from repro import noise, protocols
>>> table = evaluate(lambda y: y, protocols.get("noise2score"), noise.Gaussian(25), datasets=["set12"],
...                  n_images=2, progress=False)
>>> list(table.columns)
['dataset', 'image', 'repeat', 'psnr_db', 'seconds']
>>> bool(20.0 < table.psnr_db.mean() < 20.5)   # the noisy input itself: about 20.2 dB at sigma=25
True
"""
from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from . import data, metrics
from .imageops import pad_reflect
from .noise import Gaussian, NoiseModel
from .progress import progress_bar
from .protocols import Protocol

Denoiser = Callable[[torch.Tensor], torch.Tensor]
COLUMNS = ["dataset", "image", "repeat", "psnr_db", "seconds"]


def noisy_input(protocol: Protocol, noise: NoiseModel, clean: torch.Tensor, dataset: str, index: int,
                repeat: int) -> torch.Tensor:
    """The noisy image the protocol feeds the denoiser: seeded per (image, repeat), clipped if it says so."""
    if protocol.clip_noisy and isinstance(noise, Gaussian):
        noise = dataclasses.replace(noise, clip=True)
    return noise(clean, generator=protocol.generator(dataset, index, repeat))


def evaluate(
    denoiser: Denoiser,
    protocol: Protocol,
    noise: NoiseModel,
    datasets: list[str] | None = None,
    n_images: int | None = None,
    per_image_csv: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Per-image PSNR table (dataset, image, repeat, psnr_db, seconds) of ``denoiser`` under ``protocol``.

    ``n_images`` keeps the first images of each set (smoke runs); ``per_image_csv`` makes the run
    resumable: rows already there are kept and their images skipped.
    """
    datasets = list(datasets or protocol.datasets)
    done: set[tuple[str, str, int]] = set()
    rows: list[dict] = []
    writer = None
    if per_image_csv is not None:
        per_image_csv = Path(per_image_csv)
        per_image_csv.parent.mkdir(parents=True, exist_ok=True)
        if per_image_csv.exists() and per_image_csv.stat().st_size:
            previous = pd.read_csv(per_image_csv, dtype={"image": str})
            rows = previous.to_dict("records")
            done = {(r["dataset"], str(r["image"]), int(r["repeat"])) for r in rows}
        handle = per_image_csv.open("a", newline="")
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if not done:
            writer.writeheader()

    jobs = []
    for name in datasets:
        images = data.load(name)[:n_images]
        for index, image in enumerate(images):
            for repeat in range(protocol.repeats_for(name)):
                if (name, image.name, repeat) not in done:
                    jobs.append((name, index, image, repeat))

    try:
        for name, index, image, repeat in progress_bar(jobs, desc=f"evaluate ({protocol.name})",
                                                       disable=not progress):
            clean = protocol.prepare(image.pixels, name)
            noisy = noisy_input(protocol, noise, clean, name, index, repeat)
            start = time.perf_counter()
            h, w = noisy.shape[-2:]
            padded = pad_reflect(noisy, protocol.pad_multiple) if protocol.pad_multiple > 1 else noisy
            with torch.no_grad():
                estimate = denoiser(padded.to(device)).float().cpu()[..., :h, :w]
            seconds = time.perf_counter() - start
            value = float(metrics.psnr(estimate, clean, protocol.psnr)[0])
            row = {"dataset": name, "image": image.name, "repeat": repeat, "psnr_db": value,
                   "seconds": round(seconds, 4)}
            rows.append(row)
            if writer is not None:
                writer.writerow(row)
                handle.flush()
    finally:
        if writer is not None:
            handle.close()
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {name: i for i, name in enumerate(datasets)}
    table = table[table.dataset.isin(order)]
    return table.sort_values(["dataset", "image", "repeat"], key=lambda s: s.map(order) if s.name == "dataset"
                             else s).reset_index(drop=True)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per data set: mean PSNR over images (repeats averaged first), its 95% interval, counts."""
    out = []
    for name, group in table.groupby("dataset", sort=False):
        per_image = group.groupby("image").psnr_db.mean()
        mean, ci = metrics.mean_ci95(per_image.values)
        out.append({"dataset": name, "psnr_db": round(mean, 3), "ci95_db": round(ci, 3),
                    "n_images": int(per_image.size), "n_evaluations": int(len(group))})
    return pd.DataFrame(out)


class Validator:
    """Mean PSNR of a model on a few fixed, centre-cropped noisy images: the training curve's monitor.

    Used only to draw the curve, never to select weights (the final weights are always evaluated).
    """

    def __init__(self, dataset: str, noise: NoiseModel, n_images: int = 4, crop: int = 256, channels: int = 3,
                 flavour: str = "uint8", seed: int = 12345):
        clean = []
        for image in data.load(dataset)[:n_images]:
            px = data.to_rgb(image.pixels) if channels == 3 else data.to_gray(image.pixels)
            h, w = px.shape[:2]
            c = min(crop, h, w)
            top, left = (h - c) // 2, (w - c) // 2
            clean.append(torch.from_numpy(px[top:top + c, left:left + c].copy()).permute(2, 0, 1).float() / 255)
        self.clean = torch.stack(clean)
        self.noisy = noise(self.clean, generator=torch.Generator().manual_seed(seed))
        self.flavour = flavour

    def __call__(self, model) -> float:
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(self.noisy.to(device)).float().cpu()
        return float(metrics.psnr(out, self.clean, self.flavour).mean())
