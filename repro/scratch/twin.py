"""The torch twin: the same network in ``torch.nn`` with autograd, holding the same weights.

Each scratch layer maps to its torch counterpart with identical hyper-parameters, and the state-dict
names and layouts are the same, so ``torch_twin(model)`` starts from exactly the scratch model's weights.

>>> import torch
>>> from repro.scratch import course_model
>>> net = course_model(generator=torch.Generator().manual_seed(0))
>>> twin = torch_twin(net)
>>> x = torch.rand(2, 3, 32, 32)
>>> bool(torch.allclose(twin(x), net(x), atol=1e-6))
True
"""
from __future__ import annotations

import torch
from torch import nn

from .activations import ReLU, Sigmoid
from .conv import Conv2d, TransposeConv2d
from .module import Module, Sequential


def _torch_layer(module: Module) -> nn.Module:
    if isinstance(module, Conv2d):
        return nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                         padding=module.padding, dilation=module.dilation, bias=module.bias is not None)
    if isinstance(module, TransposeConv2d):
        return nn.ConvTranspose2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                                  padding=module.padding, output_padding=module.output_padding,
                                  dilation=module.dilation, bias=module.bias is not None)
    if isinstance(module, ReLU):
        return nn.ReLU()
    if isinstance(module, Sigmoid):
        return nn.Sigmoid()
    raise TypeError(f"no torch counterpart for {type(module).__name__}")


def torch_twin(model: Sequential) -> nn.Sequential:
    """An ``nn.Sequential`` with the same layers, on the same device and dtype, loaded with the same weights."""
    twin = nn.Sequential(*[_torch_layer(m) for m in model.modules])
    state = model.state_dict()
    if state:
        first = next(iter(state.values()))
        twin = twin.to(device=first.device, dtype=first.dtype)
    twin.load_state_dict(state)
    return twin
