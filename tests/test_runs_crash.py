"""What a crash leaves in a run folder, and what the tools make of it (issue 19, item 6)."""
import json
import os

import pytest
import torch

from repro import runs
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
