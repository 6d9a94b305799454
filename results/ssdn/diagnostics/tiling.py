"""Why the cpu budget denoises in tiles: a blind-spot net trained on 64x64 crops, applied to larger inputs.

Loads a training checkpoint of the cpu run (SSDN, sigma known; tiling.csv is from its 1000-step one) and
scores, on 64/128/256 centre crops of the first four Kodak images (sigma 25, uint8 PSNR), the prior mean
mu_x and the posterior mean, each on the whole input and in non-overlapping 64x64 tiles (ssdn.Tiled).
Writes tiling.csv beside this script.

    OMP_NUM_THREADS=1 .venv/bin/python results/ssdn/diagnostics/tiling.py results/ssdn/<run>/checkpoint.pt
"""
import sys
from pathlib import Path

import pandas as pd
import torch

from repro import noise
from repro.evaluate import Validator
from repro.methods import ssdn


class PriorMean(torch.nn.Module):
    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, noisy):
        return self.network(noisy)[0][:, :3]


def main():
    torch.set_num_threads(1)
    state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
    net, _, _ = ssdn.build("ssdn", "known")
    net.load_state_dict(state["model"])
    net.eval()
    tile = 64
    rows = []
    for crop in (64, 128, 256):
        validator = Validator("kodak24", noise.Gaussian(25), n_images=4, crop=crop)
        for output, model in (("prior mean", PriorMean(net)), ("posterior mean", ssdn.PosteriorMean(net, sigma=25.0))):
            whole = validator(model)
            tiled = validator(ssdn.Tiled(model, tile)) if crop > tile else whole
            rows.append({"iteration": state["iteration"], "crop": crop, "output": output, "whole_db": round(whole, 3),
                         f"tiles{tile}_db": round(tiled, 3)})
            print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(Path(__file__).with_name("tiling.csv"), index=False)


if __name__ == "__main__":
    with torch.no_grad():
        main()
