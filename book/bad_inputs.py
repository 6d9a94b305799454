"""Bad inputs tried at book build time, and what a user gets: the "Reproduce it" chapter's table.

Every case runs the real code (a notebook's own parameter and check cells, the ``repro denoise`` command,
the run-folder and data code) in a temporary folder; the table shows the message it printed or raised.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from repro import runs

ROOT = runs.REPO_ROOT


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "(nothing printed)"


def notebook_case(name: str, **parameters) -> str:
    """Run a notebook's parameters cell, papermill's injected cell and its check cell, as papermill would."""
    import jupytext

    cells = [c.source for c in jupytext.read(ROOT / "notebooks" / f"{name}.py").cells if c.cell_type == "code"]
    injected = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    namespace: dict = {"__name__": "__main__", "In": ["", cells[0], injected, cells[1]]}
    try:
        for source in (cells[0], injected, cells[1]):
            exec(compile(source, f"<{name}>", "exec"), namespace)
    except Exception as err:  # the message is the point
        return f"{type(err).__name__}: {err}"
    return "(accepted)"


def denoise_case(*argv: str, cwd: Path) -> tuple[int, str]:
    """``repro denoise ARGV`` in ``cwd``: its exit code and the first line that explains the outcome."""
    from repro.cli import main

    err = io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["denoise", *argv])
            except SystemExit as stop:
                code = stop.code
    finally:
        os.chdir(here)
    lines = [ln.strip() for ln in err.getvalue().splitlines()
             if ln.strip().startswith(("repro denoise:", "skipped", "note:", "repro: error", "denoised"))]
    return code, lines[0] if lines else _first_line(err.getvalue())


def _write_png(path: Path, channels: int) -> None:
    from repro.denoise_files import write_file

    rng = np.random.default_rng(0)
    write_file(path, rng.integers(0, 256, (48, 64, channels), dtype=np.uint8))


KILLED = """
import sys, time
from repro import runs
runs.Run.open(sys.argv[1], "noise2noise", "killed", method="n2n", budget="cpu")
print("open", flush=True)
time.sleep(60)
"""


def table() -> pd.DataFrame:
    rows = []

    def add(area, tried, got):
        rows.append({"where": area, "input tried": tried, "what the user gets": got})

    for nb, params in [("noise2noise", {"dataset": "nosuchset"}), ("noise2noise", {"method": "foo"}),
                       ("noise2noise", {"sigma": "abc"}), ("noise2score", {"noise": "nosuchnoise"}),
                       ("noise2score", {"channels": "rgb"}), ("ssdn", {"budget": "fast"})]:
        (key, value), = params.items()
        add("notebook", f"papermill notebooks/{nb}.ipynb -p {key} {value}", notebook_case(nb, **params))
    add("notebook", "papermill … -p budget smoke (no results_dir)",
        f"runs go to {runs.results_dir_for('', 'smoke').relative_to(ROOT)}/, never into results/")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write_png(tmp / "photo.png", 3)
        _write_png(tmp / "gray.png", 1)
        (tmp / "afile.png").write_bytes(b"")
        (tmp / "empty").mkdir()
        (tmp / "out").mkdir()
        _write_png(tmp / "out" / "photo.png", 3)
        colour_model = str(ROOT / "results" / "noise2noise" / "n2n_gaussian_cpu_seed0")
        cases = [("photo.png -o out2 --method bm4d",), ("photo.png -o out2 --method results_without_model",),
                 ("photo.png -o afile.png",), ("photo.png -o afile.png/sub",), ("photo.png -o out",),
                 ("photo.png -o out2 --steps 0",), ("photo.png -o out2 --device foo",), ("empty -o out2",),
                 ("photo.png -o .",), (f"gray.png -o out3 --method {colour_model}",)]
        (tmp / "results_without_model").mkdir()
        for (argv,) in cases:
            code, said = denoise_case(*argv.split(), cwd=tmp)
            shown = argv.replace(str(ROOT) + "/", "")
            add("repro denoise", f"repro denoise {shown}", f"{said.replace(str(ROOT) + '/', '')} (exit {code})")

        add("data", "REPRO_DATA_MIRROR=/nonexistent", _mirror_case())
        add("run folder", "a smoke run opened in the committed results/", _smoke_in_committed_case())
        add("run folder", "per_image.csv whose last line was torn by a crash", _torn_line_case(tmp))
        add("run folder", "kill -9 of a running notebook", _killed_case(tmp))
    return pd.DataFrame(rows)


def _mirror_case() -> str:
    from repro import data

    before = os.environ.get("REPRO_DATA_MIRROR")
    os.environ["REPRO_DATA_MIRROR"] = "/nonexistent"
    try:
        data.load("set12")
        return "(accepted)"
    except Exception as err:
        return f"{type(err).__name__}: {_first_line(str(err))}"
    finally:
        if before is None:
            os.environ.pop("REPRO_DATA_MIRROR")
        else:
            os.environ["REPRO_DATA_MIRROR"] = before


def _smoke_in_committed_case() -> str:
    try:
        runs.Run.open(runs.COMMITTED_RESULTS, "noise2noise", "never_written", budget="smoke")
        return "(accepted)"
    except ValueError as err:
        return f"ValueError: {err}".replace(str(ROOT) + "/", "")


def _torn_line_case(tmp: Path) -> str:
    run = runs.Run.open(tmp / "torn", "noise2noise", "torn", method="n2n", noise="gaussian", param="sigma=25",
                        protocol="noise2noise", budget="cpu")
    run.per_image_csv.write_text("dataset,image,repeat,psnr_db\nset12,01,0,30.5\nset12,02,0,2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = run.summary_rows()
    message = str(caught[0].message).replace(str(tmp) + "/", "") if caught else "(no warning)"
    return f"warning: {message}; the summary uses the {rows[0]['n_images']} whole line(s)"


def _killed_case(tmp: Path) -> str:
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp / "killed")], stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
    finally:
        child.kill()
        child.wait()
    run = runs.Run(tmp / "killed" / "noise2noise" / "killed")
    return f"run.json still says '{run.info['status']}'; repro summary and the book show '{run.state}'"
