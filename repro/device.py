"""Device resolution shared by every notebook (a budget name is resolved by :func:`repro.budgets.resolve`).

``device="auto"`` is CUDA when present, else CPU.

Resolving a device also calls :func:`keep_freed_memory` once, so that full-size images do not pay the
operating system for their memory again at every step.
"""
from __future__ import annotations

import ctypes
import sys

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

