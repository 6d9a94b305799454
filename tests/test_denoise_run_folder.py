"""``repro denoise --method <run folder>``: the committed trained models denoise gray and colour files.

No stand-in for the loader: these tests load the real run folders under ``results/`` (a colour U-Net
trained by Noise2Noise, a gray U-Net trained by Noise2Score) and run them on a 64x48 crop of a Kodak image.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import repro
from repro import cli, data
from repro.checkpoints import Denoiser
from repro.denoise_files import DenoiseError, denoise_files, from_unit, read_file, to_unit, write_file

torch.set_num_threads(1)

RESULTS = Path(__file__).resolve().parent.parent / "results"
COLOUR_RUN = RESULTS / "noise2noise/n2n_gaussian_cpu_seed0"  # UNet(in_channels=3)
GRAY_RUN = RESULTS / "noise2score/noise2score_gaussian_sigma25_gray_cpu_seed0"  # UNet(in_channels=1), Tweedie


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """A clean 64x48 crop of kodim23 (colour and its luma), and noisy copies (sigma 25) written as PNG."""
    folder = tmp_path_factory.mktemp("in")
    clean_rgb = data.read_image(data.locate("kodak24") / "kodim23.png")[200:248, 300:364]
    clean_gray = data.to_gray(clean_rgb)
    rng = np.random.default_rng(0)
    for name, clean in (("colour.png", clean_rgb), ("gray.png", clean_gray)):
        noisy = np.clip(np.rint(clean + rng.normal(0, 25, clean.shape)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy.squeeze()).save(folder / name)
    return folder, {"colour.png": clean_rgb, "gray.png": clean_gray}


def psnr(pixels, clean):
    return 10 * np.log10(255.0 ** 2 / np.mean((pixels.astype(np.float64) - clean.astype(np.float64)) ** 2))


@pytest.mark.parametrize("run", [COLOUR_RUN, GRAY_RUN], ids=["colour-model", "gray-model"])
def test_a_trained_run_folder_denoises_gray_and_colour_files(run, crops, tmp_path, capsys):
    folder, clean = crops
    out = tmp_path / "out"
    rc = cli.main(["denoise", str(folder / "colour.png"), str(folder / "gray.png"), "-o", str(out),
                   "--method", str(run), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "denoised 2 of 2" in err
    for name in ("colour.png", "gray.png"):
        noisy, result = read_file(folder / name)[0], read_file(out / name)[0]
        assert result.shape == noisy.shape and result.dtype == np.uint8, name  # gray stays gray, colour colour
        if run == COLOUR_RUN and name == "gray.png":
            # three equal channels carry the same noise, which the colour model never saw: it removes
            # little (measured +0.3 dB at sigma 25), and the command says so
            assert "removes little noise" in err
        else:
            assert psnr(result, clean[name]) > psnr(noisy, clean[name]) + 4, name
    if run == GRAY_RUN:
        assert "removes little noise" not in err


def test_gray_through_a_colour_model_is_the_mean_of_its_three_equal_channels(crops, tmp_path):
    """The documented rule: replicate to 3 channels, denoise, average the three outputs."""
    folder, _ = crops
    assert denoise_files([folder / "gray.png"], tmp_path / "out", method=str(COLOUR_RUN), device="cpu",
                         progress=False) == []
    pixels = read_file(folder / "gray.png")[0]
    x, (low, scale) = to_unit(pixels)
    expected = from_unit(repro.load(COLOUR_RUN, device="cpu")(x.repeat(1, 3, 1, 1)).mean(1, keepdim=True),
                         pixels.dtype, low, scale)
    assert np.array_equal(read_file(tmp_path / "out/gray.png")[0], expected)


def test_colour_through_a_gray_model_is_denoised_one_channel_at_a_time(crops, tmp_path):
    folder, _ = crops
    assert denoise_files([folder / "colour.png"], tmp_path / "out", method=str(GRAY_RUN), device="cpu",
                         progress=False) == []
    pixels = read_file(folder / "colour.png")[0]
    x, (low, scale) = to_unit(pixels)
    model = repro.load(GRAY_RUN, device="cpu")
    expected = from_unit(torch.cat([model(x[:, c:c + 1]) for c in range(3)], 1), pixels.dtype, low, scale)
    assert np.array_equal(read_file(tmp_path / "out/colour.png")[0], expected)


def test_denoiser_names_the_channels_of_its_network():
    assert repro.load(COLOUR_RUN, device="cpu").in_channels == 3
    assert repro.load(GRAY_RUN, device="cpu").in_channels == 1
    from repro.models.zsn2n import ZSN2NNet

    assert Denoiser(ZSN2NNet(channels=1), paper="zs_n2n", method="zs-n2n", device="cpu").in_channels == 1
    assert Denoiser(torch.nn.Conv2d(2, 2, 3), paper="zs_n2n", method="zs-n2n", device="cpu").in_channels == 2
    with pytest.raises(ValueError, match="takes 3-channel images, got 1"):
        repro.load(COLOUR_RUN, device="cpu")(torch.rand(1, 1, 8, 8))


def test_a_method_path_that_holds_no_trained_model_is_a_clear_error(crops, tmp_path, capsys):
    folder, _ = crops
    (tmp_path / "empty_run").mkdir()
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    for method, message in ((tmp_path / "empty_run", "no trained model at"),
                            (folder / "gray.png", "is not a model saved by repro"),
                            (tmp_path / "model.pt", "is not a model saved by repro")):
        out = tmp_path / f"out_{Path(method).name}"
        assert cli.main(["denoise", str(folder / "gray.png"), "-o", str(out), "--method", str(method)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("repro denoise: error: ") and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert not out.exists()  # nothing created for a request that cannot run
    with pytest.raises(DenoiseError, match="no trained model at"):
        denoise_files([folder / "gray.png"], tmp_path / "o", method=str(tmp_path / "empty_run"))


def test_bit_depth_and_alpha_survive_a_trained_model(crops, tmp_path):
    folder, clean = crops
    rgb16 = read_file(folder / "colour.png")[0].astype(np.uint16) * 257
    alpha = np.random.default_rng(1).integers(0, 256, rgb16.shape[:2] + (1,)).astype(np.uint8)
    src = tmp_path / "src"
    src.mkdir()
    write_file(src / "colour16.tif", rgb16)
    write_file(src / "alpha.png", np.concatenate([read_file(folder / "colour.png")[0], alpha], -1))
    write_file(src / "gray_alpha.png", np.concatenate([read_file(folder / "gray.png")[0], alpha], -1))
    assert denoise_files([src], tmp_path / "out", method=str(GRAY_RUN), device="cpu", progress=False) == []
    result16 = read_file(tmp_path / "out/colour16.tif")[0]
    assert result16.dtype == np.uint16 and result16.shape == rgb16.shape
    assert psnr(result16 / 257.0, clean["colour.png"]) > psnr(rgb16 / 257.0, clean["colour.png"]) + 4
    for name, channels in (("alpha.png", 4), ("gray_alpha.png", 2)):
        result = read_file(tmp_path / "out" / name)[0]
        assert result.shape == rgb16.shape[:2] + (channels,) and result.dtype == np.uint8, name
        assert np.array_equal(result[..., -1:], alpha), name  # alpha copied, not denoised


def test_a_file_that_is_no_checkpoint_is_named_plainly(crops, tmp_path, capsys):
    folder, _ = crops
    assert cli.main(["denoise", str(folder / "gray.png"), "-o", str(tmp_path / "out"), "--method",
                     str(folder / "colour.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"repro denoise: error: {folder / 'colour.png'} is not a model saved by repro "
                   "(torch.load cannot read it: not a PyTorch checkpoint, or a damaged one)")
