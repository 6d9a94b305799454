"""Noise2Void masking: where it masks, what it puts there, and that it stops a network learning the identity;
the paper's BSD68 baselines: N2C on the very noisy copies N2V reads, N2N on fixed independent pairs."""
import json

import pytest
import torch

from repro.methods import noise2void, ssdn
from repro.models import UNet
from repro.patches import Batch, PatchSampler


def test_one_masked_pixel_per_box_replaced_from_its_window():
    n, c, h, w = 3, 2, 50, 70  # boxes of 22 cut by the border on both axes
    y = torch.arange(n * c * h * w, dtype=torch.float64).reshape(n, c, h, w)  # every value names its pixel
    masked, mask = noise2void.mask_pixels(y, torch.Generator().manual_seed(1))
    b = noise2void.box_size()
    assert ((masked == y) | (mask == 1)).all()  # only masked positions change
    for i in range(n):
        for ch in range(c):
            positions = mask[i, ch].nonzero()
            boxes = {(int(r) // b, int(q) // b) for r, q in positions}
            assert len(boxes) == len(positions)  # at most one per box
            assert len(positions) <= -(-h // b) * -(-w // b)
            for r, q in positions.tolist():
                source = int(masked[i, ch, r, q]) - (i * c + ch) * h * w  # same crop and channel
                assert 0 <= source < h * w
                sr, sq = divmod(source, w)
                assert abs(sr - r) <= noise2void.NEIGHBOURHOOD_RADIUS and abs(sq - q) <= noise2void.NEIGHBOURHOOD_RADIUS
    # full boxes always get their pixel: every box wholly inside a 44x66 corner of each channel
    inner = mask[..., : 2 * b, : 3 * b].reshape(n, c, 2, b, 3, b).sum(dim=(3, 5))
    assert (inner == 1).all()


def test_masking_is_seeded():
    y = torch.rand(2, 3, 64, 64)
    a = noise2void.mask_pixels(y, torch.Generator().manual_seed(5))
    b = noise2void.mask_pixels(y, torch.Generator().manual_seed(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def _fit(loss_fn, steps=600, sigma=0.1, seed=0):
    """A 5x5 convolution fitted to pure noise around a flat grey image; returns its test MSE to the clean image."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Conv2d(1, 1, 5, padding=2, padding_mode="reflect")
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)
    for _ in range(steps):
        y = 0.5 + sigma * torch.randn(16, 1, 64, 64, generator=g)
        loss = loss_fn(net, Batch(torch.full_like(y, 0.5), (y,)), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = 0.5 + sigma * torch.randn(4, 1, 128, 128, generator=g)
    with torch.no_grad():
        return float(((net(y) - 0.5) ** 2).mean()) / sigma ** 2


def test_masking_stops_the_identity_and_denoises_white_noise():
    # Without masking, L2 to the noisy input itself is minimised by the identity (noise kept, ratio ~1);
    # with Noise2Void's masking the best predictor is the neighbourhood mean, which removes most of it.
    identity_loss = lambda net, batch, g: ((net(batch.noisy[0]) - batch.noisy[0]) ** 2).mean()  # noqa: E731
    assert _fit(identity_loss) > 0.8
    assert _fit(noise2void.N2VLoss()) < 0.1


def test_ssdn_notebook_builds_the_noise2void_baseline():
    model, architecture, _ = ssdn.build("n2v")
    assert isinstance(model, UNet) and architecture == "unet"
    assert isinstance(ssdn.loss_for("n2v"), noise2void.N2VLoss)
    assert ssdn.method_name("n2v") == "n2v"


def test_the_bsd68_baselines_read_n2vs_noisy_copy_and_train_against_their_own_targets():
    from repro.experiments import noise2void as recipe
    from repro.methods import noise2noise
    from repro.noise import Gaussian

    images = recipe.training_images("smoke")
    noise = Gaussian(25.0)
    samplers = {m: PatchSampler(images, 32, noise, copies=recipe.NOISY_COPIES[m], fixed_noise=True, seed=0)
                for m in recipe.METHODS}
    # N2C reads N2V's very noisy copies (the same inputs, another target); N2N a fixed pair of its own
    assert all(torch.equal(a[0], b[0]) for a, b in zip(samplers["n2v"].fixed, samplers["n2c"].fixed))
    pairs = samplers["n2n"].fixed
    assert all(len(p) == 2 and not torch.equal(p[0], p[1]) for p in pairs)
    residuals = [(p[0] - im, p[1] - im) for p, im in zip(pairs, samplers["n2n"].images)]
    correlation = torch.corrcoef(torch.stack([torch.cat([r[0].flatten() for r in residuals]),
                                              torch.cat([r[1].flatten() for r in residuals])]))[0, 1]
    assert abs(float(correlation)) < 0.01  # the two copies' noise is independent, as N2N needs
    assert isinstance(recipe.loss("n2n"), noise2noise.N2NLoss) and isinstance(recipe.loss("n2c"), noise2noise.N2CLoss)
    assert isinstance(recipe.loss("n2v"), noise2void.N2VLoss)
    with pytest.raises(ValueError, match="n2v, n2n, n2c"):
        recipe.loss("ssdn")


def test_an_n2c_baseline_trains_and_is_scored_on_bsd68(tmp_path, one_thread, monkeypatch):
    from repro.experiments import noise2void as recipe

    run = recipe.train(method="n2c", budget="smoke", device="cpu", results_dir=tmp_path, precision="fp32",
                       progress=False)
    info = json.loads((run.path / "run.json").read_text())
    assert run.path.name == "n2c_gray_sigma25_smoke_seed0" and info["method"] == "n2c"
    assert info["params"]["noisy_copies"] == 1 and "masked_percent" not in info["params"]
    assert info["status"] == "complete" and info["iterations"] == recipe.n2v.BUDGETS["smoke"]["iterations"]
    # the folder is not reopened in another precision (what precision='auto' gives on another machine)
    with pytest.raises(ValueError, match="trained in fp32; this call asks for bf16"):
        recipe.train(method="n2c", budget="smoke", device="cpu", results_dir=tmp_path, precision="bf16",
                     progress=False)
    assert json.loads((run.path / "run.json").read_text()) == info
    # called again where the checkpoint is gone (a fresh clone: it is not committed), the complete run is
    # reused as it is, not trained again from iteration 0
    (run.path / "checkpoint.pt").unlink()
    model_bytes = (run.path / "model.pt").read_bytes()

    def no_noise_drawn(*args, **kwargs):  # nor is its fixed noisy set drawn (~90 s for Gamma on CBSD432)
        raise AssertionError("a reused run drew its training noise")

    monkeypatch.setattr(PatchSampler, "_noisy_copies", no_noise_drawn)
    again = recipe.train(method="n2c", budget="smoke", device="cpu", results_dir=tmp_path, precision="fp32",
                         progress=False)
    assert again.path == run.path and json.loads((run.path / "run.json").read_text()) == info
    assert not (run.path / "checkpoint.pt").exists() and (run.path / "model.pt").read_bytes() == model_bytes
    monkeypatch.undo()
    monkeypatch.setitem(recipe.n2v.BUDGETS["smoke"], "iterations", info["iterations"] + 1)
    with pytest.raises(ValueError, match=f"complete run of {info['iterations']} iterations; this call asks for"):
        recipe.train(method="n2c", budget="smoke", device="cpu", results_dir=tmp_path, precision="fp32",
                     progress=False)


def test_a_paused_run_resumes_in_a_fresh_clone_from_its_committed_state(tmp_path, one_thread):
    from repro.experiments import noise2void as recipe
    from repro.pipeline import PAUSED_STATE

    def train(results, **kw):
        return recipe.train(method="n2c", budget="smoke", device="cpu", results_dir=results, precision="fp32",
                            progress=False, **kw)

    paused = train(tmp_path / "clone", time_limit_s=1e-9)  # stops after its first step
    assert json.loads((paused.path / "run.json").read_text())["status"] == "paused"
    assert (paused.path / PAUSED_STATE).read_bytes() == (paused.path / "checkpoint.pt").read_bytes()
    (paused.path / "checkpoint.pt").unlink()  # what a fresh clone of the committed folder lacks
    state = torch.load(paused.path / PAUSED_STATE, weights_only=False)
    state["elapsed_s"] += 1000.0  # a mark: the resumed run's wall time shows whether it read this state
    torch.save(state, paused.path / PAUSED_STATE)
    resumed = train(tmp_path / "clone")
    info = json.loads((resumed.path / "run.json").read_text())
    assert info["status"] == "complete" and info["train_wall_s"] >= 1000
    assert not (resumed.path / PAUSED_STATE).exists()  # the model and curve are the record once complete
    whole = train(tmp_path / "uninterrupted")
    a, b = (torch.load(r.path / "model.pt", weights_only=False)["state_dict"] for r in (resumed, whole))
    assert all(torch.equal(a[k], b[k]) for k in a)  # resumed exactly where it paused, not from iteration 0
