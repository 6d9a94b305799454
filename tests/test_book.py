"""The book builds from results/ with no execution error, and every page reads well in a headless browser.

The build runs once per test session (``jupyter-book build book``, executing every chapter). The browser
test drives Debian's ``chromium`` (``make browser`` installs it) over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: no extra package, one browser process for every page). It opens each page of
the book at 1400×900 and checks what a reader sees: nothing wider than the text column (tables, formulas,
code blocks, the article itself), every image loaded, no "No figure saved yet" placeholder, math typeset
by the local MathJax, and a first view of at most ``HEIGHT_BUDGET_SCREENS`` screens before the first
collapsed section. It prints each page's height. No figure a page shows has its title cut at the top edge
(dark pixels in the PNG's first row; the committed run-folder PNGs are checked without a build).
Screenshots of a few pages go to ``book/_build/screenshots/`` (a build artifact); ``make screenshots``
saves the committed ones with ``python tests/test_book.py screenshots``. Without chromium the browser
test is skipped, except under CI (``CI`` set), where it must run.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import json
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
CHAPTERS = list(dict.fromkeys(["intro", "protocol", *(p.chapter for p in papers.with_results()), "summary", "reproduce",
                             "workflow", "references"]))  # a paper may be a section of another paper's chapter
# The flags from the machine notes.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]
WIDTH, SCREEN = 1400, 900
HEIGHT_BUDGET_SCREENS = 6  # what a page may show before its first collapsed section


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
    """The error markers in a build log, ignoring the heartbeat port race. A glue role whose value no cell
    computed is only a warning to Sphinx (the sentence would lose its number), so it counts as an error."""
    log = HEARTBEAT_PORT_RACE.sub("", log)
    markers = [m for m in ("CellExecutionError", "Execution Failed", "Traceback (most recent call last)", "ERROR:")
               if m in log]
    return markers + re.findall(r"WARNING: [^\n]*\[mystnb\.glue\]", log)


def test_build_log_errors_ignores_only_the_heartbeat_port_race():
    race = ("Exception in thread Heartbeat:\nTraceback (most recent call last):\n  File \"heartbeat.py\", line 117\n"
            "    self._bind_socket()\n    ^^^^^^^^^^^^^^^^^^^\n"
            "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:41225')\n")
    assert build_log_errors("Finished.\n" + race + "done\n") == []
    cell_error = "Traceback (most recent call last):\n  File \"<cell>\"\nValueError: bad\n"
    assert build_log_errors(race + cell_error) == ["Traceback (most recent call last)"]
    assert build_log_errors("Exception in thread Heartbeat:\n" + cell_error) == ["Traceback (most recent call last)"]
    glue = "book/ssdn.md:80: WARNING: Glue ID 'gap' not found in this document. [mystnb.glue]\n"
    assert build_log_errors(glue) == ["WARNING: Glue ID 'gap' not found in this document. [mystnb.glue]"]


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
    print(f"book built in {seconds:.0f} s")  # reported, not asserted: wall-clock time fails on a loaded machine


# ------------------------------------------------------------------------------------------ the browser
def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make browser` installs Debian's package (CI must run this test)")
        pytest.skip("chromium is not installed (`make browser`); required under CI")
    return path


class Browser:
    """One headless chromium, driven over the DevTools protocol on fds 3 and 4 (``--remote-debugging-pipe``:
    JSON messages separated by NUL bytes), with one tab at ``width``×``height`` CSS pixels."""

    def __init__(self, chromium: str, width: int = WIDTH, height: int = SCREEN, timeout: float = 120):
        self.timeout, self._id, self._buffer, self._events = timeout, 0, b"", []
        self._profile = tempfile.TemporaryDirectory()
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # Out of the way of 3 and 4 in this process, so that placing them there in the child clobbers nothing.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 20) for fd in (to_browser, from_browser)]
        for fd in (to_browser, from_browser):
            os.close(fd)

        def place_pipes():  # in the child, before exec: the browser reads fd 3 and writes fd 4
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=place_pipes, close_fds=False)
        for fd in high:
            os.close(fd)
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _message(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe: {self.process.stderr.read()[-2000:]!r}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def open(self, url: str) -> None:
        """Navigate the tab and wait for its load event."""
        self._events.clear()
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            self._events.append(self._message())

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                           returnByValue=True, timeout=self.timeout * 1000)
        if "exceptionDetails" in result:
            raise RuntimeError(f"the page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False, scale: float = 1.0) -> None:
        params = {"format": "png"}
        if full_page or scale != 1.0:
            width, height = self.evaluate("[document.documentElement.scrollWidth, "
                                          "full ? document.documentElement.scrollHeight : innerHeight]"
                                          .replace("full", "true" if full_page else "false"))
            params.update(clip={"x": 0, "y": 0, "width": width, "height": height, "scale": scale},
                          captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", session=True, **params)["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)
        self.process.stderr.close()
        self._profile.cleanup()


# What a reader sees, measured in the page once MathJax, the fonts and the images are done. A "collapsed
# section" is a closed <details> (a MyST dropdown, a folded table, a hide-output cell) or a closed toggle;
# the "Show code cell source" toggles of hide-input cells fold code, not content, and do not count.
PAGE_FACTS = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  await Promise.all([...document.images].map(im => im.complete ? null :
    new Promise(done => { im.addEventListener('load', done); im.addEventListener('error', done); })));
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const column = article.getBoundingClientRect();
  const name = el => {
    const text = (el.querySelector && el.querySelector('caption') || el).textContent || '';
    return el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' +
      el.className.trim().split(/\s+/)[0] : '') + ' "' + text.trim().replace(/\s+/g, ' ').slice(0, 70) + '"';
  };
  const folds = [...article.querySelectorAll('details:not([open]), .toggle-hidden, button.toggle-button')]
    .filter(el => !el.classList.contains('above-input') && el.getClientRects().length);
  const top = el => el.getBoundingClientRect().top + scrollY;
  const height = document.documentElement.scrollHeight;
  // Then every fold opened, as a reader who opens them all sees the page; the code folded under "Show code
  // cell source" stays closed (code may scroll).
  const closed = [...article.querySelectorAll('details:not(.above-input):not([open])')];
  for (const el of closed) el.open = true;
  const shown = el => el.getClientRects().length && !el.closest('details:not([open])');
  const overflow = [];
  for (const el of [article, ...[...article.querySelectorAll('table, mjx-container[display="true"], pre')].filter(shown)]) {
    const box = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1)
      overflow.push(name(el) + ' scrolls: ' + el.scrollWidth + ' px of content in ' + el.clientWidth);
    else if (el !== article && box.width > 0 && box.right > column.right + 1)
      overflow.push(name(el) + ' sticks out of the column by ' + Math.round(box.right - column.right) + ' px');
  }
  const open_height = document.documentElement.scrollHeight;
  for (const el of closed) el.open = false;
  const broken = [...document.images].filter(im => !(im.complete && im.naturalWidth > 0))
    .map(im => im.getAttribute('src'));
  return {height: height, open_height: open_height, first_fold: folds.length ? Math.round(Math.min(...folds.map(top))) : null,
          folds: folds.length, overflow: overflow, broken_images: broken,
          images: document.images.length, math: document.querySelectorAll('mjx-container').length,
          math_errors: document.querySelectorAll('mjx-merror').length,
          no_figure: document.body.innerText.includes('No figure saved yet'),
          text: document.body.innerText.length};
})()
"""


