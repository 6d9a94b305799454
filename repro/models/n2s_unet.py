"""The U-Net of the official Noise2Score code, kept only as an ablation of :class:`repro.models.UNet`.

cubeyoung/Noise2Score ``models/networks.py`` builds a PyTorch port of the Noise2Noise U-Net that differs
from NVlabs' network in three ways (``../shared/notes/peers-and-official-code.md`` §4.3):

* **weights shared across levels**: one ``_block2`` (conv + pool) serves encoder levels 2-5 and one
  ``_block5`` (two convs + upsampling) serves decoder levels 4-2, so those levels hold a single set of
  weights each (a known issue of the widely copied joeylitalien port, its issues #3 and #7);
* **transposed-convolution upsampling** (3x3, stride 2) instead of nearest-neighbour;
* **N(0, 0.02) initialisation** of every convolution (pix2pix's ``init_net`` default ``init_type=normal,
  init_gain=0.02``, which overrides the He init the class itself asks for), zero biases.

It also feeds the image as is (no shift to [-0.5, 0.5]). The main Noise2Score runs use
:class:`repro.models.UNet`; this class measures what the official variant costs.

>>> net = SharedWeightUNet(3)
>>> sum(p.numel() for p in net.parameters()), sum(p.numel() for p in UNet(3).parameters())
(700611, 991203)
>>> net(torch.rand(1, 3, 45, 70)).shape
torch.Size([1, 3, 45, 70])
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..imageops import pad_reflect
from .unet import LEAK, UNet

INIT_STD = 0.02  # pix2pix/CycleGAN options/base_options.py: --init_type normal --init_gain 0.02


def _up(channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1)


class SharedWeightUNet(nn.Module):
    """The official Noise2Score U-Net: shared level weights, transposed-conv upsampling, N(0, 0.02) init.

    ``init="he"`` keeps the architecture but uses He initialisation, to separate the two effects.
    """

    multiple = 32

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, init: str = "normal"):
        super().__init__()
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels, self.init = in_channels, out_channels, init
        act = lambda: nn.LeakyReLU(LEAK)  # noqa: E731
        self.block1 = nn.Sequential(nn.Conv2d(in_channels, 48, 3, padding=1), act(), nn.Conv2d(48, 48, 3, padding=1),
                                    act(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(48, 48, 3, padding=1), act(), nn.MaxPool2d(2))  # used 4 times
        self.block3 = nn.Sequential(nn.Conv2d(48, 48, 3, padding=1), act(), _up(48))
        self.block4 = nn.Sequential(nn.Conv2d(96, 96, 3, padding=1), act(), nn.Conv2d(96, 96, 3, padding=1), act(),
                                    _up(96))
        self.block5 = nn.Sequential(nn.Conv2d(144, 96, 3, padding=1), act(), nn.Conv2d(96, 96, 3, padding=1), act(),
                                    _up(96))  # used 3 times
        self.block6 = nn.Sequential(nn.Conv2d(96 + in_channels, 64, 3, padding=1), act(),
                                    nn.Conv2d(64, 32, 3, padding=1), act(), nn.Conv2d(32, out_channels, 3, padding=1))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                if init == "normal":
                    nn.init.normal_(m.weight, 0.0, INIT_STD)
                elif init == "he":
                    nn.init.kaiming_normal_(m.weight, a=LEAK, nonlinearity="leaky_relu")
                else:
                    raise ValueError(f"init must be 'normal' or 'he', got '{init}'")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_reflect(x, self.multiple)
        pool1 = self.block1(x)
        pool2 = self.block2(pool1)
        pool3 = self.block2(pool2)
        pool4 = self.block2(pool3)
        pool5 = self.block2(pool4)
        t = self.block4(torch.cat([self.block3(pool5), pool4], dim=1))
        t = self.block5(torch.cat([t, pool3], dim=1))
        t = self.block5(torch.cat([t, pool2], dim=1))
        t = self.block5(torch.cat([t, pool1], dim=1))
        return self.block6(torch.cat([t, x], dim=1))[..., :h, :w]
