"""Small tensor operations on images shared by models and the evaluation harness."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_reflect(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad bottom/right so H and W are multiples of ``multiple`` (replicate if too small to reflect).

    >>> pad_reflect(torch.zeros(1, 1, 45, 70), 32).shape
    torch.Size([1, 1, 64, 96])
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def apply_in_tiles(fn, x: torch.Tensor, tile: int, batch: int = 16) -> torch.Tensor:
    """``fn`` applied to non-overlapping ``tile``×``tile`` tiles of ``x`` (N, C, H, W), reassembled.

    The image is zero-padded bottom/right to a multiple of ``tile`` and the output cropped back, so each
    tile is what a network trained on ``tile``-sized crops saw: an image with zero padding around it.
    Every output pixel comes from one tile only: a blind-spot network stays blind.

    >>> x = torch.rand(2, 3, 45, 70)
    >>> torch.equal(apply_in_tiles(lambda t: t * 2, x, 32), x * 2)
    True
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (0, (-w) % tile, 0, (-h) % tile))
    rows, cols = padded.shape[-2] // tile, padded.shape[-1] // tile
    tiles = padded.reshape(n, c, rows, tile, cols, tile).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, tile, tile)
    out = torch.cat([fn(tiles[i:i + batch]) for i in range(0, len(tiles), batch)])
    out = out.reshape(n, rows, cols, -1, tile, tile).permute(0, 3, 1, 4, 2, 5).reshape(n, -1, rows * tile, cols * tile)
    return out[..., :h, :w]
