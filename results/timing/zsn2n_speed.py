"""ZS-N2N speed, the published protocol against the fast default of ``repro denoise``, timed in the same run.

Issue 23's targets: a 12 MP photo in at most 3 minutes, a Kodak-size image (768x512) in at most 30 s.

1. Per image size (0.1 to 12 MP; a Kodak image resized, Gaussian noise sigma=25): the fast default
   (zsn2n.FAST) is run in full, its fits (two, one process per core) and final passes, and timed; CPU time
   counts the forked fits. The published protocol as ``repro denoise
   --protocol paper`` runs it (zsn2n.PAPER; above 1 MP each step on a random 1 MP window) is timed for
   `OLD_STEPS` steps after `WARMUP` and its 3000-step fit extrapolated from them (every step does the same
   work), plus the same final pass: a full 3000-step run at 12 MP would take hours.
2. End to end, as a user runs it: ``repro denoise`` (fast default) on a Kodak-size PNG and on a 12 MP JPEG in
   a child process, with its wall time and peak resident memory (the child's VmHWM; the forked fits' own,
   which share the child's pages until they write, are not in it); and the paper
   protocol on the same 12 MP photo with ``--steps 20`` for its peak memory only (memory does not grow
   with the number of steps).

Run from the repository root (the thread count is what the measurement is for; say it):

    OMP_NUM_THREADS=2 REPRO_DATA_MIRROR=... .venv/bin/python results/timing/zsn2n_speed.py

Writes zsn2n_speed_t<threads>.csv (part 1), zsn2n_speed_cli_t<threads>.csv (part 2) and
zsn2n_speed_t<threads>.json (commit, threads, load, date) beside this script: one set per thread count.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from repro import data, noise, runs
from repro.denoise_files import MAX_FIT_PIXELS
from repro.methods import zsn2n

HERE = Path(__file__).resolve().parent
OLD_STEPS, WARMUP = 10, 2
SIZES = [(384, 256), (768, 512), (1224, 816), (2112, 1408), (3000, 2000), (4000, 3000)]  # 0.1 to 12 MP


def clean_photo(width: int, height: int) -> torch.Tensor:
    """kodim01 resized to width x height, on [0, 1], as (1, 3, H, W)."""
    clean = Image.fromarray(data.load("kodak24")[0].pixels).resize((width, height), Image.BICUBIC)
    return torch.from_numpy(np.asarray(clean, np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def noisy_photo(width: int, height: int) -> torch.Tensor:
    """:func:`clean_photo` with Gaussian noise sigma=25, clipped to [0, 1]."""
    return noise.Gaussian(25, clip=True)(clean_photo(width, height), generator=torch.Generator().manual_seed(0))


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the forked fits), user and system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def per_size() -> pd.DataFrame:
    rows = []
    for width, height in SIZES:
        y = noisy_photo(width, height)
        mp = width * height / 1e6
        load = os.getloadavg()[0]
        # the fast default, in full: its fits (in forked processes, one per core) and their final passes
        start, cpu = time.perf_counter(), cpu_seconds()
        _, fits = zsn2n.fit_and_denoise(y, device="cpu", settings=zsn2n.FAST)
        new_total, new_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        fitted = fits[0]
        pass_start = time.perf_counter()  # one final pass again, alone, for its share of the total
        zsn2n.denoise_with(fitted.model, y)
        new_pass = (time.perf_counter() - pass_start) * len(fits)
        # the published protocol: OLD_STEPS timed steps, extrapolated to 3000, plus the same final pass
        zsn2n.fit(y, WARMUP, device="cpu", settings=zsn2n.PAPER, max_pixels=MAX_FIT_PIXELS)
        old = zsn2n.fit(y, OLD_STEPS, device="cpu", settings=zsn2n.PAPER, max_pixels=MAX_FIT_PIXELS)
        old_step = old.seconds / OLD_STEPS
        rows.append({
            "width": width, "height": height, "megapixels": round(mp, 2),
            "fast_total_s": round(new_total, 1), "fast_fits": len(fits),
            "fast_fit_s": round(max(f.seconds for f in fits), 1),
            "fast_pass_s": round(new_pass, 1), "fast_cpu_s": round(new_cpu, 1),
            "fast_pixels_per_step": fitted.pixels_per_step,
            "paper_step_s": round(old_step, 4), "paper_steps_timed": OLD_STEPS,
            "paper_total_s_extrapolated": round(zsn2n.PAPER.steps * old_step + new_pass, 1),
            "paper_pixels_per_step": old.pixels_per_step,
            "speedup": round((zsn2n.PAPER.steps * old_step + new_pass) / new_total, 1),
            "threads": torch.get_num_threads(), "load_avg_1min_before": round(load, 2),
        })
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


# The child reports its own peak resident memory (VmHWM of its address space). ru_maxrss from wait4 would not
# do: Linux carries the parent's peak across fork and exec, and this parent holds 12 MP images.
CHILD = """import sys
from repro import cli
rc = cli.main(sys.argv[1:])
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"peak_rss_kib {hwm}", file=sys.stderr)
sys.exit(rc)
"""


def run_cli(args: list[str]) -> dict:
    """``repro denoise`` in a child process: wall seconds, peak resident memory (MiB), exit status."""
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", CHILD, "denoise", *args, "--device", "cpu"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = child.stderr
    print(err[-2000:], file=sys.stderr, flush=True)
    peak = next(int(line.split()[1]) for line in err.splitlines() if line.startswith("peak_rss_kib"))
    return {"wall_s": round(time.perf_counter() - start, 1), "peak_rss_mib": round(peak / 1024),
            "exit_status": child.returncode,
            "printed_estimate": next((line.split("about ", 1)[1].split(" for")[0] for line in err.splitlines()
                                      if line.startswith("estimated time")), "")}


def end_to_end() -> pd.DataFrame:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for (width, height), name in (((768, 512), "kodak_size.png"), ((4000, 3000), "photo_12mp.jpg")):
            pixels = (noisy_photo(width, height)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(folder / name, **({"quality": 95} if name.endswith(".jpg") else {}))
            cases = [("fast (default)", [])]
            if width * height > 10e6:
                cases.append(("paper, --steps 20 (memory only)", ["--protocol", "paper", "--steps", "20"]))
            for what, extra in cases:
                out = folder / f"out_{len(rows)}"
                result = run_cli([str(folder / name), "-o", str(out), *extra])
                rows.append({"file": name, "width": width, "height": height,
                             "megapixels": round(width * height / 1e6, 2), "protocol": what, **result,
                             "threads": torch.get_num_threads()})
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = {"started": started, **runs.git_state(), **runs.machine(), "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2),
            "fast": zsn2n.FAST.describe(), "paper": zsn2n.PAPER.describe(),
            "note": "paper_total_s_extrapolated: 3000 x the mean of OLD_STEPS timed steps + the measured final pass"}
    table = per_size()
    tag = f"t{torch.get_num_threads()}"
    table.to_csv(HERE / f"zsn2n_speed_{tag}.csv", index=False)
    cli = end_to_end()
    cli.to_csv(HERE / f"zsn2n_speed_cli_{tag}.csv", index=False)
    info.update(finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                load_avg_1min_at_end=round(os.getloadavg()[0], 2), old_steps_timed=OLD_STEPS)
    (HERE / f"zsn2n_speed_{tag}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(table.to_string())
    print(cli.to_string())
