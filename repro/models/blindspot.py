"""The blind-spot U-Net of Laine et al. (NeurIPS 2019), as ``selfsupervised_denoising.py`` builds it.

The network must predict each pixel without seeing it. It is built from four copies of a U-Net whose
receptive field only extends *upward*:

* every k×k convolution is shifted down by k//2 rows (k//2 extra zero rows on top, the same number
  cropped at the bottom), so output row i sees input rows i-2·(k//2) .. i and never a row below;
* every 2×2 max-pool is preceded by a one-row shift down, so pooling cannot look below either;
* after the last 3×3 convolution the features are shifted down by one more row: row i now sees only
  rows strictly above it, its own row excluded.

The input is rotated by 0, 90, 180 and 270° and the four rotations go through the same weights (stacked
in the batch); counter-rotated, the four half-planes "above" cover every pixel except the centre. Their
features are concatenated (4×96 = 384 channels) and mixed by 1×1 convolutions 384→384→96→K, the head of
the official code (its ``nin_a``, ``nin_b``, ``nin_c``).

``blind=False`` builds the same backbone without shifts or rotations and with a 96→96→96→K head: the
official code's non-blind network, which SSDN uses to estimate the noise level per image.

Differences from :class:`repro.models.unet.UNet` (the Noise2Noise network), all as in the SSDN code:
the last two full-resolution convolutions have 96 channels (not 64 and 32), the 1×1 head, and the input
is fed on [0, 1] without the -0.5 shift and without an output offset. Inputs whose sides are not
multiples of 32 are zero-padded (:func:`pad_zeros` says why not reflected) and the output cropped back.

>>> net = BlindSpotUNet(3, 9)
>>> sum(p.numel() for p in net.parameters())
1269129
>>> net(torch.rand(1, 3, 40, 70)).shape
torch.Size([1, 9, 40, 70])
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..imageops import pad_reflect
from .unet import LEAK, he_init

ROTATIONS = (0, 1, 2, 3)  # multiples of 90°


class ShiftConv2d(nn.Conv2d):
    """A k×k convolution with zero padding; when ``blind``, its receptive field ends at the output row.

    Padding 2·(k//2) rows on top and none at the bottom is the official code's "pad k//2 rows on top,
    convolve with 'same' padding, crop k//2 rows at the bottom".
    """

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, blind: bool = True):
        super().__init__(cin, cout, kernel_size, padding=0)
        self.blind = blind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.kernel_size[0] // 2
        x = F.pad(x, (p, p, 2 * p, 0) if self.blind else (p, p, p, p))
        return super().forward(x)


def pad_zeros(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad bottom/right to a multiple of ``multiple``.

    Not reflection: a mirrored copy of a noisy pixel would lie in the half-plane a rotated branch sees,
    and the network would see the pixel it must not. The official code avoids this by padding the clean
    image before adding noise; zeros are what the first convolution's own padding shows at every border.
    """
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple))


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (a zero row enters at the top, the last row leaves)."""
    return F.pad(x[..., :-1, :], (0, 0, 1, 0))


class BlindSpotUNet(nn.Module):
    """(N, C, H, W) on [0, 1] -> (N, out_channels, H, W); with ``blind`` the output at a pixel ignores it."""

    multiple = 32  # five 2x downsamplings

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, blind: bool = True,
                 zero_last: bool = False, enc: int = 48, dec: int = 96):
        super().__init__()
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels, self.blind = in_channels, out_channels, blind
        conv = lambda cin, cout, k=3: ShiftConv2d(cin, cout, k, blind)  # noqa: E731
        self.enc_conv0 = conv(in_channels, enc)
        self.enc_conv1 = conv(enc, enc)
        self.enc_convs = nn.ModuleList([conv(enc, enc) for _ in range(5)])  # ENC_CONV2..6
        self.dec_a = nn.ModuleList([conv(enc + enc, dec)] + [conv(dec + enc, dec) for _ in range(3)])
        self.dec_b = nn.ModuleList([conv(dec, dec) for _ in range(4)])
        self.dec_conv1a = conv(dec + in_channels, dec)
        self.dec_conv1b = conv(dec, dec)
        width = 4 * dec if blind else dec  # the four counter-rotated branches side by side
        self.nin_a = conv(width, width, 1)
        self.nin_b = conv(width, dec, 1)
        self.nin_c = conv(dec, out_channels, 1)
        he_init(self, self.nin_c)
        if zero_last:  # the noise-level network starts from a constant estimate (official code)
            nn.init.zeros_(self.nin_c.weight)

    def _down(self, t: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(shift_down(t) if self.blind else t, 2)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net up to DEC_CONV1B (96 channels, full resolution)."""
        act = lambda t: F.leaky_relu(t, LEAK)  # noqa: E731
        skips = [x]
        t = self._down(act(self.enc_conv1(act(self.enc_conv0(x)))))
        skips.append(t)  # POOL1
        for i, conv in enumerate(self.enc_convs):
            t = act(conv(t))
            if i < 4:  # POOL2..5; ENC_CONV6 is not pooled
                t = self._down(t)
                skips.append(t)
        skips.pop()  # POOL5 feeds ENC_CONV6 only, it is not a skip
        for conv_a, conv_b in zip(self.dec_a, self.dec_b):
            t = torch.cat([F.interpolate(t, scale_factor=2, mode="nearest"), skips.pop()], dim=1)
            t = act(conv_b(act(conv_a(t))))
        t = torch.cat([F.interpolate(t, scale_factor=2, mode="nearest"), skips.pop()], dim=1)
        return act(self.dec_conv1b(act(self.dec_conv1a(t))))

    def _head(self, t: torch.Tensor) -> torch.Tensor:
        return self.nin_c(F.leaky_relu(self.nin_b(F.leaky_relu(self.nin_a(t), LEAK)), LEAK))

    def _blind_features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of the four rotations, counter-rotated and concatenated on the channel axis.

        The rotations share one batch when the image is square (always so for training crops); otherwise
        the pairs with equal shape (0°/180° and 90°/270°) share one, which computes the same thing.
        """
        n = x.shape[0]
        groups = [ROTATIONS] if x.shape[-1] == x.shape[-2] else [(0, 2), (1, 3)]
        branches = {}
        for group in groups:
            stacked = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in group], dim=0)
            features = shift_down(self._features(stacked))  # now strictly above: the blind spot
            for k, f in zip(group, features.split(n, dim=0)):
                branches[k] = torch.rot90(f, -k, dims=(2, 3))
        return torch.cat([branches[k] for k in ROTATIONS], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_zeros(x, self.multiple) if self.blind else pad_reflect(x, self.multiple)
        features = self._blind_features(x) if self.blind else self._features(x)
        return self._head(features)[..., :h, :w]


class SSDNNetwork(nn.Module):
    """The blind-spot prior network plus, when σ is unknown, what estimates it.

    ``noise_estimator``: ``None`` (σ given), ``"global"`` (one learned scalar, initialised at 0) or
    ``"per_image"`` (a non-blind :class:`BlindSpotUNet` with a zero-initialised last layer, averaged over
    the image). ``forward`` returns the K prior channels and the raw noise estimate (N, 1, 1, 1) or
    ``None``; :mod:`repro.methods.ssdn` maps both to distributions. The global value is stored divided by
    ``noise_value_scale`` (1 in the official code): Adam moves a parameter by about one learning rate per
    step, so the scale sets how far the estimate can travel in a run (see
    :func:`repro.methods.ssdn.global_noise_scale`).

    >>> net = SSDNNetwork(3, 9, "per_image")
    >>> prior, raw = net(torch.rand(2, 3, 32, 32))
    >>> prior.shape, raw.shape, float(raw.detach().abs().max())   # zero last layer: the same start everywhere
    (torch.Size([2, 9, 32, 32]), torch.Size([2, 1, 1, 1]), 0.0)
    """

    ESTIMATORS = (None, "global", "per_image")

    def __init__(self, in_channels: int = 3, prior_channels: int = 9, noise_estimator: str | None = None,
                 noise_value_scale: float = 1.0):
        super().__init__()
        if noise_estimator not in self.ESTIMATORS:
            raise ValueError(f"noise_estimator must be one of {self.ESTIMATORS}, got '{noise_estimator}'")
        self.in_channels, self.noise_estimator = in_channels, noise_estimator
        self.prior = BlindSpotUNet(in_channels, prior_channels)
        self.noise_value_scale = noise_value_scale
        if noise_estimator == "global":
            self.noise_value = nn.Parameter(torch.zeros(()))
        elif noise_estimator == "per_image":
            self.noise_net = BlindSpotUNet(in_channels, 1, blind=False, zero_last=True)

    def forward(self, noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        prior = self.prior(noisy)
        if self.noise_estimator == "global":
            raw = (self.noise_value_scale * self.noise_value).expand(noisy.shape[0], 1, 1, 1)
        elif self.noise_estimator == "per_image":
            raw = self.noise_net(noisy).mean(dim=(2, 3), keepdim=True)
        else:
            raw = None
        return prior, raw
