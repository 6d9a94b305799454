"""The fast default of ``repro denoise`` (zsn2n.FAST) on full Kodak24 and McMaster18 at Gaussian sigma=25,
on the same noisy images as the committed 3000-step full-image runs (sigma25_kodak24, sigma25_mcmaster18).
Writes results/zs_n2n/fast_sigma25_<set>/ (per_image.csv appended image by image: a killed run resumes).
(results/summary.csv is rebuilt by `make summary`.) Run from the repository root, in the background:

    OMP_NUM_THREADS=1 nohup .venv/bin/python results/zs_n2n/fast_full_set.py > logs/zs_n2n_fast.log 2>&1 &
"""
import torch

from repro import noise, protocols, runs
from repro.experiments import zs_n2n

if __name__ == "__main__":
    for dataset in ("kodak24", "mcmaster18"):
        run, table = zs_n2n.full_set_run(runs.default_results_dir(), protocols.get("zs_n2n"), noise.Gaussian(25),
                                         dataset, budget="cpu", device="cpu", seed=0, progress=False, preset="fast")
        print(run.path, len(table), "images, mean PSNR", round(float(table.psnr_db.mean()), 3),
              "mean fit seconds", round(float(table.seconds.mean()), 1), "threads", torch.get_num_threads(),
              flush=True)
