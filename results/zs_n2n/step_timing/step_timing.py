"""Seconds per ZS-N2N optimisation step, fp32 reference path vs fast path, on random images of the sizes
the chapter uses (a 256x256 crop, a Kodak image, a gray crop). One thread; CPU time of the fitting process
is the fair measure on a machine other jobs share. Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python results/zs_n2n/step_timing/step_timing.py

Rewrites step_timing.csv and run.json beside this script. Since commit 17915d4 every fit runs with freed
memory kept on the heap (repro.device.keep_freed_memory); the first version of this table predates it.
"""
from pathlib import Path

import torch

from repro import runs
from repro.experiments import zs_n2n

STEPS, WARMUP = 10, 2
SHAPES = [(3, 256, 256), (3, 512, 768), (1, 256, 256)]

here = Path(__file__).resolve().parent
(here / "run.json").unlink(missing_ok=True)  # a new measurement, not a resumed run: record this commit
table = zs_n2n.step_timing(SHAPES, steps=STEPS, warmup=WARMUP, device="cpu")
table.to_csv(here / "step_timing.csv", index=False)
run = runs.Run.open(here.parent.parent, "zs_n2n", here.name, method="zs-n2n", noise="gaussian", param="sigma=25",
                    protocol="zs_n2n", budget="cpu", device="cpu", iterations=STEPS, train_wall_s=0.0, seed=0,
                    params={"steps_timed": STEPS, "warmup": WARMUP, "threads": torch.get_num_threads(),
                            "note": "random images; CPU seconds of the fitting process (what a free core takes) "
                                    "and wall seconds on a possibly shared machine; freed memory kept "
                                    "(repro.device.keep_freed_memory)"})
run.finish()
print(table.to_string())
