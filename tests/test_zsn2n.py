"""Zero-Shot Noise2Noise: network, pair downsampler, loss, fit, the reference/fast paths, and run folders."""
import dataclasses
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from repro import data, metrics, noise, protocols, runs
from repro.evaluate import evaluate
from repro.experiments import zs_n2n as recipe
from repro.methods import zsn2n
from repro.models.zsn2n import ZSN2NNet

torch.set_num_threads(1)


def smooth_image(channels=1, size=64):
    """A smooth test image (gradients and a soft blob) that a 5x5 network can denoise well."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = 0.2 + 0.5 * xx * yy + 0.25 * torch.exp(-((xx - 0.6) ** 2 + (yy - 0.4) ** 2) / 0.05)
    return torch.stack([base * (0.8 + 0.1 * c) for c in range(channels)])[None]


def test_the_method_module_imports_no_run_or_evaluation_code():
    code = ("import sys, repro.methods.zsn2n; "
            "print(sorted(m for m in ('repro.runs', 'repro.evaluate', 'repro.experiments') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


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


def test_the_fast_default_decays_its_rate_from_lr_to_zero_along_a_cosine_over_the_fit():
    """FAST: 3e-3 at the first step, half at mid-fit, 0 at the last; the rates a 3000-step fit steps with."""
    optimizer = torch.optim.Adam(ZSN2NNet(1).parameters(), lr=zsn2n.FAST.lr)
    scheduler = zsn2n.make_scheduler(optimizer, zsn2n.FAST, zsn2n.FAST.steps)
    rates = []
    for _ in range(zsn2n.FAST.steps + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert (zsn2n.FAST.lr, zsn2n.FAST.schedule) == (3e-3, "cosine")
    assert rates[0] == 3e-3 and rates[1500] == pytest.approx(1.5e-3) and rates[3000] == pytest.approx(0, abs=1e-12)
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_both_paths_denoise_and_the_fast_one_follows_the_reference_trajectory():
    """Each path denoises (300 steps gain > 3 dB; about 11 here). In fp32 the fast path's rewrites (slicing,
    one batch, channels_last, fused Adam) follow the reference weights step for step; later, Adam amplifies rounding
    differences (a parameter whose gradient is ~0 gets a full-size step of either sign), so fits end at nearby,
    not identical, points. bf16 ends as close. The 3000-step PSNR gap on Kodak crops is measured in
    results/zs_n2n/."""
    clean = smooth_image(1, 48)
    noisy = noise.Gaussian(25, clip=True)(clean, generator=torch.Generator().manual_seed(1))
    before = float(metrics.psnr(noisy, clean, "float")[0])
    early = [zsn2n.fit(noisy, steps=30, path=p, device="cpu", precision=q) for p, q in
             (("reference", None), ("fast", "fp32"))]
    for a, b in zip(early[0].model.parameters(), early[1].model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    psnrs = {}
    for path, precision in (("reference", None), ("fast", "fp32"), ("fast", None)):
        result = zsn2n.fit(noisy, steps=300, path=path, device="cpu", precision=precision)
        assert result.precision == (precision or ("fp32" if path == "reference" else
                                                  zsn2n.fast_precision(torch.device("cpu"))))
        assert result.cpu_seconds > 0 and result.seconds > 0
        psnrs[precision or path] = float(metrics.psnr(zsn2n.denoise_with(result.model, noisy), clean, "float")[0])
    assert min(psnrs.values()) > before + 3.0, (before, psnrs)
    # where the 300-step fits end depends on the CPU's rounding: under 0.3 dB apart on an AVX-512 Xeon,
    # 0.33 dB (fast below reference) on an AVX2 EPYC
    assert abs(psnrs["fp32"] - psnrs["reference"]) < 0.5, psnrs
    assert abs(psnrs["fast"] - psnrs["reference"]) < 0.5, psnrs


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
    table = recipe.crop_check(*args, steps=2, device="cpu", progress=False)
    assert sorted(zip(table.image, table.path)) == [("kodim01", "fast"), ("kodim01", "reference"),
                                                    ("kodim02", "fast")]
    assert (table.crop == 32).all() and table.noisy_psnr_db.between(15, 25).all()
    again = recipe.crop_check(*args, steps=2, device="cpu", progress=False)
    pd.testing.assert_frame_equal(again, table)  # nothing recomputed
    compared = recipe.compare_paths(table)
    assert list(compared.image) == ["kodim01"] and compared.speedup.notna().all()


def test_run_names_share_a_folder_for_the_paper_budgets():
    g = noise.Gaussian(25)
    assert recipe.run_name(g, "kodak24", "cpu") == recipe.run_name(g, "kodak24", "paper") == "sigma25_kodak24"
    assert recipe.run_name(noise.Poisson(50), "mcmaster18", "smoke", n_images=1) == "lam50_mcmaster18_first1_smoke"


def test_full_set_run_resumes_image_by_image(tmp_path):
    args = (tmp_path, protocols.get("zs_n2n"), noise.Gaussian(25), "mcmaster18")
    run, table = recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False)
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "complete" and info["iterations"] == zsn2n.SMOKE_STEPS
    assert len(table) == 1 and 19 < table.psnr_db[0] < 30
    assert info["eval_wall_s"] == round(float(table.seconds.sum()), 1)  # counts every session of a resumed run
    rows = run.per_image_csv.read_text()
    run2, table2 = recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False)
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
    table = recipe.step_timing([(1, 8, 8), (3, 8, 10)], steps=2, warmup=1)
    assert list(zip(table["shape"], table.path)) == [("1x8x8", "reference"), ("1x8x8", "fast"),
                                                     ("3x8x10", "reference"), ("3x8x10", "fast")]
    assert (table.cpu_s_per_step > 0).all() and (table.wall_s_per_step > 0).all()
    assert (table[table.path == "reference"].speedup_cpu == 1.0).all()


# ---------------------------------------------------------------------------------------------------
# The fast preset (repro denoise's default) and the paper's protocol


def record_training_inputs(monkeypatch):
    """Shapes of every input the network sees while gradients are on (the fit's steps, not the final pass)."""
    seen = []
    forward = ZSN2NNet.forward

    def spy(self, x):
        if torch.is_grad_enabled():
            seen.append(tuple(x.shape))
        return forward(self, x)

    monkeypatch.setattr(ZSN2NNet, "forward", spy)
    return seen


@pytest.mark.parametrize("size", [(96, 128), (300, 200)])
def test_fast_fit_uses_crops_of_the_configured_size_whatever_the_image_size(size, monkeypatch):
    seen = record_training_inputs(monkeypatch)
    settings = dataclasses.replace(zsn2n.FAST, steps=4)
    result = zsn2n.fit(torch.rand(1, 3, *size), device="cpu", settings=settings)
    c, b = settings.crop, settings.batch
    # per step: the 16 crops at full resolution, and their 2 x 16 half-size images in one batch
    assert sorted(set(seen)) == sorted({(b, 3, c, c), (2 * b, 3, c // 2, c // 2)}), seen
    assert len(seen) == 2 * settings.steps
    assert result.pixels_per_step == b * c * c == zsn2n.pixels_per_step((1, 3, *size), settings) == 4096
    assert zsn2n.pixels_per_step((1, 3, 3000, 4000), zsn2n.FAST) == 4096  # a 12 MP photo: the same per step


def test_crops_start_on_even_pixels_and_stay_inside_the_image():
    y = torch.arange(3 * 40 * 50, dtype=torch.float32).reshape(1, 3, 40, 50)
    crops = zsn2n.random_crops(y, 16, 32, torch.Generator().manual_seed(0))
    assert crops.shape == (32, 3, 16, 16)
    for crop in crops:
        index = int(crop[0, 0, 0])
        top, left = divmod(index, 50)
        assert top % 2 == 0 and left % 2 == 0 and top + 16 <= 40 and left + 16 <= 50
        torch.testing.assert_close(crop, y[0, :, top:top + 16, left:left + 16])
    assert zsn2n.crop_size((1, 1, 11, 40), 16) == (10, 16)  # never larger than the (even) image


def test_fast_fit_same_seed_same_result_other_seed_other_crops():
    y = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    settings = dataclasses.replace(zsn2n.FAST, steps=20)
    a, b, c = (zsn2n.fit(y, device="cpu", seed=s, settings=settings) for s in (0, 0, 1))
    for pa, pb, pc in zip(a.model.parameters(), b.model.parameters(), c.model.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_fast_fit_denoises():
    clean = smooth_image(3, 64)
    noisy = noise.Gaussian(25, clip=True)(clean, generator=torch.Generator().manual_seed(0))
    result = zsn2n.fit(noisy, device="cpu", settings=dataclasses.replace(zsn2n.FAST, steps=300))
    before = float(metrics.psnr(noisy, clean, "float")[0])
    after = float(metrics.psnr(zsn2n.denoise_with(result.model, noisy), clean, "float")[0])
    assert after > before + 3.0, (before, after)
    assert result.model.offset == 0.5


def test_the_fast_path_fuses_adam_and_the_reference_keeps_the_colab_optimiser(monkeypatch):
    built = []
    adam = torch.optim.Adam
    monkeypatch.setattr(torch.optim, "Adam", lambda params, **options: built.append(options) or adam(params, **options))
    for path in ("reference", "fast"):
        zsn2n.fit(torch.rand(1, 1, 8, 8), steps=1, path=path, device="cpu")
    assert [(o["lr"], o.get("fused")) for o in built] == [(1e-3, None), (1e-3, True)]


def test_the_paper_preset_is_the_colab_protocol_and_fits_the_whole_image(monkeypatch):
    p = zsn2n.PAPER
    assert (p.steps, p.lr, p.lr_step, p.lr_gamma, p.width, p.slope) == (3000, 1e-3, 1000, 0.5, 48, 0.2)
    assert (p.crop, p.batch, p.schedule, p.ema, p.offset) == (None, 1, "step", 0.0, 0.0)
    assert zsn2n.PRESETS["paper"] is p and zsn2n.Settings() == p
    seen = record_training_inputs(monkeypatch)
    result = zsn2n.fit(torch.rand(1, 3, 24, 30), steps=2, device="cpu")
    assert seen == [(2, 3, 12, 15), (1, 3, 24, 30)] * 2 and result.pixels_per_step == 24 * 30
    assert result.model.offset == 0.0 and type(result.model) is ZSN2NNet  # no weight average


def test_the_input_offset_changes_only_the_parametrisation():
    """Away from the zero-padded border, a network on y - 0.5 equals one on y with conv1's bias moved."""
    net = ZSN2NNet(3, offset=0.5)
    plain = ZSN2NNet(3)
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        plain.conv1.bias -= 0.5 * net.conv1.weight.sum((1, 2, 3))
        y = torch.rand(1, 3, 20, 20)
        torch.testing.assert_close(net(y)[..., 2:-2, 2:-2], plain(y)[..., 2:-2, 2:-2], rtol=1e-4, atol=1e-5)


def test_the_weight_average_spans_at_most_a_tenth_of_a_fit():
    assert zsn2n.ema_decay(zsn2n.FAST.ema, 3000) == zsn2n.FAST.ema
    assert zsn2n.ema_decay(0.995, 100) == pytest.approx(0.9) and zsn2n.ema_decay(0.995, 5) == 0.0
    result = zsn2n.fit(torch.rand(1, 1, 16, 16), steps=3, device="cpu", settings=zsn2n.FAST)
    assert result.steps == 3  # too short to average: the last weights


def test_estimate_is_linear_in_steps_and_grows_with_pixels_only_in_the_final_pass():
    est = lambda shape, steps: zsn2n.estimate_seconds(shape, zsn2n.FAST, steps, "cpu", probe_steps=2)
    small, large = (1, 3, 200, 300), (1, 3, 600, 900)
    assert est(small, 200) - est(small, 100) == pytest.approx(est(small, 100) - est(small, 0))
    assert est(large, 100) - est(large, 0) == pytest.approx(est(small, 100) - est(small, 0))  # same steps
    assert est(large, 0) == pytest.approx(9 * est(small, 0))  # the final pass: 9 x the pixels
    assert est(small, 0) > 0


def test_full_set_run_fast_preset_has_its_own_folder_and_settings(tmp_path, monkeypatch):
    args = (tmp_path, protocols.get("zs_n2n"), noise.Gaussian(25), "mcmaster18")
    run, table = recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False, preset="fast")
    info = json.loads((run.path / "run.json").read_text())
    assert run.path.name == "fast_2fits_sigma25_mcmaster18_first1_smoke" and info["method"] == "zs-n2n fast, 2 fits"
    assert info["params"]["crop"] == zsn2n.FAST.crop and info["params"]["batch"] == zsn2n.FAST.batch
    assert info["params"]["steps"] == zsn2n.SMOKE_STEPS and info["params"]["preset"] == "fast"
    assert info["params"]["fits"] == zsn2n.FAST.fits == 2
    # one fit (the default until two) keeps the folder and the method name its committed runs have
    one, one_table = recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False,
                                         preset="fast", fits=1)
    assert one.path.name == "fast_sigma25_mcmaster18_first1_smoke" and one.info["method"] == "zs-n2n fast"
    assert one.info["params"]["fits"] == 1 and one_table.psnr_db.iloc[0] != table.psnr_db.iloc[0]
    with pytest.raises(ValueError, match="preset"):
        recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False, preset="quick")
    # once the default changes, its finished folder is not resumed (its images would be labelled with settings
    # they were not fitted with), and it is left as it was
    before = (one.path / "run.json").read_text(), one.per_image_csv.read_text()
    monkeypatch.setitem(zsn2n.PRESETS, "fast", dataclasses.replace(zsn2n.FAST, lr=2e-3, schedule="step"))
    with pytest.raises(ValueError, match=r"other settings.*'lr': \(0.003, 0.002\).*'schedule': \('cosine', 'step'\)"):
        recipe.full_set_run(*args, n_images=1, budget="smoke", device="cpu", progress=False, preset="fast", fits=1)
    assert ((one.path / "run.json").read_text(), one.per_image_csv.read_text()) == before


def test_fast_fit_steps_use_one_thread_and_give_the_others_back():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        forward = ZSN2NNet.forward
        ZSN2NNet.forward = lambda self, x: (seen.append(torch.get_num_threads()), forward(self, x))[1]
        try:
            zsn2n.fit(torch.rand(1, 3, 40, 40), device="cpu", settings=dataclasses.replace(zsn2n.FAST, steps=2))
        finally:
            ZSN2NNet.forward = forward
        assert set(seen) == {zsn2n.FAST.threads} == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_probe_resumes_its_own_rows_and_refuses_rows_fitted_with_other_settings(tmp_path):
    path = tmp_path / "probe.csv"
    assert recipe.probe_done(path, zsn2n.FAST) == set()
    old = dataclasses.replace(zsn2n.FAST, lr=2e-3, schedule="step")
    pd.DataFrame({"variant": ["a", "a", "b"], "image": ["kodim01", "kodim03", "kodim01"],
                  "settings": [zsn2n.FAST.describe()] * 2 + [old.describe()]}).to_csv(path, index=False)
    assert recipe.probe_done(path, zsn2n.FAST, "a") == {"kodim01", "kodim03"}
    assert recipe.probe_done(path, old, "b") == {"kodim01"}
    with pytest.raises(ValueError, match=r"probe.csv \(b\) holds fits with other settings.*lr 0.002 halved"):
        recipe.probe_done(path, zsn2n.FAST, "b")
    with pytest.raises(ValueError, match="other settings"):
        recipe.probe_done(path, zsn2n.FAST)  # no variant: every row


def test_the_second_core_table_compares_every_way_on_the_same_probe_images():
    root = runs.default_results_dir()
    ways = recipe.second_core(root)
    ensemble = pd.read_csv(root / "zs_n2n" / "ensemble_probe.csv").set_index("image")
    probed = pd.read_csv(root / "zs_n2n" / "settings_probe.csv")
    complete = [v for v, g in probed.groupby("variant") if set(ensemble.index) <= set(g.image)]
    common = set(ensemble.index)
    assert len(ways) == 2 + 2 * ("batch32" in complete) + 2 * ("cosine_lr3e-3_2seeds" in complete) >= 4
    assert (ways.images == len(common)).all()
    rows = ways.set_index("way")
    default, two = rows.loc[recipe.SECOND_CORE_WAYS[0][0]], rows.loc[recipe.SECOND_CORE_WAYS[1][0]]
    same = ensemble.loc[sorted(common)]
    assert default.mean_minus_paper_db == pytest.approx((same.seed0_db - same.paper_db).mean())
    assert two.mean_minus_paper_db == pytest.approx((same.two_seeds_db - same.paper_db).mean())
    timing = pd.read_csv(root / "timing" / "zsn2n_cores.csv")
    assert default.fit_wall_s == timing[timing.way == "default_1thread"].fit_wall_s.median()
    assert (ways.worst_db <= ways.mean_minus_paper_db).all() and default.crops_per_step == zsn2n.FAST.batch
    # the row called the default is zsn2n.FAST: its probe recorded FAST's settings, and it fits FAST.fits networks
    chosen = ways[ways.default]
    assert list(chosen.way) == [recipe.DEFAULT_WAY]
    assert chosen.crops_per_step.iloc[0] == zsn2n.FAST.batch * zsn2n.FAST.fits
    variant = next(v for label, _, v, *_ in recipe.SECOND_CORE_WAYS if label == recipe.DEFAULT_WAY)
    assert set(probed[probed.variant == variant].settings) == {zsn2n.FAST.describe()}


def test_two_fits_run_at_once_in_forked_processes_and_average_like_two_fits_one_after_the_other(monkeypatch, tmp_path):
    """The default's two fits (seeds 0 and 1) run one per core; the result is the mean of the two denoised images,
    whatever the number of processes (each fit steps on one thread either way)."""
    noisy = noise.Gaussian(25, clip=True)(smooth_image(3, 48), generator=torch.Generator().manual_seed(0))
    settings = dataclasses.replace(zsn2n.FAST, steps=30)
    cpu = torch.device("cpu")
    assert zsn2n.parallel_fits(settings, cpu) == min(2, len(os.sched_getaffinity(0)))
    assert zsn2n.parallel_fits(settings, torch.device("cuda")) == 1  # no CUDA in a forked process
    fit, log = zsn2n.fit, tmp_path / "pids"

    def logged_fit(*args, **kwargs):  # a file: a forked worker's memory does not come back
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return fit(*args, **kwargs)

    monkeypatch.setattr(zsn2n, "fit", logged_fit)
    together, fits = zsn2n.fit_and_denoise(noisy, device="cpu", settings=settings)
    pids_forked = set(map(int, log.read_text().split()))
    monkeypatch.setattr(zsn2n, "parallel_fits", lambda settings, device: 1)
    apart, _ = zsn2n.fit_and_denoise(noisy, device="cpu", settings=settings)
    assert [f.steps for f in fits] == [30, 30]
    torch.testing.assert_close(together, apart, rtol=0, atol=1e-6)
    each = [zsn2n.denoise_with(fit(noisy, device="cpu", seed=s, settings=settings).model, noisy) for s in (0, 1)]
    torch.testing.assert_close(together, (each[0] + each[1]) / 2, rtol=0, atol=1e-6)
    assert not torch.allclose(each[0], each[1], atol=1e-3)  # two different fits, not one twice
    if len(os.sched_getaffinity(0)) >= 2:  # the fits ran in two other processes (the parent's one-step warm-up aside)
        assert len(pids_forked - {os.getpid()}) == 2
    denoiser = zsn2n.ZeroShotN2N(device="cpu", settings=settings)
    denoiser(noisy.expand(2, -1, -1, -1))
    assert len(denoiser.last_fits) == 4  # two images, two fits each
