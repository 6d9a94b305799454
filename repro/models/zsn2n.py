"""The Zero-Shot Noise2Noise network (Mansour & Heckel, CVPR 2023): two 3x3 convolutions and a 1x1.

Its width (48) and slope (0.2) are not in the paper; they are the authors' Colab notebook's
``network(n_chan, chan_embed=48)`` (see also dodododddo/Zero-shot-Noise2Noise issue #2, which points
to the Colab for the widths). The network predicts the *noise*: the denoised image is ``y - net(y)``.
No normalisation, no pooling, so it runs on any image size; its receptive field is 5x5.

>>> net = ZSN2NNet(3)
>>> sum(p.numel() for p in net.parameters()), sum(p.numel() for p in ZSN2NNet(1).parameters())
(22275, 21313)
>>> net(torch.rand(1, 3, 7, 9)).shape
torch.Size([1, 3, 7, 9])
"""
from __future__ import annotations

import torch
import torch.nn as nn

WIDTH = 48  # Colab notebook: network(n_chan, chan_embed=48)
SLOPE = 0.2  # Colab notebook: nn.LeakyReLU(negative_slope=0.2)
RECEPTIVE_RADIUS = 2  # two 3x3 convolutions: an output pixel sees 2 pixels each way


class ZSN2NNet(nn.Module):
    """conv3x3(C->48), leaky ReLU, conv3x3(48->48), leaky ReLU, conv1x1(48->C); PyTorch default init."""

    def __init__(self, channels: int = 3, width: int = WIDTH, slope: float = SLOPE, offset: float = 0.0):
        super().__init__()
        self.channels = channels
        self.offset = offset  # subtracted from the input (0: the Colab's network; 0.5 centres [0, 1] images)
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, channels, 1)
        self.act = nn.LeakyReLU(slope, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The estimated noise of ``x`` (N, C, H, W)."""
        if self.offset:
            x = x - self.offset
        return self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))
