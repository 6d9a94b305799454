"""Seconds per training step of every trained method at its `cpu` configuration, on an idle machine.

Sizes the `cpu` budgets ("about an hour per trained model on 2 cores"): the earlier per-step numbers in
results/ssdn/timing/ were taken at a load average of 10-15 and overstate an idle machine's time 2-5x.
Run with nothing else on the machine:

    OMP_NUM_THREADS=2 .venv/bin/python results/timing/cpu_step_seconds.py

Writes cpu_step_seconds.csv beside this script (median of `STEPS` steps after `WARMUP`, random crops;
the data pipeline's cost, ~2 ms a batch, is not included).
"""
import os
import platform
from pathlib import Path

import pandas as pd
import torch

from repro.methods import noise2score, ssdn
from repro.methods.noise2noise import N2NLoss
from repro.models import UNet
from repro.train import step_seconds

STEPS, WARMUP = 10, 3


def cases():
    yield "noise2noise", "n2n (U-Net)", lambda: (UNet(3), N2NLoss()), 3, 128, 4, "bf16"
    for method, mode in [("ssdn", "known"), ("ssdn", "global"), ("ssdn_mu", "known"), ("n2c", "known"),
                         ("n2v", "known")]:
        for patch in (64, 128):
            yield ("ssdn", f"{method} ({mode})", lambda m=method, s=mode: (ssdn.build(m, s)[0], ssdn.loss_for(m, s, 25.0)),
                   3, patch, 4, "bf16")
    for channels in (3, 1):
        for arch in noise2score.ARCHITECTURES:
            yield ("noise2score", f"{arch} AR-DAE", lambda a=arch, c=channels: (noise2score.build_model(a, c)[0],
                                                                            noise2score.ARDAELoss()),
                   channels, noise2score.PATCH_SIZE, noise2score.BATCH_SIZE, noise2score.PRECISION)


def main():
    threads = torch.get_num_threads()
    rows = []
    for paper, what, make, channels, patch, batch_size, precision in cases():
        torch.manual_seed(0)
        model, loss_fn = make()
        s = step_seconds(model, loss_fn, (batch_size, channels, patch, patch), precision, steps=STEPS,
                         warmup=WARMUP)["wall_s"]
        rows.append({"paper": paper, "model": what, "channels": channels, "patch": patch, "batch": batch_size,
                     "precision": precision, "threads": threads, "s_per_step": round(s, 4),
                     "steps_per_hour": int(3600 / s)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    table["cpu"] = platform.processor() or platform.machine()
    table["torch"] = torch.__version__
    table.to_csv(Path(__file__).with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
