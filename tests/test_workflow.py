"""workflow/Snakefile over workflow/grid.csv: lint, dry runs of the cpu and paper grids, a smoke grid end to end.

The smoke grid has two runs of two papers (Noise2Noise, a trained U-Net; Zero-Shot Noise2Noise, a fit per
image) at budget=smoke, written into a temporary results folder (SSDN's smoke notebook, ~30 s of CPU, is run by
test_notebooks and adds nothing to the workflow's checks); each run is its paper's notebook executed by
papermill, kept as the run's log. A second invocation finds nothing to do.
"""
import ast
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GRID = ROOT / "workflow" / "grid.csv"
COLUMNS = ["paper", "method", "noise", "param", "channels", "budget", "seed", "run", "notebook_params"]
SMOKE = [
    ["noise2noise", "n2n", "gaussian", "sigma=25", "color", "smoke", "0", "noise2noise/n2n_gaussian_smoke_seed0",
     "method=n2n noise=gaussian sigma=25"],
    ["zs_n2n", "zs-n2n", "gaussian", "sigma=25", "color", "smoke", "0", "zs_n2n/sigma25_kodak24_first1_smoke",
     "noise=gaussian sigma=25 dataset=kodak24"],
]


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """snakemake's .snakemake/ state (locks, metadata) goes to a temporary folder, not the checkout."""
    monkeypatch.setenv("TEST_SNAKEMAKE_DIR", str(tmp_path / "state"))


