import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# Tests read the benchmark images from the local mirror beside the checkout unless told otherwise.
if (ROOT.parent / "shared" / "datasets").is_dir():  # a named but missing mirror is an error: name only one that exists
    os.environ.setdefault("REPRO_DATA_MIRROR", str(ROOT.parent / "shared" / "datasets"))


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
