"""Tables and figures for the notebooks and the book, read from ``results/`` only.

Every function takes ``results_dir`` (default ``results/``, or ``$REPRO_RESULTS``) and never trains;
the one that evaluates, :func:`psnr_demo`, runs a 3×3 mean filter on four images in seconds. A paper with no run yet gives an empty table, and :func:`table` turns an empty
table into one clear sentence ("no committed run yet ...") instead of an error.

Main entry points (names other chapters rely on):

* :func:`summary_table`: every row of ``results/summary.csv`` with its best claim (claimed, reproduced,
  Δ, budget, device, hours);
* :func:`claims_vs_reproduced`: a paper's claims beside our numbers;
* :func:`coverage`: per paper and noise setting, how many verified claims have a reproduced number;
* :func:`runs_table`: one row of facts per run folder (``run.json``);
* :func:`plot_curves`: a Figure of each run's ``curve.csv`` (``iteration``, ``loss``, optional
  ``val_psnr_db``);
* :func:`show_figures`: display the PNGs saved in a paper's run folders;
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

import json
import math
from pathlib import Path

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import claims as claims_mod
from . import budgets, papers, runs

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
}
SUMMARY_VIEW = ["paper", "method", "noise", "param", "dataset", "protocol", "claim_psnr_db", "psnr_db", "delta_db",
                "ci95_db", "n_images", "budget", "device", "hours", "iterations", "complete", "run", "claim_table"]


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


def claims_table(paper: str, results_dir=None):
    """What a paper chapter shows of its claims, in three parts (an HTML block):

    1. the claims that stand beside a number of ours (claimed, reproduced, Δ, budget, cost);
    2. one line for the claims with no number yet ("n claims in k settings not run: ..."), their full list
       collapsed under it;
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


def unreproduced_sentence(waiting: pd.DataFrame) -> str:
    """'n claims in k settings not run: gaussian sigma=50 (12), ...' for claims with no number of ours.

    >>> unreproduced_sentence(pd.DataFrame({"noise": ["poisson", "poisson", "gaussian"],
    ...                                     "param": ["lam=30", "lam=30", "sigma=50"]}))
    '3 claims in 2 settings have no number of ours yet: poisson lam=30 (2), gaussian sigma=50 (1).'
    """
    counts = waiting.groupby(["noise", "param"], sort=False).size().sort_values(ascending=False, kind="stable")
    settings = ", ".join(f"{noise} {param} ({n})" for (noise, param), n in counts.items())
    return f"{len(waiting)} claims in {len(counts)} settings have no number of ours yet: {settings}."


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
            row["comparison"] = _verdict(paper.comparison, table, paper.name, noise, param, dataset)
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(comparison, table: pd.DataFrame, paper: str, noise: str, param: str, dataset: str) -> str:
    a = _best_row(table, paper, comparison.a, noise, param, dataset)
    b = _best_row(table, paper, comparison.b, noise, param, dataset)
    if a is None or b is None:
        return f"{comparison}: not run"
    ours = float(a["psnr_db"] - b["psnr_db"])
    claimed = float(a["claim_psnr_db"] - b["claim_psnr_db"])  # NaN when either claim is missing
    paper_says = f" (paper {claimed:+.2f})" if math.isfinite(claimed) else ""
    verdict = "holds" if comparison.holds(ours) else "does not hold"
    return f"{comparison}: {verdict}, {ours:+.2f} dB{paper_says}"


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


def coverage(results_dir=None) -> pd.DataFrame:
    """How many verified claims of each paper's tables stand beside a reproduced number, per noise setting.

    One row per (paper, noise, parameter): ``claims`` (verified claim rows, every method of the paper's
    table), ``reproduced`` (how many of them :func:`claims_vs_reproduced` pairs with one of our rows) and
    the ``budgets`` of those rows. Where ``reproduced`` is 0 the setting has not been run yet.
    """
    cols = ["paper", "noise", "param", "claims", "reproduced", "budgets"]
    rows = []
    for paper in sorted(load_claims(results_dir)["paper"].dropna().unique()):
        full = claims_vs_reproduced(paper, results_dir)
        claimed = full[full["claim_id"].notna()]
        for (noise, param), group in claimed.groupby(["noise", "param"], sort=True):
            hit = group[group["psnr_db"].notna()]
            rows.append({"paper": paper, "noise": noise, "param": param, "claims": group["claim_id"].nunique(),
                         "reproduced": hit["claim_id"].nunique(),
                         "budgets": ", ".join(sorted(hit["budget"].dropna().astype(str).unique()))})
    return pd.DataFrame(rows, columns=cols)


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


# ------------------------------------------------------------------------------------------- formatting
def styled(df: pd.DataFrame, decimals: int = 2, caption: str | None = None, css_class: str | None = None):
    """A pandas Styler: numbers with ``decimals`` decimals, Δ signed, no index, readable headers."""
    view = df.rename(columns={c: LABELS.get(c, c) for c in df.columns})
    floats = [c for c in view.columns if pd.api.types.is_float_dtype(view[c])]
    fmt = {c: (f"{{:+.{decimals}f}}" if c == LABELS["delta_db"] else f"{{:.{decimals}f}}") for c in floats}
    style = view.style.format(fmt, na_rep="–").hide(axis="index")
    if caption:
        style = style.set_caption(caption)
    if css_class:
        style = style.set_table_attributes(f'class="{css_class}"')
    return style


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


def paper_status(paper: str, results_dir=None) -> str:
    """One sentence on what is committed for ``paper``."""
    facts = runs_table(paper, results_dir)
    if facts.empty:
        return no_run_sentence(paper) + " The table below shows the paper's claims only."
    done = int((facts["status"] == "complete").sum())
    return (f"{len(facts)} run folder(s) committed for {paper} ({done} complete), "
            f"{facts['train_hours'].fillna(0).sum() + facts['eval_hours'].fillna(0).sum():.2f} device hours in all.")


# ---------------------------------------------------------------------------------------------- figures
def _figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
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
    fig = Figure(figsize=(panel_size * len(panels), panel_size + 0.4), layout="constrained")
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
    """Display every PNG matching ``pattern`` in ``paper``'s run folders, each under its run and file name."""
    from IPython.display import Image, Markdown, display

    paths = figure_paths(paper, pattern, results_dir)
    if not paths:
        display(Markdown(f"No figure saved yet in the run folders of {paper} (`results/{paper}/*/{pattern}`)."))
    for path in paths:
        display(Markdown(f"**{path.parent.name}** / `{path.name}`"))
        display(Image(filename=str(path)))
    return paths


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
    clipped to [0, 1] or not, and PSNR in the ``uint8`` or ``float`` flavour. Seconds on a CPU; the
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
