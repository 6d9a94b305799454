# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Noise2Noise from scratch: a hand-written framework with explicit backward passes
#
# Re-runs the EPFL EE-559 mini-project 2: the course's small encoder-decoder trained with Noise2Noise
# pairs by a framework written by hand (`repro.scratch`: no autograd, every backward pass explicit), its
# twin in plain torch with autograd (same initial weights, same batches), and the report's
# hyper-parameter tables. Every training run writes a run folder under `results/scratch_n2n/`; a complete
# folder with the same settings is reused. Run it top to bottom, or with papermill:
#
#     papermill notebooks/scratch_n2n.ipynb - -p budget cpu

# %% tags=["parameters"]
noise: str = "gaussian"  # noise of the training pairs and the test set: gaussian | poisson (repro.noise.make)
sigma: float = 25.0  # its parameter: Gaussian sigma on the 0-255 scale (Poisson: the photon count lambda)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
seed: int = 0  # initial weights, batch order and training pairs (the test set's noise is fixed)
results_dir: str = ""  # run folders go to <results_dir>/scratch_n2n/ (empty: results/ of this repository)
epochs: int = 0  # main run: passes over the pairs (0: the budget's; 10 at cpu/paper, as in the report)
batch_size: int = 0  # main run batch size (0: the report's 64)
lr: float = 0.0  # main run SGD learning rate (0: the report's 5.0)
n_pairs: int = 0  # main run number of 32x32 training pairs (0: the budget's; 50,000 at cpu/paper)
twin: bool = True  # also train the torch-autograd twin from the same weights with the same batches
sweep: bool = True  # also run the report's tables (batch, lr, channel factor, kernel) at the budget's sweep size
threads: int = 1  # CPU threads for torch (1: the development machine's other core is busy; 0: torch's default)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters

check_parameters(globals(), positive=("sigma",), non_negative=("epochs", "batch_size", "lr", "n_pairs", "threads"),
                 choices={"noise": ("gaussian", "poisson")})

# %%
import pandas as pd
import torch
from IPython.display import display

from repro import budgets, noise as noises, runs
from repro.device import resolve_device
from repro.experiments import scratch_n2n as recipe
from repro.notebook import announce
from repro.scratch import course_model, load
from repro.scratch import results as sr

if threads:
    torch.set_num_threads(threads)
dev = resolve_device(device)
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
b = recipe.BUDGETS[budget]
main = recipe.main_settings(budget, epochs, batch_size, lr, n_pairs)
announce("scratch_n2n", budget, dev, results, f"the from-scratch N2N ({main.epochs} epochs of {main.n_pairs} pairs)"
         + (", its torch twin" if twin else "") + (" and the report's sweep" if sweep else ""), methods=("scratch_n2n",))
print(f"threads={torch.get_num_threads()} noise {noises.make(noise, sigma).label}")
print("budget:", b)
print("main run:", main)

# %% [markdown]
# ## Run
#
# `repro.experiments.scratch_n2n.run`, in order:
#
# * **data**: the course's 50,000 pairs are not public. We cut random 32×32 patches from CBSD432 and noise
#   each twice independently (Gaussian σ = 25 by default, **unclipped**, float: Noise2Noise needs zero-mean
#   target noise; see `repro.scratch.data`). The test set is a different source: 64 random grid cells of
#   each Kodak image, noised once with fixed seeds, plus the full images;
# * **the main run**: the report's settings, hand-written framework;
# * **the twin**: the same network in torch with autograd, same initial weights (copied), same batch order
#   (drawn from the seed alone); only the framework differs. The two runs are timed at different moments of
#   a shared machine, so for a fair ratio the two frameworks also take turns, `timing_steps` SGD steps each,
#   on the same batches;
# * **the sweep**: the report's tables, one hyper-parameter at a time, at the budget's sweep size.
#
# A complete run folder with the same settings is reused, not retrained.

# %%
outcome = recipe.run(noise, sigma, budget=budget, device=dev, results_dir=results, seed=seed, epochs=epochs,
                     batch_size=batch_size, lr=lr, n_pairs=n_pairs, twin=twin, sweep=sweep)
test, noisy_input = outcome.test, outcome.noisy_input
print(f"{len(outcome.pairs)} training pairs; {len(test)} test patches from {len(test.full_clean)} images; "
      f"noisy input PSNR {noisy_input['input_psnr_db']:.2f} dB (pooled {noisy_input['input_psnr_pooled_db']:.2f})")

# %% [markdown]
# ## The main run: the report's settings, hand-written framework

# %%
main_run = outcome.main_run
info = main_run.info
print(f"{main_run.path.name}: test PSNR {info['test_psnr_db']:.2f} dB per patch (pooled {info['test_psnr_pooled_db']:.2f}), "
      f"full images {info['full_image_psnr_db']:.2f} dB; {info['s_per_epoch']:.1f} s/epoch wall, "
      f"{info['cpu_s_per_epoch']:.1f} s/epoch CPU")

# %%
net = load(course_model(main.channel_factor, main.kernel_size), main_run.path / "model.pt")
fig = sr.plot_examples(lambda x: net(x.float()), test)
fig.savefig(main_run.path / "examples.png", dpi=90)
fig

# %% [markdown]
# ## The twin: the same network in torch with autograd
#
# In float32 the two diverge by rounding only (float64 equality to 1e-10 is a unit test,
# `tests/test_scratch_train.py`).

# %%
if twin:
    comparison = sr.twin_comparison(main_run.path.name, outcome.twin_run.path.name, results)
    display(pd.Series(comparison, name="scratch vs torch twin").to_frame())
    fig = sr.plot_twin(main_run.path.name, outcome.twin_run.path.name, results)
    fig.savefig(outcome.twin_run.path / "twin_vs_scratch.png", dpi=90)
    display(fig)

# %% [markdown]
# Time per epoch of each framework, measured in turns on the same batches:

# %%
if twin:
    per_backend = outcome.timing.groupby("backend")[["s_per_epoch", "cpu_s_per_epoch"]].median()
    display(per_backend)
    ratio = per_backend.loc["scratch"] / per_backend.loc["torch"]
    print(f"scratch/torch time per epoch: wall {ratio.s_per_epoch:.2f}, CPU {ratio.cpu_s_per_epoch:.2f}")

# %% [markdown]
# ## The sweep: the report's tables, one hyper-parameter at a time
#
# Batch size 32-256, learning rate 0.01-25, channel factor 2-8, kernel 3 or 5 (the report's ranges; the
# interior points are ours), each varied around the report's best setting (batch 64, lr 5, factor 8,
# kernel 3), at the budget's sweep size (cpu: 10,000 pairs × 3 epochs per configuration).

# %%
if sweep:
    display(outcome.sweep.drop(columns=["run"]))
    fig = sr.plot_sweep(outcome.sweep, noisy_input["input_psnr_db"],
                        f"sweep at {b.sweep_pairs} pairs x {b.sweep_epochs} epochs ({budget} budget)")
    fig.savefig(recipe.sweep_dir(results, outcome.noise, budget, seed) / "sweep.png", dpi=90)
    display(fig)

# %% [markdown]
# ## Against the report
#
# The report's 24.37 dB is stated in the project report and not independently verified; it was measured
# on the course's data, with the course's noise, and (from the course's test script) as the PSNR of the
# MSE pooled over its whole validation set: compare it with our pooled column too.

# %%
sr.comparison_with_report(results, budget, seed)

# %%
print("run folders:", sorted(p.name for p in (results / recipe.PAPER).iterdir()))
