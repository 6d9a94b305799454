"""Device and compute-budget resolution shared by every notebook.

``device="auto"`` is CUDA when present, else CPU. ``budget="auto"`` is ``paper`` (the paper's own
protocol) on a GPU and ``cpu`` (about an hour or less per trained model on 2 cores) otherwise;
``smoke`` runs in seconds and exists for CI.
"""
from __future__ import annotations

import torch

BUDGETS = ("smoke", "cpu", "paper")


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' was asked for but CUDA is not available; use device='auto' or 'cpu'")
    return resolved


def resolve_budget(budget: str = "auto", device: torch.device | None = None) -> str:
    if budget == "auto":
        device = device or resolve_device("auto")
        return "paper" if device.type == "cuda" else "cpu"
    if budget not in BUDGETS:
        raise ValueError(f"budget must be 'auto' or one of {BUDGETS}, got '{budget}'")
    return budget
