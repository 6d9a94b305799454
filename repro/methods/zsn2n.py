"""Zero-Shot Noise2Noise (Mansour & Heckel, CVPR 2023): fit a 22k-parameter network to one noisy image.

No training data: the image y is split by the *pair downsampler* into two half-size images D1(y), D2(y)
whose noise is independent, and the network f (which predicts noise) is fitted so that each denoised
half predicts the other (residual loss) and denoising commutes with downsampling (consistency loss):

    L_res  = 1/2 (|D1 - f(D1) - D2|^2 + |D2 - f(D2) - D1|^2)
    L_cons = 1/2 (|D1 - f(D1) - D1(y - f(y))|^2 + |D2 - f(D2) - D2(y - f(y))|^2)

The paper's only code is the authors' Colab notebook ("Colab" below); every setting is read from it.

Two ways to run the same fit:

* ``path="reference"`` follows the Colab step for step in fp32: the convolutional pair downsampler,
  three separate forward passes per step, ``optimizer.step()`` then ``scheduler.step()`` every step.
* ``path="fast"`` computes the same objective faster: the downsampler as strided slicing (equal to
  the convolution), the two half-size images in one batch, channels_last, bf16 autocast on CPU
  (AMP on CUDA) and Adam's update as one fused kernel; the final denoising pass stays fp32.
  ``results/zs_n2n/`` holds the measured gap.

:class:`ZeroShotN2N` (a fit per image, then :func:`denoise_with`) is the inference rule ``repro denoise``
uses; the experiments (the published crop check, full-set run folders, timing) are
:mod:`repro.experiments.zs_n2n`.

>>> g = torch.Generator().manual_seed(0)
>>> y = torch.rand(1, 3, 6, 8, generator=g)
>>> ref, fast = pair_downsample_reference(y), pair_downsample(y)
>>> ref[0].shape, all(torch.allclose(a, b, atol=1e-7) for a, b in zip(ref, fast))
(torch.Size([1, 3, 3, 4]), True)
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..device import native_bf16, resolve_device
from ..models.zsn2n import RECEPTIVE_RADIUS, SLOPE, WIDTH, ZSN2NNet
from ..progress import progress_bar
from ..seeding import seeded


@dataclass(frozen=True)
class Settings:
    """The fit's hyper-parameters; the defaults are the Colab's (the paper gives no other values)."""

    steps: int = 3000  # Colab: max_epoch = 3000 (an "epoch" is one step on the one image)
    lr: float = 1e-3  # Colab: lr = 0.001, optim.Adam(model.parameters(), lr=lr), default betas
    lr_step: int = 1000  # Colab: step_size = 1000, optim.lr_scheduler.StepLR, stepped every iteration
    lr_gamma: float = 0.5  # Colab: gamma = 0.5
    width: int = WIDTH  # Colab: chan_embed = 48
    slope: float = SLOPE  # Colab: LeakyReLU(negative_slope=0.2)
    crop: int | None = None  # not in the paper: side of the random square crops fitted at each step (None: whole image)
    batch: int = 1  # not in the paper: crops per step (with crop)
    schedule: str = "step"  # "step": StepLR(lr_step, lr_gamma), the Colab's; "cosine": cosine decay from lr to 0
    ema: float = 0.0  # not in the paper: denoise with an exponential moving average of the weights (decay; 0: off)
    offset: float = 0.0  # not in the paper: subtracted from the network's input (0.5 centres [0, 1] images)
    threads: int | None = None  # CPU threads of the fitting steps (None: PyTorch's setting); the final pass keeps it
    fits: int = 1  # not in the paper: independent fits (seeds seed, seed+1, ...), their denoised images averaged

    def __post_init__(self):
        if self.schedule not in ("step", "cosine"):
            raise ValueError(f"schedule must be 'step' or 'cosine', got '{self.schedule}'")
        if self.crop is not None and self.crop < 2:
            raise ValueError(f"crop must be at least 2 pixels, got {self.crop}")
        if self.steps < 0 or self.batch < 1 or self.lr <= 0 or not 0 <= self.ema < 1 or self.fits < 1:
            raise ValueError(f"steps >= 0, batch >= 1, fits >= 1 and lr > 0 needed, got {self}")

    def describe_lr(self) -> str:
        """The learning rate and its schedule, in words.

        >>> PAPER.describe_lr(), FAST.describe_lr()
        ('lr 0.001 halved every 1000 steps', 'lr 0.003 with cosine decay to 0')
        """
        if self.schedule == "cosine":
            return f"lr {self.lr:g} with cosine decay to 0"
        if self.lr_gamma == 0.5:
            return f"lr {self.lr:g} halved every {self.lr_step} steps"
        return f"lr {self.lr:g}, StepLR({self.lr_step}, {self.lr_gamma:g})"

    def describe(self) -> str:
        """One line: what a fit with these settings does.

        >>> PAPER.describe()
        '3000 steps on the whole image, Adam lr 0.001 halved every 1000 steps'
        """
        where = (f"{self.batch} random {self.crop}x{self.crop} crop{'s' if self.batch > 1 else ''} per step"
                 if self.crop else "the whole image")
        lr = f"Adam {self.describe_lr()}"
        extra = (f", weights averaged (EMA {self.ema:g})" if self.ema else "") + (
            f", input centred (-{self.offset:g})" if self.offset else "") + (
            f", {self.threads} thread(s) for the steps" if self.threads else "")
        fits = f"; {self.fits} such fits with consecutive seeds, averaged (on CPU at once, one process each)" \
            if self.fits > 1 else ""
        return f"{self.steps} steps on {where}, {lr}{extra}{fits}"


PAPER = Settings()
# Not in the paper: repro denoise's default, tuned in results/zs_n2n/fast_tuning.csv, scored in fast_sigma25_*.
# 16 scattered 16x16 crops: 4096 pixels per step on any image size, more kinds of content than one 64x64 crop.
# threads=1: a 4096-pixel step gains nothing from a second thread and stalls when other jobs hold the cores.
# fits=2: the second core fits a second network (seed + 1) at the same time and the two denoised images are
# averaged: -0.16 dB to the paper protocol against one fit's -0.24 on the probe images, the same wall time on 2
# cores (results/zs_n2n/ensemble_probe.csv, results/timing/zsn2n_cores.csv); on one core it takes twice as long.
# lr 3e-3 with a cosine decay instead of 2e-3 halved every 1000 steps: -0.13 dB against -0.16 for two fits on the
# same probe images at the same work (results/zs_n2n/settings_probe.csv); the full sets: fast_2fits_sigma25_*.
FAST = Settings(lr=3e-3, schedule="cosine", crop=16, batch=16, ema=0.995, offset=0.5, threads=1, fits=2)
PRESETS = {"fast": FAST, "paper": PAPER}
SMOKE_STEPS = 10  # budget "smoke": enough steps to exercise every line, not to denoise
PATHS = ("reference", "fast")


def steps_for_budget(budget: str) -> int:
    """ZS-N2N is cheap enough that the ``cpu`` budget runs the paper's 3000 steps; ``smoke`` a handful.

    >>> steps_for_budget("smoke"), steps_for_budget("cpu"), steps_for_budget("paper")
    (10, 3000, 3000)
    """
    return SMOKE_STEPS if budget == "smoke" else PAPER.steps


# ---------------------------------------------------------------------------------------------------
# The pair downsampler and the loss


def pair_downsample_reference(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Colab ``pair_downsampler``: depthwise stride-2 convolutions with the two diagonal 2x2 averages."""
    c = y.shape[1]
    anti = torch.tensor([[0.0, 0.5], [0.5, 0.0]], dtype=y.dtype, device=y.device).repeat(c, 1, 1, 1)
    diag = torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=y.dtype, device=y.device).repeat(c, 1, 1, 1)
    return F.conv2d(y, anti, stride=2, groups=c), F.conv2d(y, diag, stride=2, groups=c)


