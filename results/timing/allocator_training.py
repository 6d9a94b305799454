"""What keep_freed_memory changes for a training step of the trained methods (see allocator.py for ZS-N2N).

Each case runs in a fresh process with glibc's default allocator or after repro.device.keep_freed_memory():
one training step at the method's `cpu` configuration on random crops (repro.train.step_seconds: median of
`STEPS` after `WARMUP`), with the process's system CPU seconds and minor page faults averaged over all of
its steps (warm-up included). One thread, so CPU seconds are fair on a machine other jobs share:

    OMP_NUM_THREADS=1 .venv/bin/python results/timing/allocator_training.py

Writes allocator_training.csv beside this script.
"""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

STEPS, WARMUP = 4, 2

CASE = """
import json, resource, sys, torch
name, keep, steps, warmup = json.loads(sys.argv[1])
if keep:
    from repro.device import keep_freed_memory
    keep_freed_memory()
from repro.methods import noise2score, ssdn
from repro.methods.noise2noise import N2NLoss
from repro.models import UNet
from repro.train import step_seconds
cases = {
    "noise2score U-Net, colour": lambda: (noise2score.build_model(noise2score.ARCHITECTURES[0], 3)[0],
        noise2score.ARDAELoss(), (noise2score.BATCH_SIZE, 3, noise2score.PATCH_SIZE, noise2score.PATCH_SIZE),
        noise2score.PRECISION),
    "ssdn blind-spot (sigma known)": lambda: (ssdn.build("ssdn", "known")[0], ssdn.loss_for("ssdn", "known", 25.0),
        (4, 3, 64, 64), "bf16"),
    "noise2noise U-Net": lambda: (UNet(3), N2NLoss(), (4, 3, 128, 128), "bf16"),
}
torch.manual_seed(0)
model, loss, shape, precision = cases[name]()
r0 = resource.getrusage(resource.RUSAGE_SELF)
out = step_seconds(model, loss, shape, precision, steps=steps, warmup=warmup)
r1 = resource.getrusage(resource.RUSAGE_SELF)
n = steps + warmup
print(json.dumps({"batch_shape": "x".join(map(str, shape)), "precision": precision, "cpu_s_per_step": out["cpu_s"],
                  "wall_s_per_step": out["wall_s"], "sys_s_per_step": (r1.ru_stime - r0.ru_stime) / n,
                  "page_faults_per_step": (r1.ru_minflt - r0.ru_minflt) / n, "threads": torch.get_num_threads()}))
"""
NAMES = ["noise2score U-Net, colour", "ssdn blind-spot (sigma known)", "noise2noise U-Net"]


def main():
    rows = []
    for name in NAMES:
        for keep in (False, True):
            out = subprocess.run([sys.executable, "-c", CASE, json.dumps([name, keep, STEPS, WARMUP])],
                                 capture_output=True, text=True, check=True)
            rows.append({"model": name, "allocator": "keep_freed_memory" if keep else "glibc default",
                         **json.loads(out.stdout.strip().splitlines()[-1])})
            print(rows[-1], flush=True)
    pd.DataFrame(rows).round(4).to_csv(Path(__file__).with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