def snakemake(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    state = Path(os.environ["TEST_SNAKEMAKE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(SNAKEMAKE), "--directory", str(state), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def job_counts(output: str) -> dict:
    """The 'Job stats' table of a (dry) run: rule -> count (none when there is nothing to be done)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def grid(budget: str) -> list[dict]:
    with GRID.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["budget"] == budget]


NOISE_KEY = {"gaussian": "sigma", "poisson": "lam", "gamma": "k", "bernoulli": "p"}  # noise -> its notebook parameter


def notebook_parameters(row: dict) -> dict:
    """The values the row's notebook runs with: its declared defaults overridden by the row's parameters."""
    import papermill
    from papermill.cli import _resolve_type  # how papermill's -p turns text into a value

    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{row['paper']}.ipynb"))
    values = {key: ast.literal_eval(spec["default"]) for key, spec in declared.items()}
    given = dict(item.split("=", 1) for item in row["notebook_params"].split())
    unknown = set(given) - set(declared)
    assert not unknown, f"{row['run']}: notebooks/{row['paper']}.ipynb has no parameter {sorted(unknown)}"
    for key, text in given.items():  # as papermill -p / -r would pass them
        values[key] = text if declared[key]["inferred_type_name"] == "str" else _resolve_type(text)
    return values


def recipe_run(row: dict, values: dict) -> tuple[str, str] | None:
    """(run folder, method) the paper's recipe writes for these notebook values; None where the recipe names
    its folders itself from more than the row says (ZS-N2N, from-scratch N2N)."""
    from repro.experiments import neighbor2neighbor, noise2noise, noise2void, ssdn
    from repro.methods import noise2score

    budget, seed = row["budget"], int(row["seed"])
    if row["paper"] == "noise2noise":
        name, method = noise2noise.run_name(values["method"], values["noise"], budget, seed), values["method"]
    elif row["paper"] == "neighbor2neighbor":
        name = neighbor2neighbor.run_name("neighbor2neighbor", values["noise"], budget, seed)
        method = "neighbor2neighbor"
    elif row["paper"] == "noise2score":
        setting = noise2score.Setting(values["noise"], values[NOISE_KEY[values["noise"]]], values["channels"])
        name, method = setting.run_name("noise2score", budget, seed), "noise2score"
    elif row["paper"] == "ssdn":
        setting = ssdn.Setting(values["method"], values["sigma_mode"], values["train_sigma"], values["sigma"])
        name, method = setting.run_name(budget, seed), setting.run_method
    elif row["paper"] == "noise2void":
        method = values.get("method", "n2v")
        name = noise2void.run_name(values["sigma"], budget, seed, method)
    else:
        return None
    return f"{row['paper']}/{name}", method


def test_the_grid_is_well_formed():
    """Every row runs as declared: its notebook has its parameters, the recipe writes the folder it names with
    the method and noise it names, no folder is named twice, and a folder already there holds that run."""
    from repro import noise as noises
    from repro.experiments import ssdn

    with GRID.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    for budget in ("cpu", "paper"):
        runs = [row["run"] for row in rows if row["budget"] == budget]
        assert len(runs) == len(set(runs)), f"a run folder appears twice at budget {budget}"
        assert {row["paper"] for row in rows if row["budget"] == budget} == {row["paper"] for row in grid("cpu")}
    named = 0
    for row in rows:
        assert row["run"].split("/")[0] == row["paper"] and (ROOT / "notebooks" / f"{row['paper']}.ipynb").exists()
        values = notebook_parameters(row)
        assert values.get("noise", "gaussian") == row["noise"], row["run"]
        if row["paper"] == "ssdn":  # a network trained on a sigma range is tested on that range
            tested = ssdn.Setting(values["method"], values["sigma_mode"], values["train_sigma"], values["sigma"])
            assert tested.test_noise.label == row["param"], row["run"]
        else:
            assert noises.make(row["noise"], values[NOISE_KEY[row["noise"]]]).label == row["param"], row["run"]
        expected = recipe_run(row, values)
        if expected is not None:
            assert expected == (row["run"], row["method"]), row["run"]
            named += 1
    assert named >= len(rows) // 2  # most rows are checked against their recipe's naming
    # where a run folder exists, it holds the run its row declares (a row may still be waiting for its run)
    for row in rows:
        path = ROOT / "results" / row["run"] / "run.json"
        if path.exists():
            info = json.loads(path.read_text())
            recorded = [info["paper"], info["method"], info["noise"], info["param"], str(info["seed"])]
            assert recorded == [row[c] for c in ("paper", "method", "noise", "param", "seed")], row["run"]
            assert info["budget"] == row["budget"] or row["paper"] == "zs_n2n", row["run"]  # ZS-N2N trains nothing


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout[-3000:]


@pytest.mark.parametrize("budget", ["cpu", "paper"])
def test_a_dry_run_lists_exactly_the_missing_runs(budget):
    result = snakemake("-n", "--config", f"budget={budget}")
    assert result.returncode == 0, result.stderr[-3000:]
    missing = [row for row in grid(budget) if not (ROOT / "results" / row["run"] / "run.json").exists()]
    counts = job_counts(result.stdout)
    assert counts.get("run", 0) == len(missing), (counts, [row["run"] for row in missing])
    for row in missing:
        assert f"results/{row['run']}/run.json" in result.stdout
    if budget == "paper":  # sized for a GPU: the profile's resources reach every job
        assert len(missing) >= 14 and "gpu=1" in result.stdout and "runtime=4320" in result.stdout


def test_the_slurm_profile_plans_the_paper_grid():
    result = snakemake("-n", "--profile", "workflow/profiles/slurm", "--config", "budget=paper")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "slurm_partition=gpu" in result.stdout and job_counts(result.stdout)["run"] >= 14


@pytest.mark.slow
@pytest.mark.notebook
def test_the_smoke_grid_runs_end_to_end_and_resumes(tmp_path):
    smoke_grid = tmp_path / "grid.csv"
    with smoke_grid.open("w", newline="") as handle:
        csv.writer(handle).writerows([COLUMNS, *SMOKE])
    results, logs = tmp_path / "results", tmp_path / "logs"
    config = ["--config", "budget=smoke", f"grid={smoke_grid}", f"results={results}", f"logs={logs}", "device=cpu"]
    planned = snakemake("-n", *config)
    assert job_counts(planned.stdout) == {"run": 2, "summary": 1, "all": 1}, planned.stdout[-2000:]
    done = snakemake("--cores", "2", *config)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for row in SMOKE:
        info = json.loads((results / row[7] / "run.json").read_text())
        assert info["status"] == "complete" and info["budget"] == "smoke" and info["paper"] == row[0]
        log = logs / f"{row[7]}.ipynb"  # the executed notebook is the run's log
        assert json.loads(log.read_text())["metadata"]["papermill"]["parameters"]["results_dir"] == str(results)
    summary = pd.read_csv(results / "summary.csv")
    assert set(summary.run) >= {row[7] for row in SMOKE}
    assert not (ROOT / "results" / "noise2noise" / "n2n_gaussian_smoke_seed0").exists()
    again = snakemake("-n", *config)  # everything is there: nothing to do
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]
    # a run paused by its time limit is taken for done, and the dry run says how to resume it
    paused = results / SMOKE[0][7] / "run.json"
    paused.write_text(json.dumps({**json.loads(paused.read_text()), "status": "paused"}))
    noted = snakemake("-n", *config)
    assert f"{results / SMOKE[0][7]} exists but is 'paused'" in noted.stderr, noted.stderr[-2000:]
    assert (f"resume it with: papermill notebooks/noise2noise.ipynb {logs / SMOKE[0][7]}.ipynb -r method n2n "
            f"-r noise gaussian -p sigma 25 -r budget smoke -p seed 0 -r results_dir {results}") in noted.stderr


def record(path: Path) -> None:
    """Dry-run the cpu and paper grids and write what they plan (python tests/test_workflow.py <csv>)."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as state:
        os.environ["TEST_SNAKEMAKE_DIR"] = state
        for budget in ("cpu", "paper"):
            result = snakemake("-n", "--config", f"budget={budget}")
            counts = job_counts(result.stdout)
            declared = grid(budget)
            present = sum((ROOT / "results" / row["run"] / "run.json").exists() for row in declared)
            rows.append({"budget": budget, "grid_rows": len(declared), "run_folders_present": present,
                         "runs_planned": counts.get("run", 0), "jobs_planned": sum(counts.values())})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    print(path.read_text())


if __name__ == "__main__":
    record(Path(sys.argv[1]))