def pair_downsample(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same two images by slicing (no convolution; an odd last row/column is dropped, as there)."""
    y = y[..., : y.shape[-2] // 2 * 2, : y.shape[-1] // 2 * 2]
    top_left, top_right = y[..., 0::2, 0::2], y[..., 0::2, 1::2]
    bottom_left, bottom_right = y[..., 1::2, 0::2], y[..., 1::2, 1::2]
    return (top_right + bottom_left) / 2, (top_left + bottom_right) / 2


def loss_reference(model: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Colab ``loss_func``, line for line: residual + consistency, MSE means."""
    noisy1, noisy2 = pair_downsample_reference(y)
    pred1 = noisy1 - model(noisy1)
    pred2 = noisy2 - model(noisy2)
    loss_res = 0.5 * (F.mse_loss(noisy1, pred2) + F.mse_loss(noisy2, pred1))
    denoised1, denoised2 = pair_downsample_reference(y - model(y))
    loss_cons = 0.5 * (F.mse_loss(pred1, denoised1) + F.mse_loss(pred2, denoised2))
    return loss_res + loss_cons


def loss_fast(model: torch.nn.Module, y: torch.Tensor, margin: int = 0) -> torch.Tensor:
    """The same loss with both half images in one forward pass; subtractions and MSEs stay fp32.

    ``margin`` (0 for the paper's whole-image loss) leaves that many half-resolution pixels at each edge
    out of the loss: on a crop they are the pixels the network sees through its zero padding, which a
    pixel inside the image does not.
    """
    noisy1, noisy2 = pair_downsample(y)
    halves = torch.cat([noisy1, noisy2]).contiguous(memory_format=torch.channels_last)
    noise1, noise2 = model(halves).chunk(2)
    pred1, pred2 = noisy1 - noise1.float(), noisy2 - noise2.float()
    denoised1, denoised2 = pair_downsample(y - model(y).float())
    if margin:
        inner = (..., slice(margin, -margin), slice(margin, -margin))
        noisy1, noisy2, pred1, pred2 = noisy1[inner], noisy2[inner], pred1[inner], pred2[inner]
        denoised1, denoised2 = denoised1[inner], denoised2[inner]
    loss_res = 0.5 * (F.mse_loss(noisy1, pred2) + F.mse_loss(noisy2, pred1))
    loss_cons = 0.5 * (F.mse_loss(pred1, denoised1) + F.mse_loss(pred2, denoised2))
    return loss_res + loss_cons


# ---------------------------------------------------------------------------------------------------
# Fitting one image, and denoising with the fitted network


@dataclass
class Fit:
    model: ZSN2NNet
    steps: int
    seconds: float  # wall time of the optimisation loop alone
    cpu_seconds: float  # CPU time of this process during the loop: robust to other jobs sharing the cores
    final_loss: float
    precision: str  # "fp32", "bf16" or "fp16"
    pixels_per_step: int = 0  # pixels of the full-resolution input(s) fitted in one step (crops x crop area)


def fast_precision(device: torch.device) -> str:
    """Mixed precision the fast path uses here: bf16 where the hardware has it, else fp16 (CUDA) or fp32."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_bf16(device) else "fp32"  # emulated bf16 would be slower than fp32


def _random_window(shape, max_pixels: int, generator: torch.Generator) -> tuple[slice, slice]:
    """An even-aligned window of at most ``max_pixels`` pixels (keeps the downsampler's 2x2 cells)."""
    h, w = shape[-2:]
    wh = min(h, max(2, int(math.sqrt(max_pixels)) // 2 * 2))
    ww = min(w, max(2, max_pixels // wh // 2 * 2))
    top = int(torch.randint(0, (h - wh) // 2 + 1, (1,), generator=generator)) * 2
    left = int(torch.randint(0, (w - ww) // 2 + 1, (1,), generator=generator)) * 2
    return slice(top, top + wh), slice(left, left + ww)


def crop_size(shape, crop: int) -> tuple[int, int]:
    """The (height, width) of the crops fitted on an image of ``shape``: ``crop`` rounded down to even,
    at most the image's own (even) size.

    >>> crop_size((1, 3, 512, 768), 128), crop_size((1, 3, 101, 70), 128)
    ((128, 128), (100, 70))
    """
    h, w = shape[-2:]
    side = max(2, crop // 2 * 2)
    return min(side, h // 2 * 2), min(side, w // 2 * 2)


def random_crops(y: torch.Tensor, crop: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` random crops of (1, C, H, W) ``y`` stacked into (batch, C, h, w), :func:`crop_size`;
    each starts on an even row and column, so the pair downsampler sees the image's own 2x2 cells."""
    h, w = y.shape[-2:]
    ch, cw = crop_size(y.shape, crop)
    tops = torch.randint(0, (h - ch) // 2 + 1, (batch,), generator=generator) * 2
    lefts = torch.randint(0, (w - cw) // 2 + 1, (batch,), generator=generator) * 2
    return torch.cat([y[..., t:t + ch, l:l + cw] for t, l in zip(tops.tolist(), lefts.tolist())])


def _step_plan(shape, settings: Settings, max_pixels: int | None) -> tuple[bool, bool, int]:
    """(whole image?, random max_pixels window?, input pixels per step) of a fit on an image of ``shape``."""
    h, w = shape[-2:]
    whole = settings.crop is None or crop_size(shape, settings.crop) == (h // 2 * 2, w // 2 * 2)
    window = whole and max_pixels is not None and h * w > max_pixels
    if not whole:
        return whole, window, settings.batch * math.prod(crop_size(shape, settings.crop))
    if window:
        return whole, window, math.prod((s.stop - s.start) for s in _random_window(shape, max_pixels, torch.Generator()))
    return whole, window, h * w


def pixels_per_step(shape, settings: Settings = PAPER, max_pixels: int | None = None) -> int:
    """Input pixels one optimisation step fits on an image of ``shape`` (what its memory and time scale with).

    >>> FAST_ = Settings(crop=64)
    >>> pixels_per_step((1, 3, 3000, 4000), FAST_), pixels_per_step((1, 3, 512, 768)), pixels_per_step((1, 3, 3000, 4000), max_pixels=2**20)
    (4096, 393216, 1048576)
    """
    return _step_plan(shape, settings, max_pixels)[2]


_ESTIMATES: dict = {}


def estimate_seconds(shape, settings: Settings = PAPER, steps: int | None = None, device: str | torch.device = "cpu",
                     max_pixels: int | None = None, probe_steps: int = 4) -> float:
    """Seconds a fit and the final denoising pass will take on an image of ``shape`` (1, C, H, W), here and now:
    a few optimisation steps of the same size and one 256x256 denoising tile are timed on random data (a
    fraction of a second for crop settings), and scaled to ``steps`` and to the image's pixels. Measured once
    per (channels, step size, settings) in a process. With ``settings.fits``, fits that run at once
    (:func:`parallel_fits`) count once. An estimate: other jobs on the machine change it.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    steps = settings.steps if steps is None else steps
    c, h, w = shape[-3:]
    whole, window, pixels = _step_plan(shape, settings, max_pixels)
    key = (c, pixels, whole and not window, settings, str(device), torch.get_num_threads())
    if key not in _ESTIMATES:
        if not whole:
            ch, cw = crop_size(shape, settings.crop)  # an image with room for crops: the same steps as the real one
            probe_shape, probe = (1, c, min(h // 2 * 2, 2 * ch), min(w // 2 * 2, 2 * cw)), settings
        else:
            side = math.isqrt(pixels) // 2 * 2
            probe_shape, probe = (1, c, side, max(2, pixels // side // 2 * 2)), dataclasses.replace(settings, crop=None)
        y = torch.rand(probe_shape, generator=torch.Generator().manual_seed(0))
        fit(y, 1, device=device, settings=probe)  # kernel selection, allocator
        step_s = fit(y, probe_steps, device=device, settings=probe).seconds / probe_steps
        tile = torch.rand(1, c, 256, 256)
        net = ZSN2NNet(c, settings.width, settings.slope, settings.offset).to(device)
        denoise_with(net, tile)
        start = time.perf_counter()
        denoise_with(net, tile)
        _ESTIMATES[key] = (step_s, (time.perf_counter() - start) / (256 * 256))
    step_s, pixel_s = _ESTIMATES[key]
    workers = parallel_fits(settings, device)  # fits at once; the final passes follow one after another
    return math.ceil(settings.fits / workers) * steps * step_s + settings.fits * h * w * pixel_s


@contextlib.contextmanager
def _restore_threads(threads: int):
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def ema_decay(ema: float, steps: int) -> float:
    """The weight average's decay in a fit of ``steps``: ``ema``, but at most 1 - 10/steps, so that the average
    spans at most a tenth of the fit (a short fit, ``--steps 100``, is not an average of its first, unfitted
    weights); 0 (no average) for 10 steps or fewer.

    >>> ema_decay(0.995, 3000), ema_decay(0.995, 300), ema_decay(0.995, 10), ema_decay(0.0, 3000)
    (0.995, 0.9666666666666667, 0.0, 0.0)
    """
    return min(ema, max(0.0, 1 - 10 / steps)) if ema and steps else 0.0


def make_scheduler(optimizer, settings: Settings, steps: int):
    """StepLR(lr_step, lr_gamma), the Colab's, or a cosine decay to 0 over ``steps``; stepped every step."""
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / max(steps, 1))))
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.lr_step, gamma=settings.lr_gamma)


def fit(noisy: torch.Tensor, steps: int | None = None, path: str = "fast", device: str | torch.device = "auto",
        seed: int = 0, settings: Settings = PAPER, max_pixels: int | None = None, progress: bool = False,
        precision: str | None = None, desc: str = "zs-n2n fit") -> Fit:
    """Fit a fresh network to one noisy image (1, C, H, W) on [0, 1] and return it.

    ``precision`` overrides the fast path's mixed precision ("fp32" isolates its other changes).

    ``seed`` fixes the initial weights (the same on every device) and the crops. ``settings.crop`` (not in
    the paper) fits ``settings.batch`` random crops of that side at each step instead of the whole image.
    ``max_pixels`` (not in the paper, off by default) bounds memory of whole-image settings on very large
    photos: each step then fits a random window of that many pixels.

    >>> x = torch.rand(1, 1, 16, 16)
    >>> result = fit(x, steps=3, device="cpu")
    >>> result.steps, result.model.channels
    (3, 1)
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got '{path}'")
    if precision not in (None, "fp32", "bf16", "fp16") or (precision and path == "reference"):
        raise ValueError(f"precision is an option of the fast path: None, fp32, bf16 or fp16, got {precision}")
    if noisy.dim() != 4 or noisy.shape[0] != 1:
        raise ValueError(f"fit takes one image of shape (1, C, H, W), got {tuple(noisy.shape)}")
    if min(noisy.shape[-2:]) < 2:
        raise ValueError(f"the pair downsampler needs an image of at least 2x2 pixels, got {tuple(noisy.shape)}")
    device = resolve_device(device) if isinstance(device, str) else device
    steps = settings.steps if steps is None else steps
    with seeded(seed):  # initial weights drawn on CPU: identical on every device
        model = ZSN2NNet(noisy.shape[1], settings.width, settings.slope, settings.offset)
    model.to(device)
    y = noisy.to(device, torch.float32)
    autocast, loss_fn = contextlib.nullcontext(), loss_reference
    if path == "reference":
        precision = "fp32"
    else:
        model.to(memory_format=torch.channels_last)
        y = y.contiguous(memory_format=torch.channels_last)
        loss_fn, precision = loss_fast, precision or fast_precision(device)
        if precision != "fp32":
            dtype = torch.bfloat16 if precision == "bf16" else torch.float16
            autocast = torch.autocast(device.type, dtype=dtype)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    # fused: the same update in one kernel instead of a dozen small ones per tensor, a visible share of a small
    # step (results/timing/zsn2n_fused_adam.csv); CPU and CUDA have it
    fused = path == "fast" and device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, fused=fused or None)
    scheduler = make_scheduler(optimizer, settings, steps)
    windows = torch.Generator().manual_seed(seed)
    whole, window, pixels = _step_plan(y.shape, settings, max_pixels)
    average, decay = None, ema_decay(settings.ema, steps)
    if decay:
        average = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay))
    loss = torch.zeros(())
    threads = torch.get_num_threads()
    if settings.threads and device.type == "cpu":
        torch.set_num_threads(settings.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.enable_grad(), _restore_threads(threads):  # evaluate() calls denoisers under no_grad
        for _ in progress_bar(range(steps), desc=desc, leave=False, disable=not progress):
            if not whole:
                target = random_crops(y, settings.crop, settings.batch, windows)
            else:
                target = y[(..., *_random_window(y.shape, max_pixels, windows))] if window else y
            with autocast:
                loss = loss_fn(model, target)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if average is not None:
                average.update_parameters(model)
    if average is not None and steps:
        model = average.module
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Fit(model, steps, time.perf_counter() - start, time.process_time() - cpu_start, float(loss.detach()),
               precision, pixels)


@torch.no_grad()
def denoise_with(model: torch.nn.Module, noisy: torch.Tensor, tile: int = 1024) -> torch.Tensor:
    """Colab ``denoise``: clamp(y - f(y), 0, 1), in fp32, over tiles so that large photos fit in memory.

    Tiles overlap by the network's receptive radius, so the result equals one whole-image pass.

    >>> net = ZSN2NNet(1)
    >>> y = torch.rand(1, 1, 40, 30)
    >>> torch.allclose(denoise_with(net, y, tile=16), denoise_with(net, y, tile=64), atol=1e-6)
    True
    """
    param = next(model.parameters())
    model = model.float()
    h, w = noisy.shape[-2:]
    out = torch.empty(noisy.shape, dtype=torch.float32)
    r = RECEPTIVE_RADIUS
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - r, 0), max(left - r, 0)
            t1, l1 = min(top + tile + r, h), min(left + tile + r, w)
            y = noisy[..., t0:t1, l0:l1].to(param.device, torch.float32)
            estimate = (y - model(y)).clamp(0, 1).cpu()
            out[..., top:top + tile, left:left + tile] = estimate[..., top - t0:top - t0 + tile,
                                                                  left - l0:left - l0 + tile]
    return out


def parallel_fits(settings: Settings, device: torch.device) -> int:
    """How many of ``settings.fits`` run at once: one process per core on CPU (at most the cores this process
    may use), one after another on a GPU (a forked process cannot use CUDA).

    >>> parallel_fits(Settings(fits=2), torch.device("cuda")), parallel_fits(Settings(), torch.device("cpu"))
    (1, 1)
    """
    if device.type != "cpu" or settings.fits == 1:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(settings.fits, cores))


_FORKED_JOB: dict = {}  # what a forked worker reads: the parent's memory, inherited, nothing pickled
_FORK_READY: set = set()


def _before_forking(channels: int, path: str, settings: Settings) -> None:
    """A one-step fit here, once per process and settings: a first optimiser step imports parts of PyTorch
    (seconds) and oneDNN prepares its kernels for the crops' shapes; forked workers inherit both instead of
    redoing them for every image."""
    key = (channels, path, settings)
    if key not in _FORK_READY:
        side = 2 * settings.crop if settings.crop else 8
        fit(torch.rand(1, channels, side, side), 1, path, "cpu", settings=settings)
        _FORK_READY.add(key)


def _forked_fit(index: int) -> Fit:
    # One thread: OpenMP (PyTorch's CPU threads) hangs in a forked child that opens a parallel region of its own
    # after the parent has used one; a step of the fast path gains nothing from a second thread anyway.
    torch.set_num_threads(1)
    job = _FORKED_JOB
    return fit(job["noisy"], job["steps"], job["path"], job["device"], job["seed"] + index, job["settings"],
               job["max_pixels"], job["progress"] and index == 0, desc=job["desc"])


def fit_and_denoise(noisy: torch.Tensor, steps: int | None = None, path: str = "fast",
                    device: str | torch.device = "auto", seed: int = 0, settings: Settings = PAPER,
                    max_pixels: int | None = None, progress: bool = False,
                    desc: str = "zs-n2n fit") -> tuple[torch.Tensor, list[Fit]]:
    """The denoised image of one noisy image (1, C, H, W): the mean of :func:`denoise_with` over
    ``settings.fits`` independent fits (seeds ``seed``, ``seed + 1``, ...; one fit is the method as published).

    On CPU the fits run at the same time in forked processes, one per core (:func:`parallel_fits`), each on one
    thread; the final passes run here, on every thread.

    >>> y = torch.rand(1, 1, 12, 12)
    >>> out, fits = fit_and_denoise(y, steps=2, device="cpu", settings=Settings(fits=2))
    >>> out.shape, [f.steps for f in fits]
    (torch.Size([1, 1, 12, 12]), [2, 2])
    >>> one = [denoise_with(fit(y, 2, device="cpu", seed=s).model, y) for s in (0, 1)]
    >>> torch.allclose(out, (one[0] + one[1]) / 2, atol=1e-6)
    True
    """
    device = resolve_device(device) if isinstance(device, str) else device
    workers = parallel_fits(settings, device)
    if workers == 1:
        fits = [fit(noisy, steps, path, device, seed + i, settings, max_pixels, progress and i == 0, desc=desc)
                for i in range(settings.fits)]
    else:
        _before_forking(noisy.shape[1], path, settings)
        _FORKED_JOB.update(noisy=noisy, steps=steps, path=path, device=device, seed=seed, settings=settings,
                           max_pixels=max_pixels, progress=progress, desc=desc)
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                fits = pool.map(_forked_fit, range(settings.fits))
        finally:
            _FORKED_JOB.clear()
    image = noisy.cpu()
    denoised = denoise_with(fits[0].model, image)
    for result in fits[1:]:
        denoised += denoise_with(result.model, image)
    return denoised / len(fits), fits


class ZeroShotN2N:
    """A denoiser callable for :func:`repro.evaluate.evaluate`: fits a fresh network to each image.

    ``last_fits`` keeps the :class:`Fit` of each image of the last call (for timings).

    >>> denoiser = ZeroShotN2N(steps=2, device="cpu")
    >>> denoiser(torch.rand(2, 3, 8, 8)).shape
    torch.Size([2, 3, 8, 8])
    """

    name = "zs-n2n"

    def __init__(self, steps: int | None = None, path: str = "fast", device: str | torch.device = "auto",
                 seed: int = 0, settings: Settings = PAPER, max_pixels: int | None = None, progress: bool = False):
        self.steps, self.path, self.seed, self.settings = steps, path, seed, settings
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.max_pixels, self.progress = max_pixels, progress
        self.progress_desc = "zs-n2n fit"  # the label of the per-image progress bar
        self.last_fits: list[Fit] = []

    def estimate_seconds(self, shape) -> float:
        """:func:`estimate_seconds` of one image of ``shape`` with this denoiser's settings."""
        return estimate_seconds(shape, self.settings, self.steps, self.device, self.max_pixels)

    def __call__(self, noisy: torch.Tensor) -> torch.Tensor:
        self.last_fits = []
        out = []
        for image in noisy:
            denoised, fits = fit_and_denoise(image[None], self.steps, self.path, self.device, self.seed,
                                             self.settings, self.max_pixels, self.progress, self.progress_desc)
            self.last_fits.extend(fits)
            out.append(denoised)
        return torch.cat(out).to(noisy.device)