def _page(name: str) -> str:
    return (HTML / f"{name}.html").resolve().as_uri()


def page_facts(browser: Browser, name: str) -> dict:
    browser.open(_page(name))
    facts = browser.evaluate(PAGE_FACTS)
    facts["before_fold"] = facts["first_fold"] if facts["first_fold"] is not None else facts["height"]
    return facts


@pytest.fixture(scope="session")
def pages(book, request):
    """Every page of the book opened once in one browser: {page: facts}, screenshots of three pages."""
    chromium = _chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser = Browser(chromium)
    facts = {}
    try:
        for name in CHAPTERS:
            start = time.perf_counter()
            facts[name] = page_facts(browser, name)
            facts[name]["seconds"] = time.perf_counter() - start
            if name in ("summary", "noise2score", "intro"):
                browser.screenshot(SCREENSHOTS / f"{name}.png")
    finally:
        browser.close()
    lines = [f"page heights at {WIDTH}×{SCREEN} (budget before the first collapsed section: "
             f"{HEIGHT_BUDGET_SCREENS} screens = {HEIGHT_BUDGET_SCREENS * SCREEN} px)"]
    for name, f in facts.items():
        lines.append(f"  {name:<17} before the first fold {f['before_fold']:>6} px "
                     f"({f['before_fold'] / SCREEN:4.1f} screens); folded {f['height']:>6} px, all open "
                     f"{f['open_height']:>6} px; {f['folds']:>2} folds, {f['images']:>2} images, "
                     f"{f['math']:>3} formulas; {f['seconds']:.1f} s")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + "\n".join(lines))  # in every run's output, not only on failure
    (HTML.parent / "page_heights.txt").write_text("\n".join(lines) + "\n")
    return facts


