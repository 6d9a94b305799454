"""Convolution and transposed convolution with explicit backward passes, vectorised with unfold/fold.

A convolution is a matrix product on unfolded patches: ``unfold`` lays every receptive field out as a
column (N, C·kh·kw, L), the weight (C_out, C·kh·kw) multiplies them, and the adjoint of ``unfold`` is
``fold``, which sums the columns back onto the image. The transposed convolution is the adjoint of the
convolution, so the same two operations swap roles. Stride, padding, dilation (and output padding for
the transposed convolution) are handled by unfold/fold themselves; there is no loop over pixels.

Weights use torch's layout and default initialisation (``U(-b, b)``, ``b = 1/sqrt(fan_in)``, for weight
and bias, fan_in computed by torch from the weight's second dimension), so a torch twin can load them.

>>> import torch
>>> x = torch.randn(2, 3, 32, 32)
>>> down = Conv2d(3, 24, 3, stride=2, padding=1)
>>> up = TransposeConv2d(24, 3, 3, stride=2, padding=1, output_padding=1)
>>> down(x).shape, up(down(x)).shape
(torch.Size([2, 24, 16, 16]), torch.Size([2, 3, 32, 32]))
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .module import Module

Pair = int | tuple[int, int]


def _pair(value: Pair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _uniform(shape, bound: float, generator, device, dtype) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=generator.device if generator else device, dtype=dtype)
    return ((2 * u - 1) * bound).to(device)


class _ConvBase(Module):
    param_names = ("weight", "bias")

    def __init__(self, weight_shape, out_channels, fan_in, kernel_size, stride, padding, dilation, bias,
                 generator, device, dtype):
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = _uniform(weight_shape, bound, generator, device, dtype)
        self.bias = _uniform((out_channels,), bound, generator, device, dtype) if bias else None
        self.weight_grad = torch.zeros_like(self.weight)
        self.bias_grad = torch.zeros_like(self.bias) if bias else None
        self._cache = None

    def _geometry(self) -> dict:
        return {"kernel_size": self.kernel_size, "dilation": self.dilation, "stride": self.stride}


class Conv2d(_ConvBase):
    """2-D convolution (cross-correlation, as torch's ``nn.Conv2d``), weight (C_out, C_in, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Pair, stride: Pair = 1,
                 padding: Pair = 0, dilation: Pair = 1, bias: bool = True, generator: torch.Generator | None = None,
                 device=None, dtype=torch.float32):
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        super().__init__((out_channels, in_channels, kh, kw), out_channels, in_channels * kh * kw, kernel_size,
                         stride, padding, dilation, bias, generator, device, dtype)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, p, d, k, s in
                     zip((h, w), self.padding, self.dilation, self.kernel_size, self.stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        cols = F.unfold(x, padding=self.padding, **self._geometry())  # (N, C_in*kh*kw, L)
        out = self.weight.reshape(self.out_channels, -1) @ cols  # (N, C_out, L)
        if self.bias is not None:
            out += self.bias.view(1, -1, 1)
        self._cache = (cols, (h, w))
        return out.view(n, self.out_channels, *self.output_size(h, w))

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        cols, (h, w) = self._cache
        grad = grad_out.reshape(grad_out.shape[0], self.out_channels, -1)  # (N, C_out, L)
        # dL/dW = sum over batch and positions of grad ⊗ column: one matrix product.
        self.weight_grad += torch.tensordot(grad, cols, dims=([0, 2], [0, 2])).view_as(self.weight)
        if self.bias is not None:
            self.bias_grad += grad.sum((0, 2))
        grad_cols = self.weight.reshape(self.out_channels, -1).t() @ grad  # (N, C_in*kh*kw, L)
        return F.fold(grad_cols, (h, w), padding=self.padding, **self._geometry())

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation})")


class TransposeConv2d(_ConvBase):
    """Transposed convolution (the adjoint of :class:`Conv2d`, as torch's ``nn.ConvTranspose2d``).

    Weight (C_in, C_out, kh, kw). Output size ``(H-1)·s - 2p + d·(k-1) + output_padding + 1``; as in torch,
    ``output_padding`` must be smaller than the stride or the dilation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Pair, stride: Pair = 1,
                 padding: Pair = 0, output_padding: Pair = 0, dilation: Pair = 1, bias: bool = True,
                 generator: torch.Generator | None = None, device=None, dtype=torch.float32):
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.output_padding = _pair(output_padding)
        for op, s, d in zip(self.output_padding, _pair(stride), _pair(dilation)):
            if not (op < s or op < d):
                raise ValueError(f"output_padding {output_padding} must be smaller than stride or dilation")
        # torch computes fan_in from weight.shape[1] (C_out) for transposed convolutions; we follow it.
        super().__init__((in_channels, out_channels, kh, kw), out_channels, out_channels * kh * kw, kernel_size,
                         stride, padding, dilation, bias, generator, device, dtype)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        return tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, s, p, d, k, op in
                     zip((h, w), self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding))

    def _fold_by_padding(self) -> bool:
        # fold(padding=p) sums the columns onto the padded canvas and crops p per side: it gives exactly
        # the H_in x W_in blocks needed when output_padding < stride. Otherwise (op >= stride, allowed
        # when op < dilation) fold onto the uncropped canvas and crop/pad explicitly.
        return all(op < s for op, s in zip(self.output_padding, self.stride))

    def _full_size(self, h: int, w: int) -> tuple[int, int]:
        return tuple((size - 1) * s + d * (k - 1) + 1 for size, s, d, k in
                     zip((h, w), self.stride, self.dilation, self.kernel_size))

    def _crop(self) -> tuple[int, int, int, int]:
        """F.pad amounts (left, right, top, bottom) taking the uncropped canvas to the output."""
        (ph, pw), (oh, ow) = self.padding, self.output_padding
        return (-pw, ow - pw, -ph, oh - ph)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        flat = x.reshape(n, self.in_channels, h * w)
        cols = self.weight.reshape(self.in_channels, -1).t() @ flat  # (N, C_out*kh*kw, H*W)
        out_size = self.output_size(h, w)
        if self._fold_by_padding():
            out = F.fold(cols, out_size, padding=self.padding, **self._geometry())
        else:
            out = F.pad(F.fold(cols, self._full_size(h, w), padding=0, **self._geometry()), self._crop())
        if self.bias is not None:
            out += self.bias.view(1, -1, 1, 1)
        self._cache = (flat, (h, w))
        return out

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        flat, (h, w) = self._cache
        n = grad_out.shape[0]
        if self._fold_by_padding():
            grad_cols = F.unfold(grad_out, padding=self.padding, **self._geometry())
        else:
            grad_full = F.pad(grad_out, tuple(-c for c in self._crop()))
            grad_cols = F.unfold(grad_full, padding=0, **self._geometry())  # (N, C_out*kh*kw, H*W)
        self.weight_grad += torch.tensordot(flat, grad_cols, dims=([0, 2], [0, 2])).view_as(self.weight)
        if self.bias is not None:
            self.bias_grad += grad_out.sum((0, 2, 3))
        grad_in = self.weight.reshape(self.in_channels, -1) @ grad_cols  # (N, C_in, H*W)
        return grad_in.view(n, self.in_channels, h, w)

    def __repr__(self) -> str:
        return (f"TransposeConv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}, "
                f"dilation={self.dilation})")
