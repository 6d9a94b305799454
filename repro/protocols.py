"""Each paper's evaluation protocol, written down as data.

The choices below move PSNR by tenths of a dB (see the book's protocol chapter, which measures each),
so every reproduced number names the protocol it was measured under.

>>> PROTOCOLS["ssdn"].repeats_for("kodak24")
10
>>> PROTOCOLS["noise2score"].channels_for("set12"), PROTOCOLS["noise2noise"].channels_for("set14")
(1, 3)
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data


@dataclass(frozen=True)
class Protocol:
    name: str
    datasets: tuple[str, ...]
    psnr: str  # a repro.metrics flavour: "uint8", "float" or "float_raw"
    clip_noisy: bool  # clip the noisy image to [0, 1] (only the ZS-N2N notebook does, for Gaussian)
    colour: str  # "rgb": every image as RGB (gray tiled); "native": gray sets stay gray
    source: str
    repeats: dict[str, int] = field(default_factory=dict)  # noise realisations per image, default 1
    pad_multiple: int = 1  # reflect-pad the noisy input to a multiple of this, crop the output back
    seed: int = 0

    def repeats_for(self, dataset: str) -> int:
        return self.repeats.get(dataset, 1)

    def channels_for(self, dataset: str) -> int:
        return 3 if self.colour == "rgb" else data.get(dataset).channels

    def prepare(self, pixels: np.ndarray, dataset: str) -> torch.Tensor:
        """uint8 (H, W, C) -> float (1, C, H, W) in [0, 1] with this protocol's channel handling."""
        c = self.channels_for(dataset)
        pixels = data.to_rgb(pixels) if c == 3 else data.to_gray(pixels)
        return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 255.0

    def generator(self, dataset: str, index: int, repeat: int) -> torch.Generator:
        """The noise seed of one (image, repeat): independent of evaluation order, so runs resume."""
        key = zlib.crc32(f"{self.name}/{dataset}/{index}/{repeat}/{self.seed}".encode())
        return torch.Generator().manual_seed(key)


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in [
        Protocol(
            "noise2noise", ("kodak24", "bsd300_test", "set14"), psnr="uint8", clip_noisy=False, colour="rgb",
            pad_multiple=32,
            source="NVlabs/noise2noise validation.py + util.py: unclipped noise, one realisation, prediction "
                   "clipped and rounded to uint8, PSNR at 255, reflect pad to 32 (we fix the seed the code left free)",
        ),
        Protocol(
            "ssdn", ("kodak24", "bsd300_test", "set14"), psnr="uint8", clip_noisy=False, colour="rgb",
            repeats={"kodak24": 10, "bsd300_test": 3, "set14": 20},
            # no reflect padding: a mirrored copy of a pixel would reach its own blind-spot output (the networks
            # zero-pad themselves, the U-Net reflect-pads itself; the official code pads the clean image)
            pad_multiple=1,
            source="NVlabs/selfsupervised-denoising: Kodak x10, BSD300 x3, Set14 x20 (gray tiled to RGB), "
                   "fixed seeds, noise never clipped, both images rounded to uint8",
        ),
        Protocol(
            "noise2score", ("cbsd68", "kodak24", "set12", "bsd68"), psnr="float", clip_noisy=False,
            colour="native", pad_multiple=32,
            source="cubeyoung/Noise2Score Datageneration.ipynb + test code: float noisy .npy (no clip, no "
                   "quantisation), one realisation, output clamped to [0,1], float PSNR; gray BSD68/Set12",
        ),
        Protocol(
            "noise2void", ("bsd68",), psnr="float_raw", clip_noisy=False, colour="native", pad_multiple=32,
            source="juglab/n2v BSD68_reproducibility.ipynb: float noisy .npy (\"we do not round or clip the "
                   "noisy data\"), one realisation, PSNR of the raw prediction at peak 255, gray BSD68",
        ),
        Protocol(
            "zs_n2n", ("kodak24", "mcmaster18"), psnr="float", clip_noisy=True, colour="native",
            source="ZS-N2N Colab notebook: Gaussian noisy image clamped to [0,1] (Poisson not clipped), "
                   "one realisation, output clamped to [0,1], float PSNR",
        ),
    ]
}


def get(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol '{name}'; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
