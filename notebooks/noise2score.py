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
# # Noise2Score (Kim & Ye, NeurIPS 2021)
#
# Trains a U-Net on noisy images only to output the **score** ∇ log p(y) (AR-DAE loss, annealed
# perturbation σ_a), denoises by **Tweedie's formula**, and evaluates under the Noise2Score protocol
# (one seeded float realisation, no clipping, output clamped to [0, 1], float PSNR). The colour model
# trains on CBSD432 and is tested on CBSD68 and Kodak24; the gray model trains on BSD400 and is tested on
# Set12 and BSD68. Then: the unknown-σ column (σ estimated per image at test time) and the diagnosis of
# a published ~23 dB re-implementation. Every number lands in a run folder under `results/noise2score/`.
#
#     papermill notebooks/noise2score.ipynb - -p sigma 25 -p budget cpu

# %% tags=["parameters"]
noise: str = "gaussian"  # gaussian | poisson | gamma
sigma: float = 25.0  # Gaussian noise level on the 0-255 scale (the paper reports 25 and 50)
lam: float = 100.0  # Poisson photon count lambda (the paper writes zeta as 1/lambda, so zeta 0.01 is lambda 100)
k: float = 100.0  # Gamma shape k, noise of mean 1 and variance 1/k (the paper reports 100 and 50)
channels: str = "both"  # color (cbsd432 to cbsd68 and kodak24) | gray (bsd400 to set12 and bsd68) | both
unknown: str = "tv"  # unknown-parameter column estimator: tv (official TV-L1 search) | mad (wavelet MAD, Gaussian only) | none
blind_model: bool = False  # unknown column from a model trained on sigma in 20-55 (paper) instead of the known-sigma model
estimator: str = "plain"  # AR-DAE gradient estimate. plain (the paper's) | antithetic (ours: u and -u per image, same cost)
diagnosis: bool = True  # evaluate the plausible-mistake variants of each trained Gaussian model (no training)
diagnosis_training: bool = False  # also train the variants that need training (4 more models per colour mode)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
seed: int = 0  # seeds the fixed noisy training set, the crops and the AR-DAE perturbations
results_dir: str = ""  # folder for run folders (empty means results/ of this repository)
time_limit_min: float = 0.0  # pause each training after this many minutes, resumable (0 means no limit)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters
from repro.methods import noise2score as n2s

check_parameters(globals(), positive=("sigma", "lam", "k"),
                 choices={"noise": n2s.ANNEAL, "channels": (*n2s.TRAIN_SETS, "both"), "unknown": (*n2s.ESTIMATORS, "none"),
                          "estimator": ("plain", "antithetic")})
if unknown not in (*n2s.ESTIMATORS_FOR[noise], "none"):
    raise ValueError(f"unknown='{unknown}' does not apply to {noise} noise: use one of {[*n2s.ESTIMATORS_FOR[noise], 'none']}")
if blind_model and noise != "gaussian":
    raise ValueError("blind_model=True (training over a range of the parameter) is implemented for Gaussian noise only")

# %%
import pandas as pd

import repro
from repro import budgets, report, runs
from repro.claims import method_name
from repro.device import resolve_device
from repro.notebook import announce
from repro.methods import noise2score as n2s
from repro.experiments import noise2score as recipe, noise2score_diagnosis as diag

dev = resolve_device(device)
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
param = {"gaussian": sigma, "poisson": lam, "gamma": k}[noise]
modes = ["color", "gray"] if channels == "both" else [channels]
settings = [n2s.Setting(noise, param, mode) for mode in modes]
if estimator not in ("plain", "antithetic"):
    raise ValueError(f"estimator must be 'plain' or 'antithetic', got '{estimator}'")
antithetic = estimator == "antithetic"
base_method = n2s.PAPER + ("_antithetic" if antithetic else "")
time_limit_s = time_limit_min * 60 or None
announce(n2s.PAPER, budget, dev, results, f"Noise2Score {settings[0].label}, {' and '.join(modes)} model(s)",
         iterations=n2s.iterations_for(budget, 432), models=len(modes) * (2 if blind_model else 1),
         methods=(base_method,))
print("hyper-parameters:", n2s.BUDGETS[budget], "lr", n2s.LR, "betas", n2s.BETAS, "sigma_a", n2s.ANNEAL[noise])

# %% [markdown]
# ## Train the score networks and evaluate them with Tweedie's formula (noise parameter known)
# Training sees one fixed noisy copy of each training image (the official code reads pre-generated
# noisy files). σ_a is annealed linearly over the whole run; the network runs in fp32 (bf16 would erase
# the small perturbation the AR-DAE signal lives in).

