"""Zero-Shot Noise2Noise: network, pair downsampler, loss, fit, the reference/fast paths, run folders."""
import json

import pandas as pd
import pytest
import torch

from repro import data, metrics, noise, protocols
from repro.evaluate import evaluate
from repro.methods import zsn2n
from repro.models.zsn2n import ZSN2NNet

torch.set_num_threads(1)


def smooth_image(channels=1, size=64):
    """A smooth test image (gradients and a soft blob) that a 5x5 network can denoise well."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = 0.2 + 0.5 * xx * yy + 0.25 * torch.exp(-((xx - 0.6) ** 2 + (yy - 0.4) ** 2) / 0.05)
    return torch.stack([base * (0.8 + 0.1 * c) for c in range(channels)])[None]


def test_network_matches_the_colab_architecture():
    net = ZSN2NNet(3)
    assert [m.kernel_size for m in (net.conv1, net.conv2, net.conv3)] == [(3, 3), (3, 3), (1, 1)]
    assert [m.out_channels for m in (net.conv1, net.conv2, net.conv3)] == [48, 48, 3]
    assert sum(p.numel() for p in net.parameters()) == 22275
    assert sum(p.numel() for p in ZSN2NNet(1).parameters()) == 21313
    assert net.act.negative_slope == 0.2


@pytest.mark.parametrize("shape", [(1, 3, 8, 10), (2, 1, 7, 9)])
def test_slicing_downsampler_equals_the_colab_convolution(shape):
    y = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    ref, fast = zsn2n.pair_downsample_reference(y), zsn2n.pair_downsample(y)
    for a, b in zip(ref, fast):
        assert a.shape == b.shape == (shape[0], shape[1], shape[2] // 2, shape[3] // 2)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)
    # D1 averages the anti-diagonal of each 2x2 cell, D2 the diagonal
    assert float(ref[0][0, 0, 0, 0]) == pytest.approx(float(y[0, 0, 0, 1] + y[0, 0, 1, 0]) / 2)
    assert float(ref[1][0, 0, 0, 0]) == pytest.approx(float(y[0, 0, 0, 0] + y[0, 0, 1, 1]) / 2)


def test_the_two_half_images_have_independent_noise_of_half_the_variance():
    """Why the method works: on i.i.d. noise, D1 and D2 are uncorrelated, each with variance sigma^2/2."""
    n = torch.randn(1, 1, 512, 512, generator=torch.Generator().manual_seed(0))
    d1, d2 = zsn2n.pair_downsample(n)
    assert float(d1.var()) == pytest.approx(0.5, abs=0.02)
    assert abs(float(torch.corrcoef(torch.stack([d1.flatten(), d2.flatten()]))[0, 1])) < 0.01


def test_with_a_zero_network_the_loss_is_the_half_images_distance_sigma_squared():
    net = ZSN2NNet(1)
    for p in net.conv3.parameters():
        torch.nn.init.zeros_(p)
    sigma = 0.1
    y = 0.5 + sigma * torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(0))
    # f = 0: L_res = mse(D1, D2) = sigma^2/2 + sigma^2/2, L_cons = 0
    with torch.no_grad():
        assert float(zsn2n.loss_reference(net, y)) == pytest.approx(sigma**2, rel=0.03)
        assert float(zsn2n.loss_fast(net, y)) == pytest.approx(float(zsn2n.loss_reference(net, y)), rel=1e-6)


def test_fast_loss_and_gradients_equal_the_reference_in_fp32():
    torch.manual_seed(0)
    net, y = ZSN2NNet(3), torch.rand(1, 3, 24, 30)
    ref = zsn2n.loss_reference(net, y)
    grads_ref = torch.autograd.grad(ref, list(net.parameters()))
    fast = zsn2n.loss_fast(net, y)
    grads_fast = torch.autograd.grad(fast, list(net.parameters()))
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-7)
    for a, b in zip(grads_fast, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_fit_is_deterministic_and_the_seed_sets_the_initial_weights():
    y = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    a = zsn2n.fit(y, steps=5, path="reference", device="cpu", seed=3)
    b = zsn2n.fit(y, steps=5, path="reference", device="cpu", seed=3)
    c = zsn2n.fit(y, steps=0, path="reference", device="cpu", seed=4)
    for pa, pb, pc in zip(a.model.parameters(), b.model.parameters(), c.model.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_the_lr_schedule_is_the_colab_steplr():
    """Adam 1e-3, halved every 1000 steps: after 2500 steps the rate is 2.5e-4 (checked on the scheduler)."""
    model = ZSN2NNet(1)
    opt = torch.optim.Adam(model.parameters(), lr=zsn2n.PAPER.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, zsn2n.PAPER.lr_step, zsn2n.PAPER.lr_gamma)
    for _ in range(2500):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert (zsn2n.PAPER.steps, zsn2n.steps_for_budget("cpu"), zsn2n.steps_for_budget("smoke")) == (3000, 3000, 10)


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_fit_denoises_and_both_paths_agree(path):
    clean = smooth_image(3, 64)
    noisy = noise.Gaussian(25, clip=True)(clean, generator=torch.Generator().manual_seed(0))
    before = float(metrics.psnr(noisy, clean, "float")[0])
    result = zsn2n.fit(noisy, steps=300, path=path, device="cpu")
    after = float(metrics.psnr(zsn2n.denoise_with(result.model, noisy), clean, "float")[0])
    assert after > before + 3.0, (before, after)
    assert result.precision == ("fp32" if path == "reference" else zsn2n.fast_precision(torch.device("cpu")))
    assert result.cpu_seconds > 0 and result.seconds > 0


def test_fast_path_follows_the_reference_trajectory_and_lands_close():
    """In fp32 the fast path's rewrites (slicing, one batch, channels_last) follow the reference weights
    step for step; later, Adam amplifies rounding differences (a parameter whose gradient is ~0 gets a
    full-size step of either sign), so fits end at nearby, not identical, points. bf16 ends as close.
    The 3000-step PSNR gap on Kodak crops is measured in results/zs_n2n/."""
    clean = smooth_image(1, 48)
    noisy = noise.Gaussian(25, clip=True)(clean, generator=torch.Generator().manual_seed(1))
    early = [zsn2n.fit(noisy, steps=30, path=p, device="cpu", precision=q) for p, q in
             (("reference", None), ("fast", "fp32"))]
    for a, b in zip(early[0].model.parameters(), early[1].model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    psnrs = {}
    for path, precision in (("reference", None), ("fast", "fp32"), ("fast", None)):
        result = zsn2n.fit(noisy, steps=300, path=path, device="cpu", precision=precision)
        assert result.precision == (precision or ("fp32" if path == "reference" else
                                                  zsn2n.fast_precision(torch.device("cpu"))))
        psnrs[precision or path] = float(metrics.psnr(zsn2n.denoise_with(result.model, noisy), clean, "float")[0])
    assert abs(psnrs["fp32"] - psnrs["reference"]) < 0.3, psnrs
    assert abs(psnrs["fast"] - psnrs["reference"]) < 0.3, psnrs


def test_tiled_denoising_equals_one_pass_and_clamps():
    net = ZSN2NNet(3)
    y = torch.rand(1, 3, 37, 53) * 1.4 - 0.2
    whole = (y - net(y)).clamp(0, 1).detach()
    torch.testing.assert_close(zsn2n.denoise_with(net, y, tile=10), whole, rtol=0, atol=1e-5)
    assert float(zsn2n.denoise_with(net, y).min()) >= 0 and float(zsn2n.denoise_with(net, y).max()) <= 1


def test_large_images_can_be_fitted_on_windows():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        rows, cols = zsn2n._random_window((1, 3, 101, 70), 400, g)
        assert rows.start % 2 == 0 and cols.start % 2 == 0
        assert (rows.stop - rows.start) * (cols.stop - cols.start) <= 400
        assert rows.stop <= 101 and cols.stop <= 70
    result = zsn2n.fit(torch.rand(1, 1, 40, 50), steps=3, device="cpu", max_pixels=256)
    assert result.steps == 3


def test_denoiser_runs_inside_evaluate_which_disables_gradients():
    denoiser = zsn2n.ZeroShotN2N(steps=2, device="cpu")
    table = evaluate(denoiser, protocols.get("zs_n2n"), noise.Gaussian(25), datasets=["mcmaster18"], n_images=1,
                     progress=False)
    assert len(table) == 1 and len(denoiser.last_fits) == 1 and denoiser.last_fits[0].steps == 2


def test_crop_check_is_resumable_and_compares_paths(tmp_path):
    images = data.load("kodak24")[:2]
    args = (protocols.get("zs_n2n"), noise.Gaussian(25), "kodak24", images, 32, {"reference": 1, "fast": None},
            tmp_path / "per_crop.csv")
    table = zsn2n.crop_check(*args, steps=2, device="cpu", progress=False)
    assert sorted(zip(table.image, table.path)) == [("kodim01", "fast"), ("kodim01", "reference"),
                                                    ("kodim02", "fast")]
    assert (table.crop == 32).all() and table.noisy_psnr_db.between(15, 25).all()
    again = zsn2n.crop_check(*args, steps=2, device="cpu", progress=False)
    pd.testing.assert_frame_equal(again, table)  # nothing recomputed
    compared = zsn2n.compare_paths(table)
    assert list(compared.image) == ["kodim01"] and compared.speedup.notna().all()


def test_run_names_share_a_folder_for_the_paper_budgets():
    g = noise.Gaussian(25)
    assert zsn2n.run_name(g, "kodak24", "cpu") == zsn2n.run_name(g, "kodak24", "paper") == "sigma25_kodak24"
    assert zsn2n.run_name(noise.Poisson(50), "mcmaster18", "smoke", n_images=1) == "lam50_mcmaster18_first1_smoke"


def test_full_set_run_resumes_image_by_image(tmp_path):
    args = (tmp_path, protocols.get("zs_n2n"), noise.Gaussian(25), "mcmaster18")
    run, table = zsn2n.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False)
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "complete" and info["iterations"] == zsn2n.SMOKE_STEPS
    assert len(table) == 1 and 19 < table.psnr_db[0] < 30
    assert info["eval_wall_s"] == round(float(table.seconds.sum()), 1)  # counts every session of a resumed run
    rows = run.per_image_csv.read_text()
    run2, table2 = zsn2n.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False)
    assert run2.per_image_csv.read_text() == rows  # the finished image is not recomputed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fast_path_uses_amp_and_starts_from_the_same_weights():
    y = torch.rand(1, 3, 32, 32)
    gpu = zsn2n.fit(y, steps=0, path="fast", device="cuda")
    cpu = zsn2n.fit(y, steps=0, path="reference", device="cpu")
    for a, b in zip(gpu.model.parameters(), cpu.model.parameters()):
        torch.testing.assert_close(a.cpu(), b)
    result = zsn2n.fit(y, steps=20, path="fast", device="cuda")
    assert result.precision in ("bf16", "fp16") and torch.isfinite(torch.tensor(result.final_loss))


def test_step_timing_reports_both_paths_per_shape():
    table = zsn2n.step_timing([(1, 8, 8), (3, 8, 10)], steps=2, warmup=1)
    assert list(zip(table["shape"], table.path)) == [("1x8x8", "reference"), ("1x8x8", "fast"),
                                                     ("3x8x10", "reference"), ("3x8x10", "fast")]
    assert (table.cpu_s_per_step > 0).all() and (table.wall_s_per_step > 0).all()
    assert (table[table.path == "reference"].speedup_cpu == 1.0).all()
