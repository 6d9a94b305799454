"""Candidate fast settings, scored on the probe images: is one of them within 0.1 dB of the published protocol?

On the Kodak images of ensemble_probe.py at Gaussian σ=25 (the same noisy images as the committed runs): for a
named variant of zsn2n.FAST (a JSON of Settings fields), the fit of each seed, its PSNR, and the PSNR of the
average of the seeds' denoised images (two fits = one per core on 2 cores). Differences are read against the
committed 3000-step full-image fit (sigma25_kodak24, ``paper_db``). One process, 1 thread, beside other jobs:
``cpu_s`` is the CPU time of one fit's steps (robust to other jobs, unlike wall time; not a speed benchmark).
Appends to settings_probe.csv image by image (a killed run resumes):

    OMP_NUM_THREADS=1 nohup .venv/bin/python results/zs_n2n/settings_probe.py batch32 '{"batch": 32}' 0,1 > logs/settings_probe.log 2>&1 &
"""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from repro import metrics, protocols
from repro.experiments import zs_n2n
from repro.methods import zsn2n

HERE = Path(__file__).resolve().parent
OUT = HERE / "settings_probe.csv"
DATASET = "kodak24"
INDICES = (0, 2, 5, 8, 12, 15, 18, 22)  # ensemble_probe.py's images


def main(variant: str, changes: dict, seeds: list[int]):
    torch.set_num_threads(1)
    settings = dataclasses.replace(zsn2n.FAST, **changes)
    protocol = protocols.get("zs_n2n")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    done = zs_n2n.probe_done(OUT, settings, variant)
    for name, clean, noisy, paper_db, fast_db in zs_n2n.probe_inputs(INDICES, done, DATASET):
        fits = [zsn2n.fit(noisy, path="fast", device="cpu", seed=seed, settings=settings) for seed in seeds]
        outs = [zsn2n.denoise_with(f.model, noisy) for f in fits]
        psnr = lambda x: float(metrics.psnr(x, clean, protocol.psnr)[0])  # noqa: E731
        row = {"variant": variant, "image": name, "paper_db": paper_db, "fast_committed_db": fast_db,
               "seed0_db": psnr(outs[0]), "seeds": len(seeds), "average_db": psnr(torch.stack(outs).mean(0)),
               "cpu_s": round(sum(f.cpu_seconds for f in fits) / len(fits), 1), "precision": fits[0].precision,
               "settings": settings.describe(), "commit": commit}
        pd.DataFrame([row]).to_csv(OUT, mode="a", header=not OUT.exists(), index=False)
        print(row, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")])
