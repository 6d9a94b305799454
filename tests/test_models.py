import torch

from repro.models import UNet


def test_unet_parameter_count_matches_the_official_network():
    # NVlabs network.py layer table (48-channel encoder, 96-channel decoder, 64->32->C head).
    assert sum(p.numel() for p in UNet(3).parameters()) == 991_203
    assert sum(p.numel() for p in UNet(1).parameters()) == 988_609


def test_unet_accepts_any_size_and_gray_or_colour():
    for c, (h, w) in [(1, (33, 47)), (3, (64, 64)), (3, (17, 100))]:
        assert UNet(c)(torch.rand(2, c, h, w)).shape == (2, c, h, w)


def test_unet_output_depends_on_the_whole_receptive_field_through_the_skips():
    net = UNet(1).eval()
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    net(x)[0, 0, 32, 32].backward()
    grad = x.grad[0, 0].abs()
    # The deepest level (1/32 resolution) makes the output at the centre depend on far-away pixels.
    assert grad[0, 0] > 0 and grad[63, 63] > 0 and grad[32, 32] > 0
