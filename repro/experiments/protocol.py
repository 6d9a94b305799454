"""Measure how much each evaluation choice moves PSNR, on one and the same denoiser.

Each variant is a run folder ``results/protocol/<effect>__<variant>/`` (read by
:func:`repro.report.protocol_effects`); the reference variant of each effect is the Noise2Noise/SSDN
convention. Choices measured here, all at test time on a trained model:

* clipping the noisy input to [0, 1] (the ZS-N2N notebook does, NVlabs code does not);
* PSNR on uint8-rounded images vs float (NVlabs/SSDN vs Noise2Score/ZS-N2N);
* Set14 with 14 images (SSDN) vs 12 (Neighbor2Neighbor drops the gray bridge and man).

Two choices made at training time need a model trained each way (:func:`measure_training`): the same
Noise2Noise U-Net, budget and seed, trained

* on noise drawn fresh for every batch (NVlabs, SSDN) vs one fixed pre-generated noisy pair per training
  image (Noise2Score's .npy files, and what real noisy data gives);
* in fp32 vs bf16 autocast with channels_last (our CPU speed-up, which the committed runs use).

:func:`run` is what the notebook calls: both kinds, on a trained run folder.
"""
from __future__ import annotations

import dataclasses
import re
import time

from .. import budgets, data, runs
from ..evaluate import evaluate
from ..protocols import Protocol, get as get_protocol

SET14_NB2NB_DROPS = ("bridge", "man")  # Neighbor2Neighbor's validation/Set14 holds the other 12


def _record(results_dir, effect: str, variant: str, reference: bool, table, info: dict) -> runs.Run:
    slug = lambda text: re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")  # noqa: E731
    run = runs.Run.open(results_dir, "protocol", f"{slug(effect)}__{slug(variant)}",
                        effect=effect, variant=variant, reference=reference, **info)
    run.per_image_csv.unlink(missing_ok=True)
    table.to_csv(run.per_image_csv, index=False)
    run.finish()
    return run


def measure(denoiser, base: Protocol, noise, results_dir, info: dict, datasets=("kodak24", "set14"),
            n_images: int | None = None, progress: bool = True) -> list[runs.Run]:
    """Evaluate ``denoiser`` under ``base`` and its variants; ``info`` (method, source run, budget...) is recorded."""
    start = time.perf_counter()
    kw = dict(datasets=list(datasets), n_images=n_images, progress=progress)
    reference = evaluate(denoiser, base, noise, **kw)
    clipped = evaluate(denoiser, dataclasses.replace(base, clip_noisy=True), noise, **kw)
    as_float = evaluate(denoiser, dataclasses.replace(base, psnr="float"), noise, **kw)
    info = {**info, "base_protocol": base.name, "eval_wall_s": round(time.perf_counter() - start, 1)}
    made = [
        _record(results_dir, "clip the noisy input", "not clipped", True, reference, info),
        _record(results_dir, "clip the noisy input", "clipped to [0,1]", False, clipped, info),
        _record(results_dir, "PSNR flavour", "uint8 rounded", True, reference, info),
        _record(results_dir, "PSNR flavour", "float", False, as_float, info),
    ]
    if "set14" in datasets:
        set14 = reference[reference.dataset == "set14"]
        made += [
            _record(results_dir, "Set14 composition", "14 images (SSDN)", True, set14, info),
            _record(results_dir, "Set14 composition", "12 images (Nb2Nb)", False,
                    set14[~set14.image.isin(SET14_NB2NB_DROPS)], info),
        ]
    return made


# Ours (no paper measured these). 100 training images: 3000 steps of 4 64x64 crops pass over a fixed noisy
# set ~5 times, as a long run does, and a fixed set can only cost PSNR once crops repeat.
TRAINING_BUDGETS = {
    "smoke": {"iterations": 4, "patch_size": 32, "train_images": 4, "eval_images": 1},
    "cpu": {"iterations": 3000, "patch_size": 64, "train_images": 100, "eval_images": None},
    "paper": {"iterations": 50_000, "patch_size": 128, "train_images": None, "eval_images": None},
}
# (name, fixed_noise, precision); the first is the model both effects share.
TRAINING_VARIANTS = [("fresh_bf16", False, "bf16"), ("fixed_bf16", True, "bf16"), ("fresh_fp32", False, "fp32")]


