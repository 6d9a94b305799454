"""The paper registry is the one list: folders, chapters, claims and saved models all agree with it."""
from pathlib import Path

import pytest
import torch
import yaml

import repro
from repro import data, metrics, noise, papers, runs
from repro.checkpoints import Denoiser

ROOT = Path(__file__).resolve().parent.parent


def test_every_results_folder_and_every_chapter_belongs_to_a_registered_paper():
    folders = {p.name for p in (ROOT / "results").iterdir() if p.is_dir() and list(p.glob("*/run.json"))}
    assert folders <= {p.name for p in papers.PAPERS}
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    chapters = {c["file"] for c in toc["chapters"]}
    assert {p.chapter for p in papers.PAPERS if p.chapter} <= chapters


def test_every_committed_model_names_a_registered_paper_and_architecture():
    from repro.checkpoints import architectures

    for path in sorted((ROOT / "results").glob("*/*/model.pt")):
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if "paper" not in saved:  # the from-scratch framework saves a bare {name: tensor} file
            continue
        papers.get(saved["paper"])
        assert saved["architecture"] in architectures(), path


def test_an_unknown_paper_is_an_error_not_the_raw_network():
    with pytest.raises(KeyError, match="unknown paper 'noise2scor'"):
        Denoiser(torch.nn.Conv2d(1, 1, 3), paper="noise2scor", method="noise2score", device="cpu")


def test_a_loaded_noise2score_model_returns_an_image_through_tweedie_not_its_score():
    run = ROOT / "results" / "noise2score" / "noise2score_gaussian_sigma25_gray_cpu_seed0"
    denoiser = repro.load(run, device="cpu")
    assert denoiser._apply is not denoiser.model  # the registry's inference rule wraps the network
    clean = torch.from_numpy(data.load("set12")[0].pixels[:96, :96].astype("float32") / 255).permute(2, 0, 1)[None]
    noisy = noise.Gaussian(25)(clean, generator=torch.Generator().manual_seed(0))
    out = denoiser(noisy)
    assert float(metrics.psnr(out, clean, "float")[0]) > float(metrics.psnr(noisy, clean, "float")[0]) + 5
    assert runs.PAPERS == tuple(p.name for p in papers.with_results())
