"""Noise2Score: Tweedie's formulas against exact posterior means, the AR-DAE loss, σ estimation, loading."""
import math

import pytest
import torch
import torch.nn as nn

import repro
from repro.checkpoints import save_model
from repro.methods import noise2score as n2s
from repro.experiments import noise2score as recipe, noise2score_diagnosis as diag
from repro.models import UNet
from repro.models.n2s_unet import SharedWeightUNet
from repro.noise import Gamma, Gaussian, Poisson
from repro.patches import Batch

torch.set_num_threads(1)
f64 = torch.float64


def _score(log_density, y):
    """∇ log p at y by autograd (the 'analytic score' of a density written in closed form)."""
    y = y.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_density(y).sum(), y)
    return grad.detach()


# --- Tweedie ----------------------------------------------------------------------------------------

def test_tweedie_gaussian_is_the_exact_posterior_mean_for_a_gaussian_mixture_prior():
    sigma = 25 / 255
    weights, means, taus = torch.tensor([0.3, 0.7], dtype=f64), torch.tensor([0.2, 0.7], dtype=f64), \
        torch.tensor([0.05, 0.15], dtype=f64)
    var = taus ** 2 + sigma ** 2  # p(y) is a mixture of N(m_k, τ_k² + σ²)

    def log_py(y):
        comp = torch.log(weights) - 0.5 * torch.log(2 * math.pi * var) - (y[..., None] - means) ** 2 / (2 * var)
        return torch.logsumexp(comp, -1)

    y = torch.linspace(-0.3, 1.3, 101, dtype=f64)
    resp = torch.softmax(torch.log(weights) - 0.5 * torch.log(var) - (y[:, None] - means) ** 2 / (2 * var), -1)
    posterior_mean = (resp * (taus ** 2 * y[:, None] + sigma ** 2 * means) / var).sum(-1)
    estimate = n2s.tweedie_gaussian(y, _score(log_py, y), sigma)
    assert torch.allclose(estimate, posterior_mean, atol=1e-12)
    assert (estimate - y).abs().max() > 0.05  # the correction is far from trivial


def test_tweedie_gaussian_single_gaussian_prior_closed_form():
    sigma, tau, m = 0.1, 0.2, 0.4
    y = torch.linspace(0, 1, 11, dtype=f64)
    score = -(y - m) / (tau ** 2 + sigma ** 2)
    assert torch.allclose(n2s.tweedie_gaussian(y, score, sigma), (tau ** 2 * y + sigma ** 2 * m) / (tau ** 2 + sigma ** 2))


def test_tweedie_poisson_matches_the_conjugate_gamma_posterior_mean():
    # x = ζθ with θ ~ Gamma(a, rate b); z | θ ~ Poisson(θ); y = ζ z.  E[x | y] = ζ (z + a) / (b + 1).
    a, b, zeta = 30.0, 0.5, 0.01
    z = torch.arange(0, 301, dtype=f64)

    def log_pz(z):  # negative binomial marginal, continued to real z through lgamma
        return torch.lgamma(z + a) - torch.lgamma(z + 1) - math.lgamma(a) + a * math.log(b / (b + 1)) \
            - z * math.log(b + 1)

    exact = zeta * (z + a) / (b + 1)
    # the exact discrete Tweedie identity E[θ|z] = (z+1) p(z+1) / p(z) holds (derivation check)
    assert torch.allclose(zeta * (z + 1) * torch.exp(log_pz(z + 1) - log_pz(z)), exact, rtol=1e-10)
    estimate = n2s.tweedie_poisson(zeta * z, _score(log_pz, z), zeta)
    error = (estimate - exact).abs()
    # ψ(z + 1) ≈ log(z + 1/2) costs about ζ/2/(b + 1) once counts are moderate (more at z of a few),
    # which vanishes relative to x as counts grow
    bound = zeta * 0.5 / (b + 1)
    assert error[z >= 20].max() <= 1.1 * bound and float(error[-1]) == pytest.approx(bound, rel=0.02)
    assert (error / exact)[z >= 50].max() < 0.01
    assert (error / exact)[z >= 50].max() < (error / exact)[z < 5].min()


