"""The first cells of every paper notebook: check its parameters, then say what it will run and where.

A notebook declares its parameters with type annotations in its ``parameters`` cell; its next cell calls

    check_parameters(globals(), choices={"method": n2n.LOSSES}, positive=("sigma",))

before any data is read or model built. It refuses, naming the parameter and the valid values:

* a value of the wrong type (``-p sigma abc``), a value outside ``choices`` (``-p noise nosuchnoise``), a
  number out of range (``positive``: > 0; ``non_negative`` and the common ``seed``/``time_limit_min``: >= 0);
* a parameter papermill injected that the notebook does not declare (``-p dataset kodak24`` where there
  is no ``dataset``), found in the cell papermill adds (its source starts with ``# Parameters``).

The parameters every notebook shares (``budget``, ``device``, ``precision``, ``seed``, ``results_dir``,
``time_limit_min``) are checked without being listed.

>>> ns = {"__annotations__": {"sigma": float, "budget": str}, "sigma": "abc", "budget": "cpu"}
>>> check_parameters(ns)
Traceback (most recent call last):
...
repro.notebook.ParameterError: parameter 'sigma' must be a number, got 'abc' (str)
>>> ns = {"__annotations__": {"budget": str}, "budget": "fast"}
>>> check_parameters(ns)
Traceback (most recent call last):
...
repro.notebook.ParameterError: parameter 'budget' must be one of 'auto', 'smoke', 'cpu', 'paper'; got 'fast'
"""
from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path

from . import budgets
from .device import PRECISIONS

COMMON_CHOICES = {"budget": ("auto",) + budgets.NAMES, "precision": ("auto",) + PRECISIONS}
COMMON_NON_NEGATIVE = ("seed", "time_limit_min")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
_TYPE_WORDS = {float: "a number", int: "a whole number", bool: "True or False", str: "a string"}


class ParameterError(ValueError):
    """A notebook parameter with a wrong type or value, or one the notebook does not declare."""


def check_parameters(namespace: dict, choices: dict | None = None, positive=(), non_negative=()) -> None:
    """Check the declared parameters in ``namespace`` (a notebook's ``globals()``); raise :class:`ParameterError`.

    ``choices`` maps a parameter to its valid values (any iterable, e.g. a registry dict's keys).
    """
    declared = dict(namespace.get("__annotations__", {}))
    if not declared:
        raise ParameterError("no declared parameters: the parameters cell must annotate each one (name: type = value)")
    undeclared = [name for name in injected_names(namespace) if name not in declared]
    if undeclared:
        raise ParameterError(f"this notebook has no parameter {', '.join(map(repr, undeclared))}; its parameters "
                             f"are: {', '.join(declared)}")
    for name, kind in declared.items():
        _check_type(name, namespace.get(name), kind)
    valid = {**{k: v for k, v in COMMON_CHOICES.items() if k in declared}, **(choices or {})}
    for name, values in valid.items():
        values = tuple(values)
        if namespace.get(name) not in values:
            raise ParameterError(f"parameter '{name}' must be one of {', '.join(map(repr, values))}; "
                                 f"got {namespace.get(name)!r}")
    if "device" in declared and not DEVICE_PATTERN.fullmatch(str(namespace["device"])):
        raise ParameterError(f"parameter 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {namespace['device']!r}")
    for name in positive:
        if not namespace[name] > 0:
            raise ParameterError(f"parameter '{name}' must be > 0, got {namespace[name]!r}")
    for name in tuple(non_negative) + tuple(n for n in COMMON_NON_NEGATIVE if n in declared):
        if not namespace[name] >= 0:
            raise ParameterError(f"parameter '{name}' must be >= 0, got {namespace[name]!r}")


def _check_type(name: str, value, kind) -> None:
    kind = {"float": float, "int": int, "bool": bool, "str": str}.get(kind, kind)  # string annotations
    if kind not in _TYPE_WORDS:
        return
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True  # papermill passes -p sigma 25 as an int
    if not ok:
        raise ParameterError(f"parameter '{name}' must be {_TYPE_WORDS[kind]}, got {value!r} "
                             f"({type(value).__name__})")


def injected_names(namespace: dict) -> list[str]:
    """Names assigned by the most recent cell papermill injected (empty outside papermill)."""
    history = namespace.get("In") or []
    for source in reversed(history):
        if source.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return []
            return [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)]
    return []


def expected_seconds(paper: str, budget: str, device_type: str, iterations: int | None = None,
                     methods: tuple[str, ...] | None = None, results_dir: str | Path | None = None) -> float | None:
    """Seconds one run of ``paper`` took at ``budget`` on this kind of device, from the committed run folders.

    Median over complete runs (training + evaluation) of ``methods`` (all when None), the training part
    scaled to ``iterations`` when both are known. None when no committed run matches: the notebook then says
    so instead of guessing.
    """
    from . import budgets, runs

    if not budgets.committed(budget):
        return None
    root = Path(results_dir) if results_dir else runs.COMMITTED_RESULTS
    times = []
    for path in sorted((root / paper).glob("*/run.json")):
        info = runs.Run(path.parent).info
        if (info.get("budget") != budget or info.get("status") != "complete"
                or not str(info.get("device", "")).startswith(device_type)
                or (methods is not None and info.get("method") not in methods)):
            continue
        train_s, eval_s = float(info.get("train_wall_s") or 0), float(info.get("eval_wall_s") or 0)
        done = info.get("iterations")
        times.append(train_s * (iterations / done if iterations and done else 1.0) + eval_s)
    return statistics.median(times) if times else None


def describe_seconds(seconds: float | None, budget: str, device) -> str:
    """'~1.5 h' from committed runs, or what is known when no committed run matches.

    >>> describe_seconds(5400, "cpu", "cpu"), describe_seconds(None, "smoke", "cpu")
    ('~1.5 h on cpu (committed runs)', 'seconds to a few minutes (smoke)')
    """
    if not budgets.committed(budget):
        return f"seconds to a few minutes ({budget})"
    if seconds is None:
        return f"unknown on {device}: no committed {budget} run on this kind of device to time it by"
    if seconds >= 3600:
        return f"~{seconds / 3600:.1f} h on {device} (committed runs)"
    return f"~{max(1, round(seconds / 60))} min on {device} (committed runs)"


def announce(paper: str, budget: str, device, results, what: str, iterations: int | None = None,
             models: int = 1, methods: tuple[str, ...] | None = None) -> str:
    """Print (and return) the line a notebook starts with: what it runs, its budget, the expected time, where."""
    per_model = expected_seconds(paper, budget, device.type if hasattr(device, "type") else str(device),
                                 iterations, methods)
    total = per_model * models if per_model is not None else None
    steps = f", {iterations} iterations" + (f" x {models} models" if models > 1 else "") if iterations else ""
    line = (f"Will run {what}: budget {budget}{steps}; expected time {describe_seconds(total, budget, device)}; "
            f"results -> {results}")
    print(line)
    return line
