"""Noise2Noise with multiplicative Bernoulli noise (paper §3.2, Eq. 7): the masked loss, its sampler and recipe.

On synthetic data: averaged over the target's masks, the gradient of the masked N2N loss at a fixed prediction is
(1 - p) times the N2C gradient (so the same minimiser, the clean image), while the plain L2 against the zeroed
target is pulled toward 0 (its minimiser is (1 - p) x). All in seconds on one thread.
"""
import math

import numpy as np
import pytest
import torch

from repro.experiments import noise2noise as recipe
from repro.methods import noise2noise as n2n
from repro.models import UNet
from repro.noise import Bernoulli
from repro.patches import Batch, PatchSampler
from repro.train import TrainConfig, train

DRAWS = 2000  # target masks averaged over
SHAPE = (3, 16, 16)


def _images():
    rng = np.random.default_rng(0)
    image = rng.integers(1, 256, (32, 32, 3), dtype=np.uint8)
    image[:12, :12] = 0  # black pixels: a kept black pixel looks exactly like a dropped one
    return [image]


def _gradient(loss_fn, prediction: torch.Tensor, batch: Batch) -> torch.Tensor:
    """d loss / d prediction, the same prediction for every draw in the batch."""
    f = prediction.clone().requires_grad_(True)
    loss_fn(lambda x: f.expand(x.shape[0], *SHAPE), batch).backward()
    return f.grad


