"""bf16 against fp32 training steps on this CPU, in the same run: what ``precision="auto"`` decides from.

On the development machines (AVX-512 with AVX512-BF16) bf16 autocast made a step 2.1-2.5x faster
(../shared/notes/machine-facts.md). On a CPU with AVX-512 but no bf16 arithmetic oneDNN still accepts bf16
and converts, and a step may take several times the fp32 one: this script measures both precisions of the
same models, alternating, so that load on a shared machine falls on both alike.

    OMP_NUM_THREADS=2 .venv/bin/python results/timing/precision_step_seconds.py

Writes precision_step_seconds_<bf16 hardware: native|emulated>.csv beside this script (median wall seconds
of `STEPS` steps after `WARMUP`, random crops), one file per kind of CPU.
"""
import os
import platform
from pathlib import Path

import pandas as pd
import torch

from repro import device as devices
from repro.methods import ssdn
from repro.methods.noise2noise import N2NLoss
from repro.models import UNet
from repro.train import step_seconds

STEPS, WARMUP, ROUNDS = 5, 2, 2


def cases():
    yield "U-Net (N2N, N2C, N2V)", lambda: (UNet(3), N2NLoss()), (4, 3, 64, 64)
    yield "U-Net (N2N, N2C, N2V)", lambda: (UNet(3), N2NLoss()), (4, 3, 128, 128)
    blind_spot = lambda: (ssdn.build("ssdn", "known")[0], ssdn.loss_for("ssdn", "known", 25.0))  # noqa: E731
    yield "SSDN blind-spot, sigma known", blind_spot, (4, 3, 64, 64)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.lower().startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def main():
    cpu = torch.device("cpu")
    native = devices.native_bf16(cpu)
    rows = []
    for model_name, make, shape in cases():
        seconds = {"fp32": [], "bf16": []}
        for _ in range(ROUNDS):  # alternate, so a burst of load on a shared machine hits both precisions
            for precision in seconds:
                torch.manual_seed(0)
                model, loss_fn = make()
                seconds[precision].append(step_seconds(model, loss_fn, shape, precision, steps=STEPS,
                                                       warmup=WARMUP)["wall_s"])
        fp32, bf16 = min(seconds["fp32"]), min(seconds["bf16"])
        rows.append({"model": model_name, "batch": "x".join(map(str, shape)), "fp32_s": round(fp32, 4),
                     "bf16_s": round(bf16, 4), "bf16_over_fp32": round(bf16 / fp32, 2)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["threads"] = torch.get_num_threads()
    table["cpu"] = cpu_name()
    table["bf16_hardware"] = "native" if native else "emulated"
    table["auto_precision"] = devices.resolve_precision("auto", cpu)
    table["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    table["torch"] = torch.__version__
    out = Path(__file__).with_name(f"precision_step_seconds_{'native' if native else 'emulated'}.csv")
    table.to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
