"""Neighbor2Neighbor: the random neighbour sub-sampler, the regularised loss, its schedule and its recipe.

Properties checked on synthetic data, on one thread, in seconds (the recipe's smoke run in about a minute):
the sub-sampler picks two distinct edge-sharing pixels of every 2×2 cell, the same for every channel, from a
seeded generator; with γ = 0 the loss is the plain L2 between f(g1(y)) and g2(y); the regulariser vanishes
for the identity and, for any network that commutes with sub-sampling (a 1×1 convolution), equals
‖f(g2(y)) − g2(y)‖²; no gradient flows through f(y); the noisy target is unbiased, E[g2(y) | x] = g2(x), and
its noise is independent of the input's; training improves on the noisy input; the paper budget's learning
rate is the official MultiStepLR's at every epoch; the recipe writes a run folder that repro.load loads.
"""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import repro
from repro import metrics
from repro.experiments import neighbor2neighbor as recipe
from repro.experiments.config import train_config
from repro.methods import neighbor2neighbor as nb2nb
from repro.methods import noise2noise as n2n
from repro.noise import Gaussian
from repro.patches import Batch, PatchSampler
from repro.train import TrainConfig, learning_rate, train


def _coordinates(n: int = 2, h: int = 8, w: int = 10) -> torch.Tensor:
    """(n, 3, h, w): channel 0 the row, channel 1 the column, channel 2 the image index of every pixel."""
    rows = torch.arange(h, dtype=torch.float64)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float64)[None, :].expand(h, w)
    return torch.stack([torch.stack([rows, cols, torch.full((h, w), float(i), dtype=torch.float64)])
                        for i in range(n)])


def test_every_cell_gives_two_distinct_edge_sharing_pixels_of_itself_at_half_size():
    y = _coordinates(n=3, h=8, w=10)
    g1, g2, pairs = nb2nb.neighbor_subsample(y, torch.Generator().manual_seed(0))
    assert g1.shape == g2.shape == (3, 3, 4, 5)
    cell_rows = torch.arange(4, dtype=torch.float64)[:, None].expand(4, 5)
    cell_cols = torch.arange(5, dtype=torch.float64)[None, :].expand(4, 5)
    for g in (g1, g2):  # each picked pixel lies in its own cell, of its own image
        assert torch.equal(torch.div(g[:, 0], 2, rounding_mode="floor"), cell_rows.expand(3, 4, 5))
        assert torch.equal(torch.div(g[:, 1], 2, rounding_mode="floor"), cell_cols.expand(3, 4, 5))
        assert torch.equal(g[:, 2], torch.arange(3, dtype=torch.float64)[:, None, None].expand(3, 4, 5))
    steps = (g1[:, 0] - g2[:, 0]).abs() + (g1[:, 1] - g2[:, 1]).abs()
    assert bool((steps == 1).all())  # distinct, and sharing an edge: never the same pixel, never a diagonal
    assert pairs.first.shape == (3, 4, 5) and not bool((pairs.first == pairs.second).any())


def test_an_odd_last_row_or_column_is_left_out():
    y = _coordinates(n=1, h=7, w=9)
    g1, g2, _ = nb2nb.neighbor_subsample(y, torch.Generator().manual_seed(0))
    assert g1.shape == g2.shape == (1, 3, 3, 4)
    assert float(g1[:, 0].max()) <= 5 and float(g1[:, 1].max()) <= 7
    with pytest.raises(ValueError, match="at least 2x2"):
        nb2nb.draw_pairs((1, 3, 1, 8))


def test_all_channels_share_the_cell_positions():
    g = torch.Generator().manual_seed(1)
    base = torch.rand(2, 1, 16, 16, generator=g)
    y = torch.cat([base, base + 10, base + 20], dim=1)
    g1, g2, _ = nb2nb.neighbor_subsample(y, torch.Generator().manual_seed(3))
    for sub in (g1, g2):
        assert torch.allclose(sub[:, 1], sub[:, 0] + 10) and torch.allclose(sub[:, 2], sub[:, 0] + 20)


