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
sigma: float = 25.0  # Gaussian test noise level, 0-255 scale (the known sigma given to the posterior mean)
budget: str = "auto"  # smoke | cpu | paper | auto (paper on a GPU, cpu otherwise)
device: str = "auto"  # auto | cpu | cuda
precision: str = "bf16"  # network precision in training. bf16 (autocast, channels_last on CPU) | fp32
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
import dataclasses

import torch

import repro
import repro.evaluate
from repro import data, noise as noises, protocols, report, runs
from repro.device import resolve_budget, resolve_device
from repro.notebook import announce
from repro.evaluate import Validator
from repro.methods import ssdn
from repro.patches import PatchSampler
from repro.pipeline import train_and_evaluate
from repro.train import TrainConfig

dev = resolve_device(device)
budget = resolve_budget(budget, dev)
results = runs.results_dir_for(results_dir, budget)  # a smoke run never writes into the committed results/
hp = ssdn.BUDGETS[budget]
train_noise = ssdn.TRAIN_NOISE[f"sigma={train_sigma}"]
test_noise = noises.Gaussian(sigma)
blind_spot = method in ("ssdn", "ssdn_diag")
sigma_known = sigma_mode == "known" or not blind_spot
run_method = ssdn.method_name(method, sigma_known)
announce(ssdn.PAPER, budget, dev, results, f"{run_method} training, then the SSDN protocol",
         iterations=hp["iterations"], methods=(run_method,))
print(f"method={run_method} train noise {train_noise.label}, "
      f"test noise {test_noise.label}; hyper-parameters {hp}")

# %% [markdown]
# ## Network, loss and training data
# The paper trained on 44k ImageNet validation images; offline we use CBSD432 without the 32 scenes that
# belong to BSD300's test split (400 images), 256×256 crops at the `paper` budget. Noise is drawn fresh
# for every batch and never clipped. With σ known the network is given the training σ; otherwise it
# learns σ (one global value, or per image with a second network). The global value is scaled so that
# a run shorter than the paper's 500k steps can move it as far as the paper's schedule could
# (`ssdn.global_noise_scale`; 1 at the `paper` budget): otherwise 3000 Adam steps could not take it
# beyond 9.4/255.

# %%
model, architecture, arch_kwargs = ssdn.build(method, sigma_mode if blind_spot else "known", iterations=hp["iterations"])
loss_fn = ssdn.loss_for(method, sigma_mode if blind_spot else "known",
                        None if isinstance(train_noise.sigma, tuple) else train_noise.sigma)
covariance = {"ssdn": "full", "ssdn_diag": "diagonal"}.get(method)
inference = {"channels": 3, "covariance": covariance, "sigma": sigma if sigma_known and blind_spot else None,
             # small training crops: every blind-spot network (ssdn_mu too) denoises in tiles of that size
             "tile": hp["inference_tile"] if method.startswith("ssdn") else None}
inference["margin"] = hp["inference_margin"] if inference["tile"] else 0  # tiles overlap, each keeps its centre
denoiser_of = lambda net: ssdn.make_denoiser(net, run_method, **inference)  # noqa: E731

train_images = [im.pixels for im in data.load(ssdn.TRAIN_SET, exclude=ssdn.TRAIN_EXCLUDE)][: hp["train_images"]]
sampler = PatchSampler(train_images, hp["patch_size"], train_noise, copies=2 if method == "n2n" else 1, seed=seed)
config = TrainConfig(iterations=hp["iterations"], batch_size=hp["batch_size"], lr=ssdn.LR, betas=ssdn.BETAS,
                     rampup_fraction=ssdn.RAMPUP_FRACTION, rampdown_fraction=ssdn.RAMPDOWN_FRACTION,
                     precision=precision, seed=seed, val_every=hp["val_every"],
                     checkpoint_every=max(hp["val_every"], 10), log_every=min(50, hp["val_every"]))
validator = Validator("kodak24", test_noise, n_images=hp["val_images"], crop=hp["val_crop"])
print(f"{sum(p.numel() for p in model.parameters()):,} parameters; {len(train_images)} training images; "
      f"{sampler.label}")

