"""Noise2Void masking: where it masks, what it puts there, and that it stops a network learning the identity."""
import torch

from repro.methods import noise2void, ssdn
from repro.models import UNet
from repro.patches import Batch


def test_one_masked_pixel_per_box_replaced_from_its_window():
    n, c, h, w = 3, 2, 50, 70  # boxes of 22 cut by the border on both axes
    y = torch.arange(n * c * h * w, dtype=torch.float64).reshape(n, c, h, w)  # every value names its pixel
    masked, mask = noise2void.mask_pixels(y, torch.Generator().manual_seed(1))
    b = noise2void.box_size()
    assert ((masked == y) | (mask == 1)).all()  # only masked positions change
    for i in range(n):
        for ch in range(c):
            positions = mask[i, ch].nonzero()
            boxes = {(int(r) // b, int(q) // b) for r, q in positions}
            assert len(boxes) == len(positions)  # at most one per box
            assert len(positions) <= -(-h // b) * -(-w // b)
            for r, q in positions.tolist():
                source = int(masked[i, ch, r, q]) - (i * c + ch) * h * w  # same crop and channel
                assert 0 <= source < h * w
                sr, sq = divmod(source, w)
                assert abs(sr - r) <= noise2void.NEIGHBOURHOOD_RADIUS and abs(sq - q) <= noise2void.NEIGHBOURHOOD_RADIUS
    # full boxes always get their pixel: every box wholly inside a 44x66 corner of each channel
    inner = mask[..., : 2 * b, : 3 * b].reshape(n, c, 2, b, 3, b).sum(dim=(3, 5))
    assert (inner == 1).all()


def test_masking_is_seeded():
    y = torch.rand(2, 3, 64, 64)
    a = noise2void.mask_pixels(y, torch.Generator().manual_seed(5))
    b = noise2void.mask_pixels(y, torch.Generator().manual_seed(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def _fit(loss_fn, steps=600, sigma=0.1, seed=0):
    """A 5x5 convolution fitted to pure noise around a flat grey image; returns its test MSE to the clean image."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Conv2d(1, 1, 5, padding=2, padding_mode="reflect")
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)
    for _ in range(steps):
        y = 0.5 + sigma * torch.randn(16, 1, 64, 64, generator=g)
        loss = loss_fn(net, Batch(torch.full_like(y, 0.5), (y,)), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = 0.5 + sigma * torch.randn(4, 1, 128, 128, generator=g)
    with torch.no_grad():
        return float(((net(y) - 0.5) ** 2).mean()) / sigma ** 2


def test_masking_stops_the_identity_and_denoises_white_noise():
    # Without masking, L2 to the noisy input itself is minimised by the identity (noise kept, ratio ~1);
    # with Noise2Void's masking the best predictor is the neighbourhood mean, which removes most of it.
    identity_loss = lambda net, batch, g: ((net(batch.noisy[0]) - batch.noisy[0]) ** 2).mean()  # noqa: E731
    assert _fit(identity_loss) > 0.8
    assert _fit(noise2void.N2VLoss()) < 0.1


def test_ssdn_notebook_builds_the_noise2void_baseline():
    model, architecture, _ = ssdn.build("n2v")
    assert isinstance(model, UNet) and architecture == "unet"
    assert isinstance(ssdn.loss_for("n2v"), noise2void.N2VLoss)
    assert ssdn.method_name("n2v") == "n2v"
