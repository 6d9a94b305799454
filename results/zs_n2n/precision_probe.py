"""Is the fast default's gap to the published protocol its bf16 arithmetic? On the Kodak images of
ensemble_probe.py at Gaussian σ=25 (the same noisy images as the committed runs): the fast fit of seed 0 in
fp32, beside the committed bf16 fast fit (fast_sigma25_kodak24) and the committed 3000-step full-image fit
in fp32 (sigma25_kodak24). Only the precision differs from the committed fast row. One process, 1 thread,
beside other jobs; fit_s is the fit's wall time (not a speed measurement). Run from the repository root;
appends to precision_probe.csv image by image (a killed run resumes):

    OMP_NUM_THREADS=1 nohup .venv/bin/python results/zs_n2n/precision_probe.py 0,2,5,8,12,15,18,22 > logs/precision_probe.log 2>&1 &
"""
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from repro import metrics, protocols
from repro.experiments import zs_n2n
from repro.methods import zsn2n

HERE = Path(__file__).resolve().parent
OUT = HERE / "precision_probe.csv"
DATASET = "kodak24"


def main(indices):
    torch.set_num_threads(1)
    protocol = protocols.get("zs_n2n")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    done = zs_n2n.probe_done(OUT, zsn2n.FAST)
    for name, clean, noisy, paper_db, fast_db in zs_n2n.probe_inputs(indices, done, DATASET):
        fitted = zsn2n.fit(noisy, path="fast", device="cpu", seed=0, settings=zsn2n.FAST, precision="fp32")
        out = zsn2n.denoise_with(fitted.model, noisy)
        row = {"image": name, "paper_db": paper_db, "fast_bf16_committed_db": fast_db,
               "fast_fp32_db": float(metrics.psnr(out, clean, protocol.psnr)[0]), "fit_s": round(fitted.seconds, 1),
               "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
               "settings": zsn2n.FAST.describe(), "commit": commit}
        pd.DataFrame([row]).to_csv(OUT, mode="a", header=not OUT.exists(), index=False)
        print(row, flush=True)


if __name__ == "__main__":
    main([int(i) for i in (sys.argv[1] if len(sys.argv) > 1 else "0,2,5,8,12,15,18,22").split(",")])