def test_the_draw_is_seeded_reproducible_and_uniform_over_the_eight_pairs():
    shape = (4, 3, 64, 64)
    a = nb2nb.draw_pairs(shape, torch.Generator().manual_seed(7))
    b = nb2nb.draw_pairs(shape, torch.Generator().manual_seed(7))
    c = nb2nb.draw_pairs(shape, torch.Generator().manual_seed(8))
    assert torch.equal(a.first, b.first) and torch.equal(a.second, b.second)
    assert not torch.equal(a.first, c.first)
    # the ordered pair of each cell, over 4 * 32 * 32 = 4096 cells: each of the 8 has probability 1/8
    counts = torch.bincount((a.first * 4 + a.second).flatten(), minlength=16)
    allowed = {int(i) * 4 + int(j) for i, j in nb2nb.PAIRS}
    assert set(torch.nonzero(counts).flatten().tolist()) == allowed
    expected, sd = 4096 / 8, math.sqrt(4096 / 8 * 7 / 8)
    assert all(abs(int(counts[k]) - expected) < 4 * sd for k in allowed)


def _batch(n: int = 2, size: int = 32, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, size, size, generator=g)
    return Batch(clean, (Gaussian(25)(clean, generator=g),))


def test_with_gamma_0_the_loss_is_the_plain_l2_between_f_of_g1_and_g2():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    batch = _batch()
    loss = nb2nb.Neighbor2NeighborLoss(gamma=0)
    value = loss(model, batch, torch.Generator().manual_seed(5)).detach()
    g1, g2, _ = nb2nb.neighbor_subsample(batch.noisy[0], torch.Generator().manual_seed(5))
    assert float(value) == pytest.approx(float(((model(g1) - g2) ** 2).mean().detach()), rel=1e-6)
    # and the full loss's L_rec is that same number, for the same draw
    terms = nb2nb.Neighbor2NeighborLoss().terms(model, batch, torch.Generator().manual_seed(5))
    assert float(terms["rec"].detach()) == pytest.approx(float(value), rel=1e-6)


def test_the_regulariser_vanishes_for_the_identity_and_commutes_with_a_1x1_convolution():
    batch = _batch()
    y = batch.noisy[0]
    identity = nb2nb.Neighbor2NeighborLoss(gamma=2.0)
    terms = identity.terms(nn.Identity(), batch, torch.Generator().manual_seed(1))
    assert float(terms["reg"]) == 0.0
    g1, g2, _ = nb2nb.neighbor_subsample(y, torch.Generator().manual_seed(1))
    assert float(terms["rec"]) == pytest.approx(float(((g1 - g2) ** 2).mean()), rel=1e-6)
    # A 1x1 convolution acts pixel by pixel, so g_k(f(y)) = f(g_k(y)) and
    # L_reg = |f(g1 y) - g2 y - f(g1 y) + f(g2 y)|^2 = |f(g2 y) - g2 y|^2, which is 0 only for the identity.
    torch.manual_seed(0)
    pointwise = nn.Conv2d(3, 3, 1)
    reg = identity.terms(pointwise, batch, torch.Generator().manual_seed(1))["reg"]
    assert float(reg) == pytest.approx(float(((pointwise(g2) - g2) ** 2).mean()), rel=1e-5)
    with torch.no_grad():  # the identity written as a 1x1 convolution
        pointwise.weight.copy_(torch.eye(3)[:, :, None, None])
        pointwise.bias.zero_()
    assert float(identity.terms(pointwise, batch, torch.Generator().manual_seed(1))["reg"]) < 1e-12


def _grads(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_no_gradient_flows_through_the_network_on_the_full_image():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 3, 3, padding=1))
    batch, gamma = _batch(), 2.0
    ours = _grads(model, nb2nb.Neighbor2NeighborLoss(gamma=gamma)(model, batch, torch.Generator().manual_seed(2)))

    def by_hand(detach: bool):
        y = batch.noisy[0]
        pairs = nb2nb.draw_pairs(y.shape, torch.Generator().manual_seed(2))
        full = model(y)
        full = full.detach() if detach else full
        diff = model(pairs.g1(y)) - pairs.g2(y)
        return (diff ** 2).mean() + gamma * ((diff - (pairs.g1(full) - pairs.g2(full))) ** 2).mean()

    stopped, through = _grads(model, by_hand(detach=True)), _grads(model, by_hand(detach=False))
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-8) for a, b in zip(ours, stopped))
    assert not all(torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(ours, through))  # the test can tell


