"""Re-draw the committed comparison PNGs of the run folders from their committed models.

Why: the notebooks once saved their comparison figures with a plain ``fig.savefig``, which cut the two-line
panel titles by a few pixels at the top (``tests/test_book.py::test_committed_figures_have_whole_titles``
checks the first row of every committed PNG). They now save with ``repro.report.save_figure`` (tight
bounding box), but a PNG is only rewritten when its notebook runs again, which means training again. The
figure code lives in the recipe modules (``comparison_figure`` of ``repro.experiments.noise2noise``,
``.neighbor2neighbor``, ``.ssdn`` and ``.noise2score``; each notebook's comparison cell is one call of it),
so this script draws the same figures from the ``model.pt`` already in each run folder: no training, a few
minutes on a CPU.

It rewrites ``comparison_*.png`` of every folder ``results/<paper>/<run>/`` of those four papers that
has one and a ``model.pt``; nothing else in the folder is touched. A Noise2Noise figure shows every model
of the same noise, budget and seed found beside the run, so a run trained since the PNG was drawn (e.g.
an N2C model) adds its panel.

Run from the repository root (optionally naming run folders, e.g. ``results/ssdn/n2c_sigma25_cpu_seed0``):

    .venv/bin/python results/rerender_comparisons.py [--device auto|cpu|cuda] [RUN_FOLDER ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from repro.checkpoints import MODEL_FILE
from repro.device import resolve_device
from repro.experiments import neighbor2neighbor, noise2noise, noise2score, ssdn

RESULTS = Path(__file__).resolve().parent
RECIPES = {"noise2noise": noise2noise, "neighbor2neighbor": neighbor2neighbor, "ssdn": ssdn, "noise2score": noise2score}


def run_folders() -> list[Path]:
    """The committed run folders of the four papers with a comparison PNG and a model to redraw it from."""
    return [folder for paper in RECIPES for folder in sorted((RESULTS / paper).iterdir())
            if (folder / MODEL_FILE).is_file() and any(folder.glob("comparison_*.png"))]


def rerender(folder: Path, device) -> list[Path]:
    """Rewrite the comparison PNG(s) of one run folder with its paper's ``comparison_figure``."""
    recipe = RECIPES[folder.parent.name]
    written = []
    for png in sorted(folder.glob("comparison_*.png")):
        if recipe is noise2score and png.name != noise2score.comparison_file(folder):
            raise SystemExit(f"{png}: noise2score.comparison_file names it {noise2score.comparison_file(folder)}")
        recipe.comparison_figure(folder, device=device, path=png)
        written.append(png)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="run folders (default: all that have a comparison PNG)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    for folder in [f.resolve() for f in args.folders] or run_folders():
        if folder.parent.name not in RECIPES or not (folder / MODEL_FILE).is_file():
            raise SystemExit(f"{folder}: not a run folder of {', '.join(RECIPES)} with a {MODEL_FILE}")
        for png in rerender(folder, device):
            print(png.relative_to(RESULTS.parent), flush=True)


if __name__ == "__main__":
    main()
