"""Classical baselines: the Anscombe transform's unbiased inverse, Anscombe-BM3D on Poisson noise, and the
``repro baseline`` command writing a run folder that the summary and the claims read."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from repro import baselines, claims, cli, data, metrics, noise, protocols, runs


def expected_anscombe(mean: float) -> float:
    """E[anscombe(c)] for c ~ Poisson(mean), summed over the probability mass function."""
    k = np.arange(0, int(10 * mean + 80))
    log_pmf = k * math.log(mean) - mean - np.array([math.lgamma(i + 1.0) for i in k])
    return float(np.sum(np.exp(log_pmf) * baselines.anscombe(k.astype(float))))


@pytest.mark.parametrize("mean", [0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
def test_the_inverse_maps_the_expected_transform_back_to_the_count_and_the_algebraic_one_does_not(mean):
    d = expected_anscombe(mean)
    assert baselines.inverse_anscombe(np.array(d)) == pytest.approx(mean, abs=0.03)
    assert mean - ((d / 2) ** 2 - 3 / 8) > 0.07  # the algebraic inverse is biased low (0.08 at 0.3, 0.25 from 3 up)


def test_the_inverse_is_zero_at_and_below_the_transform_of_zero_counts():
    d = np.array([0.0, 0.5, 1.0, float(baselines.anscombe(np.array(0.0)))])
    assert np.all(baselines.inverse_anscombe(d) == 0.0)


def kodak_crop(size=96):
    protocol = protocols.get("noise2noise")
    return protocol.prepare(data.load("kodak24")[22].pixels, "kodak24")[..., 100:100 + size, 250:250 + size]


def test_anscombe_bm3d_denoises_poisson_noise_and_keeps_the_brightness():
    clean = kodak_crop()
    noisy = noise.Poisson(30)(clean, generator=torch.Generator().manual_seed(0))
    out = baselines.AnscombeBM3D(30)(noisy)
    assert out.shape == clean.shape and out.min() >= 0 and out.max() <= 1
    before, after = (float(metrics.psnr(x, clean, "float")[0]) for x in (noisy, out))
    assert after > before + 5, (before, after)
    assert abs(float(out.mean() - clean.mean())) < 0.005  # the unbiased inverse: no darkening
    gray = baselines.AnscombeBM3D(30)(noisy[:, :1])
    assert gray.shape == (1, 1, *clean.shape[-2:]) and float(metrics.psnr(gray, clean[:, :1], "float")[0]) > before


def test_the_baselines_refuse_a_level_that_is_not_positive():
    with pytest.raises(ValueError, match="lam > 0"):
        baselines.AnscombeBM3D(0)
    with pytest.raises(ValueError, match="sigma > 0"):
        baselines.BM3D(-5)


def test_the_baseline_command_writes_a_run_folder_the_summary_and_the_claims_read(tmp_path, capsys):
    # one gray 256x256 image: BM3D takes seconds where a colour image of the other sets takes a minute
    assert cli.main(["baseline", "anscombe_bm3d", "--protocol", "noise2score", "--lam", "100", "--datasets", "set12",
                     "--n-images", "1", "--results", str(tmp_path)]) == 0
    folder = tmp_path / "noise2score" / "anscombe_bm3d_lam100_noise2score_protocol_first1"
    assert capsys.readouterr().out.strip().endswith(folder.name)
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["method"] == "anscombe_bm3d" and info["param"] == "lam=100"
    per_image = pd.read_csv(folder / "per_image.csv")
    assert len(per_image) == 1 and 20 < per_image.psnr_db[0] < 40
    assert info["eval_wall_s"] == round(float(per_image.seconds.sum()), 1)  # counts every session of a resumed run
    row = runs.summary(tmp_path).iloc[0]
    assert (row.method, row.noise, row.param, row.dataset) == ("anscombe_bm3d", "poisson", "lam=100", "set12")
    claim = claims.join(runs.summary(tmp_path), claims.load()).iloc[0]
    assert claim.claim_psnr_db == pytest.approx(31.20)  # Noise2Score Table 2, Anscombe, Poisson zeta=0.01, Set12


@pytest.mark.parametrize("args, message", [
    (["anscombe_bm3d", "--protocol", "noise2noise"], "takes --lam"),
    (["anscombe_bm3d", "--protocol", "noise2noise", "--lam", "30", "--sigma", "25"], "not --sigma"),
    (["bm3d", "--protocol", "noise2noise", "--lam", "30"], "takes --sigma"),
    (["bm3d", "--protocol", "noise2noise", "--sigma", "0"], "must be > 0"),
])
def test_the_baseline_command_names_the_level_it_needs(args, message, capsys):
    with pytest.raises(SystemExit):
        cli.main(["baseline", *args])
    assert message in capsys.readouterr().err