def measure_training(results_dir, budget: str, device, seed: int = 0, sigma: float = 25.0,
                     datasets=("kodak24",), progress: bool = True) -> list[runs.Run]:
    """Train the N2N U-Net three ways (fresh/fixed noise, bf16/fp32) and record the two training effects.

    Each trained model is a run folder ``results/protocol/training_<variant>_<budget>`` (curve, weights,
    per-image PSNR under the Noise2Noise protocol, resumable); the effect rows reuse its per-image table.
    """
    from ..methods import noise2noise as n2n
    from ..models import UNet
    from ..noise import Gaussian
    from ..patches import PatchSampler
    from ..pipeline import train_and_evaluate
    from ..train import TrainConfig

    hp = TRAINING_BUDGETS[budget]
    images = [im.pixels for im in data.load(n2n.TRAIN_SET, exclude=n2n.TRAIN_EXCLUDE)][: hp["train_images"]]
    protocol, eval_noise = get_protocol("noise2noise"), Gaussian(sigma)
    tables, infos = {}, {}
    for name, fixed, precision in TRAINING_VARIANTS:
        model = UNet(3)  # train_and_evaluate draws its initial weights from seed: the same for every variant
        sampler = PatchSampler(images, hp["patch_size"], n2n.training_noise("gaussian"), copies=2,
                               fixed_noise=fixed, seed=seed)
        config = TrainConfig(iterations=hp["iterations"], batch_size=4, lr=n2n.LR, betas=n2n.BETAS,
                             rampdown_fraction=0.3, precision=precision, val_every=hp["iterations"],
                             checkpoint_every=max(1, hp["iterations"] // 6), seed=seed)
        run = train_and_evaluate(
            results_dir=results_dir, paper="protocol", run_name=f"training_{name}_{budget}", method="n2n",
            model=model, architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=n2n.N2NLoss(),
            sampler=sampler, config=config, protocol=protocol, eval_noise=eval_noise, budget=budget,
            device=device, params={**hp, "train_set": f"{n2n.TRAIN_SET} (first {len(images)} images)",
                                   "fixed_noise": fixed},
            datasets=list(datasets), eval_images=hp["eval_images"], progress=progress)
        tables[name] = run.per_image()  # without a line torn by a crash
        infos[name] = {"method": "n2n", "source_run": f"protocol/{run.path.name}", "budget": budget,
                       "device": str(device), "iterations": run.info["iterations"],
                       "train_wall_s": run.info["train_wall_s"]}
    return [
        _record(results_dir, "training noise", "fresh per batch", True, tables["fresh_bf16"], infos["fresh_bf16"]),
        _record(results_dir, "training noise", "fixed noisy set", False, tables["fixed_bf16"], infos["fixed_bf16"]),
        _record(results_dir, "training precision", "fp32", True, tables["fresh_fp32"], infos["fresh_fp32"]),
        _record(results_dir, "training precision", "bf16 + channels_last", False, tables["fresh_bf16"],
                infos["fresh_bf16"]),
    ]


def source_denoiser(model_run: str, budget: str, device):
    """``(denoiser, method)`` of the trained run folder ``model_run`` (relative to the repository's results).

    A budget whose runs are not committed (smoke) measures the identity when the folder has no model.
    """
    import repro

    source = runs.default_results_dir() / model_run
    if (source / "model.pt").exists():
        return repro.load(source, device=device), runs.Run(source).info["method"]
    if not budgets.committed(budget):  # a smoke run proves the code, with or without a trained model
        print(f"{source} has no model.pt; the {budget} run measures the identity (the noisy input) instead")
        return (lambda y: y), "identity"
    raise FileNotFoundError(f"{source} has no trained model: run notebooks/noise2noise.ipynb first")


def run(model_run: str, sigma: float = 25.0, *, budget: str, device, results_dir, seed: int = 0,
        training: bool = True) -> tuple[list[runs.Run], list[runs.Run]]:
    """The notebook's work: the test-time effects on ``model_run`` under the Noise2Noise protocol at Gaussian
    ``sigma`` (:func:`measure`), then, with ``training``, the training effects (:func:`measure_training`).
    Returns the run folders of each (the second list empty without ``training``)."""
    from ..noise import Gaussian

    denoiser, method = source_denoiser(model_run, budget, device)
    made = measure(denoiser, get_protocol("noise2noise"), Gaussian(sigma), results_dir,
                   info={"method": method, "source_run": model_run, "budget": budget, "device": str(device)},
                   n_images=TRAINING_BUDGETS[budget]["eval_images"])
    trained = (measure_training(results_dir, budget, device, seed=seed, sigma=sigma,
                                progress=budgets.committed(budget)) if training else [])
    return made, trained
