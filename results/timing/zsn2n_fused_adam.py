"""ZS-N2N fast path: Adam as one fused kernel against PyTorch's default Adam, timed in the same run (issue 23).

A fast-path step is small (16 crops of 16x16, a 22k-parameter network, one thread), so the optimiser's dozen
small per-tensor operations might be a visible share of it (a profile beside a training said ~9 %).
``torch.optim.Adam(fused=True)`` computes the same update in one kernel, and the fast path uses it; this script
swaps the optimiser each fit builds for one or the other (``fused=None``: PyTorch's default, a loop over tensors).
Both ways fit the same noisy Kodak-size photo (kodim01 resized to 768x512, Gaussian σ=25, the speed benchmark's)
with zsn2n.FAST's settings, one fit on one thread, 3000 steps, in alternating rounds so that drift in the machine's
load touches both alike; ``psnr_db`` (against the clean photo) shows the two fits end at the same quality (same
seed: the same crops and initial weights, different rounding). Needs an otherwise idle
machine: the load average before each fit is recorded.

    REPRO_DATA_MIRROR=... .venv/bin/python results/timing/zsn2n_fused_adam.py [rounds] [steps: a try-out, not saved]

Writes zsn2n_fused_adam.csv beside this script (a row per fit, the commit and the load).
"""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from repro import metrics
from repro.methods import zsn2n

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zsn2n_speed import clean_photo, noisy_photo  # noqa: E402  (the speed benchmark's photo)

HERE = Path(__file__).resolve().parent
OUT = HERE / "zsn2n_fused_adam.csv"
ONE_FIT = dataclasses.replace(zsn2n.FAST, fits=1)
DEFAULT_ADAM = torch.optim.Adam


def adam_for(way: str):
    """torch.optim.Adam as the fit calls it, with ``fused`` set by the way timed instead of by the fit."""
    def adam(params, **options):
        return DEFAULT_ADAM(params, **{**options, "fused": True if way == "fused_adam" else None})
    return adam


def main(rounds: int, steps: int) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    clean, noisy = clean_photo(768, 512), noisy_photo(768, 512)
    zsn2n.fit(noisy, 20, path="fast", device="cpu", settings=ONE_FIT)  # kernel selection, allocator
    rows = []
    for r in range(rounds):
        for way in ("default_adam", "fused_adam"):
            torch.optim.Adam = adam_for(way)  # looked up by each fit
            load = os.getloadavg()[0]
            fitted = zsn2n.fit(noisy, steps, path="fast", device="cpu", seed=0, settings=ONE_FIT)
            psnr = float(metrics.psnr(zsn2n.denoise_with(fitted.model, noisy), clean, "uint8")[0])
            rows.append({"round": r, "way": way, "steps": steps, "fit_wall_s": round(fitted.seconds, 2),
                         "fit_cpu_s": round(fitted.cpu_seconds, 2), "psnr_db": round(psnr, 3),
                         "precision": fitted.precision, "threads": ONE_FIT.threads,
                         "load_avg_1min_before": load, "cpus": os.cpu_count(), "commit": commit})
            print(rows[-1], flush=True)
    torch.optim.Adam = DEFAULT_ADAM
    table = pd.DataFrame(rows)
    if steps == zsn2n.FAST.steps:  # a shorter try-out is not the measurement
        table.to_csv(OUT, index=False)
    print(table.groupby("way")[["fit_wall_s", "fit_cpu_s", "psnr_db"]].describe().T.to_string())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, int(sys.argv[2]) if len(sys.argv) > 2 else zsn2n.FAST.steps)
