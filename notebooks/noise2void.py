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
# # Noise2Void on its own table: BSD68, gray, σ = 25 (Krull et al., CVPR 2019)
#
# Trains a U-Net with Noise2Void's input masking (a few pixels of each noisy crop replaced by a neighbour,
# the loss scored at those pixels only) on DnCNN's 400 gray training images, each with one fixed noisy copy,
# as the official BSD68 reproducibility notebook does, and scores it on BSD68 under that notebook's protocol
# (one realisation, unclipped noise, PSNR of the raw prediction). `method` trains instead one of the paper's
# other rows on the same network and data: `n2n` (two fixed noisy copies, one the target of the other) or `n2c`
# (the clean image as target). Writes a run folder under `results/noise2void/`. Run it top to bottom, or with
# papermill:
#
#     papermill notebooks/noise2void.ipynb - -p budget cpu -p method n2c

# %% tags=["parameters"]
method: str = "n2v"  # n2v | n2n (noisy targets) | n2c (clean targets): the paper's BSD68 rows
sigma: float = 25.0  # Gaussian noise level of training and test, 0-255 scale (the paper's BSD68 table: 25)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | bf16 (autocast) | fp32
seed: int = 0  # seeds the training crops, the fixed noisy copies and the masks
results_dir: str = ""  # folder for run folders (empty: results/ of this repository)
time_limit_min: float = 0.0  # pause training (checkpointed) after this many minutes (0: no limit)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.experiments import noise2void as recipe
from repro.notebook import check_parameters

check_parameters(globals(), choices={"method": recipe.METHODS}, positive=("sigma",))

# %%
from repro import budgets, report, runs
from repro.device import resolve_device, resolve_precision
from repro.methods import noise2void as n2v
from repro.notebook import announce

dev = resolve_device(device)
precision = resolve_precision(precision, dev)  # emulated bf16 would be slower than fp32
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
hp = n2v.BUDGETS[budget]
announce(n2v.PAPER, budget, dev, results, f"{method} training on BSD400 gray, then BSD68 (noise2void protocol)",
         iterations=hp["iterations"], methods=(method,))
print(f"Gaussian sigma={sigma:g}; hyper-parameters {hp}")

# %% [markdown]
# ## Train and evaluate
# `repro.experiments.noise2void.train`: 64×64 crops of BSD400 gray with one fixed noisy copy per image (two
# for `n2n`); for N2V 0.198 % of the pixels masked per crop (one per 22×22 box), each replaced by a pixel of
# its 5×5 neighbourhood; our Noise2Noise U-Net with one channel (the notebook's is a depth-2 U-Net with 96
# features, batch norm and a residual connection); Adam at 4·10⁻⁴ ramped down over the last 30 % (the
# notebook halves the rate on validation plateaus).

# %%
run = recipe.train(sigma, method=method, budget=budget, device=dev, results_dir=results, precision=precision,
                   seed=seed, time_limit_s=time_limit_min * 60 or None)
run.path

# %% [markdown]
# ## Training curve
# N2V's loss is the L2 at the masked pixels against their noisy values (N2N's against the second copy), so it
# stays near σ²; the validation PSNR (four fixed 256×256 Set12 crops, for monitoring only) is what to watch.

# %%
fig = report.run_curve_figure(run.path, f"{method} gray sigma={sigma:g}, budget {budget}",
                              "training loss (L2 at masked pixels)" if method == "n2v" else "training loss (L2)")
report.save_figure(fig, run.path / "curve.png")
fig

# %% [markdown]
# ## Reproduced vs claimed
# The paper's BSD68 numbers (and the official notebook's re-runs) beside ours; BM3D under the same protocol
# comes from `repro baseline bm3d --protocol noise2void --sigma 25`.

# %%
report.claims_vs_reproduced(n2v.PAPER, results)[report.CLAIMS_VIEW + ["run"]]
