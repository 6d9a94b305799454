"""Compute budgets: what each budget name means, in one place.

Every method module sizes its own runs per budget (``repro.methods.<paper>.BUDGETS``: iterations, crops,
batch); what a budget *is* lives here:

* ``smoke``: seconds, for CI; proves the code runs and produces no number worth keeping, so its runs never
  go into the committed ``results/`` and the book never shows them;
* ``cpu``: what the committed results use on 2 CPU cores (hours per model, stated per method in the book);
* ``paper``: the paper's own schedule, meant for a GPU.

Run folders may carry other names for superseded or exploratory budgets (``cpu-1500``, ``probe64``); they
rank below ``cpu``.

>>> get("smoke").committed, get("cpu").committed
(False, True)
>>> max(["smoke", "cpu-1500", "cpu"], key=rank)
'cpu'
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    name: str
    purpose: str
    committed: bool  # its runs may go into the committed results/ and the book
    rank: int  # where the book shows one run per setting, the highest rank wins


BUDGETS = {b.name: b for b in (
    Budget("smoke", "seconds, CI: proves the code runs", committed=False, rank=0),
    Budget("cpu", "the committed results: hours per model on 2 CPU cores", committed=True, rank=2),
    Budget("paper", "the paper's own schedule, for a GPU", committed=True, rank=3),
)}
NAMES = tuple(BUDGETS)


def get(name: str) -> Budget:
    if name not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(NAMES)} (or 'auto'), got '{name}'")
    return BUDGETS[name]


def committed(name: str) -> bool:
    """Whether runs at budget ``name`` belong in the committed results (unregistered names: yes, as labelled)."""
    return BUDGETS[name].committed if name in BUDGETS else True


def rank(name: str) -> int:
    """Registered budgets by their rank; any other name (a superseded ``cpu-1500``, a ``probe64``) ranks 1."""
    return BUDGETS[name].rank if name in BUDGETS else 1


def resolve(name: str = "auto", device=None) -> str:
    """A notebook's ``budget`` parameter: ``auto`` is ``paper`` on a GPU and ``cpu`` otherwise; any other name
    must be registered."""
    if name == "auto":
        from .device import resolve_device

        device = device or resolve_device("auto")
        return "paper" if device.type == "cuda" else "cpu"
    return get(name).name
