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
# # Noise2Noise (Lehtinen et al., ICML 2018)
#
# Trains the official U-Net with noisy targets (N2N) or clean targets (N2C), evaluates it under the
# Noise2Noise protocol (Kodak24, BSD300 test, Set14; one seeded realisation; uint8 PSNR) and writes a run
# folder under `results/noise2noise/`. Run it top to bottom, or with papermill:
#
#     papermill notebooks/noise2noise.ipynb - -p method n2c -p budget cpu

# %% tags=["parameters"]
method: str = "n2n"  # n2n (noisy targets) | n2c (clean targets)
noise: str = "gaussian"  # gaussian | poisson | bernoulli
sigma: float = 25.0  # Gaussian test noise level, 0-255 scale (training draws sigma ~ U[0,50])
lam: float = 30.0  # Poisson test photon count lambda (training draws lambda ~ U[0,50])
p: float = 0.5  # Bernoulli test probability that a pixel is dropped, in (0, 1) (training draws p ~ U[0,0.95])
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | bf16 (autocast) | fp32
seed: int = 0  # seeds the training crops and noise
results_dir: str = ""  # folder for run folders (empty: results/ of this repository)
time_limit_min: float = 0.0  # pause training (checkpointed) after this many minutes (0: no limit)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import ParameterError, check_parameters
from repro.methods import noise2noise as n2n

check_parameters(globals(), choices={"method": n2n.LOSSES, "noise": n2n.TRAIN_NOISE}, positive=("sigma", "lam", "p"))
if not p < 1:
    raise ParameterError(f"parameter 'p' must be < 1 (the probability that a pixel is dropped), got {p!r}")

# %%
from repro import budgets, report, runs
from repro.device import resolve_device, resolve_precision
from repro.experiments import noise2noise as recipe
from repro.notebook import announce

dev = resolve_device(device)
precision = resolve_precision(precision, dev)  # emulated bf16 would be slower than fp32
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
hp = n2n.BUDGETS[budget]
test_noise = recipe.test_noise(noise, sigma, lam, p)
announce("noise2noise", budget, dev, results, f"{method.upper()} training, then the Noise2Noise protocol",
         iterations=hp["iterations"], methods=(method,))
print(f"test noise {test_noise.label}; hyper-parameters {hp}")

# %% [markdown]
# ## Train and evaluate
# `repro.experiments.noise2noise.train`: the paper trained on ~50k ImageNet validation images; offline we
# use CBSD432 without the 32 scenes that belong to BSD300's test split (400 images). Each noisy copy draws
# its own noise level from the range. Validation on four fixed 256×256 Kodak crops, for monitoring only.

# %%
run = recipe.train(method, noise, sigma, lam, p, budget=budget, device=dev, results_dir=results, precision=precision,
                   seed=seed, time_limit_s=time_limit_min * 60 or None)
run.path

# %% [markdown]
# ## Training curve
# Validation PSNR on four fixed 256×256 Kodak crops, for monitoring only (the final weights are evaluated).

# %%
fig = report.run_curve_figure(run.path, f"{method.upper()} {test_noise.label}, budget {budget}", "training loss (L2)")
report.save_figure(fig, run.path / "curve.png")
fig

# %% [markdown]
# ## Visual comparison
# A 256×256 crop of Kodak image 23: noisy, BM3D (σ known), every trained Noise2Noise-paper model with the
# same noise and budget found in results/, and clean. PSNR (uint8) on the crop.

# %%
fig = recipe.comparison_figure(run.path, device=dev, path=run.path / "comparison_kodim23.png")
fig

# %% [markdown]
# ## Reproduced vs claimed

# %%
summary = runs.summary(results)
summary[(summary.paper == "noise2noise") & (summary.noise == noise)]
