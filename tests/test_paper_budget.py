"""The `paper` budget has run, briefly: each trained method's paper configuration for 2 steps on CPU.

Each notebook of a method trained by the shared engine (Noise2Noise, SSDN, Noise2Score, Neighbor2Neighbor,
Noise2Void) runs at ``budget=paper`` with ``REPRO_MAX_STEPS=2`` (repro.pipeline): the paper's crop size, batch,
training set and learning-rate schedule (computed over the full paper length), stopped after 2 steps, validated
there, then evaluated under the paper's protocol on every one of its data sets, at full image size.
Capped, to keep the test's cost modest: evaluation to the first image of each data set
(``REPRO_MAX_EVAL_IMAGES=1``) and to one noise realisation per image (``REPRO_MAX_EVAL_REPEATS=1``;
SSDN's protocol has 10/3/20, so its run shows the cap at work); Noise2Score runs its colour model only,
without the unknown-sigma column and the diagnosis (they evaluate complete runs only, and a truncated run is
never complete).
Zero-Shot Noise2Noise and the from-scratch Noise2Noise have no separate paper training configuration
(their ``cpu`` and ``paper`` budgets train the same).

Measured on the development machine (1 thread, shared with other work): SSDN's 2 steps of 4 x 256x256
blind-spot crops took 111 s; its protocol's 33 full-size evaluations of one image per set (repeats
uncapped) took 836 s, hence the repeat cap; with 2 repeats the SSDN case took 173 s, Noise2Noise 57 s,
Noise2Score about 30 s. Beside a training run (3 jobs on 2 cores) SSDN's 2 steps and validation took 143 s and
its 6 capped evaluations 181 s: one realisation per image halves the larger part of the suite's longest test.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from repro import data, noise, protocols
from repro.methods import neighbor2neighbor as nb2nb
from repro.methods import noise2noise as n2n
from repro.methods import noise2score as n2s
from repro.methods import noise2void as n2v
from repro.methods import ssdn
from repro.models import UNet
from repro.patches import PatchSampler
from repro.pipeline import train_and_evaluate
from repro.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
PAPERMILL = Path(sys.executable).parent / "papermill"
MAX_STEPS = 2
CAPS = {"REPRO_MAX_STEPS": str(MAX_STEPS), "REPRO_MAX_EVAL_IMAGES": "1", "REPRO_MAX_EVAL_REPEATS": "1"}

# paper, notebook parameters beyond budget/device/results_dir, run folder, paper hyper-parameters, protocol
CASES = {
    "noise2noise": ([], "n2n_gaussian_paper_seed0", n2n.BUDGETS["paper"], "noise2noise"),
    "ssdn": ([], "ssdn_known_sigma25_paper_seed0", ssdn.BUDGETS["paper"], "ssdn"),
    "noise2score": (["-p", "channels", "color", "-p", "unknown", "none", "-p", "diagnosis", "False"],
                    "noise2score_gaussian_sigma25_color_paper_seed0", n2s.BUDGETS["paper"], "noise2score"),
    "neighbor2neighbor": ([], "neighbor2neighbor_gaussian_paper_seed0", nb2nb.BUDGETS["paper"], "noise2noise"),
    "noise2void": ([], "n2v_gray_sigma25_paper_seed0", n2v.BUDGETS["paper"], "noise2void"),
}
LR = {"noise2noise": n2n.LR, "noise2score": n2s.LR, "neighbor2neighbor": nb2nb.LR, "noise2void": n2v.LR}  # at step 2


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("paper", list(CASES))
def test_the_paper_configuration_runs_for_a_few_steps(paper, tmp_path):
    extra, name, hp, protocol_name = CASES[paper]
    results = tmp_path / "results"
    env = {**os.environ, **CAPS, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(PAPERMILL), str(ROOT / "notebooks" / f"{paper}.ipynb"), str(tmp_path / "out.ipynb"),
                           "-p", "budget", "paper", "-p", "device", "cpu", "-p", "results_dir", str(results), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    run = results / paper / f"{name}_max{MAX_STEPS}"  # never the paper run's own folder
    info = json.loads((run / "run.json").read_text())
    # recorded so that it is never mistaken for a paper run
    assert info["budget"] == f"paper-max{MAX_STEPS}" and info["status"] == "truncated", info
    assert info["max_steps"] == MAX_STEPS and info["iterations"] == MAX_STEPS
    assert info["iterations_planned"] > 1000 * MAX_STEPS  # the paper's length: the schedule spans it
    assert info["eval_images_cap"] == 1 and info["eval_repeats_cap"] == 1
    # the paper's training shapes
    assert info["params"]["patch_size"] == hp["patch_size"] and info["params"]["batch_size"] == hp["batch_size"]
    # validated where it stopped; the learning rate follows the full-length schedule
    curve = pd.read_csv(run / "curve.csv")
    assert list(curve.iteration) == [MAX_STEPS] and math.isfinite(curve.val_psnr_db.iloc[-1])
    if paper == "ssdn":  # ramp-up over the first 10% of 500k steps: at step 2 the rate is still ~0
        assert curve.lr.iloc[-1] < ssdn.LR * 1e-6
    else:
        assert curve.lr.iloc[-1] == pytest.approx(LR[paper])
    # evaluated under the paper's protocol: every data set, the first image, min(repeats, 1) realisation
    protocol = protocols.get(protocol_name)
    per_image = pd.read_csv(run / "per_image.csv")
    datasets = list(n2s.EVAL_SETS["color"]) if paper == "noise2score" else list(protocol.datasets)
    assert sorted(per_image.dataset.unique()) == sorted(datasets)
    for dataset, rows in per_image.groupby("dataset"):
        assert rows.image.nunique() == 1 and rows.repeat.nunique() == min(protocol.repeats_for(dataset), 1)
    assert (run / "model.pt").exists()
    summary = pd.read_csv(results / "summary.csv")
    mine = summary[summary.run == f"{paper}/{run.name}"]
    assert len(mine) == len(datasets) and not mine.complete.any() and set(mine.budget) == {f"paper-max{MAX_STEPS}"}
    assert not (summary.budget == "paper").any()


@pytest.fixture(scope="module")
def images():
    return [im.pixels for im in data.load("cbsd432", exclude="bsd300_test")[:2]]


def _run(results, images, iterations, max_steps=None):
    sampler = PatchSampler(images, 32, n2n.training_noise("gaussian"), copies=2, seed=0)
    config = TrainConfig(iterations=iterations, batch_size=2, lr=1e-3, precision="fp32", checkpoint_every=2,
                         log_every=1, seed=0)
    return train_and_evaluate(
        results_dir=results, paper="noise2noise", run_name="short_cpu_seed0", method="n2n", model=UNet(3),
        architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=n2n.N2NLoss(), sampler=sampler, config=config,
        protocol=protocols.get("noise2noise"), eval_noise=noise.Gaussian(25), budget="cpu",
        device=torch.device("cpu"), params={}, datasets=["set14"], eval_images=1, progress=False,
        max_steps=max_steps)


def test_max_steps_truncates_the_schedule_and_marks_the_run(images, tmp_path, one_thread):
    run = _run(tmp_path, images, iterations=100, max_steps=3)
    assert run.path.name == "short_cpu_seed0_max3"
    assert run.info["budget"] == "cpu-max3" and run.info["status"] == "truncated" and run.state == "truncated"
    assert run.info["iterations"] == 3 and run.info["iterations_planned"] == 100 and run.info["max_steps"] == 3
    curve = pd.read_csv(run.path / "curve.csv")
    assert list(curve.iteration) == [1, 2, 3]
    assert curve.lr.tolist() == [1e-3] * 3  # ramp-down over the last 30% of 100 steps: not reached
    again = _run(tmp_path, images, iterations=100, max_steps=3)  # re-running resumes: nothing left to train
    assert again.info["iterations"] == 3 and again.info["status"] == "truncated"
    # a max_steps at or beyond the configuration's length is the ordinary run, in its ordinary folder
    whole = _run(tmp_path, images, iterations=2, max_steps=5)
    assert whole.path.name == "short_cpu_seed0" and whole.info["status"] == "complete" and "max_steps" not in whole.info
