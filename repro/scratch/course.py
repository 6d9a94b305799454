"""The EPFL course mini-project's model and hyper-parameters, in one place.

Source: the project report of the EPFL EE-559 (Deep Learning, 2022) mini-project 2 as summarised in
issue 7 of this repository; the README of MehrdadKianiOsh/DeepLearning-CourseProject-Noise2Noise states
the 24.37 dB. The course's data (50,000 pairs of noisy 32×32 images) is not public, so the number is
"stated in the project report, not independently verified".

The channel factor ``f`` sets the widths 3 → 3f → 3f² → 3f → 3 (f = 8 gives the report's 24 and 192);
the kernel size ``k`` keeps every stride-2 layer halving or doubling the size (padding (k-1)/2,
output padding 1).

>>> net = course_model()
>>> net.n_parameters()
84483
>>> [type(m).__name__ for m in net.modules][:3]
['Conv2d', 'ReLU', 'Conv2d']
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .activations import ReLU, Sigmoid
from .conv import Conv2d, TransposeConv2d
from .module import Sequential


@dataclass(frozen=True)
class CourseSettings:
    """Training settings; the defaults are the report's best model."""

    lr: float = 5.0  # plain SGD learning rate (report)
    batch_size: int = 64  # (report)
    epochs: int = 10  # (report)
    n_pairs: int = 50_000  # training pairs of 32x32 noisy patches (course data)
    channel_factor: int = 8  # 3 -> 24 -> 192 -> 24 -> 3 (report's architecture)
    kernel_size: int = 3  # (report)

    def asdict(self) -> dict:
        return asdict(self)


COURSE = CourseSettings()
REPORTED_BEST_PSNR_DB = 24.37  # the report's best test PSNR; not independently verified
# The report's hyper-parameter tables (issue 7): batch 32-256, learning rate 0.01-25, channel factor 2-8,
# kernel 3 or 5. Only the ranges are known; the interior points are ours.
SWEEP_TABLES: dict[str, tuple] = {
    "batch_size": (32, 64, 128, 256),
    "lr": (0.01, 0.1, 1.0, 5.0, 10.0, 25.0),
    "channel_factor": (2, 4, 8),
    "kernel_size": (3, 5),
}


def course_model(channel_factor: int = COURSE.channel_factor, kernel_size: int = COURSE.kernel_size,
                 generator: torch.Generator | None = None, device=None, dtype=torch.float32) -> Sequential:
    """Conv(s2) → ReLU → Conv(s2) → ReLU → TransposeConv(s2) → ReLU → TransposeConv(s2) → Sigmoid."""
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd so that stride 2 halves the size exactly, got {kernel_size}")
    c1, c2 = 3 * channel_factor, 3 * channel_factor ** 2
    pad = (kernel_size - 1) // 2
    common = {"kernel_size": kernel_size, "stride": 2, "padding": pad, "generator": generator, "device": device,
              "dtype": dtype}
    return Sequential(
        Conv2d(3, c1, **common), ReLU(),
        Conv2d(c1, c2, **common), ReLU(),
        TransposeConv2d(c2, c1, output_padding=1, **common), ReLU(),
        TransposeConv2d(c1, 3, output_padding=1, **common), Sigmoid(),
    )
