"""The Noise2Noise U-Net, as NVlabs/noise2noise ``network.py`` builds it (paper appendix, Table 2).

Encoder: 48 channels, five 2x2 max-pools; decoder: nearest-neighbour upsampling, skip concatenation,
96 channels; last block 64 -> 32 -> C linear. Leaky ReLU 0.1 after every convolution but the last,
He initialisation, no residual connection. Inputs are shifted to [-0.5, 0.5] inside the network (as the
official code feeds them) and reflect-padded to a multiple of 32, then cropped back.

>>> net = UNet(3)
>>> sum(p.numel() for p in net.parameters())
991203
>>> net(torch.rand(1, 3, 45, 70)).shape
torch.Size([1, 3, 45, 70])
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..imageops import pad_reflect

LEAK = 0.1  # NVlabs network.py: leaky ReLU slope


def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def he_init(module: nn.Module, last: nn.Conv2d) -> None:
    """He (Kaiming) normal init for the leaky-ReLU layers, gain 1 for the linear output layer."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            if m is last:
                nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
            else:
                nn.init.kaiming_normal_(m.weight, a=LEAK, nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)


class UNet(nn.Module):
    """Noise2Noise U-Net mapping a noisy image (N, C, H, W) on [0, 1] to its estimate."""

    multiple = 32  # five 2x downsamplings

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, enc: int = 48, dec: int = 96):
        super().__init__()
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.enc_conv0 = conv3x3(in_channels, enc)
        self.enc_conv1 = conv3x3(enc, enc)
        self.enc_convs = nn.ModuleList([conv3x3(enc, enc) for _ in range(5)])  # ENC_CONV2..6
        # Decoder levels 5..2: upsample, concat the pooled skip (enc channels), two convs.
        self.dec_a = nn.ModuleList([conv3x3(enc + enc, dec)] + [conv3x3(dec + enc, dec) for _ in range(3)])
        self.dec_b = nn.ModuleList([conv3x3(dec, dec) for _ in range(4)])
        self.dec_conv1a = conv3x3(dec + in_channels, 64)
        self.dec_conv1b = conv3x3(64, 32)
        self.dec_conv1c = conv3x3(32, out_channels)
        he_init(self, self.dec_conv1c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_reflect(x, self.multiple) - 0.5
        act = lambda t: F.leaky_relu(t, LEAK)  # noqa: E731
        skips = [x]
        t = act(self.enc_conv1(act(self.enc_conv0(x))))
        t = F.max_pool2d(t, 2)
        skips.append(t)  # POOL1
        for i, conv in enumerate(self.enc_convs):
            t = act(conv(t))
            if i < 4:  # POOL2..5; ENC_CONV6 is not pooled
                t = F.max_pool2d(t, 2)
                skips.append(t)
        skips.pop()  # POOL5 feeds ENC_CONV6 only, it is not a skip
        for conv_a, conv_b in zip(self.dec_a, self.dec_b):
            t = F.interpolate(t, scale_factor=2, mode="nearest")
            t = torch.cat([t, skips.pop()], dim=1)
            t = act(conv_b(act(conv_a(t))))
        t = F.interpolate(t, scale_factor=2, mode="nearest")
        t = torch.cat([t, skips.pop()], dim=1)
        t = act(self.dec_conv1b(act(self.dec_conv1a(t))))
        return (self.dec_conv1c(t) + 0.5)[..., :h, :w]

