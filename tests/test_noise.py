import pytest
import torch

from repro import noise


def flat(value=0.5, n=4, size=128):
    return torch.full((n, 3, size, size), value)


def test_gaussian_has_the_right_std_and_is_unclipped_by_default():
    y = noise.Gaussian(25)(flat(0.02), generator=torch.Generator().manual_seed(0))
    assert abs(float((y - 0.02).std()) * 255 - 25) < 0.3
    assert float(y.min()) < 0  # not clipped: SSDN/N2N never clip
    yc = noise.Gaussian(25, clip=True)(flat(0.02), generator=torch.Generator().manual_seed(0))
    assert float(yc.min()) == 0.0


def test_training_range_draws_sigma_per_example():
    y = noise.Gaussian((0, 50))(flat(n=64, size=32), generator=torch.Generator().manual_seed(1))
    stds = (y - 0.5).flatten(1).std(1) * 255
    assert float(stds.min()) < 10 and float(stds.max()) > 40


def test_same_seed_same_noise_different_seed_different_noise():
    x = flat()
    a = noise.Gaussian(25)(x, generator=torch.Generator().manual_seed(3))
    b = noise.Gaussian(25)(x, generator=torch.Generator().manual_seed(3))
    c = noise.Gaussian(25)(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_poisson_is_unbiased_with_variance_x_over_lambda():
    y = noise.Poisson(30)(flat(0.4, n=8), generator=torch.Generator().manual_seed(0))
    assert abs(float(y.mean()) - 0.4) < 0.005
    assert abs(float(y.var()) - 0.4 / 30) < 0.001


def test_gamma_is_mean_one_multiplicative_with_variance_x2_over_k():
    y = noise.Gamma(100)(flat(0.5, n=8), generator=torch.Generator().manual_seed(0))
    assert abs(float(y.mean()) - 0.5) < 0.002
    assert abs(float(y.var()) - 0.25 / 100) < 2e-4


def test_bernoulli_drops_a_fraction_p_of_pixels_in_all_channels():
    y = noise.Bernoulli(0.5)(flat(0.5), generator=torch.Generator().manual_seed(0))
    dropped = (y == 0)
    assert abs(float(dropped.float().mean()) - 0.5) < 0.01
    assert torch.equal(dropped[:, 0], dropped[:, 1])


def test_impulse_replaces_a_fraction_alpha():
    y = noise.Impulse(0.3)(flat(0.5), generator=torch.Generator().manual_seed(0))
    assert abs(float((y != 0.5).float().mean()) - 0.3) < 0.01


@pytest.mark.parametrize("make", [lambda: noise.Gaussian(-1), lambda: noise.Poisson(0), lambda: noise.Poisson(-3),
                                  lambda: noise.Bernoulli(1.5), lambda: noise.Gamma(0), lambda: noise.Impulse(-0.1),
                                  lambda: noise.Gaussian((50, 0)), lambda: noise.make("speckle", 1)])
def test_bad_parameters_raise(make):
    with pytest.raises(ValueError):
        make()
