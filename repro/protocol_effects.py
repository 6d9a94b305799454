"""Measure how much each evaluation choice moves PSNR, on one and the same denoiser.

Each variant is a run folder ``results/protocol/<effect>__<variant>/`` (read by
:func:`repro.report.protocol_effects`); the reference variant of each effect is the Noise2Noise/SSDN
convention. Choices measured here, all at test time on a trained model:

* clipping the noisy input to [0, 1] (the ZS-N2N notebook does, NVlabs code does not);
* PSNR on uint8-rounded images vs float (NVlabs/SSDN vs Noise2Score/ZS-N2N);
* Set14 with 14 images (SSDN) vs 12 (Neighbor2Neighbor drops the gray bridge and man).
"""
from __future__ import annotations

import dataclasses
import re
import time

from . import runs
from .evaluate import evaluate
from .protocols import Protocol

SET14_NB2NB_DROPS = ("bridge", "man")  # Neighbor2Neighbor's validation/Set14 holds the other 12


def _record(results_dir, effect: str, variant: str, reference: bool, table, info: dict) -> runs.Run:
    slug = lambda text: re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")  # noqa: E731
    run = runs.Run.open(results_dir, "protocol", f"{slug(effect)}__{slug(variant)}",
                        effect=effect, variant=variant, reference=reference, **info)
    run.per_image_csv.unlink(missing_ok=True)
    table.to_csv(run.per_image_csv, index=False)
    run.finish()
    return run


def measure(denoiser, base: Protocol, noise, results_dir, info: dict, datasets=("kodak24", "set14"),
            n_images: int | None = None, progress: bool = True) -> list[runs.Run]:
    """Evaluate ``denoiser`` under ``base`` and its variants; ``info`` (method, source run, budget...) is recorded."""
    start = time.perf_counter()
    kw = dict(datasets=list(datasets), n_images=n_images, progress=progress)
    reference = evaluate(denoiser, base, noise, **kw)
    clipped = evaluate(denoiser, dataclasses.replace(base, clip_noisy=True), noise, **kw)
    as_float = evaluate(denoiser, dataclasses.replace(base, psnr="float"), noise, **kw)
    info = {**info, "base_protocol": base.name, "eval_wall_s": round(time.perf_counter() - start, 1)}
    made = [
        _record(results_dir, "clip the noisy input", "not clipped", True, reference, info),
        _record(results_dir, "clip the noisy input", "clipped to [0,1]", False, clipped, info),
        _record(results_dir, "PSNR flavour", "uint8 rounded", True, reference, info),
        _record(results_dir, "PSNR flavour", "float", False, as_float, info),
    ]
    if "set14" in datasets:
        set14 = reference[reference.dataset == "set14"]
        made += [
            _record(results_dir, "Set14 composition", "14 images (SSDN)", True, set14, info),
            _record(results_dir, "Set14 composition", "12 images (Nb2Nb)", False,
                    set14[~set14.image.isin(SET14_NB2NB_DROPS)], info),
        ]
    return made
