"""How much a run depends on the number of CPU threads: the same seed, trained and evaluated at 1 and 2 threads.

Each case is a fresh process that trains the Noise2Noise U-Net (N2N loss, seed 0, ``ITERATIONS`` steps of
4 crops of 64x64, the notebook's learning rate and schedule) through repro.pipeline and evaluates it on the
first ``EVAL_IMAGES`` Kodak24 images under the Noise2Noise protocol. Two processes with the same thread
count must agree to the bit; another thread count changes the order of floating-point sums (oneDNN splits
the work per thread), so the weights drift a little and the PSNR with them. Run it with the machine idle:

    .venv/bin/python results/protocol/thread_count.py

Writes thread_count.csv beside this script: one row per case against the first 1-thread case.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

ITERATIONS, EVAL_IMAGES = 300, 4
CASES = [("bf16", 1), ("bf16", 1), ("bf16", 2), ("fp32", 1), ("fp32", 1), ("fp32", 2)]

CASE = """
import json, sys, torch
from repro import data, noise, protocols
from repro.methods import noise2noise as n2n
from repro.models import UNet
from repro.patches import PatchSampler
from repro.pipeline import train_and_evaluate
from repro.train import TrainConfig
precision, threads, iterations, eval_images, out = json.loads(sys.argv[1])
torch.set_num_threads(threads)
images = [im.pixels for im in data.load(n2n.TRAIN_SET, exclude=n2n.TRAIN_EXCLUDE)][:16]
config = TrainConfig(iterations=iterations, batch_size=4, lr=n2n.LR, betas=n2n.BETAS, precision=precision, seed=0,
                     checkpoint_every=iterations, log_every=iterations)
run = train_and_evaluate(results_dir=out, paper="noise2noise", run_name="case", method="n2n", model=UNet(3),
                         architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=n2n.N2NLoss(),
                         sampler=PatchSampler(images, 64, n2n.training_noise("gaussian"), copies=2, seed=0),
                         config=config, protocol=protocols.get("noise2noise"), eval_noise=noise.Gaussian(25),
                         budget="thread-check", device=torch.device("cpu"), params={}, datasets=["kodak24"],
                         eval_images=eval_images, progress=False)
print(json.dumps(str(run.path)))
"""


def run_case(precision: str, threads: int, out: Path) -> tuple[dict, pd.DataFrame]:
    env_threads = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", CASE, json.dumps([precision, threads, ITERATIONS, EVAL_IMAGES,
                                                                   str(out)])],
                          capture_output=True, text=True, check=True, env={**os.environ, **env_threads})
    path = Path(json.loads(done.stdout.strip().splitlines()[-1]))
    weights = torch.load(path / "model.pt", map_location="cpu", weights_only=False)["state_dict"]
    return weights, pd.read_csv(path / "per_image.csv", dtype={"image": str})


def main() -> None:
    rows, reference = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (precision, threads) in enumerate(CASES):
            weights, psnr = run_case(precision, threads, Path(tmp) / str(i))
            if precision not in reference:
                reference[precision] = (weights, psnr)
                continue
            ref_w, ref_psnr = reference[precision]
            diff = max(float((weights[k] - ref_w[k]).abs().max()) for k in ref_w)
            scale = max(float(ref_w[k].abs().max()) for k in ref_w)
            delta = psnr.psnr_db.to_numpy() - ref_psnr.psnr_db.to_numpy()
            rows.append({"precision": precision, "threads": threads, "reference_threads": 1,
                         "bitwise_equal": all(torch.equal(weights[k], ref_w[k]) for k in ref_w),
                         "max_abs_weight_diff": diff, "max_abs_weight": scale,
                         "mean_psnr_diff_db": float(delta.mean()), "max_abs_psnr_diff_db": float(abs(delta).max()),
                         "n_images": len(delta), "iterations": ITERATIONS, "torch": torch.__version__,
                         "cpu": platform.processor() or platform.machine()})
    table = pd.DataFrame(rows)
    table.to_csv(Path(__file__).with_suffix(".csv"), index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
