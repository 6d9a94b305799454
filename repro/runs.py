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
import socket
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from . import budgets, papers
from .evaluate import read_per_image, summarize

SUMMARY_COLUMNS = ["paper", "method", "noise", "param", "dataset", "protocol", "budget", "psnr_db", "ci95_db",
                   "n_images", "iterations", "device", "train_wall_s", "run", "complete", "status", "seed", "git_commit"]
PAPERS = tuple(p.name for p in papers.with_results())  # results/<paper>/ folders, from the one registry
STUDIES = tuple(p.name for p in papers.studies())  # run folders that measure the protocol itself; not summary rows
REPO_ROOT = Path(__file__).resolve().parent.parent
# While a run is open its process rewrites the "heartbeat" of run.json every minute from a background thread:
# one small file write a minute is free next to any training step, and a thread keeps beating through loops
# that never call back (one ZS-N2N fit of a Kodak image took 22 minutes on 2 CPU threads).
HEARTBEAT_EVERY_S = 60.0
# A "running" run recorded on another host reads "interrupted" once its heartbeat is older than this (15 missed
# beats: room for clock skew and a suspended machine). On this host the recorded pid decides, at once.
STALE_AFTER_S = 15 * 60.0


COMMITTED_RESULTS = REPO_ROOT / "results"
SMOKE_RESULTS = REPO_ROOT / "build" / "smoke-results"  # git-ignored: smoke runs prove code, not numbers


def default_results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS", COMMITTED_RESULTS))


def is_committed(results_dir: str | Path) -> bool:
    """Whether ``results_dir`` is this repository's tracked results/ folder."""
    return Path(results_dir).resolve() == COMMITTED_RESULTS.resolve()


def results_dir_for(results_dir: str | Path | None, budget: str) -> Path:
    """Where a run writes: ``results_dir`` when given, else the default, except that a ``smoke`` run never
    goes into the committed results/ (it goes to build/smoke-results/).

    >>> results_dir_for(None, "smoke") == SMOKE_RESULTS, results_dir_for("/tmp/r", "smoke")
    (True, PosixPath('/tmp/r'))
    """
    root = Path(results_dir) if results_dir else default_results_dir()
    return SMOKE_RESULTS if not budgets.committed(budget) and is_committed(root) else root


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
    def open(cls, results_dir: str | Path, paper: str, name: str, unchanged: tuple = (), **info) -> "Run":
        """Create the run folder ``results_dir/paper/name`` or resume it; ``info`` goes into run.json.

        ``unchanged`` names ``params`` entries a resumed folder must have recorded as they are now (those both
        records have): its finished work was done with them, and resuming with others would label it with
        settings it was not done with. Otherwise a ValueError says what differs and nothing is written.
        """
        if paper not in PAPERS + STUDIES:
            raise ValueError(f"paper must be one of {PAPERS + STUDIES}, got '{paper}'")
        if not budgets.committed(info.get("budget", "")) and is_committed(results_dir):
            raise ValueError(f"a smoke run may not write into the committed {COMMITTED_RESULTS}: give another "
                             f"results_dir (notebooks use {SMOKE_RESULTS} by default)")
        path = Path(results_dir) / paper / name
        previous = json.loads((path / "run.json").read_text()) if (path / "run.json").exists() else {}
        recorded, params = previous.get("params", {}), info.get("params", {})
        changed = {k: (recorded[k], params[k]) for k in unchanged
                   if k in recorded and k in params and recorded[k] != params[k]}
        if changed:
            raise ValueError(f"{paper}/{name} holds work done with other settings ({changed}, recorded vs now): "
                             f"move it aside or delete it to redo it with these, or run the settings it records")
        now = {**git_state(), **machine()}
        record = {**previous, "paper": paper, "run": f"{paper}/{name}", **info, **now,
                  "status": "running", "started": previous.get("started", _now()), **_this_process()}
        if previous.get("git_commit"):  # a resumed run keeps the commit it started at, and lists the others
            record["git_commit"], record["git_dirty"] = previous["git_commit"], previous.get("git_dirty")
            seen = previous.get("resumed_at_commits", [])
            record["resumed_at_commits"] = seen + [now["git_commit"]] if now["git_commit"] not in seen else seen
        with _WRITING:
            write_atomic(path / "run.json", json.dumps(record, indent=2, default=str))
        _start_heartbeat(path)
        return cls(path)

    @property
    def per_image_csv(self) -> Path:
        return self.path / "per_image.csv"

    def update(self, **info) -> None:
        self.info.update(info, heartbeat=_now())
        with _WRITING:
            write_atomic(self.path / "run.json", json.dumps(self.info, indent=2, default=str))
        if self.info.get("status") != "running":
            _stop_heartbeat(self.path)

    @property
    def state(self) -> str:
        """``status`` from run.json, except that a "running" run nobody is running any more is "interrupted".

        On the host that recorded it, that is when its process (pid, and its start time where /proc tells it)
        is gone; a run recorded on another host, when its heartbeat is older than ``STALE_AFTER_S``. A run.json
        written before pids were recorded keeps its status: nothing tells.
        """
        status = self.info.get("status", "")
        pid = self.info.get("pid")
        if status != "running" or not isinstance(pid, int) or pid <= 0:
            return status
        if self.info.get("host") == socket.gethostname():
            alive = _process_alive(pid, self.info.get("pid_started"))
        else:
            try:
                beat = datetime.fromisoformat(str(self.info.get("heartbeat")))
            except ValueError:
                return status
            beat = beat if beat.tzinfo else beat.replace(tzinfo=timezone.utc)  # written as UTC by _now()
            alive = (datetime.now(timezone.utc) - beat).total_seconds() <= STALE_AFTER_S
        return status if alive else "interrupted"

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
                "complete": info.get("status") == "complete", "status": self.state, "seed": info.get("seed"),
                "git_commit": str(info.get("git_commit", ""))[:10],
            })
        return rows


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, "boot id:start time in clock ticks") of a process from /proc; None without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], f"{boot}:{fields[19]}"
    except (OSError, IndexError):
        return None


