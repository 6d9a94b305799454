"""The same seed and thread count give bit-identical weights and PSNR, for every trained method.

Each test trains a method twice at a tiny size through the code its notebook uses, with torch's global
generator left in a different state before each run (as two fresh processes would), and compares the
saved weights bit for bit and the per-image PSNR exactly. Before the initial weights were drawn from
the run's seed (repro.seeding), the global generator decided them and these runs differed.
"""
import dataclasses

import pandas as pd
import pytest
import torch

from repro import data, noise, protocols
from repro.methods import noise2noise as n2n
from repro.experiments import noise2score as n2s_recipe
from repro.methods import noise2score as n2s
from repro.methods import ssdn
from repro.models import UNet
from repro.patches import PatchSampler
from repro.pipeline import train_and_evaluate
from repro.train import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images():
    return [im.pixels for im in data.load("cbsd432", exclude="bsd300_test")[:4]]


def weights(run_path) -> dict:
    return torch.load(run_path / "model.pt", map_location="cpu", weights_only=False)["state_dict"]


def assert_identical(a, b):
    wa, wb = weights(a.path), weights(b.path)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), f"{name} differs between two runs with the same seed"
    assert_same_psnr(a, b)


def assert_same_psnr(a, b):
    columns = ["dataset", "image", "repeat", "psnr_db"]  # not the seconds each image took
    pa, pb = a.per_image()[columns], b.per_image()[columns]
    assert len(pa) > 0
    pd.testing.assert_frame_equal(pa, pb)


def twice(train_once, tmp_path):
    """Run ``train_once(results_dir)`` twice, each time after drawing from the global generator."""
    out = []
    for i, disturbance in enumerate((1, 2)):
        torch.manual_seed(1000 + disturbance)  # another process, another global generator state
        torch.rand(disturbance)
        out.append(train_once(tmp_path / f"run{i}"))
    return out


def _pipeline_run(results, model, architecture, arch_kwargs, loss_fn, sampler, protocol, datasets, method="m",
                  inference=None):
    config = TrainConfig(iterations=3, batch_size=2, lr=1e-3, precision="bf16", checkpoint_every=3, log_every=1,
                         seed=7)
    return train_and_evaluate(
        results_dir=results, paper="ssdn" if protocol.name == "ssdn" else "noise2noise", run_name="twice",
        method=method, model=model, architecture=architecture, arch_kwargs=arch_kwargs, loss_fn=loss_fn,
        sampler=sampler, config=config, protocol=protocol, eval_noise=noise.Gaussian(25), budget="smoke",
        device=torch.device("cpu"), params={}, inference=inference, datasets=datasets, eval_images=1,
        progress=False)


@pytest.mark.parametrize("method", ["n2n", "n2c"])
def test_noise2noise_and_noise2clean_runs_repeat_bit_for_bit(method, images, tmp_path):
    def once(results):
        sampler = PatchSampler(images, 32, n2n.training_noise("gaussian"), copies=2, seed=7)
        return _pipeline_run(results, UNet(3), "unet", {"in_channels": 3}, n2n.LOSSES[method](), sampler,
                             protocols.get("noise2noise"), ["set12"])

    assert_identical(*twice(once, tmp_path))


@pytest.mark.parametrize("method,sigma_mode", [("ssdn", "known"), ("ssdn", "global"), ("ssdn", "per_image"),
                                               ("ssdn_mu", "known"), ("n2v", "known")])
def test_ssdn_modes_and_noise2void_runs_repeat_bit_for_bit(method, sigma_mode, images, tmp_path):
    def once(results):
        model, architecture, arch_kwargs = ssdn.build(method, sigma_mode, iterations=3)
        sampler = PatchSampler(images, 32, noise.Gaussian(25), copies=1, seed=7)
        protocol = protocols.get("ssdn")
        protocol = type(protocol)(**{**protocol.__dict__, "repeats": {"set12": 1}})
        known = sigma_mode == "known"
        inference = {"channels": 3, "covariance": "full" if method == "ssdn" else None,  # as notebooks/ssdn.py
                     "sigma": 25 if known and method == "ssdn" else None, "tile": None, "margin": 0}
        return _pipeline_run(results, model, architecture, arch_kwargs, ssdn.loss_for(method, sigma_mode, 25),
                             sampler, protocol, ["set12"], ssdn.method_name(method, known), inference)

    assert_identical(*twice(once, tmp_path))


def test_noise2score_runs_repeat_bit_for_bit(tmp_path):
    setting = n2s.Setting("gaussian", 25, "gray")
    a, b = twice(lambda results: n2s_recipe.train_setting(setting, results_dir=results, budget="smoke", device="cpu",
                                                   seed=3, progress=False), tmp_path)
    assert_identical(a, b)


def test_scratch_runs_repeat_bit_for_bit(tmp_path):
    from repro.scratch import data as scratch_data
    from repro.experiments.scratch_n2n import COURSE, train_run

    gaussian = noise.Gaussian(25)
    settings = dataclasses.replace(COURSE, n_pairs=64, epochs=1)
    pairs = scratch_data.training_pairs(64, gaussian, seed=0, images=data.load("kodak24")[:2])
    test = scratch_data.held_out_set(gaussian, per_image=4, n_images=1)
    runs = twice(lambda results: train_run(results, "twice", settings, pairs, test, gaussian, budget="smoke",
                                           seed=5, progress=False), tmp_path)
    a, b = (torch.load(r.path / "model.pt", map_location="cpu", weights_only=False) for r in runs)  # {name: tensor}
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert_same_psnr(*runs)


def test_zero_shot_fits_repeat_bit_for_bit(tmp_path):
    from repro.experiments import zs_n2n

    protocol = protocols.get("zs_n2n")
    a, b = twice(lambda results: zs_n2n.full_set_run(results, protocol, noise.Gaussian(25), "kodak24", n_images=1,
                                                     budget="smoke", device="cpu", seed=2)[0], tmp_path)
    assert_same_psnr(a, b)
