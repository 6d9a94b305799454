"""Device resolution shared by every notebook (a budget name is resolved by :func:`repro.budgets.resolve`).

``device="auto"`` is CUDA when present, else CPU; ``precision="auto"`` is bf16 where the device does bf16
arithmetic in hardware, else fp32 (:func:`resolve_precision`).

Resolving a device also calls :func:`keep_freed_memory` once, so that full-size images do not pay the
operating system for their memory again at every step.
"""
from __future__ import annotations

import ctypes
import platform
import sys
from pathlib import Path

import torch

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_KEEP_BYTES = 1 << 30
_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Keep freed tensor memory in the process for reuse instead of handing it back to the OS (Linux glibc).

    PyTorch has no caching allocator on CPU. glibc serves every block above 32 MB with its own mmap and
    unmaps it on free, so a full-size image's activations (48 channels of 768×512 are 38 MB in bf16) are
    page-faulted in afresh at every optimisation step. On a ZS-N2N fit of a Kodak image that was a third
    of the process's CPU time (2 threads: 0.24 of 0.68 CPU-s per step in the kernel, 88,000 page faults
    per step; after this call 0.002 s and 465 faults, 0.18 instead of 0.35 wall-s per step, the same output
    to the last bit; results/timing/allocator.csv). Turning off glibc's mmap path and raising
    its trim threshold to 1 GiB keeps such blocks on the heap. Process-wide and idempotent; returns whether
    it took effect (False off Linux or without glibc, where nothing is changed).
    """
    global _kept
    if _kept is None:
        _kept = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                _kept = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
            except (OSError, AttributeError):  # not glibc (e.g. musl): leave the allocator alone
                pass
    return _kept


def resolve_device(device: str = "auto") -> torch.device:
    keep_freed_memory()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' was asked for but CUDA is not available; use device='auto' or 'cpu'")
    return resolved


PRECISIONS = ("fp32", "bf16")
# CPU feature flags of hardware bf16 arithmetic: x86 AVX512-BF16 or AMX-BF16 (/proc/cpuinfo "flags"), Arm's
# BF16 extension ("Features" on aarch64). Without them oneDNN still runs bf16 on AVX-512 by conversion, and
# torch.ops.mkldnn._is_mkldnn_bf16_supported() says True, but a training step then takes 3-4x the fp32 time
# (results/timing/precision_step_seconds.py).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    r"""The feature flags of the first CPU in ``cpuinfo`` (default: /proc/cpuinfo; empty where unreadable).

    >>> sorted(cpu_flags("processor : 0\nflags : fpu avx512f avx512_bf16\n"))
    ['avx512_bf16', 'avx512f', 'fpu']
    >>> sorted(cpu_flags("Features : fp asimd bf16 i8mm\n"))
    ['asimd', 'bf16', 'fp', 'i8mm']
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16(device: torch.device, cpuinfo: str | None = None) -> bool:
    """Whether ``device`` does bf16 arithmetic in hardware: CUDA that PyTorch says supports it, a Linux CPU
    with one of :data:`BF16_CPU_FLAGS`, or an Apple-silicon CPU (ARMv8.6 BF16); else False (emulated or absent).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    return bool(cpu_flags(cpuinfo) & BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: torch.device, cpuinfo: str | None = None) -> str:
    r"""``precision`` as training runs it: ``auto`` is bf16 where :func:`native_bf16`, else fp32 (emulated
    bf16 is slower than fp32); ``fp32`` and ``bf16`` are kept as asked.

    >>> resolve_precision("auto", torch.device("cpu"), "flags : fpu avx512f\n")
    'fp32'
    >>> resolve_precision("auto", torch.device("cpu"), "flags : fpu avx512f avx512_bf16\n")
    'bf16'
    >>> resolve_precision("bf16", torch.device("cpu"), "flags : fpu\n")
    'bf16'
    """
    if precision == "auto":
        return "bf16" if native_bf16(device, cpuinfo) else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto' or one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision
