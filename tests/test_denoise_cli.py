"""``repro denoise``: formats, bit depths, failures, never overwriting (trained models: test_denoise_run_folder.py)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from repro import cli
from repro.denoise_files import DenoiseError, denoise_files, read_file, write_file

torch.set_num_threads(1)


def smooth(h=40, w=48, channels=3):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.5 * xx * yy + 0.2 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.05)
    return np.stack([base * (0.9 + 0.05 * c) for c in range(channels)], -1)


def noisy(clean, sigma, rng):
    return np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1)


@pytest.fixture
def inputs(tmp_path):
    """One file of each kind a user may have, plus a broken one."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    rgb, gray = noisy(smooth(), 0.08, rng), noisy(smooth(channels=1), 0.08, rng)
    Image.fromarray((rgb * 255).round().astype(np.uint8)).save(folder / "colour.jpg", quality=92)
    Image.fromarray((gray[..., 0] * 255).round().astype(np.uint8)).save(folder / "gray.png")
    Image.fromarray((gray[..., 0] * 65535).round().astype(np.uint16)).save(folder / "gray16.png")
    tifffile.imwrite(folder / "colour16.tif", (rgb * 65535).round().astype(np.uint16), photometric="rgb")
    write_file(folder / "colour16.png", (rgb * 65535).round().astype(np.uint16))
    rgba = np.concatenate([(rgb * 255).round(), rng.integers(0, 256, rgb.shape[:2] + (1,))], -1).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    (folder / "broken.tif").write_bytes(b"II*\x00 this is not a tiff")
    (folder / "notes.txt").write_text("not an image, and not picked up from a folder")
    return folder


EXPECTED = {  # name: (dtype, channels)
    "colour.jpg": (np.uint8, 3), "gray.png": (np.uint8, 1), "gray16.png": (np.uint16, 1),
    "colour16.tif": (np.uint16, 3), "colour16.png": (np.uint16, 3), "alpha.png": (np.uint8, 4),
}


def test_every_kind_of_file_is_denoised_keeping_name_depth_and_size(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    rc = cli.main(["denoise", str(inputs), "-o", str(out), "--steps", "3", "--device", "cpu"])
    assert rc == 1  # one file failed
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED)
    for name, (dtype, channels) in EXPECTED.items():
        original, _ = read_file(inputs / name)
        result, _ = read_file(out / name)
        assert result.dtype == dtype and result.shape == original.shape[:2] + (channels,), name
    alpha_in, alpha_out = read_file(inputs / "alpha.png")[0], read_file(out / "alpha.png")[0]
    assert np.array_equal(alpha_in[..., 3], alpha_out[..., 3])  # alpha copied, not denoised
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.tif" in err and "denoised 6 of 7" in err
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched


def test_sixteen_bit_values_survive_a_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    for name, shape in (("a.tif", (5, 7, 3)), ("b.png", (5, 7, 3)), ("c.png", (5, 7, 1)), ("d.tiff", (5, 7, 1))):
        pixels = rng.integers(0, 65536, shape).astype(np.uint16)
        write_file(tmp_path / name, pixels)
        back, _ = read_file(tmp_path / name)
        assert np.array_equal(back, pixels), name


def test_denoising_actually_removes_noise(tmp_path):
    rng = np.random.default_rng(2)
    clean = smooth(64, 64, 1)
    (tmp_path / "in").mkdir()
    Image.fromarray((noisy(clean, 0.1, rng)[..., 0] * 255).round().astype(np.uint8)).save(tmp_path / "in/x.png")
    assert denoise_files([tmp_path / "in/x.png"], tmp_path / "out", steps=300, device="cpu", progress=False) == []

    def psnr(path):
        x = read_file(path)[0][..., 0] / 255.0
        return 10 * np.log10(1 / np.mean((x - clean[..., 0]) ** 2))

    assert psnr(tmp_path / "out/x.png") > psnr(tmp_path / "in/x.png") + 3


def test_an_output_folder_holding_the_inputs_is_refused_before_anything_runs(inputs, capsys):
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(inputs), "--steps", "2"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before
    # also when the colliding input is listed separately from another folder
    other = inputs.parent / "other"
    other.mkdir()
    (other / "gray.png").write_bytes((inputs / "gray.png").read_bytes())
    with pytest.raises(DenoiseError):
        denoise_files([other / "gray.png", inputs / "gray.png"], inputs, steps=2)


def test_same_name_from_two_folders_is_reported_not_overwritten(inputs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "gray.png").write_bytes((inputs / "gray.png").read_bytes())
    failures = denoise_files([inputs / "gray.png", other / "gray.png", tmp_path / "missing.png"], tmp_path / "out",
                             steps=2, device="cpu", progress=False)
    assert [f for f, _ in failures] == [str(other / "gray.png"), str(tmp_path / "missing.png")]
    assert (tmp_path / "out" / "gray.png").exists()


