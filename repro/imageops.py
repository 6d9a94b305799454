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


def tile_layout(size: int, tile: int, margin: int) -> list[tuple[int, int, int]]:
    """Tiles along one axis: ``(start, keep_from, keep_to)`` per tile, the kept ranges partitioning ``size``.

    Tiles of ``tile`` pixels step by ``tile - 2 margin``; each keeps its centre, so every kept pixel has at
    least ``margin`` pixels of image around it inside its tile, except along the image's own border, where
    the first and last tile keep their outer band (as a crop's border was during training).

    >>> tile_layout(100, 64, 16)
    [(0, 0, 48), (32, 48, 80), (36, 80, 100)]
    >>> tile_layout(100, 64, 0), tile_layout(40, 64, 16)
    ([(0, 0, 64), (64, 64, 100)], [(0, 0, 40)])
    """
    stride = tile - 2 * margin
    if stride <= 0:
        raise ValueError(f"margin {margin} leaves nothing to keep of a {tile}-pixel tile")
    if margin == 0 or size <= tile:  # no overlap: the last tile runs past the end (zero padding)
        starts = list(range(0, size, tile))
        return [(a, a, min(a + tile, size)) for a in starts]
    starts = list(range(0, size - tile + 1, stride))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    layout, keep_from = [], 0
    for i, a in enumerate(starts):
        keep_to = size if i == len(starts) - 1 else a + tile - margin
        layout.append((a, keep_from, keep_to))
        keep_from = keep_to
    return layout


def apply_in_tiles(fn, x: torch.Tensor, tile: int, batch: int = 16, margin: int = 0) -> torch.Tensor:
    """``fn`` applied to ``tile``×``tile`` tiles of ``x`` (N, C, H, W), reassembled.

    Each tile is what a network trained on ``tile``-sized crops saw: an image with zero padding around it
    (an image smaller than a tile, or not a multiple of it when ``margin`` is 0, is zero-padded bottom and
    right). ``margin`` > 0 overlaps the tiles and keeps only the centre of each (:func:`tile_layout`), so
    no output pixel sits at a tile's inner edge, away from the context it would have had in a crop. Every
    output pixel comes from exactly one tile either way: a blind-spot network stays blind.

    >>> x = torch.rand(2, 3, 45, 70)
    >>> torch.equal(apply_in_tiles(lambda t: t * 2, x, 32), x * 2)
    True
    >>> torch.equal(apply_in_tiles(lambda t: t * 2, x, 32, margin=8), x * 2)
    True
    """
    n, c, h, w = x.shape
    rows, cols = tile_layout(h, tile, margin), tile_layout(w, tile, margin)
    padded = F.pad(x, (0, max(cols[-1][0] + tile - w, 0), 0, max(rows[-1][0] + tile - h, 0)))
    tiles = torch.cat([padded[..., r:r + tile, q:q + tile] for r, _, _ in rows for q, _, _ in cols])
    out = torch.cat([fn(tiles[i:i + batch * n]) for i in range(0, len(tiles), batch * n)])
    out = out.reshape(len(rows), len(cols), n, -1, tile, tile)
    result = out.new_empty(n, out.shape[3], h, w)
    for i, (r, r0, r1) in enumerate(rows):
        for j, (q, q0, q1) in enumerate(cols):
            result[..., r0:r1, q0:q1] = out[i, j, ..., r0 - r:r1 - r, q0 - q:q1 - q]
    return result
