"""The module interface of the hand-written framework, and the container and weight files built on it.

Every module follows the course's interface (EPFL EE-559 mini-project 2):

* ``forward(*inputs)`` computes the output and keeps what ``backward`` needs;
* ``backward(*grad_outputs)`` takes the gradient of the loss w.r.t. the output, accumulates the
  gradients of the parameters and returns the gradient w.r.t. the input;
* ``param()`` returns ``[(tensor, gradient), ...]``, the pairs an optimiser updates.

Autograd is never used: every ``forward`` and ``backward`` of every subclass runs inside
``torch.no_grad()`` (wrapped once, in :meth:`Module.__init_subclass__`), so a tensor that requires grad
going in builds no graph.

>>> import torch
>>> from repro.scratch import ReLU
>>> x = torch.tensor([-1.0, 2.0], requires_grad=True)
>>> y = ReLU()(x)
>>> y.tolist(), y.requires_grad
([0.0, 2.0], False)
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch


def _without_autograd(method):
    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with torch.no_grad():
            return method(*args, **kwargs)

    return wrapped


class Module:
    """Base class. Leaf modules list their parameters in ``param_names``; gradients live in ``<name>_grad``."""

    param_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                setattr(cls, name, _without_autograd(cls.__dict__[name]))

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def named_param(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """``(name, tensor, gradient)`` triples; names match torch's ``state_dict`` keys."""
        return [(n, getattr(self, n), getattr(self, n + "_grad")) for n in self.param_names
                if getattr(self, n, None) is not None]

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(tensor, grad) for _, tensor, grad in self.named_param()]

    def zero_grad(self) -> None:
        for _, grad in self.param():
            grad.zero_()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: tensor.detach().clone() for name, tensor, _ in self.named_param()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy values in place (so an optimiser holding the tensors keeps working); names and shapes must match."""
        own = {name: tensor for name, tensor, _ in self.named_param()}
        if set(own) != set(state):
            raise KeyError(f"state names differ: missing {sorted(set(own) - set(state))}, "
                           f"unexpected {sorted(set(state) - set(own))}")
        for name, tensor in own.items():
            if tuple(state[name].shape) != tuple(tensor.shape):
                raise ValueError(f"{name}: shape {tuple(state[name].shape)} does not fit {tuple(tensor.shape)}")
            tensor.copy_(state[name])

    def to(self, device=None, dtype=None) -> "Module":
        """Move parameters and gradients (build the optimiser after this, it holds the tensors)."""
        for name in self.param_names:
            for attr in (name, name + "_grad"):
                if getattr(self, attr, None) is not None:
                    setattr(self, attr, getattr(self, attr).to(device=device, dtype=dtype))
        return self

    def n_parameters(self) -> int:
        return sum(t.numel() for t, _ in self.param())


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse.

    >>> import torch
    >>> from repro.scratch import Conv2d, ReLU
    >>> net = Sequential(Conv2d(3, 4, 3, padding=1), ReLU())
    >>> sorted(net.state_dict())
    ['0.bias', '0.weight']
    >>> net(torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 4, 8, 8])
    """

    def __init__(self, *modules: Module):
        self.modules = list(modules)

    def forward(self, x):
        for module in self.modules:
            x = module(x)
        return x

    def backward(self, grad):
        for module in reversed(self.modules):
            grad = module.backward(grad)
        return grad

    def named_param(self):
        return [(f"{i}.{name}", tensor, grad) for i, module in enumerate(self.modules)
                for name, tensor, grad in module.named_param()]

    def to(self, device=None, dtype=None) -> "Sequential":
        for module in self.modules:
            module.to(device, dtype)
        return self

    def __getitem__(self, index: int) -> Module:
        return self.modules[index]

    def __len__(self) -> int:
        return len(self.modules)

    def __repr__(self) -> str:
        return "Sequential(\n" + "".join(f"  ({i}): {m!r}\n" for i, m in enumerate(self.modules)) + ")"


def save(module: Module, path: str | Path) -> Path:
    """Write the weights (a ``{name: tensor}`` dict, loadable into the torch twin too)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.cpu() for k, v in module.state_dict().items()}, path)
    return path


def load(module: Module, path: str | Path) -> Module:
    """Read weights written by :func:`save` into ``module`` (whatever device it is on)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    return module
