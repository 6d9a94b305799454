"""Does averaging close the fast default's gap to the published protocol? On Kodak images at Gaussian σ=25,
the same noisy images as the committed runs: the fast fit of seed 0 (must equal fast_sigma25_kodak24's row),
its flip/transpose self-ensemble (8 geometric variants, averaged), the average of the fast fits of seeds 0
and 1 (twice the fitting work: on 2 cores, one fit per core), and both. PSNR differences are to the committed
3000-step full-image fit (sigma25_kodak24). One process, 1 thread, beside other jobs; fit_s is one fit's wall
time. Run from the repository root; appends to ensemble_probe.csv image by image (a killed run resumes):

    OMP_NUM_THREADS=1 nohup .venv/bin/python results/zs_n2n/ensemble_probe.py 0,2,5,8,12,15,18,22 > logs/ensemble_probe.log 2>&1 &
"""
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from repro import metrics, protocols
from repro.experiments import zs_n2n
from repro.methods import zsn2n

HERE = Path(__file__).resolve().parent
OUT = HERE / "ensemble_probe.csv"
DATASET = "kodak24"


def self_ensemble(model, y):
    """Denoise the 8 flips/transposes of ``y`` and average them, each mapped back."""
    outs = []
    for transpose in (False, True):
        for k in range(4):
            z = torch.rot90(y.transpose(-1, -2) if transpose else y, k, (-2, -1))
            out = torch.rot90(zsn2n.denoise_with(model, z), -k, (-2, -1))
            outs.append(out.transpose(-1, -2) if transpose else out)
    return torch.stack(outs).mean(0)


def main(indices):
    torch.set_num_threads(1)
    protocol = protocols.get("zs_n2n")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    done = zs_n2n.probe_done(OUT, zsn2n.FAST)
    for name, clean, noisy, paper_db, fast_db in zs_n2n.probe_inputs(indices, done, DATASET):
        fits = [zsn2n.fit(noisy, path="fast", device="cpu", seed=seed, settings=zsn2n.FAST) for seed in (0, 1)]
        single = [zsn2n.denoise_with(f.model, noisy) for f in fits]
        start = time.perf_counter()
        flipped = [self_ensemble(f.model, noisy) for f in fits]
        psnr = lambda x: float(metrics.psnr(x, clean, protocol.psnr)[0])  # noqa: E731
        row = {"image": name, "paper_db": paper_db, "fast_committed_db": fast_db,
               "seed0_db": psnr(single[0]), "seed0_self_ensemble_db": psnr(flipped[0]),
               "two_seeds_db": psnr((single[0] + single[1]) / 2),
               "two_seeds_self_ensemble_db": psnr((flipped[0] + flipped[1]) / 2),
               "fit_s": round(fits[0].seconds, 1), "self_ensemble_s": round((time.perf_counter() - start) / 2, 1),
               "threads": torch.get_num_threads(), "settings": zsn2n.FAST.describe(), "commit": commit}
        pd.DataFrame([row]).to_csv(OUT, mode="a", header=not OUT.exists(), index=False)
        print(row, flush=True)


if __name__ == "__main__":
    main([int(i) for i in (sys.argv[1] if len(sys.argv) > 1 else "0,2,5,8,12,15,18,22").split(",")])
