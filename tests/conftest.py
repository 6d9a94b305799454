import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tests read the benchmark images from the local mirror beside the checkout unless told otherwise.
os.environ.setdefault("REPRO_DATA_MIRROR", str(ROOT.parent / "shared" / "datasets"))


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"