@pytest.mark.browser
def test_every_page_fits_the_column_and_loads_its_figures(pages):
    problems = []
    for name, f in pages.items():
        problems += [f"{name}: {o}" for o in f["overflow"]]
        problems += [f"{name}: image not loaded: {src}" for src in f["broken_images"]]
        if f["no_figure"]:
            problems.append(f"{name}: shows 'No figure saved yet'")
        if f["math_errors"]:
            problems.append(f"{name}: {f['math_errors']} formula(s) failed to typeset")
    assert not problems, "what a reader would see at 1400 px:\n" + "\n".join(problems)


@pytest.mark.browser
def test_every_page_is_short_before_its_first_collapsed_section(pages):
    budget = HEIGHT_BUDGET_SCREENS * SCREEN
    long = {name: f["before_fold"] for name, f in pages.items() if f["before_fold"] > budget}
    assert not long, (f"pages longer than {HEIGHT_BUDGET_SCREENS} screens before their first collapsed section: "
                      + ", ".join(f"{n} {h} px ({h / SCREEN:.1f} screens)" for n, h in long.items()))


@pytest.mark.browser
def test_browser_renders_summary_figures_and_math(book, pages):
    _, _, expected_rows = book
    assert (BOOK / "_mathjax" / "tex-chtml.js").exists(), \
        "no local MathJax: run `make book/_mathjax/tex-chtml.js` (part of `make book` / `make test`)"
    for name in ("summary", "noise2score", "intro"):
        shot = SCREENSHOTS / f"{name}.png"
        assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot of {name}"

    # The summary: one table listing every row of results/summary.csv, with its claim.
    dom = (HTML / "summary.html").read_text()
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
    dom = (HTML / "noise2score.html").read_text()
    assert "_static/tex-chtml.js" in dom and "cdn.jsdelivr" not in dom
    assert pages["noise2score"]["math"] >= 5, "MathJax did not render the math on the Noise2Score page"

    # A figure made by code: an <img> whose file exists in the build.
    dom = (HTML / "intro.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert images, "no <img> figure on the introduction"
    assert all((HTML / src).exists() for src in images if not src.startswith(("http", "data:")))
    assert pages["intro"]["images"] >= 1


def test_the_browser_driver_measures_a_page(tmp_path):
    """The DevTools driver and the page script on a small page: an overflowing table, a broken image, a
    fold after 2000 px, and a code-source toggle that does not count as a fold."""
    chromium = _chromium()
    page = tmp_path / "page.html"
    page.write_text('<html><body><article class="bd-article" style="width:600px">'
                    '<details class="above-input"><summary>code</summary></details>'
                    '<table><tr><td style="white-space:nowrap">' + "wide " * 200 + '</td></tr></table>'
                    '<img src="missing.png"><div style="height:2000px"></div>'
                    '<details><summary>more</summary>hidden</details></article></body></html>')
    browser = Browser(chromium)
    try:
        browser.open(page.as_uri())
        facts = browser.evaluate(PAGE_FACTS)
        browser.screenshot(tmp_path / "shot.png")
    finally:
        browser.close()
    assert facts["first_fold"] > 2000 and facts["folds"] == 1
    assert any("sticks out" in o or "scrolls" in o for o in facts["overflow"])
    assert facts["broken_images"] == ["missing.png"]
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------ clipped figure titles
# A figure saved with a plain ``fig.savefig`` can lose the top of its titles (two-line panel titles ran
# ~2-5 px over the top edge with matplotlib's "constrained" layout); ``report.save_figure`` pads every edge.
# Cut text shows as dark pixels in the image's first row, where a padded figure has only background.
# The committed comparison PNGs once saved that way were re-drawn from their models by
# ``results/rerender_comparisons.py`` (the notebooks' figure code: ``comparison_figure`` of the recipes).


def cut_at_top(path: Path) -> bool:
    """Whether a figure PNG has dark (text) pixels in its first row: a title cut at the top edge."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        first_row = np.asarray(image.convert("L"))[0]
    return bool((first_row < 128).any())


def test_cut_at_top_tells_a_padded_figure_from_a_cut_one(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2))
    fig.subplots().set_title("a title\nin two lines", fontsize=14)
    report.save_figure(fig, tmp_path / "padded.png")
    assert not cut_at_top(tmp_path / "padded.png")
    fig.text(0.5, 1.0, "cut", fontsize=20, ha="center", va="center")  # half above the top edge
    fig.savefig(tmp_path / "cut.png", dpi=100)
    assert cut_at_top(tmp_path / "cut.png")


def test_committed_figures_have_whole_titles():
    """The PNGs of the run folders, which chapters show (``report.figure_paths``, ``report.figure_grid``)."""
    figures = sorted(REPO_ROOT.glob("results/*/*/*.png"))
    cut = [str(path.relative_to(REPO_ROOT)) for path in figures if cut_at_top(path)]
    assert not cut, "figures with titles cut at the top (save them with report.save_figure): " + ", ".join(cut)


@pytest.mark.slow
def test_built_pages_show_no_figure_cut_at_the_top(book):
    """Every PNG an <img> of a chapter shows, figures drawn at build time included."""
    cut = []
    for chapter in CHAPTERS:
        for src in re.findall(r'<img[^>]+src="([^"]+\.png)"', (HTML / f"{chapter}.html").read_text()):
            path = HTML / src
            if not src.startswith(("http", "data:")) and path.exists() and cut_at_top(path):
                cut.append(f"{chapter}: {src}")
    assert not cut, "figures with titles cut at the top: " + ", ".join(cut)


# ------------------------------------------------------------------------- committed screenshots
SHOWCASE = {"intro": "intro", "noise2noise": "noise2noise", "summary": "summary"}


def save_screenshots(folder: Path, full_page_scale: float = 0.5, max_bytes: int = 300_000) -> list[Path]:
    """The first screen (1400×900) and the whole page (at ``full_page_scale``) of the intro, the Noise2Noise
    chapter and the summary, from the built book, as PNGs small enough to commit (palette-reduced)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: `make browser`")
    browser = Browser(chromium)
    saved = []
    try:
        for name, page in SHOWCASE.items():
            browser.open(_page(page))
            browser.evaluate(PAGE_FACTS)  # waits for MathJax, fonts and images
            for suffix, full in (("", False), ("_full", True)):
                path = folder / f"{name}{suffix}.png"
                browser.screenshot(path, full_page=full, scale=full_page_scale if full else 1.0)
                for colours in (256, 64, 16):
                    with Image.open(path) as image:
                        small = image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT)
                    small.save(path, optimize=True)
                    if path.stat().st_size <= max_bytes:
                        break
                saved.append(path)
    finally:
        browser.close()
    return saved


if __name__ == "__main__":
    if sys.argv[1:2] != ["screenshots"]:
        raise SystemExit("usage: python tests/test_book.py screenshots [FOLDER]")
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else BOOK / "_static" / "screenshots"
    for shot in save_screenshots(target):
        print(f"{shot.relative_to(REPO_ROOT) if shot.is_relative_to(REPO_ROOT) else shot}: "
              f"{shot.stat().st_size // 1024} KiB")
