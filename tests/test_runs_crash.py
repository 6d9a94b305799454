"""What a crash leaves in a run folder, and what the tools make of it (issue 19, item 6)."""
import json
import os
import warnings

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
