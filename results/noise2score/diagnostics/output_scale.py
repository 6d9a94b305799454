"""Is the trained score network's output too small? Tweedie with a scaled score, y + c·σ²·R(y).

If a short run left R(y) under-scaled (a network slow to reach the score's magnitude, about 1/σ), some
c > 1 would beat c = 1 by a clear margin. Scores the committed 1500-step models (gray: U-Net and the
official weight-shared one, on the first six Set12 images; colour: U-Net, on the first six CBSD68
images) and the two 6000-step gray U-Nets (σ_a annealed over the run, and the official counter, which ends
an epoch at σ_a ≈ 0.032, where c = 1 + σ_a²/σ² ≈ 1.1 is Tweedie at the score's own noise level), σ = 25,
one seeded realisation, float PSNR,
for several c; also the ratio of standard deviations and the correlation of R(y) with -(y - x)/σ², the
score of the noise given the clean image. Writes output_scale.csv beside this script.

    OMP_NUM_THREADS=1 .venv/bin/python results/noise2score/diagnostics/output_scale.py
"""
from pathlib import Path

import pandas as pd
import torch

import repro
from repro import data, metrics

RUNS = {"noise2score_gaussian_sigma25_gray_cpu1500_seed0": "set12",
        "noise2score_shared_unet_gaussian_sigma25_gray_cpu1500_seed0": "set12",
        "noise2score_gaussian_sigma25_color_cpu1500_seed0": "cbsd68",
        "noise2score_gaussian_sigma25_gray_cpu_seed0": "set12",
        "noise2score_official_anneal_gaussian_sigma25_gray_cpu_seed0": "set12"}
SCALES = (0.6, 0.8, 1.0, 1.1, 1.2, 1.5)


def main():
    torch.set_num_threads(1)
    sigma = 25 / 255
    rows = []
    for name, dataset in RUNS.items():
        convert = data.to_gray if dataset == "set12" else data.to_rgb
        clean = [torch.from_numpy(convert(im.pixels)).permute(2, 0, 1).float()[None] / 255
                 for im in data.load(dataset)[:6]]
        scorer = repro.load(Path(__file__).parents[1] / name, device="cpu")._apply
        generator = torch.Generator().manual_seed(0)
        psnr, ratio, corr = {c: [] for c in SCALES}, [], []
        for x in clean:
            y = x + sigma * torch.randn(x.shape, generator=generator)
            with torch.no_grad():
                score = scorer.score(y)
            for c in SCALES:
                psnr[c].append(float(metrics.psnr(y + c * sigma ** 2 * score, x, "float").mean()))
            target = -(y - x) / sigma ** 2
            ratio.append(float(score.std() / target.std()))
            corr.append(float(torch.corrcoef(torch.stack([score.flatten(), target.flatten()]))[0, 1]))
        row = {"run": name, "images": f"{dataset}[:6]", "std_ratio": sum(ratio) / len(ratio), "correlation": sum(corr) / len(corr)}
        row.update({f"psnr_c{c}": sum(v) / len(v) for c, v in psnr.items()})
        rows.append(row)
        print(row, flush=True)
    pd.DataFrame(rows).round(4).to_csv(Path(__file__).with_name("output_scale.csv"), index=False)


if __name__ == "__main__":
    main()
