# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Neighbor2Neighbor (Huang et al., CVPR 2021)
#
# Trains the Noise2Noise U-Net on one noisy copy per crop: the random neighbour sub-sampler splits it into
# two half-size images g1(y), g2(y), the network maps g1(y) to g2(y), and a regulariser (weight γ ramped
# from 0.02 to 2) corrects for the gap between neighbouring pixels. Evaluated under the Noise2Noise protocol
# (Kodak24, BSD300 test, Set14; one seeded realisation; uint8 PSNR) with the same data, steps and crops as
# our Noise2Noise runs, so that only the loss differs. Writes a run folder under
# `results/neighbor2neighbor/`. Run it top to bottom, or with papermill:
#
#     papermill notebooks/neighbor2neighbor.ipynb - -p budget cpu

# %% tags=["parameters"]
noise: str = "gaussian"  # gaussian | poisson
sigma: float = 25.0  # Gaussian test noise level, 0-255 scale (training draws sigma ~ U[0,50], as our N2N)
lam: float = 30.0  # Poisson test photon count lambda (training draws lambda ~ U[0,50], as our N2N)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | bf16 (autocast) | fp32
seed: int = 0  # seeds the training crops, noise and sub-sampler draws
results_dir: str = ""  # folder for run folders (empty: results/ of this repository)
time_limit_min: float = 0.0  # pause training (checkpointed) after this many minutes (0: no limit)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters
from repro.methods import neighbor2neighbor as nb2nb

check_parameters(globals(), choices={"noise": nb2nb.TRAIN_NOISE}, positive=("sigma", "lam"))

# %%
from repro import budgets, report, runs
from repro.device import resolve_device, resolve_precision
from repro.experiments import neighbor2neighbor as recipe
from repro.notebook import announce

dev = resolve_device(device)
precision = resolve_precision(precision, dev)  # emulated bf16 would be slower than fp32
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
hp = nb2nb.BUDGETS[budget]
test_noise = recipe.test_noise(noise, sigma, lam)
announce("neighbor2neighbor", budget, dev, results, "Neighbor2Neighbor training, then the Noise2Noise protocol",
         iterations=hp["iterations"], methods=("neighbor2neighbor",))
print(f"test noise {test_noise.label}; training noise {nb2nb.training_noise(noise).label}, fresh every batch; "
      f"hyper-parameters {hp}")

# %% [markdown]
# ## Train and evaluate
# `repro.experiments.neighbor2neighbor.train`: CBSD432 without the 32 scenes of BSD300's test split (400
# images; the paper's 44,328 ImageNet images are not available offline), one noisy copy per crop with
# fresh noise at every batch (as the official code, which re-noises every epoch; a fixed noisy set cost a
# user 0.4-0.5 dB, Neighbor2Neighbor issue #16). Validation on four fixed 256×256 Kodak crops, for
# monitoring only.

# %%
run = recipe.train("neighbor2neighbor", noise, sigma, lam, budget=budget, device=dev, results_dir=results,
                   precision=precision, seed=seed, time_limit_s=time_limit_min * 60 or None)
run.path

# %% [markdown]
# ## Training curve
# The loss is L_rec + γ·L_reg with γ growing during training, so it need not fall; the validation PSNR
# (four fixed 256×256 Kodak crops, for monitoring only) is what to watch.

# %%
fig = report.run_curve_figure(run.path, f"Neighbor2Neighbor {test_noise.label}, budget {budget}",
                              "training loss (L_rec + γ L_reg)")
report.save_figure(fig, run.path / "curve.png")
fig

# %% [markdown]
# ## Visual comparison
# A 256×256 crop of Kodak image 23: noisy, BM3D (Gaussian noise, σ known), this run, the Noise2Noise-paper U-Nets
# (N2C, N2N) of the same noise, budget and seed found in results/, and clean. PSNR (uint8) on the crop.

# %%
recipe.comparison_figure(run.path, device=dev, path=run.path / "comparison_kodim23.png")

# %% [markdown]
# ## Reproduced, beside Noise2Noise at the same budget

# %%
summary = runs.summary(results)
same = (summary.noise == noise) & (summary.budget == budget)
summary[same & ((summary.paper == "neighbor2neighbor")
                | ((summary.paper == "noise2noise") & summary.method.isin(["n2n", "n2c"])))]
