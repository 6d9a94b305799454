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
import io
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from . import data, metrics
from .imageops import pad_reflect
from .noise import Gaussian, NoiseModel, draw
from .progress import progress_bar
from .protocols import Protocol

Denoiser = Callable[[torch.Tensor], torch.Tensor]
COLUMNS = ["dataset", "image", "repeat", "psnr_db", "seconds"]


def noisy_input(protocol: Protocol, noise: NoiseModel, clean: torch.Tensor, dataset: str, index: int,
                repeat: int, with_level: bool = False):
    """The noisy image the protocol feeds the denoiser: seeded per (image, repeat), clipped if it says so.

    ``with_level``: also its noise level (σ, 0-255, shape (N,)), for a denoiser told each image's level.
    """
    if protocol.clip_noisy and isinstance(noise, Gaussian):
        noise = dataclasses.replace(noise, clip=True)
    noisy, level = draw(noise, clean, protocol.generator(dataset, index, repeat))
    if not with_level:
        return noisy
    if level is None:
        raise ValueError(f"{noise.label}: this noise model does not report a per-image level")
    return noisy, level


def takes_noise_level(denoiser) -> bool:
    """Whether ``denoiser`` must be told each image's noise level (``noise_level=``, σ on the 0-255 scale)."""
    return bool(getattr(denoiser, "takes_noise_level", False))


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
            # torn or malformed lines (a crash mid-write) are dropped from the file: their images are scored again
            previous = read_per_image(per_image_csv, repair=True)
            rows = previous.to_dict("records")
            done = {(r["dataset"], str(r["image"]), int(r["repeat"])) for r in rows}
        handle = per_image_csv.open("a", newline="")
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if handle.tell() == 0:  # a new (or emptied) file; a file holding only its header keeps that one
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
            known = {}
            if takes_noise_level(denoiser):
                noisy, known["noise_level"] = noisy_input(protocol, noise, clean, name, index, repeat, with_level=True)
            else:
                noisy = noisy_input(protocol, noise, clean, name, index, repeat)
            start = time.perf_counter()
            with torch.no_grad():
                estimate = apply(denoiser, protocol, noisy.to(device), **known).float().cpu()
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


REQUIRED = ("dataset", "image", "repeat", "psnr_db")  # what summarize() and a resume need of every row


def apply(denoiser, protocol: Protocol, noisy: torch.Tensor, **known) -> torch.Tensor:
    """The denoiser on ``noisy`` as the protocol runs it: reflect-padded to ``pad_multiple``, cropped back;
    ``known``: what the denoiser is told beside the image (``noise_level``)."""
    h, w = noisy.shape[-2:]
    padded = pad_reflect(noisy, protocol.pad_multiple) if protocol.pad_multiple > 1 else noisy
    return denoiser(padded, **known)[..., :h, :w]


def read_per_image(path: str | Path, repair: bool = False) -> pd.DataFrame:
    """A ``per_image.csv`` as a table, without the lines a crash can leave behind.

    The file is appended one line per image, so a process killed mid-write can leave a last line without its
    newline (e.g. ``kodak24,kodim05,0,2``), or a header without its rows. A line is kept only when it ends with
    a newline, has as many fields as the header, names a dataset and an image, and its ``repeat`` (an integer)
    and ``psnr_db`` (a number) parse; the others are dropped with a warning naming the file and the lines. With
    ``repair`` the file is rewritten without them (via a temporary file), so that an evaluation resumed on it
    appends to whole lines and scores those images again.
    """
    path = Path(path)
    raw = path.read_bytes().decode("utf-8", errors="surrogateescape")  # a torn multi-byte character too
    lines = raw.split("\n")  # the last item is "" when the file ends with a newline, else a torn line
    whole, torn = lines[:-1], lines[-1]
    header = next(csv.reader([whole[0].rstrip("\r")]), []) if whole else []
    kept, dropped = [], []
    if header:
        if not set(REQUIRED) <= set(header):
            raise ValueError(f"{path}: the header {header} lacks {sorted(set(REQUIRED) - set(header))}; "
                             "not a per-image table written by repro")
        where = {name: header.index(name) for name in REQUIRED}
        for number, line in enumerate(whole[1:], start=2):
            if not line.strip():
                continue
            fields = next(csv.reader([line.rstrip("\r")]), [])
            (kept if len(fields) == len(header) and _whole_row(fields, where) else dropped).append((number, line))
        if torn.strip():
            dropped.append((len(lines), torn))
    elif raw.strip():  # even the header was cut short
        dropped.append((1, raw))
    if dropped:
        named = "; ".join(f"line {n}: {text.rstrip(chr(13))!r}" for n, text in dropped[:5])
        more = f" (and {len(dropped) - 5} more)" if len(dropped) > 5 else ""
        then = ("removed from the file; the evaluation scores those images again" if repair else
                "left out; resuming the evaluation scores those images again")
        warnings.warn(f"{path}: {len(dropped)} torn or malformed line(s) {then}: {named}{more}", stacklevel=2)
    text = "".join(line + "\n" for line in ([whole[0]] if header else []) + [line for _, line in kept])
    if repair and dropped:
        tmp = path.with_name(f".{path.name}.repair")
        try:
            tmp.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if not header:
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(io.StringIO(text), dtype={"image": str})


def _whole_row(fields: list[str], where: dict[str, int]) -> bool:
    try:
        return (bool(fields[where["dataset"]]) and bool(fields[where["image"]])
                and float(fields[where["repeat"]]).is_integer() and isinstance(float(fields[where["psnr_db"]]), float))
    except ValueError:  # an empty or cut field: "" or "2.3e" do not parse (a measured "nan" or "inf" does)
        return False


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
        self.noisy, self.levels = draw(noise, self.clean, torch.Generator().manual_seed(seed))
        self.flavour = flavour

    def __call__(self, model) -> float:
        device = next(model.parameters()).device
        known = {"noise_level": self.levels} if takes_noise_level(model) else {}
        with torch.no_grad():
            out = model(self.noisy.to(device), **known).float().cpu()
        return float(metrics.psnr(out, self.clean, self.flavour).mean())
