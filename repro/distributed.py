"""One training run on several devices: ``torchrun --nproc_per_node=N`` around :func:`repro.train.train`.

Under torchrun (``WORLD_SIZE`` > 1 in the environment) :func:`setup` joins the process group, gloo on CPU and
NCCL on CUDA (one GPU per rank, ``cuda:LOCAL_RANK``). The engine then

* draws the *global* batch (``TrainConfig.batch_size``) from the run's seeded generator on every rank, each
  rank keeping its slice of ``batch_size / N`` crops (:func:`rank_slice`); every rank's generator stays in
  the same state, so world size N x batch B/N trains on exactly the crops and noise one process x batch B
  would, and a checkpoint written by rank 0 resumes every rank;
* gives randomness *inside* a loss (AR-DAE perturbations, blind-spot masks) a per-rank stream seeded from
  (seed, iteration, rank) (:func:`loss_generator`), so two ranks never draw the same perturbation and a
  resumed run draws what an uninterrupted one would;
* averages gradients over ranks after each backward (:func:`average_gradients`: one flat all-reduce), so
  with a mean loss the step is that of the global batch;
* lets rank 0 alone write checkpoints, the curve and the run folder; rank 0 alone validates and evaluates.

Without torchrun nothing here is called and training is the single-process engine, bit for bit.
``tests/test_distributed.py`` runs 2 ranks x batch 2 against 1 process x batch 4 (gloo on CPU); the
difference it measured is in ``results/distributed/equivalence.csv``.

A worker for that check (``python -m repro.distributed``, under torchrun or alone) trains a U-Net for a
few steps on fixed crops and saves the final weights; ``--die-at`` kills rank 0 mid-run (SIGKILL) to test
resuming.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    """Ranks of the run: the process group's size once joined, else torchrun's ``WORLD_SIZE`` (1 without)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process writes files: rank 0, or the only process."""
    return rank() == 0


def active() -> bool:
    """Whether this process is one of several ranks of one run."""
    return world_size() > 1


def setup(device: torch.device | str) -> torch.device:
    """Join torchrun's process group when there is one (idempotent); return the device this rank trains on.

    Backend gloo for CPU, NCCL for CUDA, where rank r uses ``cuda:LOCAL_RANK``. Without torchrun: ``device``.
    """
    device = torch.device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_slice(global_batch: int) -> slice:
    """This rank's rows of a global batch: ``[r * B/N, (r + 1) * B/N)``.

    >>> rank_slice(4)  # one process keeps the whole batch
    slice(0, 4, None)
    """
    n, r = world_size(), rank()
    if global_batch % n:
        raise ValueError(f"batch_size {global_batch} does not split over {n} ranks; use a multiple of {n}")
    per = global_batch // n
    return slice(r * per, (r + 1) * per)


def take(batch, rows: slice):
    """The rows ``rows`` of a :class:`repro.patches.Batch` (clean crops, every noisy copy, their noise levels)."""
    levels = None if batch.levels is None else batch.levels[rows]
    return type(batch)(batch.clean[rows], tuple(t[rows] for t in batch.noisy), levels)


def loss_generator(seed: int, iteration: int) -> torch.Generator:
    """The generator a loss draws from at ``iteration`` on this rank when several ranks train.

    Stateless: seeded from (seed, iteration, rank), so resuming needs no saved state and ranks differ.
    """
    # distinct for every (iteration, rank < 7919) of a run: 65537 and 7919 are coprime primes
    return torch.Generator().manual_seed((int(seed) * 2654435761 + int(iteration) * 65537 + rank() * 7919 + 1) % 2 ** 62)


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights (they are already equal when drawn from the run's seed)."""
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(model: torch.nn.Module) -> None:
    """Replace every gradient by its mean over ranks: one all-reduce of all gradients flattened together."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def agree(loss: torch.Tensor, stop: bool) -> tuple[float, bool]:
    """(mean loss over ranks, whether any rank wants to stop): every rank then takes the same decision."""
    packed = torch.tensor([float(loss.detach()), 1.0 if stop else 0.0], dtype=torch.float64,
                          device=loss.device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return float(packed[0]) / world_size(), bool(packed[1] > 0)


def barrier() -> None:
    if active() and dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------------------------------------------
# The equivalence worker (tests/test_distributed.py)


def _worker(argv: list[str] | None = None) -> None:
    import argparse
    import signal
    from pathlib import Path

    import numpy as np

    from .methods.noise2noise import N2NLoss
    from .models import UNet
    from .noise import Gaussian
    from .patches import PatchSampler
    from .seeding import seeded
    from .train import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4, help="global batch")
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--die-at", type=int, default=None, help="SIGKILL rank 0 when this iteration starts")
    parser.add_argument("--pipeline", action="store_true",
                        help="train and evaluate through repro.pipeline into the results folder run_dir")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)  # fixed synthetic images: smooth gradients plus texture, uint8
    yy, xx = np.mgrid[0:96, 0:96]
    images = [np.clip(np.stack([(xx * (i + 1) + yy * c) % 256 for c in range(3)], -1)
                      + rng.integers(0, 40, (96, 96, 3)), 0, 255).astype(np.uint8) for i in range(4)]
    sampler = PatchSampler(images, args.patch, Gaussian((0, 50)), copies=2)

    class Loss(N2NLoss):
        def set_iteration(self, iteration, total):
            if args.die_at is not None and iteration == args.die_at and is_main():
                os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean-up, no checkpoint of this step

    config = TrainConfig(iterations=args.steps, batch_size=args.batch, lr=1e-3, precision=args.precision,
                         checkpoint_every=args.checkpoint_every, log_every=1, seed=0)
    if args.pipeline:  # the run folder <run_dir>/noise2noise/ddp_smoke: rank 0 writes it, then evaluates
        from . import protocols
        from .pipeline import train_and_evaluate

        train_and_evaluate(results_dir=args.run_dir, paper="noise2noise", run_name="ddp_smoke", method="n2n",
                           model=UNet(3), architecture="unet", arch_kwargs={"in_channels": 3}, loss_fn=Loss(),
                           sampler=sampler, config=config, protocol=protocols.get("noise2noise"),
                           eval_noise=Gaussian(25), budget="smoke", device="cpu", params={"world_size": world_size()},
                           datasets=["set14"], eval_images=1, progress=False)
        cleanup()
        return
    with seeded(0):
        model = UNet(3)
    train(model, Loss(), sampler, config, args.run_dir, progress=False)
    if is_main():
        torch.save(model.state_dict(), Path(args.run_dir) / "weights.pt")
    cleanup()


if __name__ == "__main__":
    _worker()
