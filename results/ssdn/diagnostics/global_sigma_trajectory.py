"""How the global sigma estimate moves over the cpu schedule: SSDN, sigma unknown (global), 3000 steps.

Written for the SSDN chapter (global_noise_scale). Small crops (32x32, 50 training images) keep it at
~15 CPU-minutes on one thread; the schedule (lr, ramps, iterations, noise_value_scale) is the cpu budget's.
The curve's "val_psnr_db" column holds sigma-hat (0-255 scale) on four fixed noisy crops, renamed below.

    OMP_NUM_THREADS=1 .venv/bin/python results/ssdn/diagnostics/global_sigma_trajectory.py global 3000 32 /tmp/run 3000
"""
import sys
import time

import pandas as pd
import torch

from repro import data, noise
from repro.methods import ssdn
from repro.patches import PatchSampler
from repro.train import TrainConfig, train


def main():
    torch.set_num_threads(1)
    mode, iterations, patch, out, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    images = [im.pixels for im in data.load(ssdn.TRAIN_SET, exclude=ssdn.TRAIN_EXCLUDE)[:50]]
    sampler = PatchSampler(images, patch, noise.Gaussian(25), copies=1)
    torch.manual_seed(0)
    net, _, _ = ssdn.build("ssdn", mode, iterations=iterations)
    probe = sampler.sample(4, torch.Generator().manual_seed(99)).noisy[0]

    def sigma_hat(model):
        with torch.no_grad():
            _, raw = model(probe)
            return float(ssdn.estimated_noise_std(raw).mean() * 255)

    config = TrainConfig(iterations=iterations, batch_size=4, lr=ssdn.LR, rampup_fraction=ssdn.RAMPUP_FRACTION,
                         rampdown_fraction=ssdn.RAMPDOWN_FRACTION, precision="bf16", checkpoint_every=stop,
                         log_every=10, val_every=10, seed=0)
    start = time.process_time()
    train(net, ssdn.loss_for("ssdn", mode, 25), sampler, config, out, validate=sigma_hat, progress=False, stop_at=stop)
    print("cpu seconds", time.process_time() - start)
    curve = pd.read_csv(f"{out}/curve.csv").rename(columns={"val_psnr_db": "sigma_hat_255"})
    print(curve[["iteration", "loss", "lr", "sigma_hat_255"]].to_string())


if __name__ == "__main__":
    main()
