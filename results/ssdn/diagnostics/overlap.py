"""Overlapping tiles at inference: does keeping only each 64x64 tile's centre help the cpu-budget models?

A network trained on 64x64 crops denoises larger images in tiles of that size (ssdn.Tiled). With
non-overlapping tiles a pixel near a tile's inner edge has lost the context on that side; with a margin m
the tiles overlap by 2m and each keeps its centre (repro.imageops.apply_in_tiles). Scores one committed
model's output (posterior mean for SSDN, the network for the U-Net baselines) on the first eight Kodak
images, full size, sigma 25, uint8 PSNR, one seeded realisation, for several margins. Writes
overlap_<run>.csv beside this script.

    OMP_NUM_THREADS=1 .venv/bin/python results/ssdn/diagnostics/overlap.py results/ssdn/<run>
"""
import sys
import time
from pathlib import Path

import pandas as pd
import torch

import repro
from repro import noise
from repro.evaluate import Validator
from repro.methods import ssdn


def main():
    torch.set_num_threads(1)
    run = Path(sys.argv[1])
    denoiser = repro.load(run, device="cpu")
    inference = dict(denoiser.inference)
    validator = Validator("kodak24", noise.Gaussian(25), n_images=8, crop=10_000)
    rows = []
    for margin in (0, 8, 16):
        model = ssdn.make_denoiser(denoiser.model, method=denoiser.method, **{**inference, "margin": margin})
        start = time.time()
        psnr = validator(model)
        rows.append({"run": run.name, "tile": inference.get("tile"), "margin": margin,
                     "kodak8_db": round(psnr, 3), "seconds": round(time.time() - start, 1)})
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(Path(__file__).with_name(f"overlap_{run.name}.csv"), index=False)


if __name__ == "__main__":
    main()
