"""Every paper notebook runs top to bottom under papermill at budget=smoke, and stays in sync with its .py."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import test_workflow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The workflow's smoke grid (test_workflow) executes these notebooks at budget=smoke with their default
# parameters and checks their run folders: executing them here too would add minutes, not checks.
RUN_BY_THE_SMOKE_GRID = {row[0] for row in test_workflow.SMOKE}


def _code_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_percent_script(path):
    import jupytext

    script = jupytext.read(path.with_suffix(".py"))
    notebook = json.loads(path.read_text())
    expected = json.loads(jupytext.writes(script, "ipynb"))
    assert _code_cells(expected) == _code_cells(notebook), f"{path.name} is out of sync: run `make notebooks`"
    tags = [c.get("metadata", {}).get("tags", []) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert "parameters" in tags[0], "the first code cell must be tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_documented(path):
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)], capture_output=True,
                         text=True, check=True).stdout
    for name in ("budget", "device", "seed", "results_dir"):
        assert f"  {name}:" in out, f"{path.name} lacks parameter {name}"
    assert "Unable to parse" not in out


def test_the_smoke_grid_runs_its_notebooks_with_their_defaults():
    """What lets test_notebook_runs_at_smoke_budget leave those notebooks to the smoke grid."""
    assert RUN_BY_THE_SMOKE_GRID and RUN_BY_THE_SMOKE_GRID <= {path.stem for path in NOTEBOOKS}
    for row in test_workflow.SMOKE:
        record = dict(zip(test_workflow.COLUMNS, row))
        defaults = test_workflow.notebook_parameters({**record, "notebook_params": ""})
        assert test_workflow.notebook_parameters(record) == defaults, record["notebook_params"]
        assert record["budget"] == "smoke"


@pytest.mark.notebook
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem not in RUN_BY_THE_SMOKE_GRID], ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_budget(path, tmp_path):
    import papermill

    results = tmp_path / "results"
    papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters={"budget": "smoke",
                               "results_dir": str(results)}, kernel_name="python3", cwd=str(path.parent),
                               progress_bar=False)
    runs = list(results.glob("*/*/run.json"))
    assert runs, "the notebook wrote no run folder"
    summary = results / "summary.csv"
    if summary.exists():
        table = pd.read_csv(summary)
        assert (table.budget == "smoke").all()


@pytest.mark.notebook
def test_noise2score_notebook_trains_with_the_antithetic_estimate(tmp_path):
    import papermill

    results = tmp_path / "results"
    path = ROOT / "notebooks" / "noise2score.ipynb"
    papermill.execute_notebook(str(path), str(tmp_path / path.name), kernel_name="python3", cwd=str(path.parent),
                               parameters={"budget": "smoke", "results_dir": str(results), "channels": "gray",
                                           "estimator": "antithetic", "diagnosis": False},
                               progress_bar=False)
    run = json.loads((results / "noise2score" / "noise2score_antithetic_gaussian_sigma25_gray_smoke_seed0"
                      / "run.json").read_text())
    assert run["params"]["ardae_estimator"] == "antithetic"
    assert run["params"]["batch_size"] == 2  # half the smoke batch: the same network passes per step
    methods = set(pd.read_csv(results / "summary.csv").method)
    assert {"noise2score_antithetic", "noise2score_antithetic_unknown_sigma"} <= methods
