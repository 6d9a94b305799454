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
# # Zero-Shot Noise2Noise (Mansour & Heckel, CVPR 2023)
#
# No training data: a 22k-parameter network is fitted to the one noisy image, by asking each of two
# half-size sub-images of it (the *pair downsampler*) to predict the other. Everything follows the
# authors' Colab notebook (the paper's only code): Adam 1e-3, StepLR(1000, 0.5), 3000 steps, Gaussian
# noise clipped to [0, 1], float PSNR. This notebook
#
# 1. shows the method on one image,
# 2. runs **the published check**: per-crop PSNR on 256x256 Kodak crops (the Colab printed 31.17 dB for
#    one such crop at sigma=25), with the fp32 reference path and the fast path on the same noisy crops,
# 3. evaluates full-size images of `dataset`, resumable image by image (a killed run picks up where it
#    stopped), with the paper's protocol (`preset="paper"`) or with the fast default of `repro denoise`
#    (`preset="fast"`: 3000 steps on small random crops, its own run folder `fast_<noise>_<dataset>`).
#
# ZS-N2N is cheap enough that the `cpu` budget *is* the paper's protocol (3000 steps per image);
# `smoke` runs 10 steps on one image. Run it with papermill, e.g.
#
#     papermill notebooks/zs_n2n.ipynb - -p dataset mcmaster18 -p sigma 50

# %% tags=["parameters"]
noise: str = "gaussian"  # gaussian (noisy image clipped to [0, 1], as in the Colab) | poisson (not clipped)
sigma: float = 25.0  # Gaussian noise level, 0-255 scale (the paper: 10, 25, 50)
lam: float = 50.0  # Poisson photon count at white, used when noise="poisson" (the paper: 50, 25, 10)
dataset: str = "kodak24"  # full-size set to evaluate: kodak24 | mcmaster18 (the paper's sets)
n_images: int = 0  # evaluate the first n images of the set (0: all; budget smoke: 1)
n_crops: int = 24  # the published check: 256x256 centre crops of the first n Kodak images (0: skip; smoke: 1)
n_reference: int = 3  # of those crops, how many the fp32 reference path also fits (its PSNR gap and speed-up)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on GPU, cpu otherwise); cpu and paper both run 3000 steps
device: str = "auto"  # auto | cpu | cuda
seed: int = 0  # initial weights of every fit (noise seeds are fixed by the zs_n2n protocol)
preset: str = "paper"  # full-size fits: paper (the published protocol) | fast (repro denoise's default, on crops)
results_dir: str = ""  # folder for run folders (empty: results/ of this repository)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters
from repro import protocols

check_parameters(globals(), positive=("sigma", "lam"), non_negative=("n_images", "n_crops", "n_reference"),
                 choices={"noise": ("gaussian", "poisson"), "dataset": protocols.get("zs_n2n").datasets,
                          "preset": ("paper", "fast")})

# %%
from IPython.display import display

from repro import budgets, report, runs
from repro.device import resolve_device
from repro.evaluate import summarize
from repro.experiments import zs_n2n as recipe
from repro.methods import zsn2n
from repro.notebook import announce

dev = resolve_device(device)
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
steps = zsn2n.steps_for_budget(budget)
announce("zs_n2n", budget, dev, results, f"ZS-N2N fits ({steps} steps each) on {dataset} and the Kodak crop check",
         methods=("zs-n2n",))
print(f"noise {recipe.noise_for(noise, sigma, lam).label}; "
      f"fast path precision here: {zsn2n.fast_precision(dev)}; full-size fits ({preset}): "
      f"{zsn2n.PRESETS[preset].describe()}")

# %% [markdown]
# ## Run
#
# `repro.experiments.zs_n2n.run`, in order:
#
# * **the method on one image**: the centre crop of Kodak image 1 with the protocol's noise, one fit;
# * **the published check**: the Colab printed 31.17 dB for one 256x256 Kodak crop at sigma=25 (which crop
#   is not recorded). Here every crop is the centre of a Kodak image, the noise is the protocol's seeded
#   realisation, and the reference (fp32, the Colab step for step) and fast paths fit the *same* noisy crop
#   from the same initial weights. `per_crop.csv` in the run folder is appended crop by crop;
# * **full-size images of the data set**: one fit per image (fast path), scored under the zs_n2n protocol;
#   `per_image.csv` is written as each image finishes. With `preset="fast"` the same noisy images are fitted
#   with `repro denoise`'s default and paired with the paper-protocol run of the same set.
#
# Every step resumes: re-running after an interruption recomputes nothing that finished.

# %%
outcome = recipe.run(noise, sigma, lam, dataset, n_images, n_crops, n_reference, budget=budget, device=dev,
                     results_dir=results, seed=seed, preset=preset)

# %% [markdown]
# ## The method on one image
#
# The pair downsampler averages the two diagonals of each 2x2 cell: D1 and D2 see the same scene with
# independent noise. The network predicts the noise; the loss asks D1 − f(D1) to match D2 (and back),
# and denoising to commute with downsampling.

# %%
example = outcome.example
fig = report.crops_figure({"noisy": example.noisy, f"denoised ({steps} steps)": example.denoised}, example.clean,
                          flavour="float")
if outcome.crop_run is not None:
    fig.savefig(outcome.crop_run.path / "example.png", dpi=80)
print(f"{sum(p.numel() for p in example.fit.model.parameters())} parameters; fit: {example.fit.seconds:.1f} s wall, "
      f"{example.fit.cpu_seconds:.1f} s CPU, final loss {example.fit.final_loss:.5f}")
fig

# %% [markdown]
# ## The published check: 256x256 Kodak crops
#
# PSNR per crop of each path, then per crop fitted by both: their difference and the fast path's speed-up.

# %%
if outcome.crop_run is not None:
    crops = outcome.crops
    fast = crops[crops.path == "fast"]
    print(outcome.crop_run.path)
    print(f"fast path, {len(fast)} crops: mean {fast.psnr_db.mean():.2f} dB (noisy input {fast.noisy_psnr_db.mean():.2f} dB)")
    display(crops.pivot_table(index="image", columns="path", values="psnr_db").round(2))
    display(recipe.compare_paths(crops).round(3))

# %% [markdown]
# ## Full-size images of the data set

# %%
print(outcome.run.path)
display(summarize(outcome.table))
display(outcome.table.round(3))

# %%
if outcome.presets is not None:  # the same noisy images, paired with the paper-protocol run of this set (if in `results`)
    display(outcome.presets if len(outcome.presets)
            else f"no paper-protocol run of {dataset} in {results} to compare with")
