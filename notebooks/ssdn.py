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
# # SSDN: self-supervised denoising with a blind-spot network (Laine et al., NeurIPS 2019)
#
# Trains the blind-spot network on noisy images only: it predicts a Gaussian prior for each pixel from
# its surroundings, is trained with the likelihood of the noisy pixel, and denoises with the posterior
# mean. `method` picks SSDN (`ssdn`, full colour covariance), its diagonal-covariance ablation
# (`ssdn_diag`), the mean-only ablation (`ssdn_mu`), or the paper's baselines with the non-blind
# Noise2Noise U-Net (`n2c`, `n2n`, and `n2v`, Noise2Void's input masking). It evaluates under SSDN's
# protocol (Kodak ×10, BSD300 test ×3, Set14 ×20 noise realisations, fixed seeds, uint8 PSNR) and writes
# a run folder under `results/ssdn/`:
#
#     papermill notebooks/ssdn.ipynb - -p sigma_mode global -p budget cpu

# %% tags=["parameters"]
method: str = "ssdn"  # ssdn | ssdn_diag | ssdn_mu (mean only, no posterior) | n2c | n2n | n2v (non-blind U-Net)
sigma_mode: str = "known"  # ssdn and ssdn_diag only. known | global (one learned sigma) | per_image (auxiliary net)
train_sigma: str = "25"  # training noise level on the 0-255 scale. 25 (fixed) or 5-50 (uniform range per crop)
sigma: float = 25.0  # test noise, 0-255 (the posterior mean's known sigma); 5-50 runs test on U[5,50] per image
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | bf16 (autocast) | fp32
seed: int = 0  # seeds the training crops and noise
results_dir: str = ""  # folder for run folders (empty means results/ of this repository)
time_limit_min: float = 0.0  # pause training (checkpointed) after this many minutes (0 means no limit)

# %% [markdown]
# Every parameter is checked before any data is read or model built: a wrong value names the
# parameter and the valid values, and a parameter this notebook does not have is refused.

# %%
from repro.notebook import check_parameters
from repro.methods import ssdn

check_parameters(globals(), positive=("sigma",),
                 choices={"method": ssdn.METHODS, "sigma_mode": ssdn.SIGMA_MODES,
                          "train_sigma": [key.split("=")[1] for key in ssdn.TRAIN_NOISE]})

# %%
import torch

import repro
from repro import budgets, report, runs
from repro.device import resolve_device, resolve_precision
from repro.experiments import ssdn as recipe
from repro.notebook import announce

dev = resolve_device(device)
precision = resolve_precision(precision, dev)  # emulated bf16 would be slower than fp32
budget = budgets.resolve(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
hp = ssdn.BUDGETS[budget]
setting = recipe.Setting(method, sigma_mode, train_sigma, sigma)
blind_spot, sigma_known, run_method, test_noise = (setting.blind_spot, setting.sigma_known, setting.run_method,
                                                   setting.test_noise)
announce(ssdn.PAPER, budget, dev, results, f"{run_method} training, then the SSDN protocol",
         iterations=hp["iterations"], methods=(run_method,))
print(f"method={run_method} train noise {setting.train_noise.label}, "
      f"test noise {test_noise.label}; hyper-parameters {hp}")

# %% [markdown]
# ## Train and evaluate
# `repro.experiments.ssdn.train`. The paper trained on 44k ImageNet validation images; offline we use
# CBSD432 without the 32 scenes that belong to BSD300's test split (400 images), 256×256 crops at the
# `paper` budget. Noise is drawn fresh for every batch and never clipped. With σ known the network is given
# the training σ; otherwise it learns σ (one global value, or per image with a second network). The global
# value is scaled so that a run shorter than the paper's 500k steps can move it as far as the paper's
# schedule could (`ssdn.global_noise_scale`; 1 at the `paper` budget): otherwise 3000 Adam steps could not
# take it beyond 9.4/255. The networks pad their input to a multiple of 32 themselves and the SSDN
# protocol does no padding: a reflected border would hold mirrored copies of noisy pixels, which the
# blind-spot network must never see. At the `smoke` budget the evaluation is cut to one image of one set
# and one realisation, only to prove the pipeline runs.

# %%
run = recipe.train(setting, budget=budget, device=dev, results_dir=results, precision=precision, seed=seed,
                   time_limit_s=time_limit_min * 60 or None)
validator = recipe.validator(setting, budget)
run.path

# %% [markdown]
# ## The estimated noise level
# With σ unknown: the network's estimate on the validation crops, beside the true σ.

# %%
trained = repro.load(run.path, device=dev) if (run.path / "model.pt").exists() else None
if trained is not None and blind_spot and not sigma_known:
    with torch.no_grad():
        used = ssdn.noise_std_255(trained.model, validator.noisy.to(dev)).cpu()
    run.update(noise_std_255_on_validation=[round(float(v), 3) for v in used])
    print(f"estimated sigma (true {test_noise.label}):", [round(float(v), 2) for v in used])

# %% [markdown]
# ## Training curve
# Validation PSNR on four fixed 256×256 Kodak crops (of the denoiser's actual output: the posterior mean
# for SSDN), for monitoring only; the final weights are evaluated.

# %%
fig = report.run_curve_figure(run.path, f"{run_method} {test_noise.label}, budget {budget}",
                              "training loss (NLL per pixel)" if blind_spot else "training loss (L2)")
report.save_figure(fig, run.path / "curve.png")
fig

# %% [markdown]
# ## What the posterior mean adds
# Noisy input, the prior mean μ_x the blind-spot network predicts without seeing the pixel, the posterior
# mean that puts the pixel back, and the clean image: a 256×256 crop of kodim23 (first noise realisation
# of the protocol), denoised as a crop; PSNR of the crop.

# %%
fig = recipe.comparison_figure(run.path, device=dev, path=run.path / "comparison_kodim23.png")
fig

# %% [markdown]
# ## Reproduced vs claimed
# Every SSDN claim beside every SSDN run in the results folder with the same method, noise and data set
# (σ-unknown runs are named `*_unknown_sigma`, as in the claims); Δ = reproduced − claimed.

# %%
report.claims_vs_reproduced(ssdn.PAPER, results)[report.CLAIMS_VIEW + ["run"]]
