"""The book builds from results/ with no execution error, and renders in a headless browser.

The build runs once per test session (``jupyter-book build book``, executing every chapter). The browser
test drives Debian's ``chromium`` (``make browser`` installs it): it opens the summary, a chapter with
math and a chapter with a figure, saves screenshots to ``book/_build/screenshots/`` (a build artifact),
and checks the rendered DOM. Without chromium the browser test is skipped, except under CI (``CI`` set),
where it must run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from repro import papers, report
from repro.runs import REPO_ROOT

BOOK = REPO_ROOT / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"
CHAPTERS = ["intro", "protocol", *(p.chapter for p in papers.with_results()), "summary", "reproduce", "workflow", "references"]
# The flags from the machine notes; --virtual-time-budget lets MathJax finish before the DOM is read.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-dev-shm-usage", "--window-size=1200,1400", "--virtual-time-budget=8000"]


@pytest.fixture(scope="session")
def book():
    """Build the book once; return (seconds, log, number of summary rows when it was built)."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book)] if jupyter_book.exists() else [sys.executable, "-m", "jupyter_book"]
    expected_rows = len(report.summary_view())
    start = time.perf_counter()
    done = subprocess.run(command + ["build", "--all", str(BOOK)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)
    seconds = time.perf_counter() - start
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    return seconds, log, expected_rows


# A kernel's heartbeat thread that loses its randomly chosen TCP port to another process (seen while a
# papermill run's kernel was up beside the build): a background-thread traceback, not a cell error; the
# kernel still runs the chapter, which the page checks below confirm.
HEARTBEAT_PORT_RACE = re.compile(r"Exception in thread Heartbeat:\nTraceback \(most recent call last\):\n"
                                 r"(?:[ \t^].*\n)*zmq\.error\.ZMQError: Address already in use[^\n]*\n?")


def build_log_errors(log: str) -> list[str]:
    """The error markers in a build log, ignoring the heartbeat port race."""
    log = HEARTBEAT_PORT_RACE.sub("", log)
    return [m for m in ("CellExecutionError", "Execution Failed", "Traceback (most recent call last)", "ERROR:")
            if m in log]


def test_build_log_errors_ignores_only_the_heartbeat_port_race():
    race = ("Exception in thread Heartbeat:\nTraceback (most recent call last):\n  File \"heartbeat.py\", line 117\n"
            "    self._bind_socket()\n    ^^^^^^^^^^^^^^^^^^^\n"
            "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:41225')\n")
    assert build_log_errors("Finished.\n" + race + "done\n") == []
    cell_error = "Traceback (most recent call last):\n  File \"<cell>\"\nValueError: bad\n"
    assert build_log_errors(race + cell_error) == ["Traceback (most recent call last)"]
    assert build_log_errors("Exception in thread Heartbeat:\n" + cell_error) == ["Traceback (most recent call last)"]


@pytest.mark.slow
def test_book_builds_without_execution_errors(book):
    seconds, log, _ = book
    assert not build_log_errors(log), f"{build_log_errors(log)} in the build log:\n{log[-4000:]}"
    for chapter in CHAPTERS:
        page = HTML / f"{chapter}.html"
        assert page.exists(), f"{page} was not built"
        text = page.read_text()
        assert "Traceback" not in text and "output error" not in text, f"an error output on {page.name}"
    assert not list((HTML / "reports").glob("*.log")), "a notebook wrote an execution report"
    assert seconds < 180, f"the book took {seconds:.0f} s to build (budget: well under 2 minutes)"


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make browser` installs Debian's package (CI must run this test)")
        pytest.skip("chromium is not installed (`make browser`); required under CI")
    return path


def _chromium_run(chromium: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"chromium failed: {done.stderr[-2000:]}"
    return done.stdout


def _page(name: str) -> str:
    return (HTML / f"{name}.html").resolve().as_uri()


@pytest.mark.browser
def test_browser_renders_summary_figures_and_math(book):
    chromium = _chromium()
    _, _, expected_rows = book
    assert (BOOK / "_mathjax" / "tex-chtml.js").exists(), \
        "no local MathJax: run `make book/_mathjax/tex-chtml.js` (part of `make book` / `make test`)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("summary", "noise2score", "intro"):
        shot = SCREENSHOTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        _chromium_run(chromium, f"--screenshot={shot}", _page(name))
        assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot of {name}"

    # The summary: one table listing every row of results/summary.csv, with its claim.
    dom = _chromium_run(chromium, "--dump-dom", _page("summary"))
    if expected_rows:
        table = re.search(r'<table[^>]*class="repro-summary"[^>]*>(.*?)</table>', dom, re.S)
        assert table, "the summary table is not on the page"
        assert "claimed (dB)" in table.group(1) and "reproduced (dB)" in table.group(1) and "Δ (dB)" in table.group(1)
        body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
        assert body.count("<tr") == expected_rows, "the summary page does not list every summary row"
        claimed = report.summary_view()["claim_psnr_db"].dropna()
        for value in claimed.head(20):
            assert f"{value:.2f}" in body
    else:
        assert "No committed run yet" in dom

    # Math: MathJax (local copy) has typeset the formulas, Tweedie's included.
    dom = _chromium_run(chromium, "--dump-dom", _page("noise2score"))
    assert "_static/tex-chtml.js" in dom and "cdn.jsdelivr" not in dom
    assert dom.count("<mjx-container") >= 5, "MathJax did not render the math on the Noise2Score page"
    assert "<mjx-merror" not in dom, "a formula failed to typeset"

    # A figure made by code: an <img> whose file exists in the build.
    dom = _chromium_run(chromium, "--dump-dom", _page("intro"))
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert images, "no <img> figure on the introduction"
    assert all((HTML / src).exists() for src in images if not src.startswith(("http", "data:")))