def _draws(noise: Bernoulli, seed: int = 0):
    """A clean image, DRAWS Bernoulli targets of it with their keep-masks, and a fixed prediction."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(1, *SHAPE, generator=g)
    prediction = torch.rand(1, *SHAPE, generator=g)
    many = clean.expand(DRAWS, *SHAPE)
    keep = noise.keep_mask(many, g)
    return clean, prediction, many, many * keep, keep


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_the_masked_loss_is_unbiased_its_mean_gradient_is_1_minus_p_times_the_clean_one(p, one_thread):
    clean, prediction, many, target, keep = _draws(Bernoulli(p))
    masked = _gradient(n2n.MaskedN2NLoss(), prediction, Batch(many, (many, target, keep)))
    clean_l2 = _gradient(n2n.N2CLoss(), prediction, Batch(clean, (clean,)))
    # Per pixel the mean gradient is the N2C one times the fraction of draws that kept it: mean 1-p, standard
    # error sqrt(p(1-p)/DRAWS); over the image the relative error is about sqrt(p/((1-p) DRAWS)) (0.022, 0.045).
    tolerance = 2 * math.sqrt(p / ((1 - p) * DRAWS))
    assert _relative_error(masked, (1 - p) * clean_l2) < tolerance
    unmasked = _gradient(n2n.N2NLoss(), prediction, Batch(many, (many, target)))
    assert _relative_error(unmasked, (1 - p) * clean_l2) > 10 * tolerance  # measured 1.4 (p=0.5), 5.5 (p=0.8)
    # and the loss itself: (1 - p) x the clean L2 on average, no constant added (kept target pixels are clean)
    batch = Batch(many, (many, target, keep))
    loss = float(n2n.MaskedN2NLoss()(lambda x: prediction.expand(x.shape[0], *SHAPE), batch))
    assert loss == pytest.approx((1 - p) * float(((prediction - clean) ** 2).mean()), rel=tolerance)


def test_with_the_training_range_of_p_the_mean_gradient_is_e_1_minus_p_times_the_clean_one(one_thread):
    noise = n2n.TRAIN_NOISE["bernoulli"]  # p ~ U[0, 0.95] per target: E[1 - p] = 0.525
    clean, prediction, many, target, keep = _draws(noise, seed=1)
    masked = _gradient(n2n.MaskedN2NLoss(), prediction, Batch(many, (many, target, keep)))
    clean_l2 = _gradient(n2n.N2CLoss(), prediction, Batch(clean, (clean,)))
    # p is shared by a target's pixels: the mean of p over DRAWS targets has sd 0.95/sqrt(12 DRAWS) = 0.006
    assert _relative_error(masked, (1 - 0.475) * clean_l2) < 0.06


def test_the_unmasked_loss_is_biased_dropped_pixels_pull_the_prediction_toward_0(one_thread):
    p = 0.5
    clean, _, many, target, keep = _draws(Bernoulli(p), seed=2)
    masked, plain = n2n.MaskedN2NLoss(), n2n.N2NLoss()
    with_mask, without = Batch(many, (many, target, keep)), Batch(many, (many, target))
    # At the clean image the masked loss is at its minimum; the plain L2 still descends toward 0: its gradient
    # there is 2 p x / (C H W) on average, i.e. its minimiser is (1 - p) x, not x.
    assert float(_gradient(masked, clean, with_mask).abs().max()) == 0.0
    at_clean = _gradient(plain, clean, without)
    numel = math.prod(SHAPE)
    assert _relative_error(at_clean, 2 * p * clean / numel) < 2 * math.sqrt(p / ((1 - p) * DRAWS))
    assert float(at_clean.sum()) > 0  # gradient descent lowers the prediction: it darkens
    assert float(_gradient(plain, (1 - p) * clean, without).norm()) < 0.1 * float(at_clean.norm())


def test_the_sampler_hands_the_loss_the_targets_own_mask_even_on_black_pixels(one_thread):
    images = _images()
    sampler = n2n.training_sampler(images, 32, "bernoulli")
    assert isinstance(sampler, n2n.BernoulliPairSampler)
    batch = sampler.sample(4, torch.Generator().manual_seed(0))
    noisy_input, target, keep = batch.noisy
    assert keep.shape == (4, 1, 32, 32) and set(keep.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(target, batch.clean * keep)
    # kept black pixels exist: a mask read off the target's zeros would wrongly drop them
    black = (batch.clean == 0).all(1, keepdim=True)
    assert bool((black & (keep == 1)).any())
    # the input and target are the very draws of the plain two-copy sampler with that generator
    plain = PatchSampler(images, 32, n2n.TRAIN_NOISE["bernoulli"], copies=2).sample(4, torch.Generator().manual_seed(0))
    assert torch.equal(noisy_input, plain.noisy[0]) and torch.equal(target, plain.noisy[1])
    assert not torch.equal(noisy_input, target)  # separate masks for input and target (paper §3.2)


def test_each_loss_refuses_the_other_kind_of_batch():
    x = torch.rand(1, *SHAPE)
    with pytest.raises(ValueError, match="MaskedN2NLoss"):
        n2n.N2NLoss()(lambda t: t, Batch(x, (x, x, torch.ones(1, 1, 16, 16))))
    with pytest.raises(ValueError, match="BernoulliPairSampler"):
        n2n.MaskedN2NLoss()(lambda t: t, Batch(x, (x, x)))


def test_the_recipe_picks_the_masked_loss_for_n2n_and_scores_at_p_0_5():
    assert isinstance(n2n.loss("n2n", "bernoulli"), n2n.MaskedN2NLoss)
    assert isinstance(n2n.loss("n2c", "bernoulli"), n2n.N2CLoss)  # N2C: the clean target, unchanged
    assert isinstance(n2n.loss("n2n", "gaussian"), n2n.N2NLoss)
    assert n2n.TRAIN_NOISE["bernoulli"].label == "p=0-0.95"
    assert recipe.test_noise("bernoulli").label == "p=0.5"
    assert recipe.test_noise("bernoulli", p=0.3).label == "p=0.3"
    assert recipe.test_noise("gaussian").label == "sigma=25" and recipe.test_noise("poisson").label == "lam=30"


@pytest.mark.parametrize("method", ["n2n", "n2c"])
def test_two_training_steps_run_with_the_bernoulli_sampler(method, tmp_path, one_thread):
    torch.manual_seed(0)
    sampler = n2n.training_sampler(_images(), 32, "bernoulli")
    result = train(UNet(3), n2n.loss(method, "bernoulli"), sampler,
                   TrainConfig(iterations=2, batch_size=2, precision="fp32", log_every=1), tmp_path / method,
                   progress=False)
    assert result.iterations == 2 and math.isfinite(result.final_loss) and result.final_loss > 0
    assert len((tmp_path / method / "curve.csv").read_text().splitlines()) == 3  # header and one row per step


def _notebook_check(**values):
    """Run the notebook's parameters cell, then ``values`` as papermill would inject them, then its check cell."""
    from pathlib import Path

    import jupytext

    cells = [c for c in jupytext.read(Path(__file__).resolve().parent.parent / "notebooks" / "noise2noise.py").cells
             if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    namespace = {}
    exec(cells[0].source, namespace)
    namespace.update(values)
    exec(cells[1].source, namespace)
    return namespace


def test_the_notebook_takes_bernoulli_noise_with_p_and_refuses_a_p_outside_0_1():
    assert _notebook_check(noise="bernoulli", p=0.5)["p"] == 0.5
    from repro.notebook import ParameterError
    for bad, message in [(0.0, "parameter 'p' must be > 0"), (1.0, "parameter 'p' must be < 1"),
                         (1.5, "parameter 'p' must be < 1")]:
        with pytest.raises(ParameterError, match=message):
            _notebook_check(noise="bernoulli", p=bad)
