"""Tables and figures for the notebooks and the book, read from ``results/`` only.

Every function takes ``results_dir`` (default ``results/``, or ``$REPRO_RESULTS``) and never trains;
the one that evaluates, :func:`psnr_demo`, runs a 3×3 mean filter on four images in seconds. A paper with no run yet gives an empty table, and :func:`table` turns an empty
table into one clear sentence ("no committed run yet ...") instead of an error.

Main entry points (names other chapters rely on):

* :func:`summary_table`: every row of ``results/summary.csv`` with its best claim (claimed, reproduced,
  Δ, budget, device, hours);
* :func:`claims_vs_reproduced`: a paper's claims beside our numbers;
* :func:`coverage`: per paper and noise setting, how many verified claims have a reproduced number, and
  how many runs ``workflow/grid.csv`` plans for it (done, in progress, missing: :func:`grid_runs`);
* :func:`runs_table`: one row of facts per run folder (``run.json``);
* :func:`plot_curves`: a Figure of each run's ``curve.csv`` (``iteration``, ``loss``, optional
  ``val_psnr_db``);
* :func:`show_figures` / :func:`figure_grid`: the PNGs saved in a paper's run folders (one by one, or as one
  figure with a row per run);
* :class:`Facts` and the ``facts_<chapter>`` functions: the numbers each chapter's prose quotes (``{glue:text}``);
* :func:`folded` / :func:`runs_folded`: detail under a closed ``<details>`` line;
* :func:`table` / :func:`styled`: a pandas Styler with two decimals, or the sentence when empty;
* :func:`protocol_effects`: the measured protocol choices (runs under ``results/protocol/``).

>>> import tempfile
>>> empty = tempfile.mkdtemp()
>>> runs_table("ssdn", empty).empty, summary_table(empty).empty
(True, True)
>>> no_run_sentence("ssdn")
'No committed run yet for ssdn.'
"""
from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import claims as claims_mod
from . import budgets, papers, protocols, runs

PAPER_TITLES = {p.name: p.title for p in papers.PAPERS if not p.study}
# Column headers as the book shows them.
LABELS = {
    "paper": "paper", "method": "method", "noise": "noise", "param": "parameter", "dataset": "data set",
    "protocol": "protocol", "budget": "budget", "psnr_db": "reproduced (dB)", "ci95_db": "± 95% (dB)",
    "claim_psnr_db": "claimed (dB)", "delta_db": "Δ (dB)", "n_images": "images", "iterations": "iterations",
    "device": "device", "device_name": "device name", "hours": "hours", "train_hours": "train hours",
    "eval_hours": "eval hours", "run": "run", "complete": "complete", "claim_table": "claim from",
    "claim_source": "claim source", "status": "status", "seed": "seed", "git_commit": "commit",
    "table": "claim from", "sigma_known": "parameter known", "best_claim": "best claim for key",
    "claims": "verified claims", "reproduced": "reproduced", "budgets": "budgets",
    "planned": "runs planned", "done": "done", "in_progress": "in progress", "missing": "missing",
}
# What the Summary chapter shows of each row: the columns that fit the text column at 1400 px. The noise
# parameter names its noise (sigma= Gaussian, lam= Poisson, k= Gamma, p= Bernoulli); the protocol is the
# paper's; the noise, run folder and claim's table are in results/summary.csv and the chapter's source table.
SUMMARY_VIEW = ["paper", "method", "param", "dataset", "budget", "claim_psnr_db", "psnr_db", "delta_db",
                "ci95_db", "n_images", "device", "hours", "complete"]


def _root(results_dir) -> Path:
    return Path(results_dir) if results_dir is not None else runs.default_results_dir()


def no_run_sentence(paper: str | None = None) -> str:
    return f"No committed run yet for {paper}." if paper else "No committed run yet."


# ----------------------------------------------------------------------------------------------- reading
def load_summary(results_dir=None) -> pd.DataFrame:
    """``results/summary.csv`` as committed; rebuilt in memory from the run folders if it is missing."""
    path = _root(results_dir) / "summary.csv"
    if path.exists() and path.stat().st_size:
        return pd.read_csv(path, dtype={"run": str, "git_commit": str})
    rows = []
    for run in runs.all_runs(_root(results_dir)):
        try:
            rows.extend(run.summary_rows())
        except Exception:  # a run still writing its first line: nothing to summarise yet
            continue
    return pd.DataFrame(rows, columns=runs.SUMMARY_COLUMNS)


def load_claims(results_dir=None) -> pd.DataFrame:
    return claims_mod.load(_root(results_dir))


