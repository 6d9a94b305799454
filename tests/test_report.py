"""repro.report on a temporary results folder built with repro.runs (no training, no data needed)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from repro import claims, report, runs

CLAIMS_CSV = '''paper,table,method,noise,param,dataset,psnr_db,sigma_known,source,verified
Noise2Noise (Lehtinen et al. ICML 2018),Table 1,"noisy targets (N2N, RED30)",Gaussian,sigma=25,Kodak,32.48,no,"slides, OCR",yes
Noise2Noise (Lehtinen et al. ICML 2018),official repo README (not paper),N2N (official U-Net code),Gaussian,sigma=25,Kodak,32.39,no (blind),"README.md, U-Net",yes
Noise2Noise (Lehtinen et al. ICML 2018),Table 1,BM3D,Gaussian,sigma=25,Set14,30.50,unknown,"slides",yes
Noise2Noise (Lehtinen et al. ICML 2018),Table 1,BM3D,Gaussian,sigma=25,Average,30.89,unknown,"slides",yes
Noise2Noise (Lehtinen et al. ICML 2018),Table 1,BM3D,Gaussian,sigma=25,BSD300,30.00,unknown,"memory",no
'''


def make_run(root, paper, name, psnr, method="n2n", datasets=("kodak24",), curve=True, png=True, train_s=36.0,
             protocol=None, budget="smoke"):
    run = runs.Run.open(root, paper, name, method=method, noise="gaussian", param="sigma=25",
                        protocol=protocol or paper, budget=budget, device="cpu", iterations=20, train_wall_s=train_s,
                        seed=0)
    rows = [{"dataset": d, "image": f"im{i}", "repeat": 0, "psnr_db": psnr + 0.1 * (i - 1), "seconds": 0.1}
            for d in datasets for i in range(3)]
    pd.DataFrame(rows).to_csv(run.per_image_csv, index=False)
    if curve:
        pd.DataFrame({"iteration": [10, 20], "loss": [0.02, 0.01], "val_psnr_db": [np.nan, 28.5]}).to_csv(
            run.path / "curve.csv", index=False)
    if png:
        fig = Figure(figsize=(1, 1))
        fig.subplots().imshow(np.zeros((4, 4)))
        fig.savefig(run.path / "crops.png")
    run.finish(eval_wall_s=324.0)
    return run


@pytest.fixture()
def results(tmp_path):
    (tmp_path / "claims_source.csv").write_text(CLAIMS_CSV)
    claims.write_claims(tmp_path / "claims_source.csv", tmp_path)
    make_run(tmp_path, "noise2noise", "n2n_smoke", 32.0)
    make_run(tmp_path, "noise2noise", "bm3d_smoke", 30.6, method="bm3d", datasets=("set14", "kodak24"),
             curve=False, png=False, train_s=0.0)
    runs.write_summary(tmp_path)
    return tmp_path


def test_summary_table_joins_every_row_with_its_claim(results):
    table = report.summary_table(results)
    assert len(table) == len(pd.read_csv(results / "summary.csv")) == 3
    n2n = table[table.method == "n2n"].iloc[0]
    assert n2n.claim_psnr_db == pytest.approx(32.39)  # the README (priority 0), not Table 1
    assert n2n.delta_db == pytest.approx(32.0 - 32.39)
    assert n2n.hours == pytest.approx((36.0 + 324.0) / 3600)
    assert n2n.budget == "smoke" and n2n.device == "cpu"
    bm3d = table[(table.method == "bm3d") & (table.dataset == "set14")].iloc[0]
    assert bm3d.claim_psnr_db == pytest.approx(30.50)
    assert pd.isna(table[(table.method == "bm3d") & (table.dataset == "kodak24")].iloc[0].claim_psnr_db)
    view = report.summary_view(results)
    assert {"claim_psnr_db", "psnr_db", "delta_db", "budget", "device", "hours"} <= set(view.columns)


def test_claims_vs_reproduced(results):
    table = report.claims_vs_reproduced("noise2noise", results)
    kodak = table[(table.method == "n2n") & (table.dataset == "kodak24")]
    assert sorted(kodak.claim_psnr_db) == pytest.approx([32.39, 32.48])  # every claim of the key, ours beside
    assert kodak.psnr_db.tolist() == pytest.approx([32.0, 32.0])
    assert kodak[kodak.best_claim].claim_psnr_db.tolist() == pytest.approx([32.39])
    unclaimed = table[(table.method == "bm3d") & (table.dataset == "kodak24")]
    assert len(unclaimed) == 1 and pd.isna(unclaimed.claim_psnr_db.iloc[0])
    assert not (table.dataset == "bsd300_test").any()  # the unverified claim is not there
    only_claims = report.claims_vs_reproduced("ssdn", results)
    assert only_claims.empty


def test_a_paper_without_runs_is_not_an_error(results, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    assert report.runs_table("ssdn", results).empty
    assert report.summary_table(empty).empty
    assert report.claims_vs_reproduced("ssdn", empty).empty
    shown = report.table(report.runs_table("ssdn", results), empty=report.no_run_sentence("ssdn"))
    assert "No committed run yet for ssdn" in shown.data
    assert "no committed run yet" in report.paper_status("ssdn", results).lower()
    fig = report.plot_curves("ssdn", results)
    assert isinstance(fig, Figure) and "No training curve" in fig.axes[0].texts[0].get_text()
    assert report.figure_paths("ssdn", results_dir=results) == []
    assert report.protocol_effects(empty).empty
    assert report.cost_table(empty).empty


def test_runs_table(results):
    table = report.runs_table("noise2noise", results)
    assert set(table.run) == {"noise2noise/n2n_smoke", "noise2noise/bm3d_smoke"}
    row = table.set_index("run").loc["noise2noise/n2n_smoke"]
    assert row.status == "complete" and row.iterations == 20
    assert row.train_hours == pytest.approx(0.01) and row.eval_hours == pytest.approx(0.09)
    cost = report.cost_table(results)
    assert set(cost.method) == {"n2n", "bm3d"}


def test_curves_and_figures(results):
    fig = report.plot_curves("noise2noise", results)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # loss, and validation PSNR
    assert len(fig.axes[0].lines) == 1
    paths = report.figure_paths("noise2noise", results_dir=results)
    assert [p.name for p in paths] == ["crops.png"]
    assert report.show_figures("noise2noise", results_dir=results) == paths
    assert report._figure_png(fig)[:4] == b"\x89PNG"


def test_styled_table_has_two_decimals(results):
    html = report.styled(report.summary_view(results)).to_html()
    assert "32.00" in html and "32.39" in html and "-0.39" in html
    assert "reproduced (dB)" in html and "claimed (dB)" in html
    html = report.table(report.summary_view(results), css_class="repro-summary").to_html()
    assert 'class="repro-summary"' in html


def test_summary_falls_back_to_run_folders(results):
    (results / "summary.csv").unlink()
    run = runs.Run.open(results, "ssdn", "still_starting", method="ssdn", noise="gaussian", param="sigma=25",
                        protocol="ssdn", budget="cpu")
    run.per_image_csv.write_text("")  # a run that has not written its first line yet
    table = report.summary_table(results)
    assert len(table) == 3 and "ssdn" not in set(table.paper)


def test_protocol_effects(results):
    for variant, reference, psnr in [("not clipped", True, 30.0), ("clipped", False, 30.2)]:
        folder = results / "protocol" / f"clip_{variant.replace(' ', '_')}"
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"effect": "clip the noisy input", "variant": variant,
                                                     "reference": reference, "method": "bm3d"}))
        pd.DataFrame([{"dataset": "kodak24", "image": f"im{i}", "repeat": 0, "psnr_db": psnr, "seconds": 0}
                      for i in range(2)]).to_csv(folder / "per_image.csv", index=False)
    table = report.protocol_effects(results)
    assert list(table.variant) == ["not clipped", "clipped"]
    assert table.delta_db.tolist() == pytest.approx([0.0, 0.2])


def test_coverage_counts_the_claims_that_have_a_reproduced_number(results):
    poisson = ('Noise2Noise (Lehtinen et al. ICML 2018),Table 1,"noisy targets (N2N, RED30)",Poisson,lambda=30,'
               'Kodak,31.00,no,"slides",yes\n')
    (results / "claims_source.csv").write_text(CLAIMS_CSV + poisson)
    claims.write_claims(results / "claims_source.csv", results)
    table = report.coverage(results).set_index(["paper", "noise", "param"])
    # verified per-set claims: N2N Kodak twice (Table 1, README) and BM3D Set14 (the Average row is no data set);
    # ours: n2n Kodak, BM3D Set14 and Kodak (no claim); nothing at Poisson
    gaussian = table.loc[("noise2noise", "gaussian", "sigma=25")]
    assert (gaussian.claims, gaussian.reproduced, gaussian.budgets) == (3, 3, "smoke")
    poisson_row = table.loc[("noise2noise", "poisson", "lam=30")]
    assert (poisson_row.claims, poisson_row.reproduced, poisson_row.budgets) == (1, 0, "")


GRID_HEADER = "paper,method,noise,param,channels,budget,seed,run,notebook_params\n"


def test_coverage_counts_the_grid_runs_of_each_setting_done_in_progress_and_missing(results):
    poisson = ('Noise2Noise (Lehtinen et al. ICML 2018),Table 1,"noisy targets (N2N, RED30)",Poisson,lambda=30,'
               'Kodak,31.00,no,"slides",yes\n')
    (results / "claims_source.csv").write_text(CLAIMS_CSV + poisson)
    claims.write_claims(results / "claims_source.csv", results)
    started = runs.Run.open(results, "noise2noise", "n2n_poisson_smoke", method="n2n", noise="poisson",
                            param="lam=30", protocol="noise2noise", budget="smoke")
    started.update(status="paused")  # run.json there, not complete
    grid = results / "grid.csv"
    grid.write_text(GRID_HEADER + "\n".join([
        "noise2noise,n2n,gaussian,sigma=25,color,smoke,0,noise2noise/n2n_smoke,method=n2n",  # complete
        "noise2noise,n2c,gaussian,sigma=25,color,smoke,0,noise2noise/n2c_smoke,method=n2c",  # no folder
        "noise2noise,n2n,poisson,lam=30,color,smoke,0,noise2noise/n2n_poisson_smoke,method=n2n noise=poisson",
        "zs_n2n,zs-n2n,gaussian,sigma=25,color,smoke,0,zs_n2n/sigma25_kodak24,dataset=kodak24",  # claimed nowhere
        "noise2noise,n2n,gaussian,sigma=25,color,paper,0,noise2noise/n2n_paper,method=n2n",  # another budget
    ]) + "\n")
    table = report.coverage(results, grid=grid, budget="smoke").set_index(["paper", "noise", "param"])
    counts = ["claims", "reproduced", "planned", "done", "in_progress", "missing"]
    # three verified Gaussian claims all beside a number of ours (claims, not rows); two runs planned, one there
    assert table.loc[("noise2noise", "gaussian", "sigma=25"), counts].tolist() == [3, 3, 2, 1, 0, 1]
    assert table.loc[("noise2noise", "poisson", "lam=30"), counts].tolist() == [1, 0, 1, 0, 1, 0]
    assert table.loc[("zs_n2n", "gaussian", "sigma=25"), counts].tolist() == [0, 0, 1, 0, 0, 1]
    assert (table["planned"] == table[["done", "in_progress", "missing"]].sum(axis=1)).all()
    started.finish()
    again = report.coverage(results, grid=grid, budget="smoke").set_index(["paper", "noise", "param"])
    assert again.loc[("noise2noise", "poisson", "lam=30"), ["done", "in_progress"]].tolist() == [1, 0]
    assert report.coverage(results, grid=grid, budget="cpu")["planned"].sum() == 0  # no cpu row in this grid


def test_the_curve_figure_draws_one_line_per_run_with_a_legend(tmp_path):
    for name, offset in (("color", 0.0), ("gray", 1.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "curve.csv").write_text(
            "iteration,loss,lr,elapsed_s,val_psnr_db\n1,0.5,0.001,1.0,\n2,0.4,0.001,2.0,"
            f"{20 + offset}\n")
    one = report.run_curve_figure(tmp_path / "color", "one run")
    assert [len(ax.lines) for ax in one.axes] == [1, 1] and one.axes[1].get_legend() is None
    both = report.run_curve_figure({m: tmp_path / m for m in ("color", "gray")}, "two runs")
    assert [len(ax.lines) for ax in both.axes] == [2, 2]
    assert [t.get_text() for t in both.axes[1].get_legend().get_texts()] == ["color", "gray"]
    assert list(both.axes[1].lines[1].get_ydata()) == [21.0]


def test_the_claims_table_keeps_reproductions_unreproduced_claims_and_unclaimed_rows_apart(results):
    poisson = ("Noise2Noise (Lehtinen et al. ICML 2018),Table 1,N2N (official U-Net code),Poisson,lambda=30,{},{},"
               "no,slides,yes\n")
    (results / "claims_source.csv").write_text(CLAIMS_CSV + poisson.format("Kodak", 31.67)
                                               + poisson.format("Set14", 30.29))
    claims.write_claims(results / "claims_source.csv", results)
    html = report.claims_table("noise2noise", results).data
    main, rest = html.split("<details>", 1)
    assert "32.39" in main and "30.50" in main  # claims that stand beside a number of ours
    assert "2 claims have no number of ours yet, in 1 setting: poisson lam=30 (2)." in main
    assert "31.67" not in main and "31.67" in rest  # an unreproduced claim only in the collapsed list
    assert "Our 1 rows that match no claim" in rest  # BM3D on Kodak: no claim, labelled, collapsed


def test_the_paper_table_lays_out_methods_by_data_set_with_ours_and_the_claim_in_each_cell(results):
    poisson = ("Noise2Noise (Lehtinen et al. ICML 2018),Table 1,N2N (official U-Net code),Poisson,lambda=30,Kodak,"
               "31.67,no,slides,yes\n")
    (results / "claims_source.csv").write_text(CLAIMS_CSV + poisson)
    claims.write_claims(results / "claims_source.csv", results)
    html = report.paper_table("noise2noise", "uint8 PSNR", budget="smoke", results_dir=results).data
    main, rest = html.split("<details>", 1)
    assert "32.00 (32.48)" in main  # ours at this budget beside Table 1's claim (the README claim is no table)
    assert "30.60 (30.50)" in main  # BM3D on Set14
    assert "1 claim has no number of ours yet, in 1 setting: poisson lam=30 (1)." in main  # not a row of dashes
    assert "31.67" not in main and "31.67" in rest
    assert html.count("have no number of ours yet") + html.count("has no number of ours yet") == 1  # said once
    empty = report.paper_table("noise2noise", "uint8 PSNR", budget="cpu", results_dir=results).data
    assert "No claim of noise2noise stands beside a number of ours at the <code>cpu</code> budget" in empty


def test_the_headline_table_gives_each_paper_its_main_claim_and_comparison(results):
    make_run(results, "noise2noise", "n2c_smoke", 32.03, method="n2c")
    runs.write_summary(results)
    table = report.headline_table(results).set_index("setting")
    n2n = table.loc["n2n, gaussian sigma=25, kodak24"]
    assert n2n.psnr_db == pytest.approx(32.0) and n2n.delta_db == pytest.approx(32.0 - 32.39)
    assert n2n.comparison == "n2n ≈ n2c: holds, -0.03 dB"  # no claim for N2C here: no paper difference
    ssdn = table.loc["ssdn, gaussian sigma=25, kodak24"]
    assert pd.isna(ssdn.psnr_db) and ssdn.comparison == ""  # nothing run for SSDN in this folder
    assert len(report.gap_vs_compute_figure(results).axes[0].collections) == 1  # Noise2Noise's one claimed row


def test_a_comparison_finds_its_baseline_under_the_same_protocol_in_another_papers_folder(results):
    # Neighbor2Neighbor's N2N baseline is the Noise2Noise run (n2n_smoke, 32.0 dB on Kodak, protocol
    # noise2noise); SSDN's N2N, scored under SSDN's protocol, is not comparable however close its name
    make_run(results, "ssdn", "n2n_ssdn_smoke", 35.0, method="n2n")
    make_run(results, "neighbor2neighbor", "nb2nb_smoke", 31.8, method="neighbor2neighbor", protocol="noise2noise")
    runs.write_summary(results)
    setting = "neighbor2neighbor, gaussian sigma=25, kodak24"
    nb2nb = report.headline_table(results).set_index("setting").loc[setting]
    assert nb2nb.psnr_db == pytest.approx(31.8)
    # no "(paper ...)": Noise2Noise's own N2N claim is not a claim of the Neighbor2Neighbor paper
    assert nb2nb.comparison == "neighbor2neighbor ≈ n2n: holds, -0.20 dB"
    # ours at a larger budget than any baseline: compared with the baseline there is, and said so
    make_run(results, "neighbor2neighbor", "nb2nb_cpu", 31.0, method="neighbor2neighbor", protocol="noise2noise",
             budget="cpu")
    runs.write_summary(results)
    nb2nb = report.headline_table(results).set_index("setting").loc[setting]
    assert nb2nb.comparison == "neighbor2neighbor ≈ n2n: does not hold, -1.00 dB, against n2n at budget smoke"


def test_a_comparison_table_reads_the_papers_margin_from_one_table_and_says_what_is_not_run(tmp_path):
    table_1_bm3d_kodak = "Noise2Noise (Lehtinen et al. ICML 2018),Table 1,BM3D,Gaussian,sigma=25,Kodak,31.00,no,s,yes\n"
    (tmp_path / "claims_source.csv").write_text(CLAIMS_CSV + table_1_bm3d_kodak)
    claims.write_claims(tmp_path / "claims_source.csv", tmp_path)
    make_run(tmp_path, "noise2noise", "n2n_smoke", 32.0)
    make_run(tmp_path, "noise2noise", "bm3d_smoke", 30.6, method="bm3d", curve=False, png=False, train_s=0.0)
    runs.write_summary(tmp_path)
    from repro.papers import Comparison

    table = report.comparisons_table("noise2noise", [Comparison("n2n", ">", "bm3d"), Comparison("n2n", "≈", "bm3d")],
                                     "gaussian", "sigma=25", "Table 1", tmp_path).set_index(["comparison", "dataset"])
    kodak = table.loc[("n2n > bm3d", "kodak24")]
    assert kodak["ours a − b (dB)"] == pytest.approx(1.4) and kodak.verdict == "holds"
    assert kodak["Table 1 a − b (dB)"] == pytest.approx(32.48 - 31.00)  # Table 1's N2N, not the README's 32.39
    assert table.loc[("n2n ≈ bm3d", "kodak24")].verdict == "does not hold"
    assert table.loc[("n2n > bm3d", "bsd300_test")].verdict == "not run"
    assert list(table.reset_index().dataset.unique()) == ["kodak24", "bsd300_test", "set14"]  # the protocol's sets


def test_a_comparison_is_paired_by_image_with_the_repeats_averaged_first(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(30, 2, size=8)  # images differ a lot, the methods by a little: only pairing sees it
    lift = rng.normal(0.2, 0.05, size=8)
    for name, psnr in (("a_smoke", base + lift), ("b_smoke", base)):
        run = make_run(tmp_path, "ssdn", name, 0.0, protocol="ssdn")
        rows = [{"dataset": "kodak24", "image": f"im{i}", "repeat": r, "psnr_db": p + (0.3 if r else -0.3),
                 "seconds": 0.1} for i, p in enumerate(psnr) for r in (0, 1)]
        pd.DataFrame(rows).to_csv(run.per_image_csv, index=False)
    mean, half, n = report.paired_difference("ssdn/a_smoke", "ssdn/b_smoke", "kodak24", tmp_path)
    assert n == 8  # images, not image × repeat rows
    assert mean == pytest.approx(lift.mean())
    assert half == pytest.approx(1.96 * lift.std(ddof=1) / np.sqrt(8))
    assert half < 1.96 * np.std(base + lift, ddof=1) / np.sqrt(8) / 10  # far narrower than unpaired
    assert all(np.isnan(v) for v in report.paired_difference("ssdn/a_smoke", "ssdn/none", "kodak24", tmp_path)[:2])


# ------------------------------------------------------------------ figures: nothing cut at the edges
def _cut_at_the_edge(fig: Figure) -> list[str]:
    """Titles (axes and figure) drawn partly outside the canvas when saved *without* a tight bounding box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    titles = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]
    titles += [fig._suptitle] if fig._suptitle is not None else []
    cut = []
    for text in titles:
        if not text.get_text() or not text.get_visible():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
            cut.append(text.get_text())
    return cut


