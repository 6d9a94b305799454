"""A hand-written deep-learning framework (no autograd) and the course's Noise2Noise model trained with it.

Ten lines that train the course's network on noisy pairs:

>>> import torch
>>> from repro import scratch
>>> g = torch.Generator().manual_seed(0)
>>> net = scratch.course_model(channel_factor=2, generator=g)
>>> loss, opt = scratch.MSE(), scratch.SGD(net.param(), lr=5.0)
>>> noisy_a, noisy_b = torch.rand(8, 3, 32, 32, generator=g), torch.rand(8, 3, 32, 32, generator=g)
>>> for _ in range(3):
...     value = loss(net(noisy_a), noisy_b)
...     opt.zero_grad()
...     _ = net.backward(loss.backward())
...     opt.step()
>>> bool(value < 0.2)
True
"""
from .activations import ReLU, Sigmoid
from .conv import Conv2d, TransposeConv2d
from .course import COURSE, REPORTED_BEST_PSNR_DB, SWEEP_TABLES, CourseSettings, course_model
from .losses import MSE
from .module import Module, Sequential, load, save
from .optim import SGD
from .twin import torch_twin

__all__ = ["Module", "Sequential", "Conv2d", "TransposeConv2d", "ReLU", "Sigmoid", "MSE", "SGD", "save", "load",
           "course_model", "CourseSettings", "COURSE", "REPORTED_BEST_PSNR_DB", "SWEEP_TABLES", "torch_twin"]
