"""One progress bar for every long loop (training, evaluation, denoising many files)."""
from __future__ import annotations

import os
import sys

from tqdm import tqdm

# No monitor thread (it only retunes the update rate of stalled bars): ZS-N2N forks its fits, and a thread that
# holds the output's lock at that moment would leave the forked child waiting for it forever.
tqdm.monitor_interval = 0


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar on stderr; quieter (updates every 10 s) when not attached to a terminal, e.g. in CI."""
    interactive = sys.stderr.isatty() or "JPY_PARENT_PID" in os.environ
    kwargs.setdefault("mininterval", 0.5 if interactive else 10.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, file=sys.stderr, **kwargs)
