"""Run folders: the only place a reproduced number comes from.

A run folder ``results/<paper>/<run name>/`` holds

* ``run.json``: what was run (paper, method, noise, protocol, budget, every parameter), where and how
  long (device, iterations, wall times, seed, git commit) and whether it finished;
* ``per_image.csv``: one PSNR per (dataset, image, repeat), written as it is measured;
* optionally ``curve.csv`` (training curve), ``model.pt`` (weights for :func:`repro.load`) and figures.

``results/summary.csv`` is rebuilt from the run folders by :func:`write_summary`, never edited by hand.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from .evaluate import read_per_image, summarize

SUMMARY_COLUMNS = ["paper", "method", "noise", "param", "dataset", "protocol", "budget", "psnr_db", "ci95_db",
                   "n_images", "iterations", "device", "train_wall_s", "run", "complete", "seed", "git_commit"]
PAPERS = ("noise2noise", "ssdn", "noise2score", "zs_n2n", "scratch_n2n")
STUDIES = ("protocol",)  # run folders that measure the protocol itself; not rows of summary.csv
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS", REPO_ROOT / "results"))


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be read by anyone
        os.replace(tmp, path)
    except BaseException:  # e.g. text that cannot be encoded, a full disk, Ctrl-C: leave no temp file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def git_state() -> dict:
    """The commit the code ran at, and whether the working tree had uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "repro"], cwd=REPO_ROOT,
                                    capture_output=True, text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        sha, dirty = "unknown", None
    return {"git_commit": sha, "git_dirty": dirty}


def machine() -> dict:
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
    else:
        name = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    return {"device_name": name, "torch": torch.__version__, "python": platform.python_version()}


class Run:
    """One run folder. Create with :meth:`open`; re-opening an unfinished run resumes it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.info = json.loads((self.path / "run.json").read_text())

    @classmethod
    def open(cls, results_dir: str | Path, paper: str, name: str, **info) -> "Run":
        if paper not in PAPERS + STUDIES:
            raise ValueError(f"paper must be one of {PAPERS + STUDIES}, got '{paper}'")
        path = Path(results_dir) / paper / name
        previous = json.loads((path / "run.json").read_text()) if (path / "run.json").exists() else {}
        now = {**git_state(), **machine()}
        record = {**previous, "paper": paper, "run": f"{paper}/{name}", **info, **now,
                  "status": "running", "started": previous.get("started", _now())}
        if previous.get("git_commit"):  # a resumed run keeps the commit it started at, and lists the others
            record["git_commit"], record["git_dirty"] = previous["git_commit"], previous.get("git_dirty")
            seen = previous.get("resumed_at_commits", [])
            record["resumed_at_commits"] = seen + [now["git_commit"]] if now["git_commit"] not in seen else seen
        write_atomic(path / "run.json", json.dumps(record, indent=2, default=str))
        return cls(path)

    @property
    def per_image_csv(self) -> Path:
        return self.path / "per_image.csv"

    def update(self, **info) -> None:
        self.info.update(info)
        write_atomic(self.path / "run.json", json.dumps(self.info, indent=2, default=str))

    def finish(self, **info) -> None:
        self.update(**info, status="complete", finished=_now())

    def per_image(self) -> pd.DataFrame:
        if not self.per_image_csv.exists() or self.per_image_csv.stat().st_size == 0:  # a run just starting
            return pd.DataFrame(columns=["dataset", "image", "repeat", "psnr_db"])
        return read_per_image(self.per_image_csv)  # a torn last line (a crash mid-write) is left out, with a warning

    def summary_rows(self) -> list[dict]:
        info = self.info
        rows = []
        for r in summarize(self.per_image()).to_dict("records"):
            rows.append({
                "paper": info["paper"], "method": info["method"], "noise": info["noise"], "param": info["param"],
                "dataset": r["dataset"], "protocol": info["protocol"], "budget": info["budget"],
                "psnr_db": r["psnr_db"], "ci95_db": r["ci95_db"], "n_images": r["n_images"],
                "iterations": info.get("iterations", 0), "device": info.get("device", ""),
                "train_wall_s": info.get("train_wall_s", 0.0), "run": info["run"],
                "complete": info.get("status") == "complete", "seed": info.get("seed"),
                "git_commit": str(info.get("git_commit", ""))[:10],
            })
        return rows


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def all_runs(results_dir: str | Path | None = None) -> list[Run]:
    root = Path(results_dir or default_results_dir())
    return [Run(p.parent) for paper in PAPERS for p in sorted((root / paper).glob("*/run.json"))]


def summary(results_dir: str | Path | None = None) -> pd.DataFrame:
    rows = [row for run in all_runs(results_dir) for row in run.summary_rows()]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def write_summary(results_dir: str | Path | None = None) -> Path:
    """Rebuild ``results/summary.csv`` from every run folder."""
    root = Path(results_dir or default_results_dir())
    table = summary(root)
    write_atomic(root / "summary.csv", table.to_csv(index=False))
    return root / "summary.csv"


class Timer:
    """Wall-clock seconds, accumulated across resumed sessions through ``start``."""

    def __init__(self, start: float = 0.0):
        self.offset, self.t0 = start, time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.offset + time.perf_counter() - self.t0
