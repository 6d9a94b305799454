"""What glibc's handling of large freed blocks costs a full-size ZS-N2N fit, and what keep_freed_memory saves.

Each case runs in a fresh process (the allocator setting is process-wide): a ZS-N2N fast-path fit of
`STEPS` steps on a random image after `WARMUP` steps, with glibc's default allocator or after
repro.device.keep_freed_memory(). Reports user and system CPU seconds per step, wall seconds per step,
minor page faults per step, and a checksum of the fitted output (the arithmetic must be identical).
Run with nothing else on the machine:

    OMP_NUM_THREADS=2 .venv/bin/python results/timing/allocator.py

Writes allocator.csv beside this script.
"""
import json
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

STEPS, WARMUP = 20, 3
SHAPES = [(3, 512, 768), (3, 500, 500), (3, 256, 256)]  # Kodak, McMaster, the published check's crops

CASE = """
import json, resource, sys, time, torch
from repro.device import keep_freed_memory
from repro.methods import zsn2n
shape, keep, steps, warmup = json.loads(sys.argv[1])
kept = keep_freed_memory() if keep else False
y = torch.rand((1, *shape), generator=torch.Generator().manual_seed(0))
cpu = torch.device("cpu")  # a torch.device, so fit() does not resolve it (resolving would keep memory)
zsn2n.fit(y, warmup, "fast", cpu, 0)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
out = zsn2n.denoise_with(zsn2n.fit(y, steps, "fast", cpu, 0).model, y)
wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"user_s_per_step": (r1.ru_utime - r0.ru_utime) / steps,
                  "sys_s_per_step": (r1.ru_stime - r0.ru_stime) / steps, "wall_s_per_step": wall / steps,
                  "page_faults_per_step": (r1.ru_minflt - r0.ru_minflt) / steps,
                  "output_checksum": float(out.double().sum()), "kept": kept, "threads": torch.get_num_threads()}))
"""


def main():
    rows = []
    for shape in SHAPES:
        for keep in (False, True):
            args = json.dumps([list(shape), keep, STEPS, WARMUP])
            out = subprocess.run([sys.executable, "-c", CASE, args], capture_output=True, text=True, check=True)
            row = {"shape": "x".join(map(str, shape)),
                   "allocator": "keep_freed_memory" if keep else "glibc default", **json.loads(out.stdout)}
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    table["cpu_s_per_step"] = table.user_s_per_step + table.sys_s_per_step
    table["machine"] = platform.processor() or platform.machine()
    table.round(4).to_csv(Path(__file__).with_name("allocator.csv"), index=False)


if __name__ == "__main__":
    main()
