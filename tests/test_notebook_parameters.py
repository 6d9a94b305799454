"""Notebook parameters are checked before any work, and a smoke run never touches the committed results/."""
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from repro import runs
from repro.notebook import ParameterError, announce, check_parameters, expected_seconds

ROOT = Path(__file__).resolve().parent.parent


def namespace(**values):
    """A notebook's globals after its parameters cell (annotations as the cell declares them)."""
    kinds = {"method": str, "sigma": float, "budget": str, "device": str, "seed": int, "diagnosis": bool}
    return {"__annotations__": kinds, **{"method": "n2n", "sigma": 25.0, "budget": "cpu", "device": "auto",
                                         "seed": 0, "diagnosis": True, **values}}


def test_good_parameters_pass_and_papermill_ints_count_as_numbers():
    check_parameters(namespace(sigma=25), choices={"method": ("n2n", "n2c")}, positive=("sigma",))


@pytest.mark.parametrize("values,choices,message", [
    ({"method": "foo"}, {"method": {"n2n": 1, "n2c": 2}}, "parameter 'method' must be one of 'n2n', 'n2c'; got 'foo'"),
    ({"sigma": "abc"}, {}, "parameter 'sigma' must be a number, got 'abc'"),
    ({"sigma": True}, {}, "parameter 'sigma' must be a number"),
    ({"sigma": -5}, {}, "parameter 'sigma' must be > 0"),
    ({"seed": 1.5}, {}, "parameter 'seed' must be a whole number"),
    ({"seed": -1}, {}, "parameter 'seed' must be >= 0"),
    ({"budget": "fast"}, {}, "parameter 'budget' must be one of 'auto', 'smoke', 'cpu', 'paper'"),
    ({"device": "gpu"}, {}, "parameter 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ({"diagnosis": "False"}, {}, "parameter 'diagnosis' must be True or False"),
])
def test_a_bad_value_names_the_parameter_and_the_valid_values(values, choices, message):
    with pytest.raises(ParameterError) as err:
        check_parameters(namespace(**values), choices=choices, positive=("sigma",))
    assert message in str(err.value)


def test_a_parameter_papermill_injected_that_the_notebook_does_not_declare_is_refused():
    injected = "# Parameters\nbudget = \"smoke\"\ndataset = \"nosuchset\"\n"
    ns = namespace(In=["", "method: str = 'n2n'", injected, "check_parameters(globals())"], dataset="nosuchset")
    with pytest.raises(ParameterError, match="this notebook has no parameter 'dataset'; its parameters are: method"):
        check_parameters(ns)
    ns["In"][2] = "# Parameters\nbudget = \"smoke\"\n"
    check_parameters(ns)


def test_expected_time_comes_from_the_committed_run_folders(tmp_path):
    committed = ROOT / "results" / "noise2noise"
    names = ("n2n_gaussian_cpu_seed0", "n2n_poisson_cpu_seed0")
    for name in names:  # the real run records, in a results folder of their own so later runs do not move the median
        (tmp_path / "noise2noise" / name).mkdir(parents=True)
        shutil.copy(committed / name / "run.json", tmp_path / "noise2noise" / name / "run.json")
    infos = [runs.Run(tmp_path / "noise2noise" / name).info for name in names]
    one, two = (info["train_wall_s"] + info["eval_wall_s"] for info in infos)
    seconds = expected_seconds("noise2noise", "cpu", "cpu", iterations=infos[0]["iterations"], methods=("n2n",),
                               results_dir=tmp_path)
    assert seconds == pytest.approx((one + two) / 2)  # the median of two complete runs of the same length
    half = expected_seconds("noise2noise", "cpu", "cpu", iterations=infos[0]["iterations"] // 2, methods=("n2n",),
                            results_dir=tmp_path)
    assert half == pytest.approx(sum(i["train_wall_s"] / 2 + i["eval_wall_s"] for i in infos) / 2)
    assert expected_seconds("noise2noise", "cpu", "cpu", methods=("n2c",), results_dir=tmp_path) is None
    assert expected_seconds("noise2noise", "paper", "cpu") is None  # no committed paper run: say so, never guess
    line = announce("noise2noise", "cpu", torch.device("cpu"), "results", "N2N", iterations=30_000, methods=("n2n",))
    assert line.startswith("Will run N2N: budget cpu, 30000 iterations; expected time ~") and " h on cpu" in line


def test_a_smoke_run_may_not_open_a_run_folder_in_the_committed_results():
    with pytest.raises(ValueError, match="smoke run may not write into the committed"):
        runs.Run.open(runs.COMMITTED_RESULTS, "noise2noise", "never_written", budget="smoke")
    assert not (runs.COMMITTED_RESULTS / "noise2noise" / "never_written").exists()
    assert runs.results_dir_for("", "smoke") == runs.SMOKE_RESULTS
    assert runs.results_dir_for("", "cpu") == runs.default_results_dir()


def test_the_committed_summary_never_lists_a_smoke_run(tmp_path, monkeypatch):
    committed = tmp_path / "results"
    monkeypatch.setattr(runs, "COMMITTED_RESULTS", committed)
    for budget in ("smoke", "cpu"):  # as if a smoke folder had been copied in by hand
        run = runs.Run.open(tmp_path / "elsewhere", "noise2noise", f"n2n_{budget}", method="n2n", noise="gaussian",
                            param="sigma=25", protocol="noise2noise", budget=budget)
        run.per_image_csv.write_text("dataset,image,repeat,psnr_db\nkodak24,kodim01,0,30.0\n")
    (committed).mkdir()
    subprocess.run(["cp", "-r", str(tmp_path / "elsewhere" / "noise2noise"), str(committed)], check=True)
    assert set(runs.summary(committed).budget) == {"cpu"}
    assert set(runs.summary(tmp_path / "elsewhere").budget) == {"smoke", "cpu"}  # elsewhere, smoke rows show


NOTEBOOK_BAD_PARAMETERS = [  # (notebook, parameters, what the error must say); each fails in its check cell
    ("noise2noise", {"dataset": "nosuchset"}, "this notebook has no parameter 'dataset'"),
    ("noise2noise", {"method": "foo"}, "parameter 'method' must be one of 'n2n', 'n2c'; got 'foo'"),
    ("noise2noise", {"sigma": "abc"}, "parameter 'sigma' must be a number"),
    ("noise2score", {"noise": "nosuchnoise"}, "parameter 'noise' must be one of 'gaussian', 'gamma', 'poisson'; got 'nosuchnoise'"),
    ("noise2score", {"channels": "rgb"}, "parameter 'channels' must be one of 'color', 'gray', 'both'; got 'rgb'"),
    ("ssdn", {"sigma_mode": "learned"}, "parameter 'sigma_mode' must be one of 'known', 'global', 'per_image'"),
    ("zs_n2n", {"dataset": "set12"}, "parameter 'dataset' must be one of 'kodak24', 'mcmaster18'"),
    ("scratch_n2n", {"epochs": -1}, "parameter 'epochs' must be >= 0"),
    ("protocol", {"budget": "quick"}, "parameter 'budget' must be one of"),
]


@pytest.mark.notebook
@pytest.mark.parametrize("name,parameters,message", NOTEBOOK_BAD_PARAMETERS,
                         ids=[f"{n}-{next(iter(p))}" for n, p, _ in NOTEBOOK_BAD_PARAMETERS])
def test_every_notebook_refuses_a_bad_parameter_in_its_first_cell(name, parameters, message, tmp_path):
    import papermill

    path = ROOT / "notebooks" / f"{name}.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(path), str(tmp_path / path.name), kernel_name="python3", cwd=str(path.parent),
                                   parameters={"budget": "smoke", "results_dir": str(tmp_path / "results"),
                                               **parameters}, progress_bar=False)
    assert err.value.ename == "ParameterError" and message in err.value.evalue
    assert err.value.exec_count == 3  # the parameters cell, papermill's, then the check: nothing ran before it
    assert not (tmp_path / "results").exists()


@pytest.mark.notebook
def test_a_smoke_run_with_the_default_results_folder_leaves_the_repository_clean(tmp_path):
    import papermill

    def status():
        return subprocess.run(["git", "status", "--porcelain", "--", "results", "notebooks", "book"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout

    before = status()
    shutil.rmtree(runs.SMOKE_RESULTS / "noise2noise" / "n2n_gaussian_smoke_seed0", ignore_errors=True)  # scratch
    path = ROOT / "notebooks" / "noise2noise.ipynb"
    out = papermill.execute_notebook(str(path), str(tmp_path / path.name), kernel_name="python3",
                                     cwd=str(path.parent), parameters={"budget": "smoke"}, progress_bar=False)
    assert status() == before
    assert (runs.SMOKE_RESULTS / "noise2noise" / "n2n_gaussian_smoke_seed0" / "run.json").exists()
    first = next(c for c in out["cells"] if c["cell_type"] == "code" and c.get("outputs"))
    line = first["outputs"][0]["text"].splitlines()[0]
    assert line.startswith("Will run N2N training") and "budget smoke, 20 iterations" in line
    assert str(runs.SMOKE_RESULTS) in line
