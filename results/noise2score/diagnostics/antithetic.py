"""Why Noise2Score learns slowly, and what antithetic perturbations change (gray, Gaussian sigma 25).

Part 1, gradient noise (``gradient_noise.csv``): on a fixed batch of 8 noisy 64x64 BSD400 crops and the
trained gray cpu model, the AR-DAE gradient is drawn 32 times (fresh u each time), plain and antithetic
(the same 8 images with u and -u), at several sigma_a. Reported: the squared norm of the mean gradient
(the signal), the summed variance of its entries (the noise), and their ratio.

Part 2, learning speed (``learning_speed.csv``): two networks trained from the same initial weights on
the same fixed noisy set, same schedule (sigma_a 0.05 -> 0.001 over the run, lr 2e-4, betas 0.5/0.999,
64x64 crops), equal cost per step: plain with batch 8, antithetic with batch 4 (8 network passes).
Validation PSNR (Tweedie, float PSNR) on 256x256 centre crops of the first four Set12 images.

Part 3, sigma_a (``sigma_a_study.csv``): as part 2 with the plain estimate, sigma_a held constant at 0.05
or at sigma = 25/255 instead of annealed; the final network is also scored with Tweedie for the noise
level its score was learned at, x = y + (sigma^2 + sigma_a^2) R(y) (``val_psnr_corrected_db``).

    OMP_NUM_THREADS=1 .venv/bin/python results/noise2score/diagnostics/antithetic.py [ITERATIONS] [PARTS...]
"""
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import repro
from repro import noise
from repro.evaluate import Validator
from repro.experiments import noise2score as recipe
from repro.methods import noise2score as n2s
from repro.models import UNet
from repro.patches import PatchSampler
from repro.train import TrainConfig, train

HERE = Path(__file__).parent
MODEL_RUN = HERE.parent / "noise2score_gaussian_sigma25_gray_cpu_seed0"
SIGMA = noise.Gaussian(25)


def gradient_noise(images, draws=32):
    model = repro.load(MODEL_RUN).model.train()
    batch = PatchSampler(images, 64, SIGMA, copies=1, fixed_noise=True, seed=1).sample(8, torch.Generator().manual_seed(1))
    rows = []
    for sigma_a in (0.05, 0.01, 0.001):
        for antithetic in (False, True):
            loss_fn = n2s.ARDAELoss(schedule="constant", sigma_range=(sigma_a, sigma_a), antithetic=antithetic)
            grads = []
            for k in range(draws):
                loss = loss_fn(model, batch, torch.Generator().manual_seed(k))
                grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))]))
            g = torch.stack(grads).double()
            signal, variance = float(g.mean(0).square().sum()), float(g.var(0).sum())
            rows.append({"sigma_a": sigma_a, "estimator": "antithetic" if antithetic else "plain",
                         "mean_gradient_sq_norm": signal, "gradient_variance": variance,
                         "noise_to_signal": variance / signal})
            print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(HERE / "gradient_noise.csv", index=False)


def train_probe(images, loss_fn, batch_size, iterations, initial, validator):
    """A gray U-Net from ``initial`` trained on the fixed noisy 64x64 set; returns it and its curve."""
    model = UNet(1)
    model.load_state_dict(initial)
    sampler = PatchSampler(images, 64, SIGMA, copies=1, fixed_noise=True, seed=0)
    config = TrainConfig(iterations=iterations, batch_size=batch_size, lr=n2s.LR, betas=n2s.BETAS,
                         rampdown_fraction=n2s.RAMPDOWN_FRACTION, precision="fp32",
                         val_every=iterations // 4, checkpoint_every=iterations, log_every=iterations // 4)
    validate = lambda net: validator(n2s.ScoreDenoiser(net, "gaussian", 25.0))  # noqa: E731
    with tempfile.TemporaryDirectory() as run_dir:
        train(model, loss_fn, sampler, config, run_dir, validate=validate, progress=False)
        return model, pd.read_csv(Path(run_dir) / "curve.csv")


def learning_speed(images, iterations):
    validator = Validator("set12", SIGMA, n_images=4, crop=256, channels=1, flavour="float")
    initial = UNet(1).state_dict()
    rows = []
    for antithetic, batch_size in ((False, 8), (True, 4)):
        t0 = time.perf_counter()
        _, curve = train_probe(images, n2s.ARDAELoss(antithetic=antithetic), batch_size, iterations, initial,
                               validator)
        for row in curve.itertuples():
            rows.append({"estimator": "antithetic" if antithetic else "plain", "batch_images": batch_size,
                         "network_passes_per_step": 8, "iteration": row.iteration, "loss": row.loss,
                         "val_psnr_db": round(row.val_psnr_db, 3), "elapsed_s": row.elapsed_s})
            print(rows[-1], flush=True)
        print("wall", time.perf_counter() - t0, flush=True)
    pd.DataFrame(rows).to_csv(HERE / "learning_speed.csv", index=False)


class CorrectedTweedie(torch.nn.Module):
    """x = y + (sigma^2 + sigma_a^2) R(y): Tweedie for the noise level the network's score was learned at."""

    def __init__(self, net, sigma_a):
        super().__init__()
        self.net, self.sigma_t = net, ((25 / 255) ** 2 + sigma_a ** 2) ** 0.5

    def forward(self, y):
        return n2s.tweedie_gaussian(y, self.net(y), self.sigma_t)


def sigma_a_study(images, iterations):
    """Same set-up as learning_speed (plain estimate, batch 8), sigma_a held constant instead of annealed."""
    validator = Validator("set12", SIGMA, n_images=4, crop=256, channels=1, flavour="float")
    torch.manual_seed(0)
    initial = UNet(1).state_dict()
    rows = []
    for sigma_a in (0.05, 25 / 255):
        loss_fn = n2s.ARDAELoss(schedule="constant", sigma_range=(sigma_a, sigma_a))
        model, curve = train_probe(images, loss_fn, 8, iterations, initial, validator)
        corrected = validator(CorrectedTweedie(model, sigma_a))
        for row in curve.itertuples():
            rows.append({"sigma_a": round(sigma_a, 4), "iteration": row.iteration, "loss": row.loss,
                         "val_psnr_db": round(row.val_psnr_db, 3),
                         "val_psnr_corrected_db": round(corrected, 3) if row.iteration == iterations else None,
                         "elapsed_s": row.elapsed_s})
            print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(HERE / "sigma_a_study.csv", index=False)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    parts = sys.argv[2:] or ["gradient_noise", "learning_speed", "sigma_a_study"]
    images = recipe.training_images(n2s.Setting("gaussian", 25.0, "gray"), "cpu")
    if "gradient_noise" in parts:
        gradient_noise(images)
    if "learning_speed" in parts:
        learning_speed(images, iterations)
    if "sigma_a_study" in parts:
        sigma_a_study(images, iterations)


if __name__ == "__main__":
    main()