def _this_process() -> dict:
    """What tells this process from a dead one, recorded in run.json by :meth:`Run.open`."""
    stat = _proc_stat(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_started": stat[1] if stat else None,
            "heartbeat": _now()}


def _process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (macOS): the pid is all there is to go by
        return True
    state, start = stat
    return state not in ("Z", "X") and (started is None or start == started)  # a zombie, or the pid reused


_WRITING = threading.Lock()  # one run.json write at a time within this process (the heartbeat is a thread)
_BEATING: dict[Path, threading.Event] = {}  # run folder -> the event that stops its heartbeat


def _start_heartbeat(folder: Path) -> None:
    with _WRITING:
        if folder in _BEATING and not _BEATING[folder].is_set():
            return
        stop = _BEATING[folder] = threading.Event()
    threading.Thread(target=_beat, args=(folder / "run.json", stop, os.getpid()), daemon=True,
                     name=f"heartbeat {folder}").start()


def _stop_heartbeat(folder: Path) -> None:
    with _WRITING:
        event = _BEATING.pop(folder, None)
    if event is not None:
        event.set()


def _beat(file: Path, stop: threading.Event, pid: int) -> None:
    """Refresh the heartbeat of ``file`` until stopped, or until the run is no longer this process's and running."""
    while not stop.wait(HEARTBEAT_EVERY_S):
        with _WRITING:
            try:
                info = json.loads(file.read_text())
                if info.get("status") != "running" or info.get("pid") != pid or os.getpid() != pid:
                    break
                info["heartbeat"] = _now()
                write_atomic(file, json.dumps(info, indent=2, default=str))
            except (OSError, ValueError):  # the folder was removed or the file is not ours to read
                break
    stop.set()


def _after_fork_in_child() -> None:
    global _WRITING
    _WRITING = threading.Lock()  # a fork may copy the lock held by a heartbeat thread that is not copied
    _BEATING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def all_runs(results_dir: str | Path | None = None) -> list[Run]:
    """Every run folder; in the committed results/ never a smoke run (one left there by hand is skipped)."""
    root = Path(results_dir or default_results_dir())
    found = [Run(p.parent) for paper in PAPERS for p in sorted((root / paper).glob("*/run.json"))]
    return [r for r in found if budgets.committed(r.info.get("budget", "")) or not is_committed(root)]


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
