"""The fast default of ``repro denoise`` (zsn2n.FAST) on full Kodak24 and McMaster18, one run folder per
(setting, set): results/zs_n2n/fast_2fits_<setting>_<set>/ (two fits averaged, one process per core;
``fits=1`` as the first argument: its one-fit form, fast_<setting>_<set>/; per_image.csv is appended image by
image: a killed run resumes). Gaussian σ=25 is paired with the committed 3000-step full-image runs (sigma25_kodak24,
sigma25_mcmaster18: same noisy images); σ=50 and Poisson λ=50 have no paper-protocol run and no verified
claim: they are ours only. (results/summary.csv is rebuilt by `make summary`.) Run from the repository root,
in the background, naming the settings (default sigma=25), on an otherwise idle machine (the per-image seconds are
recorded; the two fits take both cores of a 2-core machine):

    OMP_NUM_THREADS=2 nohup .venv/bin/python results/zs_n2n/fast_full_set.py sigma=50 lam=50 > logs/zs_n2n_fast.log 2>&1 &
"""
import sys

import torch

from repro import protocols, runs
from repro.experiments import zs_n2n


def noise_of(setting: str):
    """``sigma=50`` → Gaussian σ=50, ``lam=50`` → Poisson λ=50 (ZS-N2N's own noise models)."""
    key, _, value = setting.partition("=")
    if key not in ("sigma", "lam") or not value:
        raise SystemExit(f"a setting is sigma=<σ> or lam=<λ>, got '{setting}'")
    if key == "sigma":
        return zs_n2n.noise_for("gaussian", sigma=float(value))
    return zs_n2n.noise_for("poisson", lam=float(value))


if __name__ == "__main__":
    args = sys.argv[1:]
    fits = int(args.pop(0).partition("=")[2]) if args and args[0].startswith("fits=") else None
    for noise in [noise_of(s) for s in (args or ["sigma=25"])]:
        for dataset in ("kodak24", "mcmaster18"):
            run, table = zs_n2n.full_set_run(runs.default_results_dir(), protocols.get("zs_n2n"), noise, dataset,
                                             budget="cpu", device="cpu", seed=0, progress=False, preset="fast",
                                             fits=fits)
            print(run.path, len(table), "images, mean PSNR", round(float(table.psnr_db.mean()), 3),
                  "mean fit seconds", round(float(table.seconds.mean()), 1), "threads", torch.get_num_threads(),
                  flush=True)