# %% [markdown]
# ## Train and evaluate
# The networks pad their input to a multiple of 32 themselves, so the evaluation does not: a reflected
# border would hold mirrored copies of noisy pixels, which the blind-spot network must never see (the
# official code pads the clean image before adding noise). For the U-Net this changes nothing, it
# reflect-pads itself exactly as the protocol would. At the `smoke` budget the evaluation is cut to one
# image of one set and one realisation, only to prove the pipeline runs.

# %%
protocol = protocols.get("ssdn")  # pad_multiple=1: reflect padding would leak the blind-spot pixel
if hp["eval_repeats"] is not None:
    protocol = dataclasses.replace(protocol, repeats={name: hp["eval_repeats"] for name in protocol.datasets})
run_name = (f"{method}_{sigma_mode}" if blind_spot else method) + f"_sigma{train_sigma}_{budget}_seed{seed}"
run = train_and_evaluate(
    results_dir=results, paper=ssdn.PAPER, run_name=run_name, method=run_method, model=model,
    architecture=architecture, arch_kwargs=arch_kwargs, loss_fn=loss_fn, sampler=sampler, config=config,
    protocol=protocol, eval_noise=test_noise, budget=budget, device=dev,
    params={"method": method, "sigma_mode": sigma_mode if blind_spot else "n/a", "train_noise": train_noise.label,
            "sigma": sigma, "precision": precision, "architecture": architecture, "arch_kwargs": arch_kwargs,
            "train_set": f"{ssdn.TRAIN_SET} minus {ssdn.TRAIN_EXCLUDE} ({len(train_images)} images)",
            "lr": ssdn.LR, "rampup_fraction": ssdn.RAMPUP_FRACTION, "rampdown_fraction": ssdn.RAMPDOWN_FRACTION,
            **hp},
    validate=lambda net: validator(denoiser_of(net)), inference=inference, datasets=hp["eval_datasets"],
    eval_images=hp["eval_images"], time_limit_s=time_limit_min * 60 or None,
)
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
    print(f"estimated sigma (true {sigma:g}):", [round(float(v), 2) for v in used])

# %% [markdown]
# ## Training curve
# Validation PSNR on four fixed 256×256 Kodak crops (of the denoiser's actual output: the posterior mean
# for SSDN), for monitoring only; the final weights are evaluated.

# %%
fig = report.run_curve_figure(run.path, f"{run_method} {test_noise.label}, budget {budget}",
                              "training loss (NLL per pixel)" if blind_spot else "training loss (L2)")
fig.savefig(run.path / "curve.png", dpi=100)
fig

# %% [markdown]
# ## What the posterior mean adds
# Noisy input, the prior mean μ_x the blind-spot network predicts without seeing the pixel, the posterior
# mean that puts the pixel back, and the clean image: a 256×256 crop of kodim23 (first noise realisation
# of the protocol), denoised as a crop; PSNR of the crop.

# %%
image = data.load("kodak24")[22]
window = (..., slice(100, 356), slice(250, 506))
clean_full = protocol.prepare(image.pixels, "kodak24")
clean = clean_full[window]
noisy = repro.evaluate.noisy_input(protocol, test_noise, clean_full, "kodak24", 22, 0)[window]
panels = {"noisy": noisy}
if trained is not None:
    with torch.no_grad():
        if blind_spot:
            prior, _ = trained.model(noisy.to(dev))
            panels["prior mean μ_x"] = prior[:, :3].float().cpu()
        panels[run_method] = trained(noisy).cpu()
fig = report.crops_figure(panels, clean)
fig.savefig(run.path / "comparison_kodim23.png", dpi=100)
fig

# %% [markdown]
# ## Reproduced vs claimed
# Every SSDN claim beside every SSDN run in the results folder with the same method, noise and data set
# (σ-unknown runs are named `*_unknown_sigma`, as in the claims); Δ = reproduced − claimed.

# %%
report.claims_vs_reproduced(ssdn.PAPER, results)[report.CLAIMS_VIEW + ["run"]]
