"""Save a trained model with what is needed to rebuild it, and load it back as a denoiser.

``repro.load(path)`` takes a run folder (it reads ``model.pt`` there) or a checkpoint file and returns a
:class:`Denoiser`: a callable from a noisy float tensor (N, C, H, W) on the [0, 1] scale to the denoised
tensor. A paper whose output is not simply the network's (SSDN's posterior mean, Noise2Score's Tweedie
step) names its ``make_denoiser(model, method=..., **inference)`` in the paper registry (:mod:`repro.papers`).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from . import papers
from .device import resolve_device
from .train import autocast

MODEL_FILE = "model.pt"


def architectures() -> dict:
    """Every network a ``model.pt`` can name, by its lower-cased class name: ``{name: class}``.

    ``save_model``'s ``architecture`` must be one of these names, so that :func:`load` can rebuild the network.

    >>> sorted(architectures())
    ['blindspotunet', 'sharedweightunet', 'ssdnnetwork', 'unet', 'zsn2nnet']
    """
    from .models.blindspot import BlindSpotUNet, SSDNNetwork
    from .models.n2s_unet import SharedWeightUNet
    from .models.unet import UNet
    from .models.zsn2n import ZSN2NNet

    return {cls.__name__.lower(): cls for cls in (UNet, BlindSpotUNet, SSDNNetwork, ZSN2NNet, SharedWeightUNet)}


def save_model(path: str | Path, model: torch.nn.Module, architecture: str, arch_kwargs: dict, paper: str,
               method: str, inference: dict | None = None, info: dict | None = None) -> Path:
    """Write weights (fp32, CPU) with the recipe to rebuild the network and its inference rule."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    saved = {"architecture": architecture, "arch_kwargs": arch_kwargs, "paper": paper, "method": method,
             "inference": inference or {}, "info": info or {}, "state_dict": state}
    # Written beside the target and renamed over it: a crash mid-write leaves the previous model.pt (or none),
    # never half a file; the temporary file is removed when the write fails.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(saved, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a model is meant to be read by anyone
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class Denoiser:
    """A trained network plus its inference rule, as a callable on noisy [0, 1] tensors."""

    def __init__(self, model: torch.nn.Module, paper: str, method: str, inference: dict | None = None,
                 device: str | torch.device = "auto", precision: str = "fp32", info: dict | None = None):
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.paper, self.method, self.precision, self.info = paper, method, precision, info or {}
        self.inference = inference or {}
        rule = papers.get(paper).inference  # an unknown paper is an error, never the raw network's output
        self._apply = rule(self.model, method=method, **self.inference) if rule else self.model

    @property
    def in_channels(self) -> int | None:
        """The channels the network takes: 1 (gray) or 3 (colour); None if the network does not say.

        Read off the network (its ``in_channels``, or ``channels`` for the ZS-N2N network, else its first
        convolution), so that callers such as ``repro denoise`` can adapt gray and colour images to it.
        """
        for attr in ("in_channels", "channels"):
            value = getattr(self.model, attr, None)
            if isinstance(value, int):
                return value
        first = next((m for m in self.model.modules() if isinstance(m, torch.nn.Conv2d)), None)
        return first.in_channels if first is not None else None

    @property
    def takes_noise_level(self) -> bool:
        """Whether each image's noise level must be given (``noise_level=``, σ 0-255): SSDN with σ known over a range."""
        return bool(getattr(self._apply, "takes_noise_level", False))

    def __call__(self, noisy: torch.Tensor, noise_level: torch.Tensor | None = None) -> torch.Tensor:
        if noisy.dim() != 4:
            raise ValueError(f"expected a (N, C, H, W) tensor, got shape {tuple(noisy.shape)}")
        expected = self.in_channels
        if expected is not None and noisy.shape[1] != expected:
            raise ValueError(f"this model takes {expected}-channel images, got {noisy.shape[1]} channels")
        if noise_level is not None and not self.takes_noise_level:
            raise ValueError(f"this {self.method} model is not told the noise level; call it on the image alone")
        known = {} if noise_level is None else {"noise_level": torch.as_tensor(noise_level).to(self.device)}
        with torch.no_grad(), autocast(self.device, self.precision):
            out = self._apply(noisy.to(self.device, torch.float32), **known)
        return out.float().to(noisy.device)

    def __repr__(self) -> str:
        return (f"Denoiser(paper={self.paper!r}, method={self.method!r}, in_channels={self.in_channels}, "
                f"device={self.device})")


def load(path: str | Path, device: str | torch.device = "auto", precision: str = "fp32") -> Denoiser:
    """Load a run folder or a ``model.pt`` checkpoint as a :class:`Denoiser`."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no trained model at {file}: give a run folder holding {MODEL_FILE} or the file itself")
    try:
        saved = torch.load(file, map_location="cpu", weights_only=False)
    except OSError:
        raise
    except Exception as err:  # a file of another kind: pickle, zip and torch errors of many types
        raise ValueError(f"{file} is not a model saved by repro (torch.load cannot read it: not a PyTorch "
                         "checkpoint, or a damaged one)") from err
    missing = [k for k in ("architecture", "arch_kwargs", "paper", "method", "state_dict")
               if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise ValueError(f"{file} is not a model saved by repro (it lacks {', '.join(missing)})")
    known = architectures()
    if saved["architecture"] not in known:
        raise ValueError(f"{file}: unknown architecture '{saved['architecture']}' (known: {sorted(known)})")
    model = known[saved["architecture"]](**saved["arch_kwargs"])
    model.load_state_dict(saved["state_dict"])
    return Denoiser(model, saved["paper"], saved["method"], saved.get("inference"), device, precision,
                    saved.get("info"))