def test_the_noisy_target_is_unbiased_and_its_noise_independent_of_the_inputs():
    """For zero-mean, pixel-wise independent noise: E[g2(y) | x] = g2(x) (for a fixed draw of the sub-sampler),
    the noise of g1(y) and g2(y) is uncorrelated, and so E|h(g1 y) - g2 y|^2 = E|h(g1 y) - g2 x|^2 + sigma^2 for any
    fixed h: the sub-sampled Noise2Noise loss is the loss against the clean sub-image g2(x) plus a constant."""
    draws, sigma = 20_000, 25 / 255
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64).expand(draws, -1, -1, -1)
    pairs = nb2nb.draw_pairs(x.shape, torch.Generator().manual_seed(1))
    fixed = nb2nb.NeighborPairs(pairs.first[:1].expand(draws, -1, -1), pairs.second[:1].expand(draws, -1, -1))
    y = x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
    n1, n2 = fixed.g1(y) - fixed.g1(x), fixed.g2(y) - fixed.g2(x)
    se = sigma / math.sqrt(draws)
    assert float((fixed.g2(y).mean(0) - fixed.g2(x)[0]).abs().max()) < 5 * se  # 48 pixels, each within 5 SE
    correlation = float((n1 * n2).mean() / (n1.std() * n2.std()))
    assert abs(correlation) < 4 / math.sqrt(n1.numel())
    h = lambda t: 0.5 * t + 0.25  # noqa: E731  any fixed function of the input sub-image
    noisy_target = float(((h(fixed.g1(y)) - fixed.g2(y)) ** 2).mean())
    clean_target = float(((h(fixed.g1(y)) - fixed.g2(x)) ** 2).mean())
    assert noisy_target - clean_target == pytest.approx(sigma ** 2, rel=0.03)  # about 4 standard errors
    # over random draws the sub-sampled pair's clean gap eps = g2(x) - g1(x) is not zero: what L_reg corrects
    assert float((pairs.g2(x) - pairs.g1(x)).abs().mean()) > 0.1


def test_gamma_ramps_from_0_02_to_the_increase_ratio_in_100_steps():
    loss = nb2nb.Neighbor2NeighborLoss()
    total = 30_000
    seen = []
    for i in range(total):
        loss.set_iteration(i, total)
        seen.append(loss.gamma)
    assert seen[0] == 0.02 and seen[-1] == nb2nb.INCREASE_RATIO == 2.0
    assert sorted(set(seen)) == [round(k / 100 * 2, 12) for k in range(1, 101)]  # one value per "epoch"
    assert seen == sorted(seen) and seen.count(0.02) == total // 100
    fixed = nb2nb.Neighbor2NeighborLoss(gamma=2.0)
    fixed.set_iteration(0, total)
    assert fixed.gamma == 2.0  # a fixed gamma (DeepInverse's constant 2) is not ramped