def run_infos(results_dir=None) -> list[dict]:
    """The ``run.json`` of every run folder ``results/<paper>/<name>/``."""
    out = []
    for path in sorted(_root(results_dir).glob("*/*/run.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        info.setdefault("run", f"{path.parent.parent.name}/{path.parent.name}")
        info["_path"] = str(path.parent)
        info["status"] = runs.Run(path.parent).state  # a killed "running" run reads "interrupted"
        out.append(info)
    return out


def _hours(seconds) -> float:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return float("nan")
    return value / 3600.0 if math.isfinite(value) else float("nan")


def _facts(results_dir=None) -> pd.DataFrame:
    rows = []
    for info in run_infos(results_dir):
        train_h = _hours(info.get("train_wall_s", 0.0) or 0.0)
        eval_h = _hours(info.get("eval_wall_s", 0.0) or 0.0)
        rows.append({"run": info["run"], "device_name": info.get("device_name", ""), "train_hours": train_h,
                     "eval_hours": eval_h, "hours": np.nansum([train_h, eval_h]), "status": info.get("status", "")})
    return pd.DataFrame(rows, columns=["run", "device_name", "train_hours", "eval_hours", "hours", "status"])


# ------------------------------------------------------------------------------------------------ tables
def summary_table(results_dir=None) -> pd.DataFrame:
    """Every row of ``results/summary.csv`` joined with its best claim.

    Adds ``claim_psnr_db``, ``delta_db`` (reproduced − claimed), ``claim_source``/``claim_table``, and from
    each run's ``run.json``: ``device_name``, ``train_hours``, ``eval_hours``, ``hours`` (their sum).
    """
    summary = load_summary(results_dir)
    joined = claims_mod.join(summary, load_claims(results_dir))
    if joined.empty:
        for col in ["device_name", "train_hours", "eval_hours", "hours"]:
            joined[col] = pd.Series(dtype=float if "hours" in col else object)
        return joined
    return joined.merge(_facts(results_dir).drop(columns=["status"]), on="run", how="left")


def claims_vs_reproduced(paper: str, results_dir=None) -> pd.DataFrame:
    """The paper's verified claims beside our numbers.

    One row per (claim, reproduced row) pair with the same method, noise, parameter and data set (every
    claim of that key, not only the best one: ``best_claim`` marks the one :func:`repro.claims.join`
    compares with), then the claims nobody has reproduced yet (reproduced empty), then our rows of this
    paper that match none of its claims.
    """
    cols = ["method", "noise", "param", "dataset", "table", "sigma_known", "claim_psnr_db", "psnr_db", "delta_db",
            "ci95_db", "budget", "device", "hours", "protocol", "run", "best_claim", "claim_id", "claim_source"]
    key = ["_m", "noise", "param", "dataset"]
    claims = load_claims(results_dir)
    claims = claims[claims["paper"] == paper].rename(columns={"psnr_db": "claim_psnr_db", "source": "claim_source"})
    claims = claims[["method", "noise", "param", "dataset", "table", "sigma_known", "claim_psnr_db", "priority",
                     "claim_id", "claim_source", "comparable"]].copy()
    claims["_m"] = claims["method"].map(claims_mod._match_method)
    ours = summary_table(results_dir)
    ours_cols = ["method", "noise", "param", "dataset", "psnr_db", "ci95_db", "budget", "device", "hours",
                 "protocol", "run", "claim_id"]
    ours = (ours[ours["paper"] == paper] if not ours.empty else ours.reindex(columns=ours_cols))[ours_cols].copy()
    ours = ours.rename(columns={"method": "our_method", "claim_id": "best_id"})
    ours["_m"] = ours["our_method"].map(claims_mod._match_method)
    if claims.empty and ours.empty:
        return pd.DataFrame(columns=cols)
    merged = claims.merge(ours, on=key, how="outer", indicator=True)
    merged["method"] = merged["method"].where(merged["method"].notna(), merged["our_method"])
    merged["claim_psnr_db"] = pd.to_numeric(merged["claim_psnr_db"], errors="coerce")
    merged["psnr_db"] = pd.to_numeric(merged["psnr_db"], errors="coerce")
    merged["delta_db"] = (merged["psnr_db"] - merged["claim_psnr_db"]).where(merged["comparable"] != "no")
    merged["best_claim"] = (pd.to_numeric(merged["claim_id"], errors="coerce")
                            == pd.to_numeric(merged["best_id"], errors="coerce"))
    merged["_o"] = merged["_merge"].astype(str).map({"both": 0, "left_only": 1, "right_only": 2})
    merged = merged.sort_values(["_o", "noise", "param", "method", "dataset", "priority", "claim_id"],
                                kind="stable", na_position="last")
    return merged[cols].reset_index(drop=True)


CLAIMS_VIEW = ["method", "noise", "param", "dataset", "table", "claim_psnr_db", "psnr_db", "delta_db", "ci95_db",
               "budget", "device", "hours", "best_claim"]


def claims_table(paper: str, results_dir=None, waiting_line: bool = True):
    """What a paper chapter shows of its claims, in three parts (an HTML block):

    1. the claims that stand beside a number of ours (claimed, reproduced, Δ, budget, cost);
    2. one line for the claims with no number yet ("n claims have no number of ours yet, in k settings: ..."),
       their full list collapsed under it (the line left out with ``waiting_line=False``, where the caller
       prints its own);
    3. our runs that match no claim (diagnostic variants, ablations, settings the paper does not report),
       collapsed and labelled as such, never mixed with the reproductions.
    """
    from IPython.display import HTML

    full = claims_vs_reproduced(paper, results_dir)
    if full.empty:
        return table(full, empty=f"No verified claim and no committed run yet for {paper}.")
    view = full.copy()
    view["table"] = view["table"].astype(str).str.replace(r"official repo README.*", "official README", regex=True)
    paired = view["claim_psnr_db"].notna() & view["psnr_db"].notna()
    waiting = view["claim_psnr_db"].notna() & view["psnr_db"].isna()
    unclaimed = view["claim_psnr_db"].isna()
    title = PAPER_TITLES.get(paper, paper)
    parts = []
    if paired.any():
        parts.append(styled(view.loc[paired, CLAIMS_VIEW], caption=f"{title}: claimed vs reproduced "
                            "(Δ = reproduced − claimed)").to_html())
    else:
        parts.append(f"<p>No claim of {title} stands beside a number of ours yet.</p>")
    if waiting.any():
        if waiting_line:
            parts.append(f"<p>{unreproduced_sentence(view[waiting])}</p>")
        columns = ["method", "noise", "param", "dataset", "table", "claim_psnr_db"]
        parts.append(_collapsed(f"All {int(waiting.sum())} claims with no number of ours yet",
                                styled(view.loc[waiting, columns]).to_html()))
    if unclaimed.any():
        columns = ["method", "noise", "param", "dataset", "psnr_db", "ci95_db", "budget", "run"]
        parts.append(_collapsed(f"Our {int(unclaimed.sum())} rows that match no claim: diagnostic variants, "
                                "ablations and settings the paper does not report (not reproductions)",
                                styled(view.loc[unclaimed, columns]).to_html()))
    return HTML("\n".join(parts))


def paper_table(paper: str, metric: str, budget: str = "cpu", results_dir=None):
    """The paper's table as it lays it out, for the settings we ran: a row per method, a column per data set,
    'ours (claimed)' in each cell at ``budget``; then one line for the settings we did not run, and every
    claim in full (budget, Δ, interval, cost; our rows that match no claim) folded under it."""
    from IPython.display import HTML

    full = claims_vs_reproduced(paper, results_dir)
    printed = full[full.claim_psnr_db.notna() & full.table.astype(str).str.startswith("Table")]
    key = ["noise", "param", "method", "dataset"]
    claim = printed.drop_duplicates(key).set_index(key)["claim_psnr_db"]
    ours = printed[(printed.budget == budget) & printed.psnr_db.notna()].drop_duplicates(key).set_index(key)
    ran = ours.reset_index()[["noise", "param"]].drop_duplicates()
    cells = claim.reset_index().merge(ran)
    parts = []
    if cells.empty:
        parts.append(f"<p>No claim of {paper} stands beside a number of ours at the <code>{budget}</code> budget "
                     "yet.</p>")
    else:
        def cell(row):
            k = tuple(row[key])
            if k not in ours.index:
                return f"– ({row.claim_psnr_db:.2f})"
            copy = "*" if pd.isna(ours.loc[k, "delta_db"]) else ""  # a claim noted as a copy: compared with nothing
            return f"{ours.loc[k, 'psnr_db']:.2f} ({row.claim_psnr_db:.2f}{copy})"

        cells["cell"] = cells.apply(cell, axis=1)
        rank = {m: i for i, m in enumerate(papers.get(paper).methods)}
        cells = cells.sort_values("method", key=lambda m: m.map(rank).fillna(len(rank)), kind="stable")
        wide = cells.pivot_table(index=["noise", "param", "method"], columns="dataset", values="cell",
                                 aggfunc="first", sort=False).fillna("")
        copies = (" *: a claim noted as a copy of another row, compared with nothing."
                  if "*)" in cells.cell.str.cat() else "")
        parts.append(table(wide.reset_index(), caption=f"{papers.get(paper).title}: ours at the {budget} "
                           f"budget (claimed), {metric} (dB); –: no number of ours.{copies}").to_html())
    rest = full[full.claim_psnr_db.notna() & full.psnr_db.isna()].merge(ran, how="left", indicator=True)
    rest = rest[rest._merge == "left_only"]
    if len(rest):
        parts.append(f"<p>{unreproduced_sentence(rest)}</p>")
    parts.append(folded("Every claim in full: our number at each budget, Δ, 95 % interval and cost; the "
                        "claims with no number of ours; our rows that match no claim (diagnostics, "
                        "ablations)", claims_table(paper, results_dir, waiting_line=False)).data)
    return HTML("\n".join(parts))


def unreproduced_sentence(waiting: pd.DataFrame) -> str:
    """'n claims have no number of ours yet, in k settings: gaussian sigma=50 (12), ...'.

    >>> unreproduced_sentence(pd.DataFrame({"noise": ["poisson", "poisson", "gaussian"],
    ...                                     "param": ["lam=30", "lam=30", "sigma=50"]}))
    '3 claims have no number of ours yet, in 2 settings: poisson lam=30 (2), gaussian sigma=50 (1).'
    """
    counts = waiting.groupby(["noise", "param"], sort=False).size().sort_values(ascending=False, kind="stable")
    settings = ", ".join(f"{noise} {param} ({n})" for (noise, param), n in counts.items())
    claims_have = "claim has" if len(waiting) == 1 else "claims have"
    return (f"{len(waiting)} {claims_have} no number of ours yet, in {len(counts)} "
            f"setting{'' if len(counts) == 1 else 's'}: {settings}.")


def _collapsed(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n{body}\n</details>"


def _best_row(table: pd.DataFrame, paper: str, method: str, noise: str, param: str, dataset: str):
    """Our row for one (paper, method, setting, data set) at the largest budget with a complete run, or None."""
    rows = table[(table["paper"] == paper) & (table["method"] == method) & (table["noise"] == noise)
                 & (table["param"] == param) & (table["dataset"] == dataset)]
    rows = rows[rows["complete"].astype(str) == "True"]
    if rows.empty:
        return None
    return rows.loc[rows["budget"].map(budgets.rank).astype(int).idxmax()]


def headline_table(results_dir=None) -> pd.DataFrame:
    """One row per paper: its main claim (registry ``headline``), ours at our largest budget, Δ and cost,
    and whether its central comparison (registry ``comparison``) holds in our runs of the same setting."""
    table = summary_table(results_dir)
    claims = load_claims(results_dir)
    rows = []
    for paper in papers.with_results():
        if paper.headline is None:
            continue
        method, noise, param, dataset = paper.headline
        ours = _best_row(table, paper.name, method, noise, param, dataset) if len(table) else None
        row = {"paper": paper.title, "setting": f"{method}, {noise} {param}, {dataset}",
               "claim_psnr_db": float("nan"), "psnr_db": float("nan"), "delta_db": float("nan"), "budget": "",
               "hours": float("nan"), "comparison": ""}
        if ours is not None:
            row.update(claim_psnr_db=ours["claim_psnr_db"], psnr_db=ours["psnr_db"], delta_db=ours["delta_db"],
                       budget=ours["budget"], hours=ours["hours"])
        if paper.comparison is not None and ours is not None:
            row["comparison"] = _verdict(paper.comparison, table, paper.name, noise, param, dataset, claims)
        rows.append(row)
    return pd.DataFrame(rows)


def _counterpart(table: pd.DataFrame, ours, method: str, paper: str):
    """The row ``ours`` is compared with: ``method`` on the same noise, parameter and data set, scored under
    the same protocol as ``ours`` (same images, noise realisations and PSNR), whichever paper's folder it is
    filed under (Neighbor2Neighbor's N2N baseline is a Noise2Noise run). At ``ours``'s budget when there is
    one (the same training length), else the largest; the paper's own row first. None when not run.
    """
    rows = table[(table["protocol"] == ours["protocol"]) & (table["method"] == method)
                 & (table["noise"] == ours["noise"]) & (table["param"] == ours["param"])
                 & (table["dataset"] == ours["dataset"]) & (table["complete"].astype(str) == "True")]
    for column, wanted in (("budget", ours["budget"]), ("paper", paper)):  # narrowed only where it leaves a row
        rows = rows[rows[column] == wanted] if (rows[column] == wanted).any() else rows
    if rows.empty:
        return None
    return rows.loc[rows["budget"].map(budgets.rank).astype(int).idxmax()]


def _paper_claim(paper: str, row, claims: pd.DataFrame) -> float:
    """What ``paper`` itself claims for ``row``'s method, setting and data set (NaN when its tables do not
    say): a comparison's claimed margin is read from one paper's table, never across two papers."""
    probe = pd.DataFrame([{"paper": paper, "protocol": paper, "method": row["method"], "noise": row["noise"],
                           "param": row["param"], "dataset": row["dataset"], "psnr_db": row["psnr_db"]}])
    return float(claims_mod.join(probe, claims)["claim_psnr_db"].iloc[0])


def _verdict(comparison, table: pd.DataFrame, paper: str, noise: str, param: str, dataset: str,
             claims: pd.DataFrame) -> str:
    a = _best_row(table, paper, comparison.a, noise, param, dataset)
    b = _counterpart(table, a, comparison.b, paper) if a is not None else None
    if a is None or b is None:
        return f"{comparison}: not run"
    ours = float(a["psnr_db"] - b["psnr_db"])
    claimed = _paper_claim(paper, a, claims) - _paper_claim(paper, b, claims)  # NaN when either is missing
    paper_says = f" (paper {claimed:+.2f})" if math.isfinite(claimed) else ""
    verdict = "holds" if comparison.holds(ours) else "does not hold"
    budget = "" if b["budget"] == a["budget"] else f", against {comparison.b} at budget {b['budget']}"
    return f"{comparison}: {verdict}, {ours:+.2f} dB{paper_says}{budget}"


def paired_difference(run_a: str, run_b: str, dataset: str, results_dir=None) -> tuple[float, float, int]:
    """Mean per-image PSNR difference a − b on ``dataset`` between two run folders scored under one protocol,
    its 95 % half-width and the number of images: ``(mean, half_width, n)``, NaNs when either has no
    ``per_image.csv``.

    The protocol seeds each (image, repeat), so both runs saw the same noisy images and the difference is
    paired by image; an image's repeats are averaged first (they are not independent images), so the interval
    is over images (:func:`repro.metrics.mean_ci95`).
    """
    from .evaluate import read_per_image
    from .metrics import mean_ci95

    root = Path(results_dir or runs.default_results_dir())
    paths = [root / run / "per_image.csv" for run in (run_a, run_b)]
    if not all(path.exists() for path in paths):
        return float("nan"), float("nan"), 0
    a, b = (_image_means(read_per_image(path), dataset) for path in paths)
    both = (a - b).dropna()
    if len(both) < 2:
        return float("nan"), float("nan"), len(both)
    mean, half = mean_ci95(both.values)
    return mean, half, len(both)


def _image_means(per_image: pd.DataFrame, dataset: str) -> pd.Series:
    """PSNR per image of ``dataset``, its repeats averaged."""
    return per_image[per_image["dataset"] == dataset].groupby("image")["psnr_db"].mean()


def comparisons_table(paper: str, comparisons, noise: str, param: str, table: str, results_dir=None) -> pd.DataFrame:
    """A paper's comparisons (:class:`repro.papers.Comparison`) in one noise setting, per data set of its
    protocol: ours (``a`` at our largest complete budget against ``b`` under the same protocol, as
    :func:`headline_table`) with the 95 % interval of the difference paired by image
    (:func:`paired_difference`), the paper's margin read from its table ``table`` alone (both numbers from the
    same table, never a README beside it), and whether ours bears the comparison out (the verdict reads the
    mean difference, as the paper's table does; the interval says how far chance could move it).
    """
    summary, claims = summary_table(results_dir), load_claims(results_dir)
    own = claims[(claims["paper"] == paper) & (claims["table"] == table) & (claims["noise"] == noise)
                 & (claims["param"] == param)]
    claimed = own.groupby(["method", "dataset"])["psnr_db"].first()
    rows = []
    for comparison in comparisons:
        for dataset in protocols.get(papers.get(paper).protocol).datasets:
            a = _best_row(summary, paper, comparison.a, noise, param, dataset) if len(summary) else None
            b = _counterpart(summary, a, comparison.b, paper) if a is not None else None
            paper_margin = (claimed.get((comparison.a, dataset), float("nan"))
                            - claimed.get((comparison.b, dataset), float("nan")))
            psnr_a = a["psnr_db"] if a is not None else float("nan")
            psnr_b = b["psnr_db"] if b is not None else float("nan")
            budgets_used = [] if a is None else [a["budget"]] if b is None else [a["budget"], b["budget"]]
            verdict = "not run" if b is None else "holds" if comparison.holds(psnr_a - psnr_b) else "does not hold"
            half = paired_difference(a["run"], b["run"], dataset, results_dir)[1] if b is not None else float("nan")
            rows.append({"comparison": str(comparison), "dataset": dataset, "a (dB)": psnr_a, "b (dB)": psnr_b,
                         "ours a − b (dB)": psnr_a - psnr_b, "± 95% paired (dB)": half,
                         f"{table} a − b (dB)": paper_margin,
                         "budget": " / ".join(dict.fromkeys(budgets_used)), "verdict": verdict})
    return pd.DataFrame(rows)


def gap_vs_compute_figure(results_dir=None) -> Figure:
    """Δ (reproduced − claimed) against the hours each run took, one point per run row of each paper's own
    method (its registry ``headline`` method) that stands beside a claim."""
    table = summary_table(results_dir)
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for paper in papers.with_results():
        if paper.headline is None or not len(table):
            continue
        rows = table[(table["paper"] == paper.name) & (table["method"] == paper.headline[0])
                     & table["delta_db"].notna() & (table["hours"] > 0)]
        if len(rows):
            ax.scatter(rows["hours"], rows["delta_db"], label=paper.title.split(" (")[0], alpha=0.8)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xscale="log", xlabel="hours of compute behind the number (training + evaluation)",
           ylabel="Δ = reproduced − claimed (dB)")
    if ax.collections:
        ax.legend(fontsize=8)
    return fig


GRID_CSV = Path(__file__).resolve().parent.parent / "workflow" / "grid.csv"  # the runs the workflow plans
RUN_STATES = ("done", "in_progress", "missing")


def run_state(folder) -> str:
    """``done`` (run.json says complete), ``in_progress`` (run.json there, not complete: running, paused or
    interrupted) or ``missing`` (no run.json): what the workflow's plan and the book agree a grid run is.

    >>> import tempfile
    >>> run_state(tempfile.mkdtemp())
    'missing'
    """
    folder = Path(folder)
    if not (folder / "run.json").exists():
        return "missing"
    return "done" if runs.Run(folder).state == "complete" else "in_progress"


def grid_runs(budget: str = "cpu", grid=None, results_dir=None) -> pd.DataFrame:
    """The rows of ``workflow/grid.csv`` (or ``grid``) at ``budget``, each with the :func:`run_state` of its
    run folder under ``results_dir``: the file snakemake plans from, so the book cannot disagree with it.

    >>> import tempfile
    >>> planned = grid_runs("cpu", results_dir=tempfile.mkdtemp())
    >>> len(planned) > 0, set(planned["state"])
    (True, {'missing'})
    """
    table = pd.read_csv(grid if grid is not None else GRID_CSV, dtype=str, keep_default_na=False)
    table = table[table["budget"] == budget].reset_index(drop=True)
    table["state"] = [run_state(_root(results_dir) / run) for run in table["run"]]
    return table


def coverage(results_dir=None, grid=None, budget: str = "cpu") -> pd.DataFrame:
    """Per noise setting of each paper: how many verified claims stand beside a reproduced number, and how
    many runs the workflow's grid plans for it at ``budget`` and how far they are.

    One row per (paper, noise, parameter) that has a verified claim or a grid run: ``claims`` (verified
    claim rows, every method of the paper's table), ``reproduced`` (how many of those claims
    :func:`claims_vs_reproduced` pairs with one of our rows, at any budget), the ``budgets`` of those rows;
    from :func:`grid_runs`: ``planned`` runs at ``budget`` and how many are ``done``, ``in_progress`` and
    ``missing``. A setting with claims and nothing planned is one the notebooks cannot run yet.
    """
    cols = ["paper", "noise", "param", "claims", "reproduced", "budgets", "planned", *RUN_STATES]
    rows = {}
    for paper in sorted(load_claims(results_dir)["paper"].dropna().unique()):
        full = claims_vs_reproduced(paper, results_dir)
        claimed = full[full["claim_id"].notna()]
        for (noise, param), group in claimed.groupby(["noise", "param"], sort=True):
            hit = group[group["psnr_db"].notna()]
            rows[paper, noise, param] = {"claims": group["claim_id"].nunique(), "reproduced": hit["claim_id"].nunique(),
                                         "budgets": ", ".join(sorted(hit["budget"].dropna().astype(str).unique()))}
    planned = grid_runs(budget, grid, results_dir)
    for key, group in planned.groupby(["paper", "noise", "param"], sort=True):
        row = rows.setdefault(key, {"claims": 0, "reproduced": 0, "budgets": ""})  # run, but claimed nowhere
        row["planned"] = len(group)
        row.update({state: int((group["state"] == state).sum()) for state in RUN_STATES})
    table = pd.DataFrame([{"paper": k[0], "noise": k[1], "param": k[2], **v} for k, v in sorted(rows.items())],
                         columns=cols)
    counts = ["planned", *RUN_STATES]
    table[counts] = table[counts].fillna(0).astype(int)  # a claimed setting the grid does not plan: 0 runs
    return table


def runs_table(paper: str, results_dir=None) -> pd.DataFrame:
    """One row per run folder of ``paper`` with the facts of its ``run.json``."""
    cols = ["run", "method", "noise", "param", "protocol", "budget", "status", "device", "device_name",
            "iterations", "train_hours", "eval_hours", "seed", "git_commit", "started", "finished"]
    rows = []
    for info in run_infos(results_dir):
        if info.get("paper") != paper:
            continue
        row = {c: info.get(c) for c in cols}
        row["train_hours"] = _hours(info.get("train_wall_s", 0.0) or 0.0)
        row["eval_hours"] = _hours(info.get("eval_wall_s", 0.0) or 0.0)
        row["git_commit"] = str(info.get("git_commit", ""))[:10]
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def parameter_estimates(paper: str = "noise2score", results_dir=None) -> pd.DataFrame:
    """The noise parameter estimated at test time, one row per complete unknown-parameter run of ``paper``:
    the true value, and the mean, spread and range of the per-image estimates its run.json records
    (``sigma_estimates``, ``lam_estimates`` or ``k_estimates``)."""
    cols = ["noise", "channels", "budget", "true", "estimated mean", "std", "min", "max", "images", "run"]
    rows = []
    for info in run_infos(results_dir):
        if info.get("paper") != paper or info.get("status") != "complete":
            continue
        name, _, true = str(info.get("param", "")).partition("=")
        estimates = info.get(f"{name}_estimates")
        if not estimates:
            continue
        rows.append({"noise": info["noise"], "channels": info["params"]["setting"]["channels"],
                     "budget": info.get("budget"), "true": f"{name}={true}",
                     "estimated mean": estimates["mean"], "std": estimates["std"], "min": estimates["min"],
                     "max": estimates["max"], "images": estimates["n"], "run": info["run"]})
    return pd.DataFrame(rows, columns=cols)


def protocol_effects(results_dir=None) -> pd.DataFrame:
    """The measured protocol-effects table, from run folders ``results/protocol/<name>/``.

    Each such folder holds a ``per_image.csv`` (as every run) and a ``run.json`` naming the choice it
    measures: ``effect`` (e.g. "clip the noisy input"), ``variant`` (e.g. "clipped") and
    ``reference: true`` on the variant the others are compared with. The table has one row per
    (effect, data set, variant): mean PSNR, its 95% interval and Δ to the reference variant.
    """
    from .evaluate import summarize

    cols = ["effect", "dataset", "variant", "method", "psnr_db", "ci95_db", "n_images", "delta_db", "run"]
    rows = []
    for path in sorted((_root(results_dir) / "protocol").glob("*/run.json")):
        info = json.loads(path.read_text())
        per_image = path.parent / "per_image.csv"
        if "effect" not in info or not per_image.exists():  # e.g. the trained models behind the training rows
            continue
        for r in summarize(pd.read_csv(per_image, dtype={"image": str})).to_dict("records"):
            rows.append({"effect": info["effect"], "dataset": r["dataset"],
                         "variant": info.get("variant", path.parent.name), "method": info.get("method", ""),
                         "psnr_db": r["psnr_db"], "ci95_db": r["ci95_db"], "n_images": r["n_images"],
                         "reference": bool(info.get("reference", False)), "run": f"protocol/{path.parent.name}"})
    table = pd.DataFrame(rows, columns=cols + ["reference"])
    if table.empty:
        return table[cols]
    ref = table[table["reference"]].set_index(["effect", "dataset"])["psnr_db"]
    table["delta_db"] = [r.psnr_db - ref.get((r.effect, r.dataset), np.nan) for r in table.itertuples()]
    return table.sort_values(["effect", "dataset", "reference"], ascending=[True, True, False])[cols].reset_index(
        drop=True)


def cost_table(results_dir=None) -> pd.DataFrame:
    """What the committed runs cost: per paper, method, budget and device, the runs, iterations and hours."""
    cols = ["paper", "method", "budget", "device", "device_name", "runs", "iterations", "train_hours", "eval_hours"]
    rows = [{"paper": i.get("paper"), "method": i.get("method"), "budget": i.get("budget"), "device": i.get("device"),
             "device_name": i.get("device_name", ""), "iterations": i.get("iterations", 0) or 0,
             "train_hours": _hours(i.get("train_wall_s", 0.0) or 0.0),
             "eval_hours": _hours(i.get("eval_wall_s", 0.0) or 0.0)} for i in run_infos(results_dir)]
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(rows).fillna({"device_name": "", "budget": "", "device": ""})
    out = frame.groupby(["paper", "method", "budget", "device", "device_name"], as_index=False).agg(
        runs=("iterations", "size"), iterations=("iterations", "max"), train_hours=("train_hours", "sum"),
        eval_hours=("eval_hours", "sum"))
    return out[cols]


def budgets_table() -> pd.DataFrame:
    """The budgets each method module declares (``repro.methods.<paper>.BUDGETS``), one row per budget."""
    import importlib
    import pkgutil

    from . import methods

    rows = []
    for info in pkgutil.iter_modules(methods.__path__):
        try:
            module = importlib.import_module(f"{methods.__name__}.{info.name}")
        except Exception:  # a module that does not import here is simply not listed
            continue
        for budget, settings in (getattr(module, "BUDGETS", None) or {}).items():
            text = ", ".join(f"{k}={v}" for k, v in settings.items()) if isinstance(settings, dict) else str(settings)
            rows.append({"method module": info.name, "budget": budget, "settings": text})
    return pd.DataFrame(rows, columns=["method module", "budget", "settings"])


# ------------------------------------------------------------------------------- numbers in the prose
class Facts:
    """Single numbers of the committed results, for a chapter's sentences (pasted with ``{glue:text}``).

    A chapter computes in a hidden cell the numbers its prose quotes and hands them to :func:`glue`; the
    sentence then reads e.g. ``{glue:text}`n2n_kodak:.2f` dB``. Every look-up names its row and fails
    (``KeyError``) when no row or several rows match, so a sentence never quotes the wrong run.

    >>> import tempfile
    >>> facts = Facts(tempfile.mkdtemp())
    >>> facts.psnr("noise2noise", "n2n", "kodak24")
    Traceback (most recent call last):
    ...
    KeyError: "no row of the summary with paper='noise2noise', method='n2n', dataset='kodak24', budget='cpu', param='sigma=25'"
    """

    def __init__(self, results_dir=None):
        self.root = _root(results_dir)
        self.summary = summary_table(results_dir)
        self.claims = load_claims(results_dir)

    def psnr(self, paper: str, method: str, dataset: str, budget: str = "cpu", param: str = "sigma=25",
             column: str = "psnr_db") -> float:
        """``column`` (reproduced PSNR by default; ``claim_psnr_db``, ``delta_db``, ``ci95_db``, ``hours``, ...)
        of the one summary row of (paper, method, data set, budget, noise parameter)."""
        return lookup(self.summary, column, what="the summary", paper=paper, method=method, dataset=dataset,
                      budget=budget, param=param)

    def claim(self, paper: str, method: str, dataset: str, param: str = "sigma=25", table: str | None = None) -> float:
        """A verified claim of ``results/claims.csv``: the best one of its key (lowest priority, as the summary
        compares), or the one from the paper table whose name starts with ``table`` (e.g. "Table 1")."""
        rows = self.claims[(self.claims["paper"] == paper) & (self.claims["method"] == method)
                           & (self.claims["dataset"] == dataset) & (self.claims["param"] == param)]
        if table is not None:
            rows = rows[rows["table"].astype(str).str.startswith(table)]
        if rows.empty:
            raise KeyError(f"no claim with paper={paper!r}, method={method!r}, dataset={dataset!r}, param={param!r}"
                           + (f", table={table!r}" if table else ""))
        return float(rows.sort_values(["priority", "claim_id"], kind="stable")["psnr_db"].iloc[0])

    def run(self, run: str) -> dict:
        """The ``run.json`` of ``results/<run>`` (e.g. ``"noise2noise/n2n_gaussian_cpu_seed0"``)."""
        path = self.root / run / "run.json"
        if not path.exists():
            raise KeyError(f"no run folder {run!r} under {self.root}")
        return json.loads(path.read_text())

    def curve(self, run: str, column: str = "val_psnr_db") -> pd.Series:
        """One column of a run's ``curve.csv``, indexed by iteration, without its empty entries."""
        curve = pd.read_csv(self.root / run / "curve.csv")
        return curve.dropna(subset=[column]).set_index("iteration")[column]

    def seconds_per_step(self, run: str, start: int, end: int) -> float:
        """Wall seconds per training step between two logged iterations of a run (``elapsed_s`` of its
        ``curve.csv``), e.g. over a stretch the machine was otherwise idle."""
        elapsed = pd.read_csv(self.root / run / "curve.csv").set_index("iteration")["elapsed_s"]
        return float((elapsed.loc[end] - elapsed.loc[start]) / (end - start))

    def csv(self, *parts: str, **read_csv) -> pd.DataFrame:
        """A committed table under ``results/``, e.g. ``facts.csv("timing", "cpu_step_seconds.csv")``."""
        return pd.read_csv(self.root.joinpath(*parts), **read_csv)


def lookup(table: pd.DataFrame, column: str = "psnr_db", what: str = "the table", **where) -> float:
    """The value of ``column`` in the one row of ``table`` whose columns equal ``where``.

    >>> t = pd.DataFrame({"method": ["n2n", "n2c"], "dataset": ["kodak24"] * 2, "psnr_db": [31.95, 32.0]})
    >>> lookup(t, method="n2c", dataset="kodak24")
    32.0
    >>> lookup(t, dataset="kodak24")
    Traceback (most recent call last):
    ...
    KeyError: "2 rows of the table with dataset='kodak24'"
    """
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    condition = ", ".join(f"{k}={v!r}" for k, v in where.items())
    if len(rows) != 1:
        raise KeyError(f"{'no' if rows.empty else len(rows)} row{'' if rows.empty else 's'} of {what} with {condition}")
    return _plain(rows[column].iloc[0])


def _plain(value):
    """A Python scalar for a numpy one (whose repr, ``np.float64(31.9)``, a glue role cannot read)."""
    return value.item() if isinstance(value, np.generic) else value


def span(values, decimals: int = 2, signed: bool = False) -> str:
    """The range of ``values`` as prose writes it: "0.03–0.06", or one number when they round alike.

    >>> span([0.051, 0.03, 0.06]), span([0.301, 0.299], 1), span([-0.2, 0.1], 1, signed=True)
    ('0.03–0.06', '0.3', '-0.2 to +0.1')
    """
    values = [float(v) for v in values]
    spec = f"{'+' if signed else ''}.{decimals}f"
    low, high = format(min(values), spec), format(max(values), spec)
    if low == high:
        return low
    return f"{low} to {high}" if signed or min(values) < 0 else f"{low}–{high}"


def listing(values, decimals: int = 2, sep: str = " / ", signed: bool = False) -> str:
    """Numbers in the order given, e.g. one per data set: "1.80 / 2.39 / 1.48".

    >>> listing([1.8, 2.391, 1.48]), listing([-0.85, 0.004], 3, ", ", signed=True)
    ('1.80 / 2.39 / 1.48', '-0.850, +0.004')
    """
    spec = f"{'+' if signed else ''}.{decimals}f"
    return sep.join(format(float(v), spec) for v in values)


def duration(seconds: float) -> str:
    """A measured time as prose writes it.

    >>> duration(12.4), duration(95), duration(3360), duration(6120), duration(7200)
    ('12 s', '2 min', '56 min', '1 h 42 min', '2 h')
    """
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def margin(difference: float, decimals: int = 1, ahead: str = "ahead", behind: str = "behind") -> str:
    """A signed difference in words: "0.4 dB ahead", "0.4 dB behind", "level".

    >>> margin(0.42), margin(-0.38), margin(0.004, 3), margin(0.01)
    ('0.4 dB ahead', '0.4 dB behind', '0.004 dB ahead', 'level')
    """
    text = format(abs(float(difference)), f".{decimals}f")
    if float(text) == 0:
        return "level"
    return f"{text} dB {ahead if difference > 0 else behind}"


def validation_table(runs_by_label: dict, steps, facts: "Facts | None" = None) -> pd.DataFrame:
    """Validation PSNR (dB) of several runs at the same logged steps: one row per run, one column per step
    (empty where a run logged nothing at that step)."""
    facts = facts or Facts()
    rows = []
    for label, run in runs_by_label.items():
        curve = facts.curve(run)
        rows.append({"run": label, **{f"step {s:,}": curve.get(s, np.nan) for s in steps}})
    return pd.DataFrame(rows)


def glue(**values) -> dict:
    """Store each value for the chapter's ``{glue:text}`name:format``` roles (nothing is displayed).

    Numpy scalars become Python numbers first, so that a format such as ``:.2f`` applies. Outside a
    notebook (no kernel) the values are only returned.
    """
    values = {name: _plain(value) for name, value in values.items()}
    try:
        from IPython import get_ipython
        from myst_nb import glue as _glue
    except ImportError:
        return values
    if get_ipython() is not None:
        for name, value in values.items():
            _glue(name, value, display=False)
    return values


# --------------------------------------------------------------- the numbers each chapter's prose quotes
# One function per chapter: a dict of named values (numbers, or phrases computed from numbers) that the
# chapter hands to glue(**...) and quotes with {glue:text}`name:format`. tests/test_report.py runs each one on
# the committed results.
SETS_N2N = ["kodak24", "bsd300_test", "set14"]
SET_NAMES = {"kodak24": "Kodak", "bsd300_test": "BSD300", "set14": "Set14"}  # as the prose names them
NOISY_DB_SIGMA25 = 20 * math.log10(255 / 25)  # PSNR of the noisy input at σ = 25 (peak 255), an identity


def facts_noise2noise(facts: Facts | None = None) -> dict:
    f = facts or Facts()
    P, bar = "noise2noise", 0.1  # the bar for N2N against N2C

    def ours(method, dataset, budget="cpu", column="psnr_db"):
        return f.psnr(P, method, dataset, budget, column=column)

    behind = [ours("n2c", d) - ours("n2n", d) for d in SETS_N2N]
    gap = {b: {m: [-ours(m, d, b, "delta_db") for d in SETS_N2N] for m in ("n2n", "n2c")} for b in ("cpu-6k", "cpu")}
    step_s = lookup(f.csv("timing", "cpu_step_seconds.csv"), "s_per_step", paper=P)
    runs_ = {m: f"{P}/{m}_gaussian_cpu_seed0" for m in ("n2n", "n2c")}
    info = f.run(runs_["n2n"])
    ramp_start = info["iterations"] * (1 - info["params"]["rampdown_fraction"])
    val = {m: f.curve(run) for m, run in runs_.items()}
    flat = {m: v[v.index <= ramp_start] for m, v in val.items()}
    red30_ahead = [f.claim(P, m, d, table="Table 1") - f.claim(P, m, d) for m in ("n2n", "n2c")
                   for d in ("kodak24", "bsd300_test")]
    return dict(
        bar=bar, n2n_behind=span(behind),
        bar_verdict="within the bar on every set" if max(behind) <= bar else "outside the bar on at least one set",
        n2n_behind_phrase="behind N2C on every set" if min(behind) > 0 else "from N2C, on either side",
        step_s=step_s, cpu_minutes=duration(info["iterations"] * step_s), cpu_iterations=f"{info['iterations']:,}",
        wall=duration(info["train_wall_s"]),
        kodak_gap_6k=gap["cpu-6k"]["n2n"][0], kodak_gap=gap["cpu"]["n2n"][0], bsd_gap=gap["cpu"]["n2n"][1],
        set14_gap=gap["cpu"]["n2n"][2], set14_gap_6k=gap["cpu-6k"]["n2n"][2],
        n2n_kodak=ours("n2n", "kodak24"), n2n_kodak_claim=ours("n2n", "kodak24", column="claim_psnr_db"),
        n2c_kodak=ours("n2c", "kodak24"), n2c_kodak_claim=ours("n2c", "kodak24", column="claim_psnr_db"),
        n2n_bsd=ours("n2n", "bsd300_test"), n2n_bsd_claim=ours("n2n", "bsd300_test", column="claim_psnr_db"),
        n2c_bsd=ours("n2c", "bsd300_test"), n2c_bsd_claim=ours("n2c", "bsd300_test", column="claim_psnr_db"),
        red30_ahead=span(red30_ahead),
        val_above=val["n2n"].iloc[-1] - ours("n2n", "kodak24"),
        bernoulli_val_above=(f.curve(f"{P}/n2n_bernoulli_cpu_seed0").iloc[-1]
                             - f.psnr(P, "n2n", "kodak24", param="p=0.5")),
        **_bernoulli_facts(f, P),
        n2n_val_mid=val["n2n"].loc[12500], n2n_val_flat=flat["n2n"].iloc[-1],
        n2c_val_mid=val["n2c"].loc[12500], n2c_val_flat=flat["n2c"].iloc[-1],
        flat_step=f"{flat['n2n'].index[-1]:,}",
        ramp_gain=span([val[m].iloc[-1] - flat[m].iloc[-1] for m in val], 1),
        red30_kodak=listing([f.claim(P, m, "kodak24", table="Table 1") for m in ("n2c", "n2n")]),
        readme_kodak=f.claim(P, "n2n", "kodak24"), readme_bsd=f.claim(P, "n2n", "bsd300_test"),
        bm3d_claims=listing([f.claim(P, "bm3d", d) for d in SETS_N2N]),
    )


def _bernoulli_facts(f: Facts, P: str) -> dict:
    """The Bernoulli p = 0.5 comparison in prose: which of N2N and N2C is ahead on each set and by how much
    (with the paired interval), against Table 1's order; where the comparison holds; each method's shortfall
    against Table 1."""
    table = comparisons_table(P, [papers.get(P).comparison], "bernoulli", "p=0.5", "Table 1", f.root)
    held = [SET_NAMES[d] for d in table.loc[table.verdict == "holds", "dataset"]]
    missed = [SET_NAMES[d] for d in table.loc[table.verdict == "does not hold", "dataset"]]
    shortfall = {m: [f.claim(P, m, d, param="p=0.5", table="Table 1") - f.psnr(P, m, d, param="p=0.5")
                     for d in SETS_N2N] for m in ("n2n", "n2c")}
    ours, paper_ahead = table["ours a − b (dB)"], bool((table["Table 1 a − b (dB)"] > 0).all())
    if (ours > 0).all() or (ours < 0).all():
        leader, other = ("N2N", "N2C") if (ours > 0).all() else ("N2C", "N2N")
        kept = (leader == "N2N") == paper_ahead
        order = (f"Ours {'keeps' if kept else 'turns round'} Table 1's order: {leader} is ahead of {other} by "
                 f"{listing(ours.abs())}")
        cost = ("at our budget they gain a little" + (", as in the paper" if kept else "") if leader == "N2N"
                else "at our budget they cost a little" + ("" if kept else " instead of gaining a little"))
    else:
        order, cost = f"Ours has N2N − N2C at {listing(ours, signed=True)}", "which of the two is ahead varies by set"
    return dict(
        bernoulli_order=order, bernoulli_cost=cost,
        bernoulli_ci=listing(table["± 95% paired (dB)"]),
        bernoulli_paper_n2n_ahead=listing(table["Table 1 a − b (dB)"]),
        bernoulli_verdict=(f"holds on {' and '.join(held) or 'no set'}"
                           + (f", not on {' and '.join(missed)}" if missed else "")),
        bernoulli_n2n_short=listing(shortfall["n2n"]), bernoulli_n2c_short=listing(shortfall["n2c"]),
    )


def facts_ssdn(facts: Facts | None = None) -> dict:
    f = facts or Facts()
    P = "ssdn"

    def ours(method, dataset, budget="cpu", column="psnr_db"):
        return f.psnr(P, method, dataset, budget, column=column)

    def each(fn):
        return [fn(d) for d in SETS_N2N]

    run = {m: f"{P}/{name}" for m, name in [("ssdn", "ssdn_known_sigma25_cpu_seed0"),
                                             ("ssdn_unknown_sigma", "ssdn_global_sigma25_cpu_seed0"),
                                             ("ssdn_mu", "ssdn_mu_sigma25_cpu_seed0"), ("n2c", "n2c_sigma25_cpu_seed0"),
                                             ("n2n", "n2n_sigma25_cpu_seed0"), ("n2v", "n2v_sigma25_cpu_seed0")]}
    minutes = {m: f.run(r)["train_wall_s"] / 60 for m, r in run.items()}
    unknown_minus_known = each(lambda d: ours("ssdn_unknown_sigma", d) - ours("ssdn", d))
    ci = [ours(m, d, column="ci95_db") for m in ("ssdn", "ssdn_unknown_sigma") for d in SETS_N2N]
    tie = max(abs(v) for v in unknown_minus_known) < min(ci)
    paper_known_minus_unknown = each(lambda d: f.claim(P, "ssdn", d, table="Table 1")
                                     - f.claim(P, "ssdn_unknown_sigma", d, table="Table 1"))
    mu_margin = each(lambda d: ours("ssdn_unknown_sigma", d) - ours("ssdn_mu", d))
    paper_mu_margin = each(lambda d: f.claim(P, "ssdn_unknown_sigma", d) - f.claim(P, "ssdn_mu", d))
    short = {d: [ours(m, d, column="delta_db") for m in ("ssdn", "ssdn_unknown_sigma", "ssdn_mu")] for d in SETS_N2N}
    claims_spread = each(lambda d: max(f.claim(P, m, d, table="Table 1") for m in ("ssdn", "n2c", "n2n"))
                         - min(f.claim(P, m, d, table="Table 1") for m in ("ssdn", "n2c", "n2n")))
    ahead_3k = [ours("ssdn", d, "cpu-3k") - ours(m, d, "cpu-3k") for m in ("n2c", "n2n") for d in SETS_N2N]
    val = f.curve(run["ssdn"])
    lr = pd.read_csv(f.root / run["ssdn"] / "curve.csv").set_index("iteration")["lr"]
    constant = lr[lr == lr.max()].index
    val_constant = val[(val.index >= 4500) & (val.index <= constant.max())]
    overlap = pd.concat(pd.read_csv(p) for p in sorted((f.root / P / "diagnostics").glob("overlap_*.csv")))
    overlap = overlap.set_index("margin")["kodak8_db"]
    steps = f.csv(P, "timing", "train_step_1thread.csv")
    step = lambda method, patch, precision="bf16": lookup(steps, "step_cpu_s", method=method, sigma_mode="known",
                                                           patch_size=patch, precision=precision)
    infer = f.csv(P, "timing", "inference_1thread.csv")
    idle = f.csv("timing", "cpu_step_seconds.csv")
    idle_step = {patch: lookup(idle, "s_per_step", paper=P, model="ssdn (known)", patch=patch) for patch in (64, 128)}
    idle_per_hour = lookup(idle, "steps_per_hour", paper=P, model="ssdn (known)", patch=128)
    cpu3k_minutes = 3000 * idle_step[64] / 60
    sigma_traj = f.csv(P, "diagnostics", "global_sigma_patch32_3000steps.csv").set_index("iteration")["sigma_hat_255"]
    protocol = protocol_effects(f.root)
    training = protocol[protocol["effect"].isin(["training noise", "training precision"])]
    return dict(
        paper_known_ahead=span(paper_known_minus_unknown),
        tie_verdict="a tie" if tie else "not a tie",
        tie_inside="inside" if tie else "not all inside",
        tie_margins=", ".join(f"{margin(v, 3)} on {SET_NAMES[d]}" for v, d in zip(unknown_minus_known, SETS_N2N)),
        ci_span=span(ci, 1), paper_known_margins=listing(paper_known_minus_unknown),
        tie_consequence=("The strict “≥” is therefore not resolved at this precision either way." if tie else
                         "At this precision the order of the two is resolved."),
        sigma_hat=f.run(run["ssdn_unknown_sigma"])["noise_std_255_on_validation"][-1],
        mu_margins=listing(mu_margin), paper_mu_margins=listing(paper_mu_margin),
        mu_margin_gap=max(abs(a - b) for a, b in zip(mu_margin, paper_mu_margin)),
        short_kodak=span(short["kodak24"], signed=True), short_bsd=span(short["bsd300_test"], signed=True),
        short_set14=span(short["set14"], signed=True),
        blind_minutes=span([minutes[m] for m in ("ssdn", "ssdn_unknown_sigma", "ssdn_mu")], 0),
        unet_minutes=span([minutes[m] for m in ("n2c", "n2n", "n2v")], 0),
        unet_minutes_n2n=span([minutes[m] for m in ("n2c", "n2n")], 0),
        gain_3k=listing(each(lambda d: ours("ssdn", d) - ours("ssdn", d, "cpu-3k")), 1),
        overlap_gain=overlap.loc[8] - overlap.loc[0],
        overlap_wider=overlap.loc[16] - overlap.loc[8],
        known_gaps=listing(each(lambda d: -ours("ssdn", d, column="delta_db"))),
        n2c_gaps=listing(each(lambda d: -ours("n2c", d, column="delta_db"))),
        n2n_gaps=listing(each(lambda d: -ours("n2n", d, column="delta_db"))),
        claims_spread=max(claims_spread),
        behind_n2c=span(each(lambda d: ours("n2c", d) - ours("ssdn", d))),
        behind_n2n=span(each(lambda d: ours("n2n", d) - ours("ssdn", d))),
        cpu3k_order="slightly ahead of both" if min(ahead_3k) > 0 else "not ahead of both",
        val_from=val_constant.iloc[0], val_to=val_constant.iloc[-1],
        val_from_step=f"{val_constant.index[0]:,}", val_to_step=f"{val_constant.index[-1]:,}",
        ramp_gain=val.iloc[-1] - val_constant.iloc[-1],
        n2n_chapter_kodak=f.psnr("noise2noise", "n2n", "kodak24", "cpu"),
        n2v_under_3k=span([ours(m, d, "cpu-3k") - ours("n2v", d, "cpu-3k") for m in ("n2n", "ssdn") for d in SETS_N2N], 1),
        n2v_mu_3k=max(abs(ours("n2v", d, "cpu-3k") - ours("ssdn_mu", d, "cpu-3k")) for d in SETS_N2N),
        n2v_cpu=listing(each(lambda d: ours("n2v", d))),
        n2v_gain=span(each(lambda d: ours("n2v", d) - ours("n2v", d, "cpu-3k")), 1),
        n2v_under=span([ours(m, d) - ours("n2v", d) for m in ("n2n", "ssdn") for d in SETS_N2N], 1),
        gamma_bug=f.claim(P, "ssdn_gamma_bug", "kodak24"), readme_kodak=f.claim(P, "ssdn", "kodak24"),
        sigma_start=sigma_traj.iloc[0], sigma_1500=sigma_traj.loc[1500], sigma_end=sigma_traj.iloc[-1],
        step_ratio_64=step("ssdn", 64) / step("n2c", 64), step_ratio_128=step("ssdn", 128) / step("n2c", 128),
        likelihood_share=span([100 * (step("ssdn", p) / step("ssdn_mu", p) - 1) for p in (64, 128)], 0),
        infer_ratio=(lookup(infer, "cpu_s", model="ssdn_known", precision="fp32")
                     / lookup(infer, "cpu_s", model="unet", precision="fp32")),
        idle_step_64=idle_step[64], idle_step_128=idle_step[128], cpu3k_minutes=duration(cpu3k_minutes * 60),
        cpu3k_share=f"{cpu3k_minutes / 60:.0%}", hour_steps_128=f"{round(idle_per_hour, -2):,.0f}",
        known_train=duration(f.run(run["ssdn"])["train_wall_s"]),
        known_eval=duration(f.run(run["ssdn"])["eval_wall_s"]),
        unet_whole_kodak=f"{training['psnr_db'].mean():.0f}",
    )


def facts_noise2score(facts: Facts | None = None) -> dict:
    from .experiments.noise2score_diagnosis import PUBLISHED_REIMPLEMENTATION as reimpl

    f = facts or Facts()
    P = "noise2score"
    colour, gray = ("cbsd68", "kodak24"), ("set12", "bsd68")

    def ours(dataset, method=P, budget="cpu", param="sigma=25", column="psnr_db"):
        return f.psnr(P, method, dataset, budget, param, column)

    run = {key: f"{P}/noise2score_{name}_cpu_seed0" for key, name in [
        ("gray", "gaussian_sigma25_gray"), ("colour", "gaussian_sigma25_color"),
        ("gray50", "gaussian_sigma50_gray"), ("colour50", "gaussian_sigma50_color"),
        ("shared", "shared_unet_gaussian_sigma25_gray"), ("anneal", "official_anneal_gaussian_sigma25_gray")]}
    val = {k: f.curve(r) for k, r in run.items()}
    gray_step = f.seconds_per_step(run["gray"], 1000, 6000)
    cost = [6000 * gray_step, f.run(run["colour"])["train_wall_s"]]
    scale = f.csv(P, "diagnostics", "output_scale.csv").set_index("run")
    scales = [c for c in scale.columns if c.startswith("psnr_c")]
    best_c = {r: scale.loc[r, scales].astype(float).idxmax().removeprefix("psnr_c") for r in scale.index}
    short = [r for r in scale.index if "cpu1500" in r]
    gains = [scale.loc[r, f"psnr_c{best_c[r]}"] - scale.loc[r, "psnr_c1.0"] for r in short]
    gray_short = [r for r in short if "gray" in r]
    colour_short = [r for r in short if "color" in r]
    method6000 = "noise2score_gaussian_sigma25_gray_cpu_seed0"
    anneal6000 = "noise2score_official_anneal_gaussian_sigma25_gray_cpu_seed0"
    anneal = {b: [ours(d, "noise2score_official_anneal", b) - ours(d, budget=b) for d in gray]
              for b in ("cpu-1500", "cpu")}
    shared_1500 = [ours(d, "noise2score_shared_unet", "cpu-1500") - ours(d, budget="cpu-1500") for d in gray]
    shared_lead = val["shared"] - val["gray"]
    sigma50 = {k: f.run(r.replace("noise2score_gaussian", "noise2score_unknown_sigma_gaussian"))["sigma_estimates"]
               for k, r in run.items() if k in ("gray50", "colour50")}
    gray50_idle = f.seconds_per_step(run["gray50"], 4000, 6000) * 6000
    unknown_cost = ours("cbsd68", param="sigma=50") - ours("cbsd68", "noise2score_unknown_sigma", param="sigma=50")
    unknown_same = [ours(d, "noise2score_unknown_sigma", param="sigma=50") - ours(d, param="sigma=50") for d in gray]
    paper_unknown_gap = [f.claim(P, P, d, "sigma=50") - f.claim(P, "noise2score_unknown_sigma", d, "sigma=50")
                         for d in gray]
    out = dict(
        reimpl=listing([reimpl[d] for d in ("cbsd68", "kodak24", "set12")]),
        claimed=listing([f.claim(P, P, d) for d in ("cbsd68", "kodak24", "set12")]),
        noisy_db=NOISY_DB_SIGMA25, relu_db=NOISY_DB_SIGMA25 + 10 * math.log10(2),
        relu_png_cbsd68=ours("cbsd68", "noise2score_relu_png_input"),
        relu_png_kodak=ours("kodak24", "noise2score_relu_png_input"),
        relu_png_set12=ours("set12", "noise2score_relu_png_input"),
        reimpl_cbsd68=reimpl["cbsd68"], reimpl_kodak=reimpl["kodak24"], reimpl_set12=reimpl["set12"],
        method_scores=listing([ours(d) for d in ("cbsd68", "kodak24", "set12")]),
        set12_1500=ours("set12", budget="cpu-1500"), set12_6000=ours("set12"),
        bsd68_1500=ours("bsd68", budget="cpu-1500"), bsd68_6000=ours("bsd68"),
        set12_claim=f.claim(P, P, "set12"), bsd68_claim=f.claim(P, P, "bsd68"),
        gray_short_1500=span([-ours(d, budget="cpu-1500", column="delta_db") for d in gray], 1),
        gray_short_6000=span([-ours(d, column="delta_db") for d in gray], 1),
        gray_gain_first=val["gray"].loc[2000] - val["gray"].loc[1000],
        gray_gain_second=val["gray"].loc[3000] - val["gray"].loc[2000],
        gray_ramp=val["gray"].iloc[-1] - val["gray"].loc[3000], gray_val_end=val["gray"].iloc[-1],
        cbsd68_1500=ours("cbsd68", budget="cpu-1500"), cbsd68_6000=ours("cbsd68"),
        kodak_1500=ours("kodak24", budget="cpu-1500"), kodak_6000=ours("kodak24"),
        colour_claims=listing([f.claim(P, P, d) for d in colour], sep=" and "),
        colour_short=listing([-ours(d, column="delta_db") for d in colour], 1, sep=" and "),
        colour_slower=("stay under the gray model's at every step" if all(
            val["colour"].loc[s] < val["gray"].loc[s] for s in (1000, 2000, 3000, 4000))
            else "are not below the gray model's at every step"),
        cost_low=duration(min(cost)), cost_high=duration(max(cost)), gray_step=gray_step,
        timing_step=lookup(f.csv("timing", "cpu_step_seconds.csv"), "s_per_step", paper=P, model="unet AR-DAE",
                           channels=1),
        colour_step=f.seconds_per_step(run["colour"], 500, 6000),
        colour50_train=duration(f.run(run["colour50"])["train_wall_s"]),
        best_c_short=" / ".join(sorted(set(best_c[r] for r in short))), scale_gain=span(gains),
        best_c_long=best_c[method6000],
        corr_gray_short=span([scale.loc[r, "correlation"] for r in gray_short]),
        corr_gray_long=scale.loc[method6000, "correlation"],
        corr_colour_short=listing([scale.loc[r, "correlation"] for r in colour_short]),
        colour_gain=ours("cbsd68", budget="cpu-1500") - NOISY_DB_SIGMA25,
        gray_gain=ours("set12", budget="cpu-1500") - NOISY_DB_SIGMA25,
        bm3d_cbsd68=ours("cbsd68", "bm3d"), bm3d_set12=ours("set12", "bm3d"),
        anneal_1500=margin(np.mean(anneal["cpu-1500"])), anneal_6000=margin(np.mean(anneal["cpu"])),
        anneal_set12=ours("set12", "noise2score_official_anneal"), anneal_bsd68=ours("bsd68", "noise2score_official_anneal"),
        anneal_scaled=scale.loc[anneal6000, "psnr_c1.1"],
        method_best=scale.loc[method6000, f"psnr_c{best_c[method6000]}"],
        corr_anneal=scale.loc[anneal6000, "correlation"], corr_method=scale.loc[method6000, "correlation"],
        shared_1500=margin(np.mean(shared_1500)),
        shared_lead_first=shared_lead.loc[1000], shared_lead_last=shared_lead.dropna().iloc[-1],
        shared_lead_last_step=f"{shared_lead.dropna().index[-1]:,}",
    )
    out.update(
        c50=ours("cbsd68", param="sigma=50"), c50_claim=f.claim(P, P, "cbsd68", "sigma=50"),
        c50_short=-ours("cbsd68", param="sigma=50", column="delta_db"), c25_short=-ours("cbsd68", column="delta_db"),
        c50_sigma_mean=sigma50["colour50"]["mean"], c50_sigma_range=f"{sigma50['colour50']['min']:.0f}–"
                                                                    f"{sigma50['colour50']['max']:.0f}",
        c50_sigma_n=sigma50["colour50"]["n"], c50_unknown_cost=unknown_cost,
        c50_train=duration(f.run(run["colour50"])["train_wall_s"]),
        c50_step=f.run(run["colour50"])["train_wall_s"] / f.run(run["colour50"])["iterations"],
        s50=ours("set12", param="sigma=50"), s50_claim=f.claim(P, P, "set12", "sigma=50"),
        s50_short=ours("set12", param="sigma=50", column="delta_db"), s25_short=ours("set12", column="delta_db"),
        b50=ours("bsd68", param="sigma=50"), b50_claim=f.claim(P, P, "bsd68", "sigma=50"),
        b50_short=ours("bsd68", param="sigma=50", column="delta_db"), b25_short=ours("bsd68", column="delta_db"),
        g50_sigma_mean=sigma50["gray50"]["mean"], g50_sigma_range=f"{sigma50['gray50']['min']:.0f}–"
                                                                  f"{sigma50['gray50']['max']:.0f}",
        g50_sigma_n=sigma50["gray50"]["n"],
        g50_unknown_same=("scores the same" if max(abs(v) for v in unknown_same) < 0.05 else
                          f"scores {span(unknown_same, signed=True)} dB against σ known"),
        paper_unknown_gap=span(paper_unknown_gap, 1),
        g50_unknown_gaps=listing([ours(d, "noise2score_unknown_sigma", param="sigma=50", column="delta_db")
                                  for d in gray], 1, sep=" and ", signed=True),
        g50_train=duration(f.run(run["gray50"])["train_wall_s"]), g50_idle=duration(gray50_idle),
        further_at_50=("further below the claim at σ = 50 than at σ = 25" if all(
            ours(d, param="sigma=50", column="delta_db") < ours(d, column="delta_db") for d in ("cbsd68", "set12", "bsd68"))
            else "not further below the claim at σ = 50 than at σ = 25 on every set"),
    )
    unknown = "noise2score_unknown_param"  # the estimated-parameter column: Poisson λ = 100 / 20, Gamma k = 100
    costs = {}  # known minus estimated, per data set of each setting
    for key, noise, param, channels, sets in (("p100", "poisson", "lam=100", "color", colour),
                                              ("p20", "poisson", "lam=20", "gray", gray),
                                              ("g100", "gamma", "k=100", "color", colour)):
        name = param.partition("=")[0]
        estimates = f.run(f"{P}/{unknown}_{noise}_{param.replace('=', '')}_{channels}_cpu_seed0")[f"{name}_estimates"]
        costs[key] = [ours(d, P, param=param) - ours(d, unknown, param=param) for d in sets]
        out.update({f"{key}_cost": listing(costs[key]),
                    f"{key}_paper": listing([f.claim(P, P, d, param) - f.claim(P, unknown, d, param) for d in sets]),
                    f"{key}_{name}": estimates["mean"], f"{key}_{name}_range": f"{estimates['min']:.0f}–{estimates['max']:.0f}"})
    from .methods.noise2score import TV_SEARCH

    out["g100_k_top"] = TV_SEARCH["gamma"][1]
    out["g100_verdict"] = (
        "scores above the known-k column by " + listing([-c for c in costs["g100"]]) + " dB, where Table 2's is "
        + out["g100_paper"] + " dB below it: with this model's score a k larger than the true one (weaker "
        "denoising) does better, and the known parameter's lead does not appear at this budget" if all(c < 0 for c in costs["g100"])
        else "costs " + out["g100_cost"] + " dB against Table 2's " + out["g100_paper"])
    return out


def validation_runs_noise2score() -> dict:
    """The runs whose validation curves the Noise2Score chapter tabulates: {label: run}."""
    return {"gray, σ = 25 (four Set12 crops)": "noise2score/noise2score_gaussian_sigma25_gray_cpu_seed0",
            "gray, official weight-shared U-Net": "noise2score/noise2score_shared_unet_gaussian_sigma25_gray_cpu_seed0",
            "colour, σ = 25 (four CBSD68 crops)": "noise2score/noise2score_gaussian_sigma25_color_cpu_seed0",
            "gray, σ = 50": "noise2score/noise2score_gaussian_sigma50_gray_cpu_seed0",
            "colour, σ = 50": "noise2score/noise2score_gaussian_sigma50_color_cpu_seed0"}


def facts_zs_n2n(facts: Facts | None = None) -> dict:
    f = facts or Facts()
    P = "zs_n2n"
    from .experiments import zs_n2n as experiments
    crops = f.csv(P, "crops256_sigma25_kodak24", "per_crop.csv", dtype={"image": str}).drop_duplicates(["image", "path"])
    paths = experiments.compare_paths(crops)
    fits = pd.concat(pd.read_csv(p) for p in sorted((f.root / P).glob("sigma25_*/per_image.csv")))
    minutes = fits.groupby("dataset")["seconds"].mean() / 60
    return dict(
        kodak=f.psnr(P, "zs-n2n", "kodak24"), mcmaster=f.psnr(P, "zs-n2n", "mcmaster18"),
        kodak_n=int(f.psnr(P, "zs-n2n", "kodak24", column="n_images")),
        mcmaster_n=int(f.psnr(P, "zs-n2n", "mcmaster18", column="n_images")),
        fit_minutes=span(minutes, 0), fit_minutes_min=fits["seconds"].min() / 60,
        kodak_fit=duration(fits[fits["dataset"] == "kodak24"]["seconds"].mean()),
        cpu_speedup=paths["speedup_cpu"].mean(), path_gap=paths["delta_db"].abs().max(),
        path_bar=0.05, path_verdict=("met" if paths["delta_db"].abs().max() <= 0.05 and paths["speedup_cpu"].min() >= 2
                                     else "not met"),
        colab_crop=31.17,  # printed by the authors' Colab notebook for one unnamed crop (context, not a claim)
    )


def facts_reproduce(facts: Facts | None = None) -> dict:
    f = facts or Facts()
    idle = f.csv("timing", "cpu_step_seconds.csv")
    n2s_gray = "noise2score/noise2score_gaussian_sigma25_gray_cpu_seed0"
    # each run's stretch on 2 threads with the machine otherwise idle (the note in its run.json)
    idle_stretch = {"ssdn_known": (3000, 15000), "ssdn_global": (9000, 15000), "ssdn_mu": (1500, 15000)}
    ssdn_steps = [f.seconds_per_step(f"ssdn/{r}_sigma25_cpu_seed0", *steps) for r, steps in idle_stretch.items()]
    n2s = facts_noise2score(f)
    return dict(
        n2s_longest=duration(6000 * f.seconds_per_step(n2s_gray, 1000, 6000)),
        n2s_gray_step=n2s["gray_step"], n2s_table_step=n2s["timing_step"],
        ssdn_steps=span(ssdn_steps), ssdn_table_step=lookup(idle, "s_per_step", paper="ssdn", model="ssdn (known)",
                                                             patch=64),
    )


def facts_protocol(facts: Facts | None = None) -> dict:
    f = facts or Facts()
    return dict(gamma_bug=f.claim("ssdn", "ssdn_gamma_bug", "kodak24"), kodak_readme=f.claim("ssdn", "ssdn", "kodak24"))


def facts_intro(facts: Facts | None = None) -> dict:
    """The introduction's take-aways: a few numbers of each chapter, prefixed by the chapter's name."""
    f = facts or Facts()
    out, chapters = {}, {}
    for prefix, chapter in (("n2n", facts_noise2noise), ("ssdn", facts_ssdn), ("n2s", facts_noise2score),
                            ("zs", facts_zs_n2n)):
        chapters[prefix] = chapter(f)
        out.update({f"{prefix}_{k}": v for k, v in chapters[prefix].items()})
    P = "ssdn"
    known_unknown = [f.psnr(P, "ssdn", d) - f.psnr(P, "ssdn_unknown_sigma", d) for d in SETS_N2N]
    mu_under = [f.psnr(P, m, d) - f.psnr(P, "ssdn_mu", d) for m in ("ssdn", "ssdn_unknown_sigma") for d in SETS_N2N]
    behind = [f.psnr(P, m, d) - f.psnr(P, "ssdn", d) for m in ("n2c", "n2n") for d in SETS_N2N]
    ssdn = chapters["ssdn"]
    out.update(
        ssdn_known_unknown=max(abs(v) for v in known_unknown), ssdn_mu_under=span(mu_under, 1),
        ssdn_behind=span(behind), ssdn_kodak_gap=-f.psnr(P, "ssdn", "kodak24", column="delta_db"),
        ssdn_bsd_gap=-f.psnr(P, "ssdn", "bsd300_test", column="delta_db"), ssdn_mu_paper_gap=ssdn["mu_margin_gap"],
        n2s_set12_gap=-f.psnr("noise2score", "noise2score", "set12", column="delta_db"),
        n2s_bsd68_gap=-f.psnr("noise2score", "noise2score", "bsd68", column="delta_db"),
    )
    return out


# ------------------------------------------------------------------------------------------- formatting
def styled(df: pd.DataFrame, decimals: int = 2, caption: str | None = None, css_class: str | None = None):
    """A pandas Styler: numbers with ``decimals`` decimals, Δ signed, no index, readable headers."""
    # Headers: the book's labels, and a line-break opportunity after each "_" of the others (a wide table of
    # raw column names then fits the text column).
    view = df.rename(columns={c: LABELS.get(c, _breakable(c, 8)) for c in df.columns})
    floats = [c for c in view.columns if pd.api.types.is_float_dtype(view[c])]
    fmt = {c: (f"{{:+.{decimals}f}}" if c == LABELS["delta_db"] else f"{{:.{decimals}f}}") for c in floats}
    for c in view.columns:  # long identifiers (run folders, method variants) may break after "_" or "/"
        if (view[c].dtype == object or pd.api.types.is_string_dtype(view[c])) and c not in fmt:
            fmt[c] = _breakable
    style = view.style.format(fmt, na_rep="–").hide(axis="index")
    numeric = [c for c in view.columns if pd.api.types.is_numeric_dtype(view[c])]
    if numeric:  # a number never breaks across lines; long names may (book/_css/repro.css)
        style = style.set_table_styles({c: [{"selector": "td", "props": "white-space: nowrap"}] for c in numeric},
                                       overwrite=False)
    if caption:
        style = style.set_caption(caption)
    if css_class:
        style = style.set_table_attributes(f'class="{css_class}"')
    return style


def _breakable(value, longer_than: int = 16) -> str:
    """A long identifier with a line-break opportunity (a zero-width space) after each "_" and "/", and
    after the "2" of a name like neighbor2neighbor, so that a table of run folders fits the text column
    without breaking words anywhere.

    >>> _breakable("noise2score_gaussian_sigma25") == "noise2\u200bscore_\u200bgaussian_\u200bsigma25"
    True
    >>> _breakable("neighbor2neighbor") == "neighbor2\u200bneighbor"
    True
    >>> _breakable("n2n_smoke"), _breakable(3)
    ('n2n_smoke', '3')
    """
    text = str(value)
    if len(text) <= longer_than or " " in text:
        return text
    text = re.sub(r"(?<=[a-z]{3})2(?=[a-z]{3})", "2\u200b", text)  # noise2score, not n2n
    return text.replace("_", "_\u200b").replace("/", "/\u200b")


def table(df: pd.DataFrame, empty: str | None = None, decimals: int = 2, caption: str | None = None,
          css_class: str | None = None):
    """What a chapter displays: :func:`styled` of ``df``, or the sentence ``empty`` when ``df`` is empty."""
    if df is None or df.empty:
        from IPython.display import Markdown

        return Markdown(empty or no_run_sentence())
    return styled(df, decimals=decimals, caption=caption, css_class=css_class)


def summary_view(results_dir=None) -> pd.DataFrame:
    """:func:`summary_table` with the columns the Summary chapter shows, in reading order."""
    full = summary_table(results_dir)
    return full[[c for c in SUMMARY_VIEW if c in full.columns]]


def summary_overview(results_dir=None) -> pd.DataFrame:
    """One line per paper of :func:`summary_table`: how many rows, how many stand beside a claim, the range
    of Δ, the budgets and the device hours of the runs behind them.

    >>> import tempfile
    >>> summary_overview(tempfile.mkdtemp()).columns.tolist()
    ['paper', 'rows', 'with a claim', 'Δ from (dB)', 'Δ to (dB)', 'budgets', 'hours']
    """
    cols = ["paper", "rows", "with a claim", "Δ from (dB)", "Δ to (dB)", "budgets", "hours"]
    full = summary_table(results_dir)
    if full.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for paper, group in full.groupby("paper", sort=False):
        runs_ = group.drop_duplicates("run")
        rows.append({"paper": paper, "rows": len(group), "with a claim": int(group["claim_psnr_db"].notna().sum()),
                     "Δ from (dB)": group["delta_db"].min(), "Δ to (dB)": group["delta_db"].max(),
                     "budgets": ", ".join(sorted(group["budget"].astype(str).unique(), key=budgets.rank)),
                     "hours": float(runs_["hours"].fillna(0).sum())})
    return pd.DataFrame(rows, columns=cols)


def paper_status(paper: str, results_dir=None) -> str:
    """One sentence on what is committed for ``paper``."""
    facts = runs_table(paper, results_dir)
    if facts.empty:
        return no_run_sentence(paper) + " The table below shows the paper's claims only."
    done = int((facts["status"] == "complete").sum())
    return (f"{len(facts)} run folder(s) committed for {paper} ({done} complete), "
            f"{facts['train_hours'].fillna(0).sum() + facts['eval_hours'].fillna(0).sum():.2f} device hours in all.")


# ---------------------------------------------------------------------------------------------- figures
def save_figure(fig: Figure, path, dpi: int = 100) -> None:
    """Save a figure with its bounding box fitted to everything drawn (``bbox_inches="tight"``), so that no
    title, label or legend is cut at the edge. ``path`` is a file name or a binary file object (PNG)."""
    fig.savefig(path, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05)


def _figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    save_figure(fig, buffer)
    return buffer.getvalue()


def _register_ipython_display() -> None:
    """Let a Figure returned by this module display itself in a notebook without pyplot."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, _figure_png)


def _message_figure(text: str) -> Figure:
    fig = Figure(figsize=(7, 1.2))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12)
    return fig


def plot_curves(paper: str, results_dir=None) -> Figure:
    """Training loss (and validation PSNR where logged) against iteration for each run of ``paper``."""
    curves = []
    for info in run_infos(results_dir):
        path = Path(info["_path"]) / "curve.csv"
        if info.get("paper") == paper and path.exists():
            curve = pd.read_csv(path)
            if {"iteration", "loss"} <= set(curve.columns) and len(curve):
                curves.append((info["run"].split("/", 1)[-1], curve))
    if not curves:
        return _message_figure(f"No training curve committed yet for {paper}.")
    has_val = any("val_psnr_db" in c and c["val_psnr_db"].notna().any() for _, c in curves)
    fig = Figure(figsize=(11 if has_val else 6.5, 3.8), layout="constrained")
    axes = fig.subplots(1, 2 if has_val else 1, squeeze=False)[0]
    for name, curve in curves:
        axes[0].plot(curve["iteration"], curve["loss"], label=name, lw=1.2)
        if has_val and "val_psnr_db" in curve:
            val = curve.dropna(subset=["val_psnr_db"])
            axes[1].plot(val["iteration"], val["val_psnr_db"], marker="o", ms=3, label=name)
    positive = all((c["loss"] > 0).all() for _, c in curves)  # SSDN's negative log-likelihood can go below 0
    axes[0].set(xlabel="iteration", ylabel="training loss", yscale="log" if positive else "linear",
                title=f"{paper}: training loss")
    axes[0].legend(fontsize=7)
    if has_val:
        axes[1].set(xlabel="iteration", ylabel="validation PSNR (dB)", title="validation PSNR")
        axes[1].grid(alpha=0.3)
    return fig


def run_curve_figure(run_dir, title: str = "", loss_label: str = "training loss") -> Figure:
    """Training loss and validation PSNR against iteration, from the ``curve.csv`` of one run folder, or of
    several given as ``{label: run folder}`` (one line each, with a legend)."""
    folders = run_dir if isinstance(run_dir, dict) else {"": run_dir}
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    loss_ax, val_ax = fig.subplots(1, 2)
    positive = True
    for label, folder in folders.items():
        curve = pd.read_csv(Path(folder) / "curve.csv")
        positive &= bool((curve["loss"] > 0).all())
        loss_ax.plot(curve["iteration"], curve["loss"], label=label or None)
        val = curve.dropna(subset=["val_psnr_db"])
        val_ax.plot(val["iteration"], val["val_psnr_db"], marker="o", label=label or None)
    loss_ax.set(xlabel="iteration", ylabel=loss_label, yscale="log" if positive else "linear")
    val_ax.set(xlabel="iteration", ylabel="validation PSNR (dB)")
    if len(folders) > 1:
        val_ax.legend()
    fig.suptitle(title)
    return fig


def crops_figure(panels: dict, clean, flavour: str = "uint8", panel_size: float = 3.0) -> Figure:
    """One row of image crops, each titled with its PSNR against ``clean`` (shown last, untitled).

    ``panels`` maps a title to a (1, C, H, W) tensor on the [0, 1] scale, e.g. noisy input and denoisers.
    """
    from .metrics import psnr

    panels = {**panels, "clean": clean}
    # "compressed", not "constrained": with square images the constrained layout let the two-line titles
    # run ~2 px over the top edge when saved without a tight bounding box (the committed comparison PNGs).
    fig = Figure(figsize=(panel_size * len(panels), panel_size + 0.4), layout="compressed")
    for ax, (title, img) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        pixels = img[0].clamp(0, 1).permute(1, 2, 0).squeeze(-1).numpy()
        ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(title if title == "clean" else f"{title}\n{float(psnr(img, clean, flavour)[0]):.2f} dB",
                     fontsize=9)
        ax.axis("off")
    return fig


def figure_paths(paper: str, pattern: str = "*.png", results_dir=None) -> list[Path]:
    """PNG files saved in the run folders of ``paper`` (sorted by run, then name)."""
    root = _root(results_dir) / paper
    return sorted(p for p in root.glob(f"*/{pattern}") if p.is_file()) if root.is_dir() else []


def show_figures(paper: str, pattern: str = "*.png", results_dir=None) -> list[Path]:
    """Display every PNG matching ``pattern`` in ``paper``'s run folders, each under its run and file name;
    nothing when there is none (a reader sees no placeholder). :func:`figure_grid` shows them as one figure."""
    from IPython.display import Image, Markdown, display

    paths = figure_paths(paper, pattern, results_dir)
    for path in paths:
        display(Markdown(f"**{path.parent.name}** / `{path.name}`"))
        display(Image(filename=str(path)))
    return paths


def _run_label(folder: Path) -> str:
    try:
        info = json.loads((folder / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return folder.name
    steps = info.get("iterations") or 0
    return (f"{info.get('method', '?')}, budget {info.get('budget', '?')}"
            + (f" ({steps:,} steps)" if steps else "") + f": {folder.name}")


def figure_grid(paths, labels=None, width: float = 10.5, dpi: int = 100):
    """Several saved PNGs (e.g. the same comparison from each run) as one figure, one row each under its
    label (by default the run's method, budget and folder, from its ``run.json``); ``None`` when there
    is none, so that nothing is displayed."""
    from PIL import Image as PILImage

    paths = [Path(p) for p in paths]
    if not paths:
        return None
    labels = labels or [_run_label(p.parent) for p in paths]
    images = []
    for path in paths:
        with PILImage.open(path) as image:
            images.append(np.asarray(image.convert("RGB")))
    heights = [width * im.shape[0] / im.shape[1] + 0.3 for im in images]  # inches, with room for the label
    fig = Figure(figsize=(width, sum(heights)), layout="constrained", dpi=dpi)
    for ax, image, label in zip(fig.subplots(len(images), 1, squeeze=False,
                                             gridspec_kw={"height_ratios": heights})[:, 0], images, labels):
        ax.imshow(image, interpolation="antialiased")
        ax.set_title(label, fontsize=10, loc="left")
        ax.axis("off")
    return fig


def folded(summary: str, content) -> "object":
    """``content`` (a table from :func:`table`/:func:`styled`, a DataFrame, HTML or Markdown text) under a
    closed ``<details>`` whose line reads ``summary``: detail a reader opens when wanted."""
    from IPython.display import HTML

    if hasattr(content, "to_html"):
        body = content.to_html()
    elif hasattr(content, "_repr_html_") and content._repr_html_() is not None:
        body = content._repr_html_()
    elif hasattr(content, "data"):  # IPython Markdown/HTML
        body = content.data
    else:
        body = str(content)
    return HTML(_collapsed(summary, body))


RUNS_VIEW = ["run", "method", "budget", "status", "iterations", "train_hours", "eval_hours", "device_name", "started"]


def runs_folded(paper: str, results_dir=None):
    """The run folders of ``paper`` (:func:`runs_table`, the columns a reader needs) under one closed line."""
    facts = runs_table(paper, results_dir)
    if facts.empty:
        from IPython.display import Markdown

        return Markdown(no_run_sentence(paper))
    view = facts[RUNS_VIEW].copy()
    view["run"] = view["run"].str.split("/", n=1).str[-1]
    view["started"] = view["started"].astype(str).str[:10]
    hours = facts["train_hours"].fillna(0).sum() + facts["eval_hours"].fillna(0).sum()
    return folded(f"The {len(view)} run folders under results/{paper}/ ({hours:.1f} hours of training and "
                  "evaluation in all): budget, status, hours, machine", styled(view))


# ------------------------------------------------------------------------------------- the intro figure
def _demo_crop(size: int = 128) -> np.ndarray:
    """A crop of Kodak's kodim23 (parrots) in [0, 1], or a synthetic pattern when the data is absent."""
    try:
        from . import data

        images = data.load("kodak24")
        pixels = next((im.pixels for im in images if im.name.endswith("23")), images[0].pixels)
        y, x = 100, 420  # the red macaw's eye and beak
        return pixels[y:y + size, x:x + size].astype(np.float64) / 255.0
    except Exception:  # no data set on this machine: still draw the diagram
        yy, xx = np.mgrid[0:size, 0:size] / size
        return np.stack([0.5 + 0.4 * np.sin(6 * xx), 0.5 + 0.4 * np.cos(5 * yy), 0.5 + 0.3 * xx * yy], -1)


def methods_figure(seed: int = 0) -> Figure:
    """The five methods in one picture: what each one trains on, what it learns, how it denoises."""
    rng = np.random.default_rng(seed)
    clean = _demo_crop()
    sigma = 25 / 255

    def noisy():
        return np.clip(clean + sigma * rng.standard_normal(clean.shape), 0, 1)

    y1, y2 = noisy(), noisy()
    masked = y1.copy()
    c = clean.shape[0] // 2
    masked[c - 3:c + 4, c - 3:c + 4] = [0.0, 0.9, 1.0]  # the blind spot: the centre pixel is not seen
    d1 = 0.5 * (y1[0::2, 1::2] + y1[1::2, 0::2])
    d2 = 0.5 * (y1[0::2, 0::2] + y1[1::2, 1::2])
    rows = [
        ("Noise2Noise\n(Lehtinen 2018)", [(y1, "noisy input y"), (y2, "2nd noisy y'")],
         "f(y) ≈ y'  (L2)\nmean of y' = clean x", "f(y)"),
        ("SSDN / blind spot\n(Laine 2019)", [(masked, "receptive field\nwithout centre"), (y1, "target: y itself")],
         "p(y | context) = N(μ, Σ+σ²I)\nBayesian posterior mean", "E[x | y, context]"),
        ("Noise2Score\n(Kim & Ye 2021)", [(y1, "noisy y only"), (np.clip(y1 + 0.05 * rng.standard_normal(y1.shape),
                                                                     0, 1), "y + small u (AR-DAE)")],
         "score s(y) = ∇ log p(y)\nTweedie's formula", "y + σ² s(y)"),
        ("Zero-Shot N2N\n(Mansour & Heckel 2023)", [(d1, "D₁(y)"), (d2, "D₂(y)")],
         "f(D₁y) ≈ D₂y, one image,\n2-layer net, seconds", "y − f(y)"),
        ("N2N from scratch\n(our framework)", [(y1, "noisy input y"), (y2, "2nd noisy y'")],
         "same loss, hand-written\nforward/backward, no autograd", "f(y)"),
    ]
    fig = Figure(figsize=(10, 10), layout="constrained")
    grid = fig.subplots(len(rows), 5, gridspec_kw={"width_ratios": [1.25, 1, 1, 1.7, 1]})
    for r, (name, pics, idea, output) in enumerate(rows):
        axes = grid[r]
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0].axis("off")
        axes[0].text(0.0, 0.5, name, fontsize=11, fontweight="bold", va="center")
        for ax, (img, label) in zip(axes[1:3], pics):
            ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
            ax.set_xlabel(label, fontsize=8)
        axes[3].axis("off")
        axes[3].text(0.5, 0.5, idea, ha="center", va="center", fontsize=9.5,
                     bbox={"boxstyle": "round,pad=0.5", "fc": "#eef3fb", "ec": "#4a6fa5"})
        axes[4].axis("off")
        axes[4].text(0.5, 0.5, f"denoise:\n{output}", ha="center", va="center", fontsize=10,
                     bbox={"boxstyle": "round,pad=0.5", "fc": "#eefbef", "ec": "#3f8f4a"})
    grid[0][1].set_title("what it trains on", fontsize=10)
    grid[0][2].set_title("(its target)", fontsize=10)
    grid[0][3].set_title("what it learns", fontsize=10)
    grid[0][4].set_title("the estimate", fontsize=10)
    fig.suptitle("Five self-supervised denoisers: none of them sees a clean image while training", fontsize=12)
    return fig


def psnr_demo(n_images: int = 4) -> pd.DataFrame:
    """How two protocol choices move PSNR for one fixed, simple denoiser (a 3×3 mean filter).

    Gaussian σ=25 on the first ``n_images`` Kodak images, one seeded realisation each: the noisy input
    clipped to [0, 1] or not, and PSNR in each flavour of :data:`repro.metrics.FLAVOURS`. Seconds on a CPU; the
    book's measured protocol table (:func:`protocol_effects`) does this for the real denoisers.
    """
    import torch
    import torch.nn.functional as F

    from . import data, metrics, noise

    def mean3(y):
        return F.avg_pool2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), 3, stride=1)

    images = data.load("kodak24")[:n_images]
    rows = []
    for clip in (False, True):
        for flavour in metrics.FLAVOURS:
            values = []
            for index, image in enumerate(images):
                clean = torch.from_numpy(image.pixels).permute(2, 0, 1)[None].float() / 255
                y = noise.Gaussian(25, clip=clip)(clean, generator=torch.Generator().manual_seed(index))
                values.append(float(metrics.psnr(mean3(y), clean, flavour)[0]))
            rows.append({"noisy input": "clipped to [0, 1]" if clip else "not clipped", "PSNR flavour": flavour,
                         "mean PSNR (dB)": float(np.mean(values)), "images": len(values)})
    table = pd.DataFrame(rows)
    table["Δ vs not clipped, uint8 (dB)"] = table["mean PSNR (dB)"] - table["mean PSNR (dB)"].iloc[0]
    return table


_register_ipython_display()
