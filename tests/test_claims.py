"""results/claims.csv: the verified claims in our vocabulary, and the join with reproduced numbers."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from repro import claims, data, runs

SOURCE = claims.DEFAULT_SOURCE


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    if not SOURCE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the claims file {SOURCE} is missing (CI runs with ../shared beside the checkout)")
        pytest.skip(f"no claims file at {SOURCE}")
    return claims.read_source(SOURCE)


@pytest.fixture(scope="module")
def table(raw) -> pd.DataFrame:
    return claims.translate(raw)


def one(table, **key) -> pd.Series:
    rows = table
    for k, v in key.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, f"expected one claim for {key}, got {len(rows)}"
    return rows.iloc[0]


def test_readme_rows_of_noise2noise(table):
    row = one(table, paper="noise2noise", method="n2n", noise="gaussian", param="sigma=25", dataset="kodak24",
              priority=0)
    assert row.psnr_db == pytest.approx(32.39)
    assert "README" in row.table and "U-Net" in row.source
    red30 = one(table, paper="noise2noise", method="n2n", noise="gaussian", param="sigma=25", dataset="kodak24",
                priority=1)
    assert red30.psnr_db == pytest.approx(32.48) and "RED30" in red30.original_method
    assert one(table, paper="noise2noise", method="n2c", noise="poisson", param="lam=30", dataset="bsd300_test",
               priority=0).psnr_db == pytest.approx(30.27)


def test_only_verified_rows_and_no_average(raw, table):
    verified = raw[(raw["verified"].str.strip() == "yes") & (raw["dataset"].str.strip() != "Average")]
    assert len(table) == len(verified)
    assert set(raw.loc[table["claim_id"], "verified"].str.strip()) == {"yes"}
    assert not (raw.loc[table["claim_id"], "dataset"] == "Average").any()
    # each kept row still carries its full source text, quoted commas included
    assert (table["source"].str.len() > 0).all()
    assert table["source"].str.contains(",").any()


def test_vocabulary(table):
    assert set(table["paper"]) == {"noise2noise", "ssdn", "noise2score", "noise2void"}
    assert set(table["noise"]) <= {"gaussian", "poisson", "gamma", "bernoulli"}
    assert set(table["dataset"]) <= set(data.SETS)
    assert set(table["param"]) <= {"sigma=25", "sigma=50", "sigma=5-50", "lam=30", "lam=100", "lam=20", "k=100",
                                   "k=50", "p=0.5"}
    assert table["method"].str.fullmatch(r"[a-z0-9_]+").all()
    assert set(claims.COLUMNS) <= set(table.columns)
    assert {"paper", "method", "noise", "param", "dataset", "psnr_db", "table", "sigma_known", "source",
            "priority"} <= set(table.columns)


def test_noise2score_zeta_is_one_over_lambda(table):
    row = one(table, paper="noise2score", method="noise2score", noise="poisson", param="lam=100", dataset="cbsd68")
    assert row.original_param == "zeta=0.01" and "zeta = 1/lam" in row.source
    assert one(table, paper="noise2score", method="noise2score", noise="poisson", param="lam=20",
               dataset="kodak24").original_param == "zeta=0.05"


def test_unknown_parameter_rule(table):
    ssdn = table[table.paper == "ssdn"]
    assert {"ssdn", "ssdn_unknown_sigma", "ssdn_diag", "ssdn_diag_unknown_sigma", "cbm3d", "cbm3d_unknown_sigma",
            "ssdn_mu", "n2c", "n2n", "ssdn_gamma_bug"} == set(ssdn.method)
    # known vs unknown CBM3D (Table 1, sigma=25, Kodak): 31.82 vs 31.81
    assert one(table, paper="ssdn", method="cbm3d", param="sigma=25", dataset="kodak24").psnr_db == pytest.approx(31.82)
    assert one(table, paper="ssdn", method="cbm3d_unknown_sigma", param="sigma=25",
               dataset="kodak24").psnr_db == pytest.approx(31.81)
    n2s = table[table.paper == "noise2score"]
    assert {"noise2score_unknown_sigma", "noise2score_unknown_param", "n2c_unknown_param"} <= set(n2s.method)
    assert set(n2s[n2s.method.str.endswith("_unknown_sigma")].noise) == {"gaussian"}
    assert "gaussian" not in set(n2s[n2s.method.str.endswith("_unknown_param")].noise)
    assert (table[table.method.str.contains("_unknown_")].sigma_known == "no").all()
    assert claims.method_name("ssdn", "gaussian", known=False) == "ssdn_unknown_sigma"
    assert claims.method_name("noise2score", "gamma", known=False) == "noise2score_unknown_param"


def test_readme_and_context_rows(table):
    assert one(table, paper="ssdn", method="ssdn", dataset="kodak24", param="sigma=25",
               priority=0).psnr_db == pytest.approx(32.45)
    bug = one(table, method="ssdn_gamma_bug")
    assert bug.psnr_db == pytest.approx(32.97) and bug.priority == 3
    assert one(table, paper="noise2void", method="n2v", priority=1).psnr_db == pytest.approx(27.71)


def test_committed_claims_file_is_generated(raw):
    built = claims.build(SOURCE)  # the shared file, then the claims verified in this repository
    committed = claims.load(runs.REPO_ROOT / "results")
    assert len(committed) == len(built), "results/claims.csv is stale: run `repro claims`"
    pd.testing.assert_frame_equal(committed[["paper", "method", "noise", "param", "dataset", "priority"]],
                                  built[["paper", "method", "noise", "param", "dataset", "priority"]],
                                  check_dtype=False)
    assert (committed["psnr_db"].values == pytest.approx(built["psnr_db"].values))


def test_write_and_cli(tmp_path, raw):
    from repro.cli import main

    assert main(["claims", str(SOURCE), "--results", str(tmp_path)]) == 0
    assert len(claims.load(tmp_path)) == len(claims.build(SOURCE))
    assert claims.load(tmp_path / "nowhere").empty


def test_the_project_claims_file_has_the_shared_format_and_only_verified_sourced_rows(raw):
    project = claims.read_source(claims.PROJECT_SOURCE)
    assert list(project.columns) == list(raw.columns)
    assert (project["verified"].str.strip() == "yes").all()  # a number goes in only once read in the paper's text
    assert project["source"].str.len().gt(0).all()
    claims.translate(project)  # every row translates into our vocabulary


def _project_rows() -> pd.DataFrame:
    """A made-up project claims file (fixture values, not the paper's): one row per Table 1 setting and data set."""
    rows = []
    settings = [("Gaussian", "sigma=25"), ("Gaussian", "sigma in [5,50]"), ("Poisson", "lambda=30"),
                ("Poisson", "lambda in [5,50]")]
    for method in ("Baseline N2C", "Baseline N2N", "CBM3D", "Laine19-pme", "Ours (Neighbor2Neighbor, U-Net)"):
        for noise, param in settings:
            for dataset in ("Kodak", "BSD300", "Set14"):
                rows.append({"paper": "Neighbor2Neighbor (Huang et al. CVPR 2021)", "table": "Table 1",
                             "method": method, "noise": noise, "param": param, "dataset": dataset,
                             "psnr_db": "30.00", "sigma_known": "", "source": "fixture, not a claim", "verified": "yes"})
    rows.append({**rows[0], "verified": "no"})  # an unverified row is dropped like the shared file's
    return pd.DataFrame(rows)


def test_project_claims_come_through_build_after_the_shared_rows_and_are_translated(tmp_path, raw):
    path = tmp_path / "claims_sources.csv"
    _project_rows().to_csv(path, index=False)
    built = claims.build(SOURCE, project=path)
    shared_only = claims.build(SOURCE, project=None)
    nb2nb = built[built.paper == "neighbor2neighbor"]
    assert len(built) == len(shared_only) + len(nb2nb) and len(nb2nb) == 5 * 4 * 3
    assert set(nb2nb.param) == {"sigma=25", "sigma=5-50", "lam=30", "lam=5-50"}
    assert set(nb2nb.dataset) == {"kodak24", "bsd300_test", "set14"}
    assert set(nb2nb.noise) == {"gaussian", "poisson"}
    assert set(nb2nb.method) == {"n2c", "n2n", "cbm3d", "ssdn", "neighbor2neighbor"}
    assert (nb2nb.claim_id >= len(raw)).all()  # numbered after the shared file's rows, which keep theirs
    assert set(shared_only.claim_id) <= set(built.claim_id)
    assert (nb2nb.original_paper.str.startswith("Neighbor2Neighbor (Huang")).all()
    # and the CLI writes them
    claims.write_claims(SOURCE, tmp_path, project=path)
    assert (claims.load(tmp_path).paper == "neighbor2neighbor").sum() == 60


def test_param_label():
    assert claims.param_label("sigma in [5,50]") == "sigma=5-50"
    assert claims.param_label("lambda=30") == "lam=30"
    assert claims.param_label("zeta=0.05") == "lam=20"
    assert claims.param_label("k=100") == "k=100" and claims.param_label("p=0.5") == "p=0.5"
    with pytest.raises(ValueError):
        claims.param_label("whatever")


def test_unknown_method_is_an_error():
    raw = pd.DataFrame([{"paper": "Noise2Noise (Lehtinen et al. ICML 2018)", "table": "Table 9", "method": "NewNet",
                         "noise": "Gaussian", "param": "sigma=25", "dataset": "Kodak", "psnr_db": "30",
                         "sigma_known": "", "source": "x", "verified": "yes"}])
    with pytest.raises(ValueError, match="NewNet"):
        claims.translate(raw)


def _summary(**row) -> pd.DataFrame:
    base = {"paper": "noise2noise", "method": "n2n", "noise": "gaussian", "param": "sigma=25", "dataset": "kodak24",
            "protocol": "noise2noise", "budget": "cpu", "psnr_db": 32.0, "run": "noise2noise/x"}
    return pd.DataFrame([{**base, **row}])


def test_join_picks_the_best_claim_and_computes_delta(table):
    out = claims.join(_summary(psnr_db=32.0), table)
    assert out.claim_psnr_db[0] == pytest.approx(32.39)  # README U-Net (priority 0), not RED30's 32.48
    assert out.delta_db[0] == pytest.approx(32.0 - 32.39)
    assert out.claim_priority[0] == 0 and "README" in out.claim_source[0]
    assert len(out) == 1


def test_join_bm3d_matches_cbm3d_under_the_ssdn_protocol(table):
    n2n = claims.join(_summary(method="bm3d", psnr_db=31.70), table)
    assert n2n.claim_psnr_db[0] == pytest.approx(31.82) and n2n.claim_paper[0] == "noise2noise"
    ssdn = claims.join(_summary(method="bm3d", protocol="ssdn", dataset="set14", psnr_db=30.70), table)
    assert ssdn.claim_method[0] == "cbm3d" and ssdn.claim_psnr_db[0] == pytest.approx(30.68)
    assert ssdn.delta_db[0] == pytest.approx(0.02)


def test_join_without_a_claim_and_empty(table):
    out = claims.join(_summary(paper="zs_n2n", protocol="zs_n2n", method="zs_n2n"), table)
    assert pd.isna(out.claim_psnr_db[0]) and pd.isna(out.delta_db[0])
    empty = claims.join(_summary().iloc[0:0], table)
    assert empty.empty and "delta_db" in empty.columns


def test_a_claim_noted_as_a_probable_copy_is_listed_but_compared_with_nothing():
    source = pd.DataFrame([
        {"paper": "Noise2Score (Kim & Ye NeurIPS 2021)", "table": "Table 2", "method": "Ours (Noise2Score)",
         "noise": "Gaussian", "param": f"sigma={sigma}", "dataset": "Kodak", "psnr_db": 31.89,
         "sigma_known": "yes", "verified": "yes",
         "source": "table image" + ("; NOTE: Kodak sigma=50 row is identical to Kodak sigma=25 row in the table "
                                    "image (probable copy error in paper)" if sigma == 50 else "")}
        for sigma in (25, 50)])
    table = claims.translate(source)
    assert table.set_index("param").comparable.to_dict() == {"sigma=25": "yes", "sigma=50": "no"}
    ours = pd.DataFrame([{"paper": "noise2score", "method": "noise2score", "noise": "gaussian", "param": p,
                          "dataset": "kodak24", "protocol": "noise2score", "psnr_db": v}
                         for p, v in (("sigma=25", 29.96), ("sigma=50", 26.33))])
    joined = claims.join(ours, table).set_index("param")
    assert joined.loc["sigma=25", "delta_db"] == pytest.approx(29.96 - 31.89)
    assert joined.loc["sigma=50", "claim_psnr_db"] == pytest.approx(31.89)  # still shown beside ours
    assert pd.isna(joined.loc["sigma=50", "delta_db"])  # but no Delta against a copied row