def _smooth_images(count: int, size: int, seed: int) -> list[np.ndarray]:
    """Piecewise-smooth uint8 colour images: 8x8 random colours upsampled bilinearly."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 8, 8, generator=g)
    fine = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return [(im.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for im in fine]


def test_training_on_single_noisy_copies_beats_the_noisy_input(tmp_path, one_thread):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(16, 16, 3, padding=1),
                          nn.LeakyReLU(0.1), nn.Conv2d(16, 3, 3, padding=1))
    sampler = PatchSampler(_smooth_images(8, 64, seed=0), 32, Gaussian(25), copies=1)
    config = TrainConfig(iterations=200, batch_size=8, lr=1e-3, betas=nb2nb.BETAS, precision="fp32",
                         rampdown_fraction=0.3, log_every=50, val_every=200)
    train(model, nb2nb.Neighbor2NeighborLoss(), sampler, config, tmp_path, progress=False)
    clean = torch.from_numpy(_smooth_images(1, 64, seed=1)[0]).permute(2, 0, 1)[None].float() / 255
    noisy = Gaussian(25)(clean, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        out = model(noisy)
    before, after = float(metrics.psnr(noisy, clean, "float")[0]), float(metrics.psnr(out, clean, "float")[0])
    assert after > before + 3, (before, after)  # measured 20.37 -> 24.58 dB


def test_the_sampler_draws_one_noisy_copy_n2n_s_first_and_fresh_noise_every_batch():
    images = _smooth_images(3, 48, seed=2)
    ours = nb2nb.training_sampler(images, 32, "gaussian")
    assert ours.copies == 1 and ours.label == "fresh noise per batch"
    assert ours.noise.label == n2n.TRAIN_NOISE["gaussian"].label == "sigma=0-50"  # as our N2N: blind, U[0, 50]
    a = ours.sample(4, torch.Generator().manual_seed(0))
    pair = n2n.training_sampler(images, 32, "gaussian").sample(4, torch.Generator().manual_seed(0))
    assert len(a.noisy) == 1 and torch.equal(a.clean, pair.clean) and torch.equal(a.noisy[0], pair.noisy[0])
    g = torch.Generator().manual_seed(0)
    first, second = ours.sample(4, g), ours.sample(4, g)
    assert not torch.equal(first.noisy[0], second.noisy[0])
    with pytest.raises(ValueError, match="bernoulli"):
        nb2nb.training_sampler(images, 32, "bernoulli")


def test_budgets_are_noise2noise_s_for_equal_compute_and_the_paper_s_own():
    assert nb2nb.BUDGETS["smoke"] == n2n.BUDGETS["smoke"] and nb2nb.BUDGETS["cpu"] == n2n.BUDGETS["cpu"]
    paper = nb2nb.BUDGETS["paper"]
    assert (paper["iterations"], paper["patch_size"], paper["batch_size"]) == (100 * (44_328 // 4), 256, 4)
    assert (nb2nb.LR, nb2nb.INCREASE_RATIO, nb2nb.EPOCHS, nb2nb.FEATURES) == (3e-4, 2.0, 100, 48)
    assert recipe.test_noise().label == "sigma=25" and recipe.test_noise("poisson").label == "lam=30"
    with pytest.raises(ValueError, match="bernoulli"):
        recipe.test_noise("bernoulli")


def test_the_paper_budget_steps_the_rate_as_the_official_multisteplr():
    # official train.py: Adam(lr=3e-4), MultiStepLR(milestones=[int(20 r) - 1, ..., int(80 r) - 1], gamma=0.5) with
    # r = n_epoch / 100, stepped after every epoch; ours over the paper budget's 100 equal "epochs" of 11,082 steps
    hp = nb2nb.BUDGETS["paper"]
    config = train_config(hp, lr=nb2nb.LR, betas=nb2nb.BETAS)  # as the recipe builds it
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=3e-4)
    r = nb2nb.EPOCHS / 100
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [int(k * r) - 1 for k in (20, 40, 60, 80)], gamma=0.5)
    per_epoch = hp["iterations"] // nb2nb.EPOCHS
    assert per_epoch * nb2nb.EPOCHS == hp["iterations"]
    for epoch in range(nb2nb.EPOCHS):
        official = optimizer.param_groups[0]["lr"]
        first, last = epoch * per_epoch, (epoch + 1) * per_epoch - 1
        assert learning_rate(config, first) == learning_rate(config, last) == official, epoch
        optimizer.step()
        scheduler.step()
    assert learning_rate(config, hp["iterations"] - 1) == 3e-4 / 16  # no ramp-down to 0 at the end


@pytest.mark.slow
def test_the_recipe_at_smoke_budget_writes_a_run_folder_that_loads(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("REPRO_MAX_EVAL_IMAGES", "1")
    run = recipe.train(budget="smoke", device=torch.device("cpu"), results_dir=tmp_path, precision="fp32",
                       progress=False)
    assert run.path == tmp_path / "neighbor2neighbor" / "neighbor2neighbor_gaussian_smoke_seed0"
    info = json.loads((run.path / "run.json").read_text())
    assert (info["paper"], info["method"], info["protocol"], info["param"]) == \
        ("neighbor2neighbor", "neighbor2neighbor", "noise2noise", "sigma=25")
    assert info["training_data"] == "fresh noise per batch" and info["params"]["train_noise"] == "sigma=0-50"
    assert info["iterations"] == n2n.BUDGETS["smoke"]["iterations"] and info["status"] == "complete"
    denoiser = repro.load(run.path, device="cpu")
    clean = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    assert denoiser(Gaussian(25)(clean, generator=torch.Generator().manual_seed(1))).shape == clean.shape
    import pandas as pd

    per_image = pd.read_csv(run.path / "per_image.csv")
    assert set(per_image.dataset) == {"kodak24", "bsd300_test", "set14"}
