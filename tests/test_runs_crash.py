"""What a crash leaves in a run folder, and what the tools make of it (issue 19, item 6)."""
import json
import os

import pytest

from repro import runs


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
