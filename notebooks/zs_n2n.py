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

import matplotlib.pyplot as plt
import pandas as pd
import torch

from repro import budgets, data, metrics, noise as noises, protocols, runs
from repro.device import resolve_device
from repro.notebook import announce
from repro.evaluate import noisy_input, summarize
from repro.methods import zsn2n
from repro.models.zsn2n import ZSN2NNet

dev = resolve_device(device)
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
protocol = protocols.get("zs_n2n")
test_noise = noises.make(noise, sigma if noise == "gaussian" else lam)
steps = zsn2n.steps_for_budget(budget)
if budget == "smoke":
    n_images, n_crops, n_reference = 1, min(n_crops, 1), min(n_reference, 1)
announce("zs_n2n", budget, dev, results, f"ZS-N2N fits ({steps} steps each) on {dataset} and the Kodak crop check",
         methods=("zs-n2n",))
print(f"noise {test_noise.label}; "
      f"fast path precision here: {zsn2n.fast_precision(dev)}; full-size fits ({preset}): "
      f"{zsn2n.PRESETS[preset].describe()}")

# %% [markdown]
# ## The method on one image
#
# The pair downsampler averages the two diagonals of each 2x2 cell: D1 and D2 see the same scene with
# independent noise. The network predicts the noise; the loss asks D1 − f(D1) to match D2 (and back),
# and denoising to commute with downsampling.

# %%
print("parameters:", sum(p.numel() for p in ZSN2NNet(3).parameters()), "(RGB),",
      sum(p.numel() for p in ZSN2NNet(1).parameters()), "(gray)")
kodak = data.load("kodak24")
clean = zsn2n.centre_crop(protocol.prepare(kodak[0].pixels, "kodak24"), 256 if budget != "smoke" else 64)
noisy = noisy_input(protocol, test_noise, clean, "kodak24", 0, 0)
fitted = zsn2n.fit(noisy, steps=steps, path="fast", device=dev, seed=seed)
denoised = zsn2n.denoise_with(fitted.model, noisy)
d1, d2 = zsn2n.pair_downsample(noisy)
panels = {"noisy": noisy, "D1(y)": d1, "D2(y)": d2, f"denoised ({steps} steps)": denoised, "clean": clean}
fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2))
for ax, (title, img) in zip(axes, panels.items()):
    ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
    psnr = f"\n{float(metrics.psnr(img, clean, 'float')[0]):.2f} dB" if img.shape == clean.shape else ""
    ax.set_title(title + psnr, fontsize=9)
    ax.axis("off")
fig.tight_layout()
print(f"fit: {fitted.seconds:.1f} s wall, {fitted.cpu_seconds:.1f} s CPU, final loss {fitted.final_loss:.5f}")

# %% [markdown]
# ## The published check: 256x256 Kodak crops
#
# The Colab printed 31.17 dB for one 256x256 Kodak crop at sigma=25 (which crop is not recorded). Here
# every crop is the centre of a Kodak image, the noise is the protocol's seeded realisation, and the
# reference (fp32, the Colab step for step) and fast paths fit the *same* noisy crop from the same
# initial weights. `per_crop.csv` in the run folder is appended crop by crop, so this resumes too.

# %%
if n_crops:
    crop_run, crops = zsn2n.crop_check_run(results, protocol, test_noise, "kodak24", crop=256 if budget != "smoke" else 64,
                                           n_images=None if n_crops >= len(kodak) else n_crops,
                                           n_reference=n_reference, budget=budget, device=dev, seed=seed)
    fig.savefig(crop_run.path / "example.png", dpi=80)
    print(crop_run.path)
    fast = crops[crops.path == "fast"]
    print(f"fast path, {len(fast)} crops: mean {fast.psnr_db.mean():.2f} dB (noisy input {fast.noisy_psnr_db.mean():.2f} dB)")
    display(crops.pivot_table(index="image", columns="path", values="psnr_db").round(2))
    display(zsn2n.compare_paths(crops).round(3))

# %% [markdown]
# ## Full-size images of the data set
#
# One fit per image (fast path), scored under the zs_n2n protocol; `per_image.csv` is written as each
# image finishes, so re-running this cell after an interruption recomputes nothing. With `preset="fast"`
# the same noisy images are fitted with `repro denoise`'s default, and `zsn2n.compare_presets` pairs them
# with the paper-protocol run of the same set.

# %%
run, table = zsn2n.full_set_run(results, protocol, test_noise, dataset, n_images=n_images or None, budget=budget,
                                device=dev, seed=seed, preset=preset)
runs.write_summary(results)
print(run.path)
display(summarize(table))
display(table.round(3))

# %%
if preset != "paper":  # the same noisy images, paired with the paper-protocol run of this set (if in `results`)
    versus, _ = zsn2n.compare_presets(results, test_noise.label.replace("=", ""), [dataset], preset)
    display(versus if len(versus) else f"no paper-protocol run of {dataset} in {results} to compare with")
