"""What a crash leaves in a run folder, and what the tools make of it (issue 19, item 6)."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import torch

from repro import noise, protocols, runs
from repro.evaluate import COLUMNS, evaluate, summarize
from repro.checkpoints import load, save_model
from repro.models import UNet


def _temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_atomic_leaves_no_temp_file_when_the_text_cannot_be_encoded(tmp_path):
    target = tmp_path / "run.json"
    runs.write_atomic(target, '{"status": "running"}')
    with pytest.raises(UnicodeEncodeError):
        runs.write_atomic(target, '{"status": "\udc80"}')  # a lone surrogate: no encoding can write it
    assert _temp_files(tmp_path) == []
    assert json.loads(target.read_text()) == {"status": "running"}  # the previous file is untouched


def test_write_atomic_leaves_no_temp_file_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "run.json"

    def no_rename(src, dst):
        raise OSError("simulated failure of the rename")

    monkeypatch.setattr(runs.os, "replace", no_rename)
    with pytest.raises(OSError, match="simulated"):
        runs.write_atomic(target, "{}")
    assert _temp_files(tmp_path) == [] and not target.exists()
    monkeypatch.undo()
    runs.write_atomic(target, "{}")
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"


def _save_tiny_model(folder, **info):
    torch.manual_seed(0)
    model = UNet(1)
    return model, save_model(folder, model, "unet", {"in_channels": 1}, "noise2noise", "n2n", info=info)


def test_save_model_replaces_model_pt_atomically_and_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    model, path = _save_tiny_model(tmp_path, attempt=1)
    real_save = torch.save

    def crash_mid_write(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            f = open(f, "wb")
        f.write(b"PK\x03\x04 half a zip")  # what a kill or a full disk leaves behind
        f.flush()
        raise OSError("simulated crash while writing the model")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="simulated"):
        save_model(tmp_path, model, "unet", {"in_channels": 1}, "noise2noise", "n2n", info={"attempt": 2})
    monkeypatch.setattr(torch, "save", real_save)
    assert _temp_files(tmp_path) == []
    assert load(path, device="cpu").info == {"attempt": 1}  # the previous model.pt, whole
    _save_tiny_model(tmp_path, attempt=3)
    assert load(path, device="cpu").info == {"attempt": 3} and _temp_files(tmp_path) == []
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


# ------------------------------------------------------------------ a torn per_image.csv (killed mid-append)
def _scored_run(results_dir, n_images=3):
    """A real, tiny protocol run: the identity denoiser on the first Set12 images, Noise2Score's protocol."""
    run = runs.Run.open(results_dir, "noise2score", "torn", method="identity", noise="gaussian", param="sigma=25",
                        protocol="noise2score", budget="smoke", device="cpu", seed=0)
    table = evaluate(lambda y: y, protocols.get("noise2score"), noise.Gaussian(25), datasets=["set12"],
                     n_images=n_images, per_image_csv=run.per_image_csv, progress=False)
    return run, table


TORN_LAST_LINES = {
    "cut in the psnr": lambda line: line[: line.index(",", line.index(",", line.index(",") + 1) + 1) + 2],
    "cut after the image": lambda line: line[: line.index(",", line.index(",") + 1)],
    "fields missing, newline written": lambda line: line[: line.index(",", line.index(",") + 1)] + ",0\r\n",
}


@pytest.mark.parametrize("tear", TORN_LAST_LINES, ids=list(TORN_LAST_LINES))
def test_a_torn_last_line_is_left_out_of_the_summary_and_scored_again_on_resume(tear, results_dir):
    run, table = _scored_run(results_dir)
    text = run.per_image_csv.read_text()
    head, last = text[: text.rstrip().rindex("\n") + 1], text[text.rstrip().rindex("\n") + 1:]
    run.per_image_csv.write_text(head + TORN_LAST_LINES[tear](last))
    first_two = summarize(table[table.image != "03"])

    with pytest.warns(UserWarning, match=r"per_image.csv: 1 torn or malformed line\(s\) left out"):
        rows = runs.Run(run.path).summary_rows()
        assert [r["psnr_db"] for r in rows] == first_two.psnr_db.tolist() and rows[0]["n_images"] == 2

    calls = []
    with pytest.warns(UserWarning, match="removed from the file; the evaluation scores those images again"):
        resumed = evaluate(lambda y: calls.append(1) or y, protocols.get("noise2score"), noise.Gaussian(25),
                           datasets=["set12"], n_images=3, per_image_csv=run.per_image_csv, progress=False)
        assert len(calls) == 1  # only the torn image is scored again
        assert resumed.psnr_db.tolist() == table.psnr_db.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file is whole again
        again = runs.Run(run.path).summary_rows()
        assert pd.read_csv(run.per_image_csv).psnr_db.notna().all() and len(pd.read_csv(run.per_image_csv)) == 3
    assert [r["psnr_db"] for r in again] == summarize(table).psnr_db.tolist()


@pytest.mark.parametrize("content", ["dataset,image,rep", "dataset,image,repeat,psnr_db,seconds\r\n"],
                         ids=["torn header", "header only"])
def test_a_run_killed_before_its_first_image_resumes_with_one_header(content, results_dir):
    run, table = _scored_run(results_dir, n_images=2)
    run.per_image_csv.write_bytes(content.encode())
    torn = content.endswith("rep")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert runs.Run(run.path).summary_rows() == []
        resumed = evaluate(lambda y: y, protocols.get("noise2score"), noise.Gaussian(25), datasets=["set12"],
                           n_images=2, per_image_csv=run.per_image_csv, progress=False)
    assert resumed.psnr_db.tolist() == table.psnr_db.tolist()
    lines = run.per_image_csv.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 3  # one header, two rows
    assert [str(w.message).split(": ", 1)[1][:33] for w in seen] == ["1 torn or malformed line(s) left ",
                                                                    "1 torn or malformed line(s) remov"] * torn
    assert [r["psnr_db"] for r in runs.Run(run.path).summary_rows()] == summarize(table).psnr_db.tolist()