def test_tweedie_gamma_is_the_exact_reciprocal_posterior_mean_of_1_over_x():
    # 1/x = β ~ Gamma(α0, rate β0); y | x ~ Gamma(shape k, rate k/x): posterior β | y ~ Gamma(α0 + k, β0 + k y).
    k, alpha0, beta0 = 50.0, 8.0, 4.0
    y = torch.linspace(0.05, 1.5, 50, dtype=f64)

    def log_py(y):
        return (k - 1) * torch.log(y) - (alpha0 + k) * torch.log(beta0 + k * y)

    estimate = n2s.tweedie_gamma(y, _score(log_py, y), k)
    assert torch.allclose(estimate, (beta0 + k * y) / (alpha0 + k), rtol=1e-12)


def test_gamma_noise_model_is_the_one_the_formula_assumes():
    x = torch.full((1, 1, 400, 400), 0.6)
    y = Gamma(50)(x, generator=torch.Generator().manual_seed(0))
    assert abs(float(y.mean()) - 0.6) < 0.003  # mean x
    assert abs(float(y.var()) - 0.6 ** 2 / 50) < 0.0005  # variance x²/k


# --- the AR-DAE loss --------------------------------------------------------------------------------

class Linear(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def test_ardae_loss_ranks_score_estimates_by_their_true_error():
    # Denoising score matching: E||σ R(y + σu) + u||² = σ² E_z||R(z) - s_σ(z)||² + const, z = y + σu.
    tau, sigma, n = 0.5, 0.3, 1_000_000
    v = tau ** 2 + sigma ** 2  # z ~ N(0, v), s_σ(z) = -z / v
    y = tau * torch.randn(n, 1, generator=torch.Generator().manual_seed(1), dtype=f64)
    batch = Batch(y, (y,))
    loss = n2s.ARDAELoss(schedule="constant", sigma_range=(sigma, sigma))
    cs = [-3.0, -2.0, -1 / v, -0.5, 0.0]
    losses = [float(loss(Linear(c), batch, torch.Generator().manual_seed(2))) for c in cs]  # common u
    true_error = [sigma ** 2 * (c + 1 / v) ** 2 * v for c in cs]
    for i in range(len(cs)):
        assert losses[i] - losses[2] == pytest.approx(true_error[i] - true_error[2], abs=2e-3)
    assert min(range(len(cs)), key=losses.__getitem__) == 2


class Tanh(nn.Module):
    """R(z) = a tanh(b z): a small non-linear score model with two parameters."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(-2.0, dtype=f64)), nn.Parameter(torch.tensor(0.7, dtype=f64))

    def forward(self, z):
        return self.a * torch.tanh(self.b * z)


def test_ardae_is_a_noisy_target_regression_for_the_implied_denoiser():
    # With D(z) = z + (σ² + σ_a²) R(z), z = y + σ_a u: ||σ_a R(z) + u||² equals
    # (σ_a / (σ² + σ_a²))² ||D(z) - (y - σ²/σ_a u)||², a regression onto a target whose noise has variance
    # σ²(1 + σ²/σ_a²) (the book's Noise2Score chapter reads the learning speed off this).
    sigma, sigma_a = 25 / 255, 0.05
    var = sigma ** 2 + sigma_a ** 2
    y = torch.rand(2, 1, 16, 16, dtype=f64)
    net = Tanh()
    loss = n2s.ARDAELoss(schedule="constant", sigma_range=(sigma_a, sigma_a))(net, Batch(y, (y,)),
                                                                             torch.Generator().manual_seed(3))
    u = torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
    z = y + sigma_a * u
    target = y - sigma ** 2 / sigma_a * u
    regression = (sigma_a / var) ** 2 * ((z + var * net(z)) - target).square().mean()
    assert float(loss.detach()) == pytest.approx(float(regression.detach()), rel=1e-6)  # the loss runs in fp32


@pytest.mark.parametrize("sigma_a", [0.05, 0.005])
def test_antithetic_ardae_loss_is_unbiased_and_cuts_the_gradient_noise(sigma_a):
    y = 0.5 * torch.randn(256, 1, generator=torch.Generator().manual_seed(0), dtype=f64)
    batch, model = Batch(y, (y,)), Tanh()
    draws = {}
    for antithetic in (False, True):
        loss_fn = n2s.ARDAELoss(schedule="constant", sigma_range=(sigma_a, sigma_a), antithetic=antithetic)
        values, grads = [], []
        for k in range(400):
            loss = loss_fn(model, batch, torch.Generator().manual_seed(k))
            grads.append(torch.stack(torch.autograd.grad(loss, [model.a, model.b])))
            values.append(float(loss.detach()))
        draws[antithetic] = torch.tensor(values, dtype=f64), torch.stack(grads)
    (plain, g_plain), (anti, g_anti) = draws[False], draws[True]
    # Same expected loss: the difference of the means is within four standard errors.
    se = ((plain.var() + anti.var()) / len(plain)).sqrt()
    assert abs(plain.mean() - anti.mean()) < 4 * se
    # ... and the same expected gradient, with far less spread around it.
    assert torch.allclose(g_plain.mean(0), g_anti.mean(0), atol=float(4 * g_plain.std(0).max() / 20))
    assert (g_anti.var(0) < g_plain.var(0) / 10).all()


def test_ardae_training_on_a_toy_mixture_approaches_the_analytic_score():
    torch.manual_seed(0)
    weights, means, std = torch.tensor([0.4, 0.6]), torch.tensor([-1.0, 1.0]), 0.35
    sigma_max, sigma_min = 0.5, 0.15

    def sample(n, g):
        k = (torch.rand(n, generator=g) < weights[1]).long()
        return (means[k] + std * torch.randn(n, generator=g))[:, None]

    def log_p(x, smoothing):  # AR-DAE at σ_a learns the score of the data smoothed by N(0, σ_a²)
        var = std ** 2 + smoothing ** 2
        return torch.logsumexp(torch.log(weights) - (x - means) ** 2 / (2 * var), -1)

    grid = torch.linspace(-2, 2, 201)[:, None]
    density = torch.exp(log_p(grid, sigma_min))[:, None]
    density /= density.sum()

    def error(net, smoothing):  # relative Fisher divergence: the score-matching error, density-weighted
        target = _score(lambda x: log_p(x, smoothing), grid)
        return float((((net(grid).detach() - target) ** 2) * density).sum().sqrt()
                     / ((target ** 2) * density).sum().sqrt())

    net = nn.Sequential(nn.Linear(1, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
    loss_fn = n2s.ARDAELoss(schedule="run", sigma_range=(sigma_max, sigma_min), anneal_fraction=0.5)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    before, steps = error(net, sigma_min), 600
    for it in range(steps):
        loss_fn.set_iteration(it, steps)
        y = sample(1024, g)
        loss = loss_fn(net, Batch(y, (y,)), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_fn.sigma == pytest.approx(sigma_min)
    assert before > 0.9
    assert error(net, sigma_min) < 0.25  # close to the analytic score at the final σ_a ...
    assert error(net, sigma_min) < 0.5 * error(net, sigma_max)  # ... and no longer to the σ_max one


def test_ardae_loss_is_seeded_by_the_generator_and_runs_in_fp32_under_autocast():
    y = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    net, loss = UNet(1), n2s.ARDAELoss("gaussian")
    loss.set_iteration(99, 100)  # σ_a = 0.001, where bf16 would erase the perturbation
    value = lambda: float(loss(net, Batch(y, (y,)), torch.Generator().manual_seed(3)).detach())  # noqa: E731
    first = value()
    assert value() == first
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert value() == pytest.approx(first, rel=1e-6)
    assert float(loss(net, Batch(y, (y,)), torch.Generator().manual_seed(4)).detach()) != first


def test_annealing_schedules():
    run = [n2s.annealed_sigma("run", i, 1000, 0.05, 0.001) for i in range(1000)]
    assert all(a > b for a, b in zip(run, run[1:])) and run[-1] == pytest.approx(0.001)
    official = [n2s.annealed_sigma("official", i, 3000, 0.05, 0.001, 8, 1000) for i in range(3000)]
    assert official[1000] == official[0] == official[2000]  # restarts every epoch ...
    assert min(official) > 0.03  # ... so σ_a never gets near σ_min with 8000 samples per epoch
    assert n2s.annealed_sigma("constant", 500, 1000, 0.1, 0.001) == 0.1
    with pytest.raises(ValueError):
        n2s.annealed_sigma("cosine", 0, 10, 0.05, 0.001)


# --- unknown σ ---------------------------------------------------------------------------------------

def _piecewise_image(size=128):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    x = 0.2 + 0.3 * xx + 0.3 * (yy > 0.5) + 0.2 * ((xx - 0.3) ** 2 + (yy - 0.3) ** 2 < 0.04)
    return x[None, None]


@pytest.mark.parametrize("sigma", [15.0, 25.0, 40.0])
def test_tv_search_recovers_sigma_with_an_oracle_score(sigma):
    x = _piecewise_image()
    y = x + sigma / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    oracle = (x - y) / (sigma / 255) ** 2  # the score whose Tweedie step at the true σ returns x
    assert abs(float(n2s.estimate_param_tv("gaussian", y, oracle)[0]) - sigma) <= 1.5


def test_mad_estimator_on_a_structured_image():
    x = _piecewise_image(256)
    for sigma in (10.0, 25.0, 50.0):
        y = x + sigma / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
        assert float(n2s.estimate_sigma_mad(y)[0]) == pytest.approx(sigma, rel=0.08)


def test_unknown_sigma_denoiser_uses_its_estimate_and_matches_known_sigma_tweedie():
    x = _piecewise_image().repeat(2, 1, 1, 1)
    y = x + torch.tensor([15.0, 40.0]).view(2, 1, 1, 1) / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    net = UNet(1)
    blind = n2s.ScoreDenoiser(net, estimate="mad")
    out = blind(y)
    sig = blind.last_param
    assert abs(float(sig[0]) - 15) < 3 and abs(float(sig[1]) - 40) < 4
    for i in range(2):
        known = n2s.ScoreDenoiser(net, param=float(sig[i]))(y[i:i + 1])
        assert torch.allclose(out[i:i + 1], known, atol=1e-6)
    with pytest.raises(NotImplementedError, match="tv"):  # MAD assumes Gaussian noise
        n2s.ScoreDenoiser(net, noise="poisson", param=100, estimate="mad")


# --- unknown Poisson λ and Gamma k: the official searches and criteria on an oracle score -------------

@pytest.mark.parametrize("lam", [50.0, 100.0])
@pytest.mark.parametrize("trained_at", [None, 20.0])
def test_poisson_search_recovers_lambda_with_an_oracle_score(lam, trained_at):
    x = _piecewise_image()
    y = Poisson(lam)(x, generator=torch.Generator().manual_seed(0))
    count_score = torch.log(x / (y + 0.5 / lam))  # the count score whose Tweedie step at the true λ returns x
    trained_at = trained_at or lam
    # a network trained at another λ outputs the same score in that λ's count units: λ/λ_train times this
    estimate = float(n2s.estimate_param_tv("poisson", y, count_score * lam / trained_at, score_param=trained_at)[0])
    assert estimate == pytest.approx(lam, rel=0.1)


def test_poisson_search_overestimates_small_lambda_by_its_likelihood_term():
    # The official criterion's Poisson term (x̂ - y log x̂, smallest at x̂ = y) favours weaker denoising,
    # i.e. a smaller ζ: at λ = 20 the oracle's estimate is well above 20 on this image. Recorded, not mended.
    x = _piecewise_image()
    y = Poisson(20.0)(x, generator=torch.Generator().manual_seed(0))
    count_score = torch.log(x / (y + 0.5 / 20.0))
    assert 22 < float(n2s.estimate_param_tv("poisson", y, count_score, score_param=20.0)[0]) < 40
    tv_only = n2s.charbonnier_tv(n2s.tweedie("poisson", y, count_score, 20.0)) < n2s.charbonnier_tv(y)
    assert bool(tv_only)  # the true λ does smooth: the bias comes from the likelihood term


@pytest.mark.parametrize("k", [50.0, 100.0])
def test_gamma_search_recovers_k_with_an_oracle_score(k):
    x = _piecewise_image()
    y = Gamma(k)(x, generator=torch.Generator().manual_seed(0))
    oracle = ((k - 1) - k * y / x) / y  # the score whose Tweedie step at the true k returns x
    assert float(n2s.estimate_param_tv("gamma", y, oracle)[0]) == pytest.approx(k, rel=0.05)


@pytest.mark.parametrize("noise,param", [("poisson", 100.0), ("gamma", 50.0)])
def test_unknown_parameter_denoiser_is_known_parameter_tweedie_at_its_estimate(noise, param):
    x = _piecewise_image(64).repeat(2, 1, 1, 1)
    y = n2s.noise_model(noise, param)(x, generator=torch.Generator().manual_seed(0))
    net = UNet(1)
    with torch.no_grad():  # a non-zero score so that the candidates differ
        for p in net.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    blind = n2s.ScoreDenoiser(net, noise=noise, param=param, estimate="tv")
    out = blind(y)
    assert blind.last_param.shape == (2,) and len(blind.estimates) == 2
    grid = n2s.search_grid(noise)
    candidates = 1 / grid if noise == "poisson" else grid
    assert all(torch.isclose(candidates.float(), e).any() for e in blind.last_param)
    score = blind.score(y)
    for i in range(2):
        e = float(blind.last_param[i])
        # Poisson: the network's count score is at its training λ = param, rescaled to the estimate
        known = n2s.tweedie(noise, y[i:i + 1], score[i:i + 1], e, score_param=param)
        assert torch.allclose(out[i:i + 1], known, atol=1e-6)


# --- networks, inference rules, loading --------------------------------------------------------------

def test_shared_weight_unet_shares_levels_and_uses_small_normal_init():
    net = SharedWeightUNet(1)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 11  # 2 + 1 (one block for 4 levels) + 1 + 2 + 2 (one block for 3 levels) + 3; UNet has 18
    assert float(net.block4[0].weight.detach().std()) == pytest.approx(0.02, rel=0.05)
    assert float(SharedWeightUNet(1, init="he").block4[0].weight.detach().std()) > 0.03
    # changing the one shared block changes every level that uses it
    x = torch.rand(1, 1, 64, 64)
    before = net(x)
    with torch.no_grad():
        net.block2[0].weight.mul_(2)
    assert not torch.allclose(before, net(x))


@pytest.mark.parametrize("architecture,noise,param", [("unet", "gaussian", 25.0), ("sharedweightunet", "poisson", 100.0),
                                                       ("unet", "gamma", 100.0)])
def test_saved_model_loads_with_its_tweedie_rule(tmp_path, architecture, noise, param):
    model, kwargs = n2s.build_model(architecture, 1)
    with torch.no_grad():  # a non-zero score so that Tweedie visibly acts
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))
    inference = {"noise": noise, "param": param, "estimate": None, "relu": False}
    save_model(tmp_path, model, architecture, kwargs, "noise2score", "noise2score", inference)
    y = n2s.noise_model(noise, param)(torch.rand(1, 1, 40, 48, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1,
                                       generator=torch.Generator().manual_seed(2))
    loaded = repro.load(tmp_path, device="cpu")
    expected = n2s.make_denoiser(model.eval(), noise=noise, param=param)(y)
    assert torch.allclose(loaded(y), expected, atol=1e-6)
    assert not torch.allclose(expected, y, atol=1e-4)


def test_poisson_perturbation_is_in_count_units_and_tweedie_uses_the_count_score():
    seen = {}

    class Spy(nn.Module):
        def forward(self, x):
            seen["x"] = x
            return torch.zeros_like(x)

    y = torch.full((1, 1, 64, 64), 0.37)
    out = n2s.ScoreDenoiser(Spy(), noise="poisson", param=100.0)(y)
    assert torch.equal(seen["x"], y)
    assert torch.allclose(out, y + 0.005)  # zero score: x = y + ζ/2
    loss = n2s.ARDAELoss("poisson", 100.0)  # σ_a = 1 count = 0.01 on the image scale
    loss(Spy(), Batch(y, (y,)), torch.Generator().manual_seed(0))
    assert float((seen["x"] - y).std()) == pytest.approx(1.0 / 100, rel=0.05)


# --- diagnosis -------------------------------------------------------------------------------------

def test_diagnosis_variants_differ_only_in_the_rule():
    net = UNet(1)
    y = Gaussian(25)(torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)),
                     generator=torch.Generator().manual_seed(1))
    reference = diag.VariantDenoiser(net, diag.EVAL_VARIANTS["noise2score"], 25.0)(y)
    assert torch.allclose(reference, n2s.ScoreDenoiser(net, param=25.0)(y))
    relu = diag.VariantDenoiser(net, diag.EVAL_VARIANTS["noise2score_relu_output"], 25.0)(y)
    s = n2s.ScoreDenoiser(net).score(y)
    assert torch.allclose(relu, y + (25 / 255) ** 2 * s.clamp_min(0))
    cache = diag.ScoreCache()
    cached = diag.VariantDenoiser(net, diag.EVAL_VARIANTS["noise2score_relu_output"], 25.0, cache)
    assert torch.allclose(cached(y), relu) and torch.allclose(cached(y), relu) and len(cache.scores) == 1
    png = diag.PNGInput(Gaussian(25))(torch.rand(1, 1, 16, 16), generator=torch.Generator().manual_seed(0))
    assert png.min() >= 0 and png.max() <= 1 and torch.allclose(png * 255, (png * 255).round())
    assert diag.variant_run_name("noise2score_gaussian_sigma25_color_cpu_seed0", "noise2score_relu_output") == \
        "noise2score_relu_output_gaussian_sigma25_color_cpu_seed0"


def test_relu_on_the_score_leaves_the_positive_half_of_the_noise():
    # With the oracle score, clamping it at 0 corrects only pixels with negative noise: MSE = σ²/2 (+3 dB).
    sigma = 25 / 255
    x = torch.full((1, 1, 512, 512), 0.5, dtype=f64)
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=f64)
    oracle = (x - y) / sigma ** 2
    out = n2s.tweedie_gaussian(y, oracle.clamp_min(0), sigma)
    gain = 10 * math.log10(float(((y - x) ** 2).mean()) / float(((out - x) ** 2).mean()))
    assert gain == pytest.approx(10 * math.log10(2), abs=0.05)


def test_diagnosis_table_reports_changes_against_the_method():
    import pandas as pd

    rows = []
    for method, value in [("noise2score", 30.0), ("noise2score_relu_output", 23.1), ("noise2score_no_annealing", 29.5)]:
        for dataset in ("cbsd68", "kodak24"):
            rows.append({"paper": "noise2score", "method": method, "noise": "gaussian", "param": "sigma=25",
                         "dataset": dataset, "budget": "cpu", "psnr_db": value})
    out = diag.table(pd.DataFrame(rows))
    assert list(out.method[:3]) == ["noise2score", "noise2score_relu_output", "noise2score_no_annealing"]
    assert out.loc[1, "Δ cbsd68"] == pytest.approx(-6.9)
    assert out.method.iloc[-1] == "published re-implementation"
    # the current cpu budget wins over a superseded one (cpu-1500) and over smoke; alone, a superseded one shows
    older = pd.DataFrame(rows).assign(budget="cpu-1500", psnr_db=20.0)
    smoke = pd.DataFrame(rows).assign(budget="smoke", psnr_db=10.0)
    assert (diag.table(pd.concat([older, pd.DataFrame(rows), smoke])).budget.iloc[0]) == "cpu"
    assert (diag.table(pd.concat([older, smoke])).budget.iloc[0]) == "cpu-1500"


def test_training_variant_and_evaluation_variant_write_loadable_run_folders(tmp_path, monkeypatch):
    monkeypatch.setitem(n2s.BUDGETS, "smoke", {**n2s.BUDGETS["smoke"], "iterations": 2, "val_every": 2,
                                               "eval_images": 1, "patch_size": 32})
    setting = n2s.Setting("gaussian", 25.0, "gray")
    results = tmp_path / "results"
    (trained,) = diag.train_variants(setting, results_dir=results, budget="smoke", device="cpu",
                                     variants=["noise2score_shared_unet"], progress=False)
    assert trained.info["status"] == "complete" and trained.info["params"]["architecture"] == "sharedweightunet"
    loaded = repro.load(trained.path, device="cpu")
    assert isinstance(loaded.model, SharedWeightUNet)
    (variant,) = diag.evaluate_variants(trained, results_dir=results, device="cpu",
                                        variants=["noise2score_relu_output"], n_images=1, progress=False)
    assert variant.info["params"]["model_run"] == trained.info["run"]
    summary = repro.runs.summary(results)
    assert set(summary.method) == {"noise2score_shared_unet", "noise2score_relu_output"}
    assert set(summary.dataset) == {"set12", "bsd68"} and (summary.n_images == 1).all()


def test_a_training_paused_by_its_time_limit_is_marked_paused_and_resumes_to_complete(tmp_path, monkeypatch):
    monkeypatch.setitem(n2s.BUDGETS, "smoke", {**n2s.BUDGETS["smoke"], "iterations": 4, "val_every": 2,
                                               "eval_images": 1, "patch_size": 32})
    setting, results = n2s.Setting("gaussian", 25.0, "gray"), tmp_path / "results"
    paused = recipe.train_setting(setting, results_dir=results, budget="smoke", device="cpu", time_limit_s=1e-9,
                               progress=False)
    assert paused.info["status"] == "paused" and paused.info["iterations"] < 4
    assert not paused.per_image_csv.exists()  # nothing is evaluated on a half-trained model
    done = recipe.train_setting(setting, results_dir=results, budget="smoke", device="cpu", progress=False)
    assert done.path == paused.path and done.info["status"] == "complete" and done.info["iterations"] == 4
    # the manifest's count is the number of images trained on (it sets the epoch length of the schedule)
    assert recipe.training_image_count(setting, "smoke") == len(recipe.training_images(setting, "smoke"))
    assert done.info["params"]["train_set"] == f"bsd400 ({len(recipe.training_images(setting, 'smoke'))} images)"

    def not_read(*args, **kwargs):  # the whole training set (CBSD432: ~10 s) is not read to find a run complete
        raise AssertionError("a reused run read its training set")

    monkeypatch.setattr(recipe, "training_images", not_read)
    again = recipe.train_setting(setting, results_dir=results, budget="smoke", device="cpu", progress=False)
    assert again.path == done.path and again.info == done.info


def test_training_sets_are_disjoint_from_the_test_sets():
    from repro import data

    def files(name):
        entries = data.get(name).files()
        return {f.rsplit(".", 1)[0] for f, _ in entries}, {h for _, h in entries}

    for mode, train_set in n2s.TRAIN_SETS.items():
        stems, hashes = files(train_set)
        for test_set in n2s.EVAL_SETS[mode]:
            test_stems, test_hashes = files(test_set)
            assert not hashes & test_hashes, (train_set, test_set)
            if train_set == "cbsd432":  # same BSDS naming: no scene of CBSD68 is in CBSD432
                assert not stems & test_stems
