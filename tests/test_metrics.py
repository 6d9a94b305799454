import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from repro import data, metrics


@pytest.fixture
def pair():
    clean = torch.from_numpy(data.load("kodak24")[0].pixels).permute(2, 0, 1)[None].float() / 255
    g = torch.Generator().manual_seed(0)
    return clean + 0.05 * torch.randn(clean.shape, generator=g), clean


def test_float_psnr_equals_scikit_image(pair):
    est, clean = pair
    ours = float(metrics.psnr(est, clean, "float")[0])
    ref = peak_signal_noise_ratio(clean[0].double().numpy(), est[0].double().clamp(0, 1).numpy(), data_range=1.0)
    assert abs(ours - ref) < 1e-6


def test_uint8_psnr_equals_scikit_image_on_rounded_images(pair):
    est, clean = pair
    ours = float(metrics.psnr(est, clean, "uint8")[0])
    to8 = lambda t: np.floor(t[0].double().clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
    ref = peak_signal_noise_ratio(to8(clean), to8(est), data_range=255)
    assert abs(ours - ref) < 1e-6


def test_flavours_differ_and_are_per_image(pair):
    est, clean = pair
    both = metrics.psnr(torch.cat([est, clean]), torch.cat([clean, clean + 0.01]), "float")
    assert both.shape == (2,) and abs(float(both[1]) - 40.0) < 1e-4  # float32 inputs
    assert float(metrics.psnr(est, clean, "uint8")[0]) != float(metrics.psnr(est, clean, "float")[0])


def test_ssim_matches_scikit_image(pair):
    est, clean = pair
    ref = structural_similarity(clean[0].double().numpy(), est[0].double().clamp(0, 1).numpy(), channel_axis=0,
                                data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert abs(float(metrics.ssim(est, clean)[0]) - ref) < 1e-9


def test_bad_flavour_and_shape_raise(pair):
    est, clean = pair
    with pytest.raises(ValueError):
        metrics.psnr(est, clean, "uint16")
    with pytest.raises(ValueError):
        metrics.psnr(est[..., :10], clean)