# ------------------------------------------------------------------ a run killed with SIGKILL: "interrupted"
OPEN_AND_WAIT = """
import sys, time
from repro import runs
run = runs.Run.open(sys.argv[1], "noise2noise", "killed", method="n2n", noise="gaussian", param="sigma=25",
                    protocol="noise2noise", budget="smoke", device="cpu", seed=0)
print("open", flush=True)
time.sleep(600)
"""


def _info(run_dir):
    return json.loads((run_dir / "run.json").read_text())


def test_a_run_killed_with_sigkill_reads_interrupted_in_the_summary(results_dir):
    child = subprocess.Popen([sys.executable, "-c", OPEN_AND_WAIT, str(results_dir)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert child.stdout.readline().strip() == "open"
        run_dir = results_dir / "noise2noise" / "killed"
        info = _info(run_dir)
        assert info["pid"] == child.pid and info["host"] == socket.gethostname() and info["heartbeat"]
        (run_dir / "per_image.csv").write_text("dataset,image,repeat,psnr_db,seconds\nset14,baboon,0,22.5,1.0\n")
        assert runs.Run(run_dir).state == "running"
        assert [r["status"] for r in runs.Run(run_dir).summary_rows()] == ["running"]
    finally:
        child.kill()  # SIGKILL: no handler, no finally, no atexit runs in the child
        child.wait()
    assert _info(run_dir)["status"] == "running"  # what the dead process left behind
    run = runs.Run(run_dir)
    assert run.state == "interrupted"
    (row,) = run.summary_rows()
    assert row["status"] == "interrupted" and row["complete"] is False and row["psnr_db"] == 22.5
    assert runs.summary(results_dir).status.tolist() == ["interrupted"]  # repro summary's column
    from repro import report

    assert report.runs_table("noise2noise", results_dir).status.tolist() == ["interrupted"]  # the book's table


def _write_info(run_dir, **changes):
    info = {**_info(run_dir), **changes}
    (run_dir / "run.json").write_text(json.dumps(info))
    return runs.Run(run_dir)


def test_on_another_host_a_stale_heartbeat_reads_interrupted(results_dir):
    run = runs.Run.open(results_dir, "noise2noise", "elsewhere", method="n2n", budget="smoke")
    assert run.state == "running" and run.info["pid"] == os.getpid()
    now = datetime.now(timezone.utc)
    fresh = (now - timedelta(seconds=runs.STALE_AFTER_S - 60)).isoformat(timespec="seconds")
    stale = (now - timedelta(seconds=runs.STALE_AFTER_S + 60)).isoformat(timespec="seconds")
    assert _write_info(run.path, host="gpu-box.example", pid=1, heartbeat=fresh).state == "running"
    assert _write_info(run.path, host="gpu-box.example", pid=1, heartbeat=stale).state == "interrupted"
    # on this host a fresh heartbeat does not save a dead pid, nor a pid now taken by another process
    assert _write_info(run.path, host=socket.gethostname(), pid=_dead_pid(), heartbeat=fresh).state == "interrupted"
    if runs._proc_stat(os.getpid()):
        assert _write_info(run.path, pid=os.getpid(), pid_started="another boot:1").state == "interrupted"
    for status in ("complete", "paused"):
        assert _write_info(run.path, status=status, host="gpu-box.example", heartbeat=stale).state == status
    run.finish()


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_heartbeat_is_refreshed_while_the_run_is_open_and_stops_when_it_ends(results_dir, monkeypatch):
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY_S", 0.05)
    run = runs.Run.open(results_dir, "noise2noise", "beating", method="n2n", budget="smoke")
    old = "2000-01-01T00:00:00+00:00"
    _write_info(run.path, heartbeat=old)
    deadline = time.monotonic() + 10
    while _info(run.path)["heartbeat"] == old and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _info(run.path)["heartbeat"] != old and _info(run.path)["status"] == "running"
    run.finish()
    assert _info(run.path)["status"] == "complete"
    _write_info(run.path, heartbeat=old)
    time.sleep(0.3)
    assert _info(run.path)["heartbeat"] == old  # stopped: a finished run is not rewritten
    assert not [t for t in threading.enumerate() if t.name == f"heartbeat {run.path}"]


def test_a_folder_is_not_resumed_with_other_values_of_the_params_named_unchanged(results_dir):
    """A resumed run keeps the settings its finished work was done with: a changed entry named in ``unchanged``
    is refused and run.json stays as it was; entries not named, or new ones, may differ."""
    args = (results_dir, "noise2noise", "settings")
    run = runs.Run.open(*args, method="n2n", budget="smoke", params={"lr": 0.001, "threads": 2})
    run.finish()
    before = (run.path / "run.json").read_text()
    with pytest.raises(ValueError, match=r"other settings \({'lr': \(0.001, 0.002\)}"):
        runs.Run.open(*args, unchanged=("lr", "threads"), method="n2n", budget="smoke",
                      params={"lr": 0.002, "threads": 2})
    assert (run.path / "run.json").read_text() == before
    again = runs.Run.open(*args, unchanged=("lr", "crop"), method="n2n", budget="smoke",
                          params={"lr": 0.001, "threads": 1, "crop": 16})
    assert again.info["params"] == {"lr": 0.001, "threads": 1, "crop": 16} and again.info["status"] == "running"
    again.finish()