def test_figures_are_saved_with_a_tight_bounding_box(monkeypatch, tmp_path):
    seen = {}
    original = Figure.savefig

    def spy(self, *args, **kwargs):
        seen.update(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    fig = Figure(figsize=(2, 1))
    fig.subplots().set_title("a title placed above the canvas", y=1.6)
    report.save_figure(fig, tmp_path / "f.png")
    assert seen["bbox_inches"] == "tight"
    from PIL import Image

    with Image.open(tmp_path / "f.png") as image:
        assert image.size[1] > 100  # the canvas grew to hold the title, instead of cutting it
    assert report._figure_png(fig)[:4] == b"\x89PNG" and seen["bbox_inches"] == "tight"


def test_the_crops_titles_fit_the_canvas_even_saved_without_a_tight_box():
    import torch

    clean = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for n in (2, 3, 4):
        panels = {f"method {i}": (clean * (0.9 + 0.02 * i)).clamp(0, 1) for i in range(n)}
        assert _cut_at_the_edge(report.crops_figure(panels, clean)) == []


def test_the_figure_grid_stacks_one_labelled_row_per_image(results, tmp_path):
    assert report.figure_grid([]) is None  # nothing displayed, no placeholder sentence
    paths = []
    for i, size in enumerate([(300, 80), (200, 60)]):
        fig = Figure(figsize=(size[0] / 100, size[1] / 100))
        fig.subplots().imshow(np.full((4, 4), i))
        paths.append(tmp_path / f"crops{i}.png")
        fig.savefig(paths[-1])
    grid = report.figure_grid(paths, labels=["first run", "second run"])
    assert [ax.get_title(loc="left") for ax in grid.axes] == ["first run", "second run"]
    assert _cut_at_the_edge(grid) == []
    one = report.figure_grid(report.figure_paths("noise2noise", results_dir=results))
    assert one.axes[0].get_title(loc="left") == "n2n, budget smoke (20 steps): n2n_smoke"


def test_the_report_figures_keep_their_titles_inside(results):
    for fig in (report.plot_curves("noise2noise", results), report.gap_vs_compute_figure(results)):
        assert _cut_at_the_edge(fig) == []


# ------------------------------------------------------------------ folded detail and the summary overview
def test_folded_detail_and_the_runs_line(results):
    html = report.runs_folded("noise2noise", results).data
    assert html.startswith("<details><summary>The 2 run folders under results/noise2noise/")
    assert "n2n_smoke" in html and "noise2noise/n2n_smoke" not in html  # the folder name, not the full path
    assert report.folded("more", "<p>x</p>").data == "<details><summary>more</summary>\n<p>x</p>\n</details>"
    assert "No committed run yet for ssdn." in report.runs_folded("ssdn", results).data


def test_the_summary_overview_has_one_line_per_paper(results):
    overview = report.summary_overview(results).set_index("paper")
    assert overview.loc["noise2noise", "rows"] == 3 and overview.loc["noise2noise", "with a claim"] == 2
    assert overview.loc["noise2noise", "Δ from (dB)"] == pytest.approx(32.0 - 32.39)


def test_facts_look_up_one_row_and_fail_on_none(results):
    facts = report.Facts(results)
    assert facts.psnr("noise2noise", "n2n", "kodak24", "smoke") == pytest.approx(32.0)
    assert facts.psnr("noise2noise", "n2n", "kodak24", "smoke", column="claim_psnr_db") == pytest.approx(32.39)
    assert facts.claim("noise2noise", "n2n", "kodak24", table="Table 1") == pytest.approx(32.48)
    assert facts.claim("noise2noise", "n2n", "kodak24") == pytest.approx(32.39)  # the README, priority 0
    assert facts.curve("noise2noise/n2n_smoke").to_dict() == {20: 28.5}
    with pytest.raises(KeyError, match="no row of the summary"):
        facts.psnr("noise2noise", "n2c", "kodak24", "smoke")
    with pytest.raises(KeyError, match="no run folder"):
        facts.run("noise2noise/missing")


FACTS = ["facts_noise2noise", "facts_ssdn", "facts_noise2score", "facts_zs_n2n", "facts_reproduce",
         "facts_protocol", "facts_intro"]


@pytest.mark.parametrize("name", FACTS)
def test_every_chapter_fact_is_computed_from_the_committed_results(name):
    """What each chapter pastes into its prose: every value a finite number or a non-empty phrase."""
    values = getattr(report, name)()
    assert values
    for key, value in values.items():
        value = report._plain(value)
        if isinstance(value, str):
            assert value.strip() and "nan" not in value, f"{key} = {value!r}"
        else:
            assert isinstance(value, (int, float)) and np.isfinite(value), f"{key} = {value!r}"


def test_long_identifiers_and_raw_headers_may_break_but_numbers_do_not():
    frame = pd.DataFrame({"run": ["noise2score/noise2score_gaussian_sigma25_gray_cpu_seed0"],
                          "max_abs_weight_diff": [0.5], "psnr_db": [31.25]})
    html = report.styled(frame).to_html()
    # breaks after "/", "_" and the "2" between two words
    assert "noise2\u200bscore/\u200bnoise2\u200bscore_\u200bgaussian_\u200b" in html
    assert "max_\u200babs_\u200bweight_\u200bdiff" in html and "reproduced (dB)" in html
    assert "white-space: nowrap" in html and "31.25" in html
