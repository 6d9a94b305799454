"""Command line: ``repro summary``, ``repro claims``, ``repro baseline``, ``repro denoise``.

    repro summary                                  # rebuild results/summary.csv from the run folders
    repro claims ../shared/claims/claims.csv       # regenerate results/claims.csv (verified claims only)
    repro baseline bm3d --protocol noise2noise --sigma 25
    repro baseline anscombe_bm3d --protocol noise2noise --lam 30
    repro denoise photo.png more/ -o outdir        # see repro.denoise_files (--protocol paper: the published fit)
"""
from __future__ import annotations

import argparse
import sys

from . import baselines, noise, protocols, runs
from .evaluate import evaluate
from .methods import zsn2n


# baseline -> the noise level it is given: Gaussian σ (0-255) for BM3D, Poisson λ for Anscombe-BM3D
BASELINES = {"bm3d": "sigma", "anscombe_bm3d": "lam"}


def run_baseline(method: str, protocol_name: str, level: float, results_dir=None, datasets=None,
                 n_images=None, budget="cpu", progress=True) -> runs.Run:
    """Evaluate a classical baseline under a protocol into a resumable run folder: ``bm3d`` on Gaussian noise of
    σ = ``level`` (0-255 scale) or ``anscombe_bm3d`` on Poisson noise of λ = ``level`` (count at white)."""
    protocol = protocols.get(protocol_name)
    if method == "bm3d":
        noise_model, denoiser = noise.Gaussian(level), baselines.BM3D(level)
        params = {"sigma": level}
    elif method == "anscombe_bm3d":
        noise_model, denoiser = noise.Poisson(level), baselines.AnscombeBM3D(level)
        params = {"lam": level, "stabilisation": "Anscombe, then the exact unbiased inverse (closed form)"}
    else:
        raise ValueError(f"unknown baseline '{method}': one of {', '.join(BASELINES)}")
    name = f"{method}_{noise_model.label.replace('=', '')}_{protocol.name}_protocol"
    if n_images is not None:
        name += f"_first{n_images}"
    paper = "noise2noise" if protocol.name in ("noise2noise", "ssdn") else protocol.name
    run = runs.Run.open(results_dir or runs.default_results_dir(), paper, name, method=method,
                        noise=noise_model.name, param=noise_model.label, protocol=protocol.name,
                        budget=budget, device="cpu", iterations=0, train_wall_s=0.0, seed=protocol.seed,
                        params={**params, "datasets": datasets, "n_images": n_images,
                                "bm3d_profile": "np (package default)", "colour": "CBM3D on RGB, BM3D on gray"})
    table = evaluate(denoiser, protocol, noise_model, datasets=datasets, n_images=n_images,
                     per_image_csv=run.per_image_csv, progress=progress)
    # the per-image seconds, so that a run killed and resumed counts every session's images
    run.finish(eval_wall_s=round(float(table.seconds.sum()), 1))
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="repro", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="rebuild results/summary.csv from the run folders")
    p.add_argument("--results", default=None, help="results folder (default: ./results)")

    p = sub.add_parser("claims", help="regenerate results/claims.csv from the shared claims file")
    p.add_argument("source", nargs="?", default=None, help="claims file (default: ../shared/claims/claims.csv)")
    p.add_argument("--results", default=None, help="results folder (default: ./results)")

    p = sub.add_parser("baseline", help="evaluate a classical baseline into a run folder")
    p.add_argument("method", choices=list(BASELINES), help="bm3d (Gaussian noise) or anscombe_bm3d (Poisson noise)")
    p.add_argument("--protocol", required=True, choices=sorted(protocols.PROTOCOLS))
    p.add_argument("--sigma", type=float, help="Gaussian noise level, 0-255 scale (bm3d)")
    p.add_argument("--lam", type=float, help="Poisson noise: photon count at white, lambda = 1/zeta (anscombe_bm3d)")
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--n-images", type=int, default=None)
    p.add_argument("--results", default=None)

    p = sub.add_parser("denoise", help="denoise your own images (PNG/JPEG/TIFF, gray or colour, 8/16-bit)",
                       description="Denoise image files into a folder, keeping each file's name, format, bit "
                                   "depth and alpha. By default with Zero-Shot Noise2Noise, fast protocol: a "
                                   "22k-parameter network is fitted to each image in 3000 steps, each on 16 "
                                   "random 16x16 crops, so a fit costs about the same at any image size (tens of "
                                   "seconds on a CPU; two such fits run at once, one per core, and their "
                                   "outputs are averaged), a little below the published protocol's PSNR: the "
                                   "book's ZS-N2N chapter measures the gap on Kodak24 and McMaster18. "
                                   "--protocol paper runs the "
                                   "published protocol instead: 3000 steps on the whole image (minutes for a "
                                   "768x512 image on 2 CPU cores). Before "
                                   "the work starts it prints each image's size, the method, its settings and an "
                                   "estimate of the time; a progress bar runs per image and for the batch. "
                                   "Problems with the request (method, device, steps, protocol, output folder) "
                                   "are reported before any work; a file that fails is skipped, the others "
                                   "written.")
    p.add_argument("inputs", nargs="+", help="image files, or folders (their PNG/JPEG/TIFF files, not recursive)")
    p.add_argument("-o", "--output", required=True,
                   help="output folder, created if missing; inputs are never overwritten, and an output file "
                        "that already exists is kept (its input skipped) unless --overwrite")
    p.add_argument("--method", default="zs-n2n",
                   help="default: zs-n2n (Zero-Shot Noise2Noise: a small network fitted to each image, no "
                        "training data; see --protocol). Or a trained model: a run folder "
                        "holding model.pt (e.g. results/noise2noise/n2n_gaussian_cpu_seed0) or a model.pt "
                        "file. A colour model takes a gray image as 3 equal channels and writes their mean "
                        "(this removes little noise: prefer a gray model); a gray model denoises a colour "
                        "image one channel at a time")
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    p.add_argument("--protocol", default=None, metavar="{fast,paper}",
                   help=f"how ZS-N2N is fitted. fast (default): {zsn2n.FAST.describe()}; seconds per image, the "
                        "same at any size. paper: the published protocol exactly (the authors' Colab): 3000 "
                        "steps on the whole image (above 1 MP on random 1 MP windows, for memory); minutes per "
                        "image. The book's ZS-N2N chapter compares their PSNR and time")
    p.add_argument("--steps", type=int, default=None,
                   help="ZS-N2N fitting steps, at least 1 (default: 3000, the paper's, in both protocols); not for "
                        "trained models")
    p.add_argument("--sigma", type=float, default=None,
                   help="the inputs' noise level (sigma, 0-255 scale), for a trained model that is told it: SSDN "
                        "trained with sigma known over [5,50]; not for other models, which need none")
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")

    args = parser.parse_args(argv)
    if args.command == "summary":
        path = runs.write_summary(args.results)
        print(f"wrote {path} ({len(runs.summary(args.results))} rows)")
    elif args.command == "claims":
        from . import claims

        path = claims.write_claims(args.source, args.results)
        print(f"wrote {path} ({len(claims.load(path.parent))} verified claims)")
    elif args.command == "baseline":
        needed = BASELINES[args.method]
        other = next(level for level in BASELINES.values() if level != needed)
        if getattr(args, needed) is None or getattr(args, other) is not None:
            parser.error(f"baseline {args.method} takes --{needed} (and not --{other})")
        level = getattr(args, needed)
        if level <= 0:
            parser.error(f"--{needed} must be > 0, got {level:g}")
        run = run_baseline(args.method, args.protocol, level, args.results, args.datasets, args.n_images)
        print(run.path)
        runs.write_summary(args.results)
    elif args.command == "denoise":
        from .denoise_files import DenoiseError, denoise_files

        try:
            failures = denoise_files(args.inputs, args.output, method=args.method, device=args.device,
                                     steps=args.steps, overwrite=args.overwrite, protocol=args.protocol,
                                     sigma=args.sigma)
        except DenoiseError as err:
            print(f"repro denoise: error: {err}", file=sys.stderr)
            return 2
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
