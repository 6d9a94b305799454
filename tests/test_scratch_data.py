"""The 32x32 pair data set and the held-out Kodak patches."""
import pytest
import torch

from repro import data, noise
from repro.scratch import data as scratch_data


@pytest.fixture(scope="module")
def images():
    return data.load("kodak24")[:4]


def test_pairs_are_two_independent_unclipped_noisy_copies(images):
    pairs = scratch_data.training_pairs(2000, noise.Gaussian(25), seed=0, images=images)
    clean = pairs.clean.float() / 255
    na, nb = pairs.noisy_a - clean, pairs.noisy_b - clean
    assert pairs.noisy_a.shape == (2000, 3, 32, 32) and pairs.clean.dtype == torch.uint8
    assert abs(float(na.std()) * 255 - 25) < 0.2 and abs(float(nb.std()) * 255 - 25) < 0.2
    assert abs(float(na.mean())) * 255 < 0.1  # zero mean: not clipped
    assert float(pairs.noisy_a.min()) < 0 and float(pairs.noisy_a.max()) > 1
    corr = float((na * nb).mean() / (na.std() * nb.std()))
    assert abs(corr) < 0.01  # the two copies' noise is independent


def test_pairs_are_seeded_and_patches_come_from_the_images(images):
    g25 = noise.Gaussian(25)
    a = scratch_data.training_pairs(50, g25, seed=1, images=images)
    assert torch.equal(a.noisy_a, scratch_data.training_pairs(50, g25, seed=1, images=images).noisy_a)
    assert not torch.equal(a.noisy_a, scratch_data.training_pairs(50, g25, seed=2, images=images).noisy_a)
    by_name = {im.name: im.pixels for im in images}
    for k in (0, 17, 49):
        name, y, x = a.sources[k].rsplit("_", 2)
        y, x = int(y[1:]), int(x[1:])
        expected = torch.from_numpy(by_name[name][y:y + 32, x:x + 32]).permute(2, 0, 1)
        assert torch.equal(a.clean[k], expected)
    assert torch.equal(a.subset(10).noisy_b, a.noisy_b[:10])
    with pytest.raises(ValueError):
        a.subset(51)


def test_held_out_set_is_fixed_distinct_grid_cells_of_the_noisy_images():
    g25 = noise.Gaussian(25)
    test = scratch_data.held_out_set(g25, per_image=16, n_images=2)
    again = scratch_data.held_out_set(g25, per_image=16, n_images=2)
    assert len(test) == 32 and len(set(test.names)) == 32
    assert torch.equal(test.noisy, again.noisy)  # no seed argument: every run sees the same test set
    name, y, x = test.names[20].rsplit("_", 2)
    i = test.image_names.index(name)
    y, x = int(y[1:]), int(x[1:])
    assert y % 32 == 0 and x % 32 == 0
    assert torch.equal(test.noisy[20], test.full_noisy[i][0, :, y:y + 32, x:x + 32])
    assert torch.equal(test.clean[20], test.full_clean[i][0, :, y:y + 32, x:x + 32])
    assert all(c.shape[-1] % 4 == 0 and c.shape[-2] % 4 == 0 for c in test.full_clean)


def test_training_and_test_sources_share_no_scene():
    train = {f for f, _ in data.get(scratch_data.TRAIN_SET).files()}
    test = {f for f, _ in data.get(scratch_data.TEST_SET).files()}
    assert not {f.rsplit(".", 1)[0] for f in train} & {f.rsplit(".", 1)[0] for f in test}
