"""The training loop, the torch twin and weight files of repro.scratch; run folders of its experiments."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from repro import data, noise
from repro.experiments import scratch_n2n as recipe
from repro.scratch import MSE, SGD, course_model, load, save, torch_twin
from repro.scratch import data as scratch_data
from repro.scratch import results as scratch_results
from repro.scratch.course import COURSE
from repro.scratch.train import ScratchLearner, TorchLearner, batch_order, fit


pytestmark = pytest.mark.usefixtures("one_thread")


def test_sgd_step_equals_torch_sgd():
    g = torch.Generator().manual_seed(0)
    net = course_model(channel_factor=2, generator=g, dtype=torch.float64)
    twin = torch_twin(net)
    x, y = (torch.rand(4, 3, 32, 32, generator=g, dtype=torch.float64) for _ in range(2))
    loss = MSE()
    loss(net(x), y)
    net.zero_grad()
    net.backward(loss.backward())
    SGD(net.param(), lr=5.0).step()
    opt = torch.optim.SGD(twin.parameters(), lr=5.0)
    torch.nn.functional.mse_loss(twin(x), y).backward()
    opt.step()
    for name, ref in twin.state_dict().items():
        assert torch.allclose(net.state_dict()[name], ref, rtol=1e-12, atol=1e-14), name


@pytest.mark.parametrize("channel_factor,kernel_size", [(2, 3), (2, 5)])
def test_scratch_and_twin_follow_the_same_trajectory_in_float64(channel_factor, kernel_size):
    g = torch.Generator().manual_seed(1)
    net = course_model(channel_factor, kernel_size, generator=g, dtype=torch.float64)
    scratch, twin = ScratchLearner(net, lr=5.0), TorchLearner(torch_twin(net), lr=5.0)
    data_a, data_b = (torch.rand(24, 3, 32, 32, generator=g, dtype=torch.float64) for _ in range(2))
    for epoch in range(2):
        for index in batch_order(24, 8, seed=0, epoch=epoch):
            la = scratch.step(data_a[index], data_b[index])
            lb = twin.step(data_a[index], data_b[index])
            assert abs(float(la - lb)) <= 1e-10 * abs(float(lb))
    ours, ref = scratch.state_dict(), twin.state_dict()
    start = torch_twin(course_model(channel_factor, kernel_size, generator=torch.Generator().manual_seed(1),
                                    dtype=torch.float64)).state_dict()
    for name in ref:
        assert not torch.equal(ref[name], start[name]), f"{name} did not train"
        assert float((ours[name] - ref[name]).abs().max() / ref[name].abs().max()) < 1e-10, name


def test_batch_order_depends_only_on_seed_and_epoch():
    a = torch.cat(batch_order(100, 32, seed=3, epoch=1))
    assert torch.equal(a, torch.cat(batch_order(100, 32, seed=3, epoch=1)))
    assert sorted(a.tolist()) == list(range(100))  # a permutation: every pair once per epoch
    assert not torch.equal(a, torch.cat(batch_order(100, 32, seed=3, epoch=2)))
    assert not torch.equal(a, torch.cat(batch_order(100, 32, seed=4, epoch=1)))


def test_save_and_load_round_trip_between_frameworks(tmp_path):
    net = course_model(channel_factor=2, generator=torch.Generator().manual_seed(2))
    path = save(net, tmp_path / "w.pt")
    other = load(course_model(channel_factor=2, generator=torch.Generator().manual_seed(3)), path)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(other(x), net(x))
    twin = torch_twin(course_model(channel_factor=2))
    twin.load_state_dict(torch.load(path, weights_only=True))  # the twin reads the same file
    assert torch.allclose(twin(x), net(x), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        load(course_model(channel_factor=4), path)


def test_fit_lowers_the_loss_and_logs_a_curve():
    g = torch.Generator().manual_seed(4)
    clean = torch.rand(64, 3, 1, 1, generator=g).expand(64, 3, 32, 32).contiguous()  # flat colour patches
    noisy = [clean + 0.1 * torch.randn(clean.shape, generator=g) for _ in range(2)]
    pairs = scratch_data.PairSet(noisy[0], noisy[1], (clean * 255).to(torch.uint8), [""] * 64)
    learner = ScratchLearner(course_model(channel_factor=2, generator=g), lr=5.0)
    curve, timing = fit(learner, pairs, None, epochs=20, batch_size=8, seed=0, device="cpu", progress=False,
                        logs_per_epoch=2)
    assert list(curve.columns) == ["iteration", "epoch", "loss", "val_psnr_db", "train_wall_s", "train_cpu_s"]
    assert curve.iteration.tolist() == [0] + [4 * k for k in range(1, 41)]
    assert timing.epoch.tolist() == list(range(1, 21)) and (timing.wall_s > 0).all() and (timing.cpu_s > 0).all()
    assert curve.train_wall_s.is_monotonic_increasing and curve.train_cpu_s.is_monotonic_increasing
    assert curve.loss.iloc[-4:].mean() < 0.85 * curve.loss.iloc[1:5].mean()


@pytest.fixture(scope="module")
def tiny_data():
    gaussian = noise.Gaussian(25)
    pairs = scratch_data.training_pairs(96, gaussian, seed=0, images=data.load("kodak24")[:3])
    test = scratch_data.held_out_set(gaussian, per_image=8, n_images=1)
    return gaussian, pairs, test


def test_train_run_writes_a_complete_run_folder_and_reuses_it(tmp_path, tiny_data):
    gaussian, pairs, test = tiny_data
    from dataclasses import replace

    settings = replace(COURSE, n_pairs=96, epochs=1, batch_size=32, channel_factor=2)
    name = recipe.run_name("scratch", settings, gaussian, "smoke", 0)
    run = recipe.train_run(tmp_path, name, settings, pairs, test, gaussian, budget="smoke", progress=False)
    files = {p.name for p in run.path.iterdir()}
    assert {"run.json", "curve.csv", "per_image.csv", "model.pt"} <= files
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "complete" and info["iterations"] == 3 and info["paper"] == "scratch_n2n"
    table = pd.read_csv(run.per_image_csv)
    assert (table.dataset == "kodak24_patch32").sum() == 8 and (table.dataset == "kodak24").sum() == 1
    assert np.isclose(table[table.dataset == "kodak24_patch32"].psnr_db.mean(), info["test_psnr_db"], atol=1e-3)
    stamp = (run.path / "model.pt").stat().st_mtime_ns
    again = recipe.train_run(tmp_path, name, settings, pairs, test, gaussian, budget="smoke", progress=False)
    assert (again.path / "model.pt").stat().st_mtime_ns == stamp  # reused, not retrained
    frame = scratch_results.runs_frame(tmp_path)
    assert frame.run.tolist() == [name] and frame.backend.tolist() == ["scratch"]


def test_twin_comparison_reads_both_run_folders(tmp_path, tiny_data):
    gaussian, pairs, test = tiny_data
    from dataclasses import replace

    settings = replace(COURSE, n_pairs=64, epochs=1, batch_size=32, channel_factor=2)
    names = []
    for backend in ("scratch", "torch"):
        names.append(recipe.run_name(backend, settings, gaussian, "smoke", 0))
        recipe.train_run(tmp_path, names[-1], settings, pairs, test, gaussian, backend=backend, budget="smoke",
                             progress=False)
    comparison = scratch_results.twin_comparison(*names, results_dir=tmp_path)
    assert comparison["max relative loss difference"] < 1e-4  # float32, two steps: rounding only
    assert abs(comparison["test PSNR scratch (dB)"] - comparison["test PSNR torch (dB)"]) < 1e-3
    assert len(scratch_results.twins(tmp_path)) == 1
