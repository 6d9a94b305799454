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
# # How much does the evaluation protocol move PSNR?
#
# One trained denoiser, evaluated under the Noise2Noise protocol and under variants of it that other papers
# use: clipping the noisy input, PSNR on float instead of uint8-rounded images, Set14 with 12 instead of 14
# images. Then two choices made at training time, each needing its own trained model: noise drawn fresh per
# batch vs a fixed noisy training set, and fp32 vs bf16 training. Writes run folders under
# `results/protocol/`, which the book's protocol chapter tabulates.

# %% tags=["parameters"]
model_run: str = "noise2noise/n2n_gaussian_cpu_seed0"  # trained run folder, relative to the repository results
sigma: float = 25.0  # Gaussian noise level, 0-255 scale
budget: str = "auto"  # smoke (first image of each set) | cpu | paper | auto
device: str = "auto"  # auto | cpu | cuda
seed: int = 0  # seeds the training rows (initial weights, crops, training noise); test noise seeds are fixed
results_dir: str = ""  # folder for run folders (empty: results/ of this repository)
training: bool = True  # also train the N2N U-Net three ways for the training rows (about 30 CPU-minutes at budget cpu)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters

check_parameters(globals(), positive=("sigma",))

# %%
from repro import budgets, report, runs
from repro.device import resolve_device
from repro.experiments import protocol as recipe
from repro.notebook import announce

dev = resolve_device(device)
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
announce("protocol", budget, dev, results, f"the protocol effects on {model_run}" + (" and three trainings" if training else ""))

# %% [markdown]
# `repro.experiments.protocol.run`: the trained model evaluated under the Noise2Noise protocol and its
# test-time variants, then (with `training`) the training choices: the same U-Net, seed and budget
# (`repro.experiments.protocol.TRAINING_BUDGETS`) trained on fresh vs fixed noise and in fp32 vs bf16, each
# evaluated on Kodak24 under the Noise2Noise protocol.

# %%
made, trained = recipe.run(model_run, sigma, budget=budget, device=dev, results_dir=results, seed=seed,
                           training=training)
print([run.path.name for run in made])
print([run.path.name for run in trained])

# %%
report.protocol_effects(results)
