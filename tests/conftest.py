import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# Tests read the benchmark images from the local mirror beside the checkout unless told otherwise.
if (ROOT.parent / "shared" / "datasets").is_dir():  # a named but missing mirror is an error: name only one that exists
    os.environ.setdefault("REPRO_DATA_MIRROR", str(ROOT.parent / "shared" / "datasets"))
# Under pytest-xdist (make test: two workers on two cores) each worker, and the notebook kernels and
# subprocesses it starts, keeps to one thread: two threads each would oversubscribe the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from threads, and on a busy machine OpenMP spin-waits cost 20x."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