# %%
trained = {}
for setting in settings:
    run = recipe.train_setting(setting, results_dir=results, budget=budget, device=dev, seed=seed,
                            method=base_method, antithetic=antithetic, time_limit_s=time_limit_s)
    trained[setting.channels] = run
    print(setting.channels, run.path, run.info["status"])
complete = {mode: run for mode, run in trained.items() if run.info["status"] == "complete"}

# %% [markdown]
# ## Unknown noise level
# The paper's unknown-parameter column picks the noise parameter per image at test time. `tv` is the
# official search: 50 values of σ in (5, 55], 100 of ζ = 1/λ in [0.005, 0.1) or 80 of k in (40, 120],
# keeping the one whose Tweedie output has the smallest Charbonnier TV (plus, for Poisson and Gamma, the
# official likelihood term); `mad` is a network-free wavelet estimate of σ. By default the
# known-parameter model supplies the score (no extra training); `blind_model=True` trains the paper's
# Gaussian blind model (σ drawn in [20, 55] for every example, fresh noise).

# %%
unknown_runs = {}
if unknown != "none":
    method = method_name(base_method, noise, known=False)
    name = settings[0].label.split("=")[0]  # sigma | lam | k
    for setting in settings:
        if blind_model:
            run = recipe.train_setting(setting, results_dir=results, budget=budget, device=dev, seed=seed,
                                    method=method, blind=True, estimate=unknown, antithetic=antithetic,
                                    time_limit_s=time_limit_s)
        elif setting.channels in complete:
            base = complete[setting.channels]
            scorer = n2s.ScoreDenoiser(repro.load(base.path, device=dev).model, noise, param, estimate=unknown)
            run = recipe.evaluate_with(base, diag.variant_run_name(base.path.name, method, base_method), method, scorer,
                                    results_dir=results, device=dev, n_images=n2s.BUDGETS[budget]["eval_images"],
                                    params={"estimator": n2s.ESTIMATORS[unknown], "score_model": base.info["run"]})
            est = pd.Series(scorer.estimates)
            run.update(**{f"{name}_estimates": {"mean": round(est.mean(), 2), "std": round(est.std(), 2),
                                                "min": round(est.min(), 2), "max": round(est.max(), 2), "n": int(est.size)}})
            print(setting.channels, f"estimated {name}:", run.info[f"{name}_estimates"])
        else:
            continue
        unknown_runs[setting.channels] = run

# %% [markdown]
# ## Diagnosis: what produces a ~23 dB re-implementation
# Each evaluation variant applies a plausible mistake to the *same* trained network (no training). The
# training variants (`diagnosis_training=True`) each train a model of the same budget.

# %%
if noise == "gaussian" and diagnosis and not antithetic:  # the diagnosis is about the paper's estimator
    for mode, run in complete.items():
        diag.evaluate_variants(run, results_dir=results, device=dev, n_images=n2s.BUDGETS[budget]["eval_images"])
if noise == "gaussian" and diagnosis_training and not antithetic:
    for setting in settings:
        diag.train_variants(setting, results_dir=results, budget=budget, device=dev, seed=seed,
                            time_limit_s=time_limit_s)
summary = runs.summary(results)
diag.table(summary[summary.budget == budget], param=settings[0].label) if noise == "gaussian" else None

# %% [markdown]
# ## Training curves
# Validation PSNR (Tweedie output, float PSNR) on fixed 256×256 crops of the first test set, for
# monitoring only: the final weights are evaluated, none is selected on clean images.

# %%
curves = {mode: run.path for mode, run in trained.items() if (run.path / "curve.csv").exists()}
fig = report.run_curve_figure(curves, f"Noise2Score {settings[0].label}, budget {budget}", "AR-DAE loss")
for run in trained.values():
    report.save_figure(fig, run.path / "curve.png")
fig

# %% [markdown]
# ## Visual comparison
# Noisy input, the Tweedie estimate, the same network with a final ReLU (the diagnosis' main suspect),
# and the clean image, on one test image per colour mode.

# %%
for run in complete.values():
    display(recipe.comparison_figure(run.path, device=dev, path=run.path / recipe.comparison_file(run.path)))

# %% [markdown]
# ## Reproduced numbers
# Every Noise2Score run of this budget and noise (method names ending in `_unknown_sigma` or
# `_unknown_param` are the unknown-parameter column; the others beyond `noise2score` are the diagnosis).

# %%
mine = summary[(summary.paper == n2s.PAPER) & (summary.noise == noise) & (summary.budget == budget)]
mine[["method", "param", "dataset", "psnr_db", "ci95_db", "n_images", "iterations", "train_wall_s", "run"]]