def test_unknown_method_is_a_clear_error(inputs, tmp_path, capsys):
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(tmp_path / "o"), "--method", "bm4d"]) == 2
    assert "unknown method 'bm4d'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_installed_command_runs(inputs, tmp_path):
    done = subprocess.run([sys.executable, "-m", "repro.cli", "denoise", str(inputs / "gray.png"), "-o",
                           str(tmp_path / "out"), "--steps", "2", "--device", "cpu"], capture_output=True, text=True,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/gray.png").exists() and "denoised 1 of 1" in done.stderr


# ---------------------------------------------------------------------------------------------------
# Output problems are found before any work: one line `repro denoise: error: ...`, exit 2


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a denoiser is built (i.e. work would start): output checks must come first."""
    from repro import denoise_files as module

    def refuse(*args, **kwargs):
        raise AssertionError("the denoiser was built before the output was checked")

    monkeypatch.setattr(module, "make_denoiser", refuse)


def one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("repro denoise: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and all(w in err for w in words), err
    return err.strip()


def test_an_existing_file_as_output_folder_is_refused_before_any_work(inputs, tmp_path, capsys, no_work):
    target = tmp_path / "existing.png"
    target.write_bytes(b"an earlier result")
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(target), "--steps", "2"]) == 2
    one_line_error(capsys, str(target), "is a file, not a folder")
    assert target.read_bytes() == b"an earlier result"
    with pytest.raises(DenoiseError, match="is a file, not a folder"):
        denoise_files([inputs / "gray.png"], target, steps=2, progress=False)


def test_an_output_folder_that_cannot_be_created_is_refused_before_any_work(inputs, tmp_path, capsys, no_work):
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "a_file" / "sub" / "out"
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out), "--steps", "2"]) == 2
    one_line_error(capsys, f"cannot create the output folder {out}", f"{tmp_path / 'a_file'} is a file, not a folder")
    with pytest.raises(DenoiseError, match="cannot create the output folder"):
        denoise_files([inputs / "gray.png"], out, steps=2, progress=False)


def test_a_read_only_output_folder_is_refused_before_any_work(inputs, tmp_path, capsys, no_work):
    out = tmp_path / "read_only"
    out.mkdir()
    out.chmod(0o555)
    try:
        try:
            (out / "probe").write_text("x")
            pytest.skip("this process writes into read-only folders (root with CAP_DAC_OVERRIDE)")
        except PermissionError:
            pass
        assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out), "--steps", "2"]) == 2
        one_line_error(capsys, f"cannot write into the output folder {out}", "Permission denied")
        assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out / "sub"), "--steps", "2"]) == 2
        one_line_error(capsys, f"cannot create the output folder {out / 'sub'}", "Permission denied")
    finally:
        out.chmod(0o755)


def test_an_unwritable_output_folder_is_found_by_a_probe_write_before_any_work(inputs, tmp_path, capsys, no_work,
                                                                               monkeypatch):
    """The same check as a root-proof test: the probe file cannot be created (as in a read-only folder)."""
    from repro import denoise_files as module

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(dir, ".repro-denoise-probe-x"))

    monkeypatch.setattr(module.tempfile, "mkstemp", denied)
    out = tmp_path / "out"
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out), "--steps", "2"]) == 2
    err = one_line_error(capsys, f"cannot write into the output folder {out}: Permission denied")
    assert "probe" not in err
    assert not out.exists()  # the folder this request created is removed again


def test_an_existing_output_is_kept_unless_overwrite(inputs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    args = ["denoise", str(inputs / "gray.png"), str(inputs / "alpha.png"), "-o", str(out), "--steps", "2",
            "--device", "cpu"]
    out.mkdir()
    (out / "gray.png").write_bytes(b"an earlier result")
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert (out / "gray.png").read_bytes() == b"an earlier result"
    assert f"skipped {inputs / 'gray.png'}: {out / 'gray.png'} already exists (kept; --overwrite replaces it)" in err
    assert "denoised 1 of 2 file(s)" in err and read_file(out / "alpha.png")[0].shape[-1] == 4
    # nothing left to do: the denoiser is not even built
    from repro import denoise_files as module

    monkeypatch.setattr(module, "make_denoiser", lambda *a, **k: pytest.fail("built a denoiser with no work"))
    assert cli.main(args) == 0
    assert "denoised 0 of 2 file(s)" in capsys.readouterr().err
    monkeypatch.undo()
    assert cli.main(args + ["--overwrite"]) == 0
    assert read_file(out / "gray.png")[0].shape == read_file(inputs / "gray.png")[0].shape
    assert "denoised 2 of 2 file(s)" in capsys.readouterr().err
    assert denoise_files([inputs / "gray.png"], out, steps=2, device="cpu", progress=False) == []


def test_help_names_the_default_method_and_what_method_accepts(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["denoise", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("default: zs-n2n", "Zero-Shot Noise2Noise", "run folder", "model.pt", "--overwrite",
                  "one channel at a time", "3 equal channels"):
        assert words in text, words


# ---------------------------------------------------------------------------------------------------
# Other problems with the request, also before any work; problems with one file, named plainly

COLOUR_RUN = str(Path(__file__).resolve().parent.parent / "results/noise2noise/n2n_gaussian_cpu_seed0")


@pytest.mark.parametrize("args, words", [
    (["--device", "foo"], ["unknown device 'foo'", "auto, cpu or cuda"]),
    (["--device", "cuda:99"], ["--device cuda:99"]),
    (["--steps", "0"], ["--steps must be at least 1"]),
    (["--steps", "-5"], ["--steps must be at least 1"]),
    (["--method", COLOUR_RUN, "--steps", "100"], ["--steps sets ZS-N2N's fitting steps", "takes none"]),
], ids=["unknown-device", "absent-gpu", "zero-steps", "negative-steps", "steps-with-trained-model"])
def test_a_bad_device_or_step_count_is_refused_before_any_work(args, words, inputs, tmp_path, capsys, no_work):
    out = tmp_path / "out"
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out)] + args) == 2
    one_line_error(capsys, *words)
    assert not out.exists()


def test_missing_inputs_are_reported_before_any_work(inputs, tmp_path, capsys, monkeypatch):
    from repro import denoise_files as module

    missing, seen, real = tmp_path / "missing.png", [], module.make_denoiser

    def spy(*args, **kwargs):
        seen.append(capsys.readouterr().err)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "make_denoiser", spy)
    assert cli.main(["denoise", str(missing), str(inputs / "gray.png"), "-o", str(tmp_path / "out"), "--steps", "2",
                     "--device", "cpu"]) == 1
    assert f"skipped {missing}: no such file" in seen[0]  # said before the denoiser was built
    assert "denoised 1 of 2" in capsys.readouterr().err
    # nothing but missing files: nothing to build, nothing written
    assert cli.main(["denoise", str(missing), "-o", str(tmp_path / "out2")]) == 1
    assert len(seen) == 1 and "denoised 0 of 1" in capsys.readouterr().err


def test_a_failed_write_names_the_output_file_and_the_others_are_still_written(inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_replace = os.replace

    def disk_full_for_gray(src, dst):
        if os.path.basename(dst) == "gray.png":
            raise OSError(28, "No space left on device", src, dst)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", disk_full_for_gray)
    failures = denoise_files([inputs / "gray.png", inputs / "alpha.png"], out, steps=2, device="cpu", progress=False)
    assert failures == [(str(inputs / "gray.png"), f"cannot write {out / 'gray.png'}: No space left on device")]
    assert sorted(p.name for p in out.iterdir()) == ["alpha.png"]  # no temp file left behind


def test_an_output_name_taken_by_a_folder_is_reported_not_kept(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "gray.png").mkdir(parents=True)
    for extra in ([], ["--overwrite"]):
        assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out), "--steps", "2", "--device", "cpu"]
                        + extra) == 1
        err = capsys.readouterr().err
        assert f"skipped {inputs / 'gray.png'}: {out / 'gray.png'} is a folder" in err and "kept" not in err, err


def test_a_missing_input_does_not_take_the_name_of_a_real_one(inputs, tmp_path):
    failures = denoise_files([tmp_path / "gray.png", inputs / "gray.png"], tmp_path / "out", steps=2, device="cpu",
                             progress=False)
    assert failures == [(str(tmp_path / "gray.png"), "no such file")]
    assert (tmp_path / "out/gray.png").exists()


def test_messages_during_the_run_get_their_own_line_not_the_progress_bars(inputs, tmp_path, capsys, caplog):
    assert cli.main(["denoise", str(inputs / "broken.tif"), str(inputs / "gray.png"), "-o", str(tmp_path / "out"),
                     "--steps", "2", "--device", "cpu"]) == 1
    segments = [s for s in capsys.readouterr().err.replace("\r", "\n").split("\n") if s.strip()]
    said = [s for s in segments if "skipped" in s]
    assert len(said) == 1 and said[0].startswith(f"skipped {inputs / 'broken.tif'}: "), segments
    assert said[0].endswith("cannot read it as an image (no pixels in it: an empty or damaged file)"), said
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]  # only our message about it


# ---------------------------------------------------------------------------------------------------
# Protocols: the fast default and the paper's; what is printed before the work


def test_help_says_what_the_default_does_and_how_to_get_the_published_protocol(capsys):
    with pytest.raises(SystemExit):
        cli.main(["denoise", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--protocol", "fast (default)", "16x16", "--protocol paper", "published protocol",
                  "whole image", "estimate of the time"):
        assert words in text, words


def test_protocol_paper_is_the_published_settings_exactly_and_fast_is_the_default():
    from repro.denoise_files import MAX_FIT_PIXELS, make_denoiser
    from repro.methods import zsn2n

    paper = make_denoiser("zs-n2n", "cpu", protocol="paper")
    assert paper.settings == zsn2n.PAPER == zsn2n.Settings() and paper.max_pixels == MAX_FIT_PIXELS
    assert paper.path == "fast" and paper.steps is None  # as the committed results/zs_n2n/sigma25_* runs
    fast = make_denoiser("zs-n2n", "cpu")
    assert fast.settings == zsn2n.FAST and fast.max_pixels is None
    assert make_denoiser("zs-n2n", "cpu", steps=7, protocol="paper").settings.steps == 7


@pytest.mark.parametrize("args, words", [
    (["--protocol", "quick"], ["unknown --protocol 'quick'", "fast", "paper"]),
    (["--method", COLOUR_RUN, "--protocol", "paper"], ["--protocol chooses how ZS-N2N is fitted", "takes none"]),
], ids=["unknown-protocol", "protocol-with-trained-model"])
def test_a_bad_protocol_is_refused_before_any_work(args, words, inputs, tmp_path, capsys, no_work):
    out = tmp_path / "out"
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(out)] + args) == 2
    one_line_error(capsys, *words)
    assert not out.exists()


def test_size_method_settings_and_estimate_are_printed_before_the_work(inputs, tmp_path, capsys):
    assert cli.main(["denoise", str(inputs / "gray.png"), str(inputs / "colour.jpg"), "-o", str(tmp_path / "out"),
                     "--steps", "2", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    lines = [s for s in err.replace("\r", "\n").split("\n") if s.strip()]
    first_write = next(i for i, s in enumerate(lines) if s.startswith("wrote "))
    plan = "\n".join(lines[:first_write])
    assert "method: zs-n2n, protocol fast: 2 steps on 16 random 16x16 crops per step" in plan, plan
    assert "; 2 such fits with consecutive seeds, averaged (on CPU at once, one process each)" in plan, plan
    assert f"{inputs / 'gray.png'}: 48x40 (0.0 MP), gray, about " in plan, plan
    assert f"{inputs / 'colour.jpg'}: 48x40 (0.0 MP), colour, about " in plan, plan
    assert "estimated time: about" in plan and "2 image(s)" in plan
    assert len([s for s in lines if s.startswith("wrote ") and "estimated" in s]) == 2


def test_the_paper_protocol_names_itself_before_the_work(inputs, tmp_path, capsys):
    assert cli.main(["denoise", str(inputs / "gray.png"), "-o", str(tmp_path / "out"), "--protocol", "paper",
                     "--steps", "2", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "protocol paper: 2 steps on the whole image, Adam lr 0.001 halved every 1000 steps" in err, err


def test_a_model_told_the_noise_level_takes_it_from_sigma_and_only_it(inputs, tmp_path, capsys):
    """SSDN trained with sigma known over [5,50] needs --sigma; the flag is refused for models that need none."""
    from repro.checkpoints import save_model
    from repro.methods import ssdn

    torch.manual_seed(0)
    net, arch, kwargs = ssdn.build("ssdn", "known")
    told = tmp_path / "told"
    save_model(told, net, arch, kwargs, "ssdn", "ssdn", inference={"sigma": [5.0, 50.0], "channels": 3})
    plain = tmp_path / "plain"
    save_model(plain, net, arch, kwargs, "ssdn", "ssdn", inference={"sigma": 25.0, "channels": 3})
    image = str(inputs / "colour.jpg")
    assert cli.main(["denoise", image, "-o", str(tmp_path / "a"), "--method", str(told), "--device", "cpu"]) == 2
    one_line_error(capsys, "--sigma")
    assert cli.main(["denoise", image, "-o", str(tmp_path / "b"), "--method", str(plain), "--sigma", "20"]) == 2
    one_line_error(capsys, "--sigma", "leave --sigma out")
    assert cli.main(["denoise", image, "-o", str(tmp_path / "c"), "--sigma", "20"]) == 2  # ZS-N2N needs none
    one_line_error(capsys, "--sigma", "ZS-N2N")
    out = tmp_path / "d"
    assert cli.main(["denoise", image, "-o", str(out), "--method", str(told), "--sigma", "20", "--device", "cpu"]) == 0
    written = read_file(out / "colour.jpg")[0]
    assert written.shape == (40, 48, 3)
    # the level reaches the posterior mean: another sigma gives another image
    assert cli.main(["denoise", image, "-o", str(tmp_path / "e"), "--method", str(told), "--sigma", "45",
                     "--device", "cpu"]) == 0
    assert not np.array_equal(written, read_file(tmp_path / "e" / "colour.jpg")[0])
