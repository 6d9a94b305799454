"""One run on two CPU ranks (torchrun, gloo) trains like one process on the same global batch, and resumes.

The worker (``python -m repro.distributed``) trains the Noise2Noise U-Net on fixed synthetic images, fp32,
lr 1e-3, K=4 steps, global batch 4 of 32x32 crops. Every rank draws the global batch of 4 from the same
seeded stream and keeps its 2 rows, so 2 ranks x batch 2 and 1 process x batch 4 see identical crops and
noise; only the summation order of the gradient mean differs (two per-rank means averaged by all-reduce
instead of one mean over 4, and oneDNN's convolutions at batch 2 instead of 4).

Measured on the development machine (torch 2.13.0 CPU): max |w_2ranks - w_1process| = 2.4e-6 over all
weights after 4 steps (largest relative to the tensor's max 1.1e-5); a 2-rank run killed (SIGKILL of rank
0) after its checkpoint at step 2 and resumed ends bit-identical to an uninterrupted 2-rank run; resumed
instead by one process it ends 2.4e-6 from the one-process run (the same crops: the stream is shared).
Recorded by ``python tests/test_distributed.py results/distributed/equivalence.csv``.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = Path(sys.executable).parent / "torchrun"
STEPS, BATCH = 4, 4
ATOL = 2e-5  # ~8x the measured 2.4e-6: float summation order, not a different computation

pytestmark = pytest.mark.slow


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def single(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repro.distributed", str(run_dir), "--steps", str(STEPS),
                           "--batch", str(BATCH), *extra], cwd=ROOT, env=_env(), capture_output=True, text=True)


def two_ranks(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "repro.distributed",
                           str(run_dir), "--steps", str(STEPS), "--batch", str(BATCH), *extra],
                          cwd=ROOT, env=_env(), capture_output=True, text=True)


def weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "weights.pt", map_location="cpu")


def difference(a: dict, b: dict) -> tuple[float, float]:
    """(max absolute difference over all weights, max of it relative to each tensor's largest weight)."""
    absolute = max(float((a[k] - b[k]).abs().max()) for k in a)
    relative = max(float((a[k] - b[k]).abs().max() / a[k].abs().max().clamp_min(1e-12)) for k in a)
    return absolute, relative


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    ok(single(root / "one"))
    ok(two_ranks(root / "two"))
    return root


def test_two_ranks_of_batch_2_train_like_one_process_of_batch_4(runs):
    one, two = weights(runs / "one"), weights(runs / "two")
    absolute, relative = difference(one, two)
    assert absolute <= ATOL, f"2 ranks x batch 2 vs 1 x batch 4 after {STEPS} steps: max |dw| {absolute:.2e} " \
                             f"(relative {relative:.2e}) > {ATOL}"
    # the curve (rank 0's) logs the mean loss over both ranks: that of the whole batch
    curve_one = (runs / "one" / "curve.csv").read_text().splitlines()
    curve_two = (runs / "two" / "curve.csv").read_text().splitlines()
    assert len(curve_one) == len(curve_two) == 1 + STEPS
    for a, b in zip(curve_one[1:], curve_two[1:]):
        assert abs(float(a.split(",")[1]) - float(b.split(",")[1])) < 1e-5


def test_only_rank_0_writes_and_the_checkpoint_resumes_every_rank(runs):
    state = torch.load(runs / "two" / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert state["iteration"] == STEPS and state["world_size"] == 2
    assert sorted(p.name for p in (runs / "two").iterdir()) == ["checkpoint.pt", "curve.csv", "weights.pt"]


def test_a_killed_two_rank_run_resumes_on_two_ranks_or_in_one_process(runs, tmp_path):
    killed = two_ranks(tmp_path / "run", "--die-at", "3")  # rank 0 is SIGKILLed as step 3 starts
    assert killed.returncode != 0
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["iteration"] == 2
    assert not (tmp_path / "run" / "weights.pt").exists()
    shutil.copytree(tmp_path / "run", tmp_path / "taken_over")  # one kill, two ways on (a torchrun costs ~10 s)
    ok(two_ranks(tmp_path / "run"))
    straight, resumed = weights(runs / "two"), weights(tmp_path / "run")
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), f"{name}: resumed differs from uninterrupted"
    ok(single(tmp_path / "taken_over"))  # one process takes over: the same stream, the whole batch
    absolute, relative = difference(weights(runs / "one"), weights(tmp_path / "taken_over"))
    assert absolute <= ATOL, f"2 ranks then 1 process vs 1 process: max |dw| {absolute:.2e} (relative {relative:.2e})"


def test_randomness_inside_a_loss_differs_between_ranks_and_repeats(monkeypatch):
    from repro import distributed

    draws = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        draws[rank] = [torch.rand(3, generator=distributed.loss_generator(0, it)) for it in (5, 6)]
        again = torch.rand(3, generator=distributed.loss_generator(0, 5))
        assert torch.equal(again, draws[rank][0])  # stateless: a resumed run draws what it would have
    assert not torch.equal(draws[0][0], draws[1][0]) and not torch.equal(draws[0][0], draws[0][1])


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(tmp_path):
    result = two_ranks(tmp_path / "run", "--batch", "3")
    assert result.returncode != 0 and "does not split over 2 ranks" in result.stdout + result.stderr


def test_through_the_pipeline_rank_0_alone_writes_the_run_folder(tmp_path):
    ok(single(tmp_path / "one", "--pipeline"))
    ok(two_ranks(tmp_path / "two", "--pipeline"))
    one, two = (tmp_path / name / "noise2noise" / "ddp_smoke" for name in ("one", "two"))
    info = json.loads((two / "run.json").read_text())
    assert info["status"] == "complete" and info["world_size"] == 2 and info["iterations"] == STEPS
    assert "world_size" not in json.loads((one / "run.json").read_text())  # one process: run.json as before
    assert len(pd.read_csv(two / "per_image.csv")) == 1 and (tmp_path / "two" / "summary.csv").exists()
    w_one = torch.load(one / "model.pt", weights_only=False)["state_dict"]
    w_two = torch.load(two / "model.pt", weights_only=False)["state_dict"]
    absolute, relative = difference(w_one, w_two)
    assert absolute <= ATOL, f"pipeline, 2 ranks vs 1 process: max |dw| {absolute:.2e} (relative {relative:.2e})"


def record(path: Path) -> None:
    """Measure once more and write the numbers the book can read."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ok(single(tmp / "one"))
        ok(two_ranks(tmp / "two"))
        two_ranks(tmp / "killed", "--die-at", "3")
        ok(two_ranks(tmp / "killed"))
        absolute, relative = difference(weights(tmp / "one"), weights(tmp / "two"))
        resumed_equal = all(torch.equal(a, b) for a, b in zip(weights(tmp / "two").values(),
                                                                weights(tmp / "killed").values()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["comparison", "backend", "steps", "global_batch", "precision", "max_abs_diff",
                         "max_rel_diff", "bit_identical", "torch"])
        writer.writerow(["2 ranks x batch 2 vs 1 process x batch 4", "gloo (CPU)", STEPS, BATCH, "fp32",
                         f"{absolute:.3e}", f"{relative:.3e}", absolute == 0, torch.__version__])
        writer.writerow(["2 ranks killed at step 3, resumed vs uninterrupted", "gloo (CPU)", STEPS, BATCH, "fp32",
                         "", "", resumed_equal, torch.__version__])
    print(path.read_text())


if __name__ == "__main__":
    record(Path(sys.argv[1]))
