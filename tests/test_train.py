import numpy as np
import pandas as pd
import pytest
import torch

from repro import data, noise
from repro.checkpoints import load, save_model
from repro.evaluate import Validator
from repro.metrics import psnr
from repro.methods.noise2noise import N2CLoss, N2NLoss
from repro.models import UNet
from repro.patches import PatchSampler
from repro.train import NonFiniteLoss, TrainConfig, learning_rate, memory_format, train


@pytest.fixture(scope="module")
def sampler():
    images = [im.pixels for im in data.load("cbsd432", exclude="bsd300_test")[:6]]
    return PatchSampler(images, 32, noise.Gaussian((0, 50)), copies=2)


def small_config(**kw):
    base = dict(iterations=6, batch_size=2, lr=1e-3, precision="fp32", checkpoint_every=3, log_every=1, seed=0)
    return TrainConfig(**{**base, **kw})


def test_a_killed_and_resumed_run_ends_with_the_same_weights(sampler, tmp_path):
    torch.manual_seed(0)
    straight = UNet(3)
    torch.manual_seed(0)
    resumed = UNet(3)
    train(straight, N2NLoss(), sampler, small_config(), tmp_path / "a", progress=False)
    first = train(resumed, N2NLoss(), sampler, small_config(), tmp_path / "b", stop_at=3, progress=False)
    assert first.stopped_early and first.iterations == 3
    torch.manual_seed(123)  # a fresh process: new init, other global RNG state
    again = UNet(3)
    second = train(again, N2NLoss(), sampler, small_config(), tmp_path / "b", progress=False)
    assert second.iterations == 6 and not second.stopped_early
    for (name, a), b in zip(straight.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert len((tmp_path / "b" / "curve.csv").read_text().splitlines()) == 1 + 6


def test_a_checkpoint_from_another_configuration_is_refused(sampler, tmp_path):
    train(UNet(3), N2NLoss(), sampler, small_config(iterations=2, checkpoint_every=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        train(UNet(3), N2NLoss(), sampler, small_config(iterations=2, lr=5e-4), tmp_path, progress=False)


def test_a_non_finite_loss_stops_with_a_clear_error(sampler, tmp_path):
    def exploding(model, batch, generator):
        return model(batch.noisy[0]).mean() * float("nan")

    with pytest.raises(NonFiniteLoss, match="iteration 0"):
        train(UNet(3), exploding, sampler, small_config(), tmp_path, progress=False)


class SmallResidualCNN(torch.nn.Module):
    """Four 3x3 convolutions predicting the noise. The U-Net needs ~1000 iterations before it beats its
    own input; this net does within 200, so the engine and both losses can be tested in seconds."""

    def __init__(self, channels=3, width=32):
        super().__init__()
        conv = lambda cin, cout: torch.nn.Conv2d(cin, cout, 3, padding=1)  # noqa: E731
        self.body = torch.nn.Sequential(conv(channels, width), torch.nn.ReLU(), conv(width, width), torch.nn.ReLU(),
                                        conv(width, width), torch.nn.ReLU(), conv(width, channels))

    def forward(self, x):
        return x - self.body(x)


@pytest.mark.parametrize("loss", [N2NLoss(), N2CLoss()])
def test_a_tiny_training_run_raises_psnr(loss, sampler, tmp_path):
    torch.manual_seed(0)
    model = SmallResidualCNN()
    validator = Validator("kodak24", noise.Gaussian(25), n_images=2, crop=64)
    before = validator(model)
    noisy = float(psnr(validator.noisy, validator.clean, "uint8").mean())  # about 20.5 dB at sigma=25
    train(model, loss, sampler, small_config(iterations=200, batch_size=4, checkpoint_every=200, log_every=50),
          tmp_path, progress=False)
    after = validator(model)
    assert after > before + 3.0 and after > noisy + 3.0  # it denoises: 3 dB better than its own input


def test_learning_rate_ramps():
    cfg = TrainConfig(iterations=1000, lr=2.0, rampup_fraction=0.1, rampdown_fraction=0.3)
    lrs = np.array([learning_rate(cfg, i) for i in range(1000)])
    assert lrs[0] == 0 and abs(lrs[100] - 2.0) < 1e-9 and abs(lrs[699] - 2.0) < 1e-9
    assert (np.diff(lrs[:100]) > 0).all() and (np.diff(lrs[700:]) < 0).all() and lrs[-1] < 1e-4


def test_the_step_schedule_is_torch_s_multisteplr_stepped_once_per_epoch():
    # Neighbor2Neighbor's official schedule: Adam 3e-4, MultiStepLR(milestones=[19, 39, 59, 79], gamma=0.5) stepped
    # after each of 100 epochs. Ours, over 100 epochs of 3 iterations, must give that rate at every iteration.
    epochs, per_epoch = 100, 3
    cfg = TrainConfig(iterations=epochs * per_epoch, lr=3e-4, rampdown_fraction=0.0,
                      lr_milestones=(0.19, 0.39, 0.59, 0.79), lr_decay=0.5)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[19, 39, 59, 79], gamma=0.5)
    official = []
    for _ in range(epochs):
        official += [optimizer.param_groups[0]["lr"]] * per_epoch
        optimizer.step()
        scheduler.step()
    ours = [learning_rate(cfg, i) for i in range(cfg.iterations)]
    assert ours == official
    assert ours[19 * per_epoch - 1] == 3e-4 and ours[19 * per_epoch] == 1.5e-4 and ours[-1] == 3e-4 / 16


def test_without_milestones_the_decay_factor_changes_nothing():
    cfg = TrainConfig(iterations=1000, lr=2.0, rampup_fraction=0.1, rampdown_fraction=0.3)
    other = TrainConfig(iterations=1000, lr=2.0, rampup_fraction=0.1, rampdown_fraction=0.3, lr_decay=0.1)
    assert [learning_rate(cfg, i) for i in range(1000)] == [learning_rate(other, i) for i in range(1000)]
    with pytest.raises(ValueError, match="lr_milestones"):
        TrainConfig(iterations=10, lr_milestones=(0.8, 0.4))


def test_a_run_trains_at_the_stepped_rate(sampler, tmp_path):
    config = small_config(iterations=4, rampdown_fraction=0.0, lr_milestones=(0.5,), lr_decay=0.5)
    train(UNet(3), N2NLoss(), sampler, config, tmp_path, progress=False)
    assert [float(x) for x in pd.read_csv(tmp_path / "curve.csv").lr] == [1e-3, 1e-3, 5e-4, 5e-4]


def test_a_checkpoint_from_before_the_step_schedule_resumes_as_a_run_without_milestones(sampler, tmp_path):
    plain = small_config(iterations=4)
    train(UNet(3), N2NLoss(), sampler, plain, tmp_path, stop_at=2, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    for name in ("lr_milestones", "lr_decay"):  # as TrainConfig wrote it before it had these fields
        del state["config"][name]
    torch.save(state, tmp_path / "checkpoint.pt")
    stepped = small_config(iterations=4, lr_milestones=(0.5,))
    with pytest.raises(ValueError, match="different configuration"):
        train(UNet(3), N2NLoss(), sampler, stepped, tmp_path, progress=False)
    assert train(UNet(3), N2NLoss(), sampler, plain, tmp_path, progress=False).iterations == 4


def test_saved_model_loads_back_as_the_same_denoiser(tmp_path):
    torch.manual_seed(0)
    model = UNet(1).eval()
    save_model(tmp_path, model, "unet", {"in_channels": 1}, "noise2noise", "n2n")
    denoiser = load(tmp_path, device="cpu")
    x = torch.rand(2, 1, 40, 40)
    with torch.no_grad():
        assert torch.equal(denoiser(x), model(x))
    with pytest.raises(ValueError, match="1-channel"):
        denoiser(torch.rand(1, 3, 32, 32))
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing")


def test_fp32_channels_last_computes_the_same_step_as_the_default_layout():
    # The CPU training layout (repro.train.memory_format) must change speed only, not the arithmetic.
    torch.manual_seed(0)
    reference = UNet(3)
    y = torch.rand(2, 3, 64, 64)
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        model = UNet(3)
        model.load_state_dict(reference.state_dict())
        model.to(memory_format=fmt)
        out = model(y.contiguous(memory_format=fmt))
        loss = ((out - y) ** 2).mean()
        loss.backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (out_a, g_a), (out_b, g_b) = grads
    torch.testing.assert_close(out_b, out_a, rtol=1e-4, atol=1e-5)
    # Rounding differs by ~1e-6, which can flip the arg-max of a near-tie in one max-pooling window and
    # send that pixel's gradient to its neighbour (it happens here for 1 of 98,304 windows, in the first
    # block). Per-element comparison is too strict for that; the whole gradient must agree to 1e-2.
    flat_a, flat_b = torch.cat([g.flatten() for g in g_a]), torch.cat([g.flatten() for g in g_b])
    assert float((flat_b - flat_a).norm() / flat_a.norm()) < 1e-2
    # and every layer past the first block agrees to fp32 rounding
    for a, b in list(zip(g_a, g_b))[4:]:
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-7)
    assert memory_format(torch.device("cpu")) == torch.channels_last
