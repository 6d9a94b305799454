"""ZS-N2N: what the second core buys the fast default, timed in the same run (issue 23).

The fast default (zsn2n.FAST) fits on one thread: a 4096-pixel step gains little from a second one (1.17x,
zsn2n_speed_fit2threads_killed.txt), so on 2 cores one core idles. Two ways to spend it, each scored for
quality on the probe images by results/zs_n2n/settings_probe.py:

* ``batch32_2threads``: 32 crops a step instead of 16, on 2 threads;
* ``two_fits_1thread``: two fits of the default (seeds 0 and 1) at once, one process and one thread each, whose
  denoised images are averaged (their wall time: from the moment both processes are ready to the slower one's
  end; starting the processes is timed apart, ``start_s``).

Against ``default_1thread`` (zsn2n.FAST as it is), on a Kodak-size image (768x512, kodim01 with Gaussian
noise σ=25), full 3000-step fits, in rounds (default, batch 32, two fits, then again) so that drift in the
machine's load touches all three alike. Needs an otherwise idle machine: the load average is recorded.

    REPRO_DATA_MIRROR=... .venv/bin/python results/timing/zsn2n_cores.py [rounds] [steps: a try-out, not saved]

Writes zsn2n_cores.csv beside this script (a row per fit, the commit and the load).
"""
import dataclasses
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from repro.methods import zsn2n

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zsn2n_speed import noisy_photo  # noqa: E402  (the same noisy Kodak-size photo as the speed benchmark)

HERE = Path(__file__).resolve().parent
OUT = HERE / "zsn2n_cores.csv"
BATCH32 = dataclasses.replace(zsn2n.FAST, batch=32, threads=2)


def _fit_in_child(seed: int, steps: int, ready, go, results) -> None:
    torch.set_num_threads(1)
    y = noisy_photo(768, 512)
    ready.wait()
    go.wait()
    fitted = zsn2n.fit(y, steps, path="fast", device="cpu", seed=seed, settings=zsn2n.FAST)
    results.put((seed, fitted.seconds, time.perf_counter()))


def two_fits(steps: int) -> tuple[float, float]:
    """(wall seconds from both ready to the slower one's end, seconds to start both processes)."""
    ctx = mp.get_context("spawn")  # a forked OpenMP runtime can hang; spawn is what a user's code would use
    ready, go, results = ctx.Barrier(3), ctx.Barrier(3), ctx.Queue()
    start = time.perf_counter()
    children = [ctx.Process(target=_fit_in_child, args=(seed, steps, ready, go, results)) for seed in (0, 1)]
    for child in children:
        child.start()
    ready.wait()
    started = time.perf_counter()
    go.wait()
    ends = [results.get()[2] for _ in children]
    for child in children:
        child.join()
    return max(ends) - started, started - start


def one_fit(settings: zsn2n.Settings, steps: int) -> float:
    fitted = zsn2n.fit(noisy_photo(768, 512), steps, path="fast", device="cpu", seed=0, settings=settings)
    return fitted.seconds


def main(rounds: int, steps: int) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows = []
    for r in range(rounds):
        for way in ("default_1thread", "batch32_2threads", "two_fits_1thread"):
            load = os.getloadavg()[0]
            start_s = None
            if way == "two_fits_1thread":
                wall, start_s = two_fits(steps)
            else:
                wall = one_fit(zsn2n.FAST if way == "default_1thread" else BATCH32, steps)
            rows.append({"round": r, "way": way, "steps": steps, "fit_wall_s": round(wall, 2),
                         "start_s": None if start_s is None else round(start_s, 2),
                         "load_avg_1min_before": load, "cpus": os.cpu_count(), "commit": commit})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    if steps == zsn2n.FAST.steps:  # a shorter try-out is not the measurement
        table.to_csv(OUT, index=False)
    print(table.groupby("way").fit_wall_s.describe().to_string())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, int(sys.argv[2]) if len(sys.argv) > 2 else zsn2n.FAST.steps)
