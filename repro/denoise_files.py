"""``repro denoise``: denoise your own image files, keeping each file's name, format and bit depth.

    repro denoise photo.jpg scans/ -o denoised/                 # Zero-Shot Noise2Noise, fast (crop) fits
    repro denoise photo.jpg -o denoised/ --protocol paper       # the paper's protocol: whole-image fits
    repro denoise photo.png -o out/ --method results/noise2noise/n2n_gaussian_cpu_seed0   # a trained model

* Methods (``--method``): ``zs-n2n`` (the default: Zero-Shot Noise2Noise, fitted to each image, no training
  data), or a trained model: a run folder holding ``model.pt`` or that file, loaded by :func:`repro.load`.
* ZS-N2N protocols (``--protocol``): ``fast`` (the default, :data:`repro.methods.zsn2n.FAST`: two fits
  averaged, at once in two processes on CPU, each 3000 steps on 16 random 16x16 crops, the input centred, the
  weights averaged; the work per step is the same on any image size, so a fit takes about as long on a 12 MP
  photo as on a thumbnail) or ``paper``
  (:data:`repro.methods.zsn2n.PAPER`, the published protocol: 3000 steps on the whole image, minutes per
  image). ``results/zs_n2n/fast_*`` and the book's ZS-N2N chapter give the PSNR each costs.
* Before the work starts it prints the files, the method and its settings, and, before each image, its size
  and an estimate of the time (a few steps timed on this machine, scaled up); a progress bar runs per image
  and for the batch.
* Gray and colour: a trained model takes the channels it was trained on (:attr:`repro.Denoiser.in_channels`).
  A gray image through a colour model is replicated to 3 channels, denoised, and the mean of the 3 output
  channels is written (gray stays gray); a colour image through a gray model is denoised one channel at a
  time. ZS-N2N fits whatever channels the image has. Prefer a model of the image's kind: the three equal
  channels of a gray image carry the same noise, which a colour model never saw in training, and it
  removes little of it (the Noise2Noise colour U-Net: +0.3 dB on gray Kodak crops at sigma 25, where the
  gray Noise2Score U-Net gains 12 dB); the command prints a note when this happens.
* Formats: PNG, JPEG, TIFF (a folder is searched for these, not recursively); gray or colour, with or
  without alpha (alpha is copied unchanged); 8- or 16-bit integers, or float TIFF (scaled by its range).
* The output has the input's name, format and bit depth (JPEG is re-encoded at quality 95, 4:4:4).
* Checked before any model is loaded or image fitted, each a one-line error with nothing run: the method,
  the device, ``--steps`` (at least 1; ZS-N2N only), and the output folder (``-o``), which is created if
  missing and proven writable by creating and removing a probe file. Missing inputs are reported first.
* An output file that already exists is kept, and its input skipped with a message, unless ``overwrite``
  (``--overwrite``) is given. Kept files are not failures.
* A file that cannot be read or denoised is reported and skipped; the others are still written.
* Inputs are never overwritten: an output path that is an input is refused before anything runs.
* Size: ZS-N2N fits a 22k-parameter network to each image, so any size works. The fast protocol fits 16x16
  crops; with ``--protocol paper``, above ``MAX_FIT_PIXELS`` each optimisation step sees a random window of
  the photo instead of all of it (not in the paper, which used images of at most ~0.5 MP; it bounds
  memory). The final pass runs over the whole photo in tiles, so memory grows with the photo's own pixels
  only (``results/timing/zsn2n_speed.csv`` states the measured peak on a 12 MP photo).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

from .progress import progress_bar

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ZS_N2N_NAMES = ("zs-n2n", "zsn2n", "zs_n2n")
MAX_FIT_PIXELS = 1024 * 1024  # larger photos are fitted on random 1 MP windows (memory); see module doc


def _say(message: str) -> None:
    """A line on stderr that does not land on a progress bar's line (tqdm clears and redraws the bar)."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


class DenoiseError(ValueError):
    """A problem with the request as a whole (bad method, output would overwrite an input): nothing is run."""


class UnreadableImage(ValueError):
    """One file is not an image this command can read."""


# ---------------------------------------------------------------------------------------------------
# Reading and writing, keeping the bit depth


def _png_is_16bit_colour(path: Path) -> bool:
    """PIL reads 16-bit colour PNGs as 8-bit, so they go through pypng; IHDR says which they are."""
    with path.open("rb") as handle:
        head = handle.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 6)


def _pypng():
    try:
        import png
    except ImportError as err:
        raise UnreadableImage("16-bit colour PNG needs the pypng package (pip install pypng)") from err
    return png


def read_file(path: str | Path) -> tuple[np.ndarray, dict]:
    """Pixels (H, W, C) as stored (uint8, uint16 or float32; C = 1, 2, 3 or 4) and metadata to write back.

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "g.png")
    >>> write_file(f, np.full((4, 5, 1), 40000, np.uint16))
    >>> pixels, _ = read_file(f); pixels.shape, pixels.dtype, int(pixels.max())
    ((4, 5, 1), dtype('uint16'), 40000)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import logging

            import tifffile

            log = logging.getLogger("tifffile")  # it logs its own complaints about a damaged file; ours follows
            level = log.level
            log.setLevel(logging.ERROR)
            try:
                pixels = np.asarray(tifffile.imread(path)).squeeze()
            finally:
                log.setLevel(level)
            if pixels.ndim == 3 and pixels.shape[0] in (1, 2, 3, 4) and pixels.shape[-1] > 4:
                pixels = np.moveaxis(pixels, 0, -1)  # planar (C, H, W) storage
            return _checked(pixels, path), {}
        if suffix == ".png" and _png_is_16bit_colour(path):
            width, height, rows, info = _pypng().Reader(filename=str(path)).asDirect()
            planes = info["planes"]
            pixels = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, planes)
            return _checked(pixels, path), {}
        with PILImage.open(path) as im:
            meta = {k: im.info[k] for k in ("icc_profile", "exif", "dpi") if k in im.info}
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                pixels = np.clip(np.asarray(im, dtype=np.int64), 0, 65535).astype(np.uint16)
            elif im.mode == "F":
                pixels = np.asarray(im, dtype=np.float32)
            else:
                has_alpha = "A" in im.getbands() or "transparency" in im.info
                gray = im.mode in ("1", "L", "LA", "La") or (im.mode == "P" and _palette_is_gray(im))
                target = ("LA" if has_alpha else "L") if gray else ("RGBA" if has_alpha else "RGB")
                pixels = np.asarray(im.convert(target))
            return _checked(pixels, path), meta
    except UnreadableImage:
        raise
    except Exception as err:  # PIL/tifffile raise many kinds of errors for broken files
        raise UnreadableImage(f"cannot read it as an image ({type(err).__name__}: {err})") from err


def _palette_is_gray(im) -> bool:
    palette = np.asarray(im.convert("RGB"))
    return bool((palette[..., 0] == palette[..., 1]).all() and (palette[..., 1] == palette[..., 2]).all())


def _checked(pixels: np.ndarray, path: Path) -> np.ndarray:
    if pixels.size == 0:
        raise UnreadableImage("cannot read it as an image (no pixels in it: an empty or damaged file)")
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 2, 3, 4):
        raise UnreadableImage(f"unsupported layout {pixels.shape} (one 2-D gray or colour image expected)")
    if pixels.dtype not in (np.uint8, np.uint16) and not np.issubdtype(pixels.dtype, np.floating):
        raise UnreadableImage(f"unsupported sample type {pixels.dtype} (8- or 16-bit integers or float)")
    if min(pixels.shape[:2]) < 2:
        raise UnreadableImage(f"image too small to denoise: {pixels.shape[1]}x{pixels.shape[0]} pixels")
    return pixels if pixels.dtype != np.float64 else pixels.astype(np.float32)


def write_file(path: str | Path, pixels: np.ndarray, meta: dict | None = None) -> None:
    """Write (H, W, C) pixels in the format the suffix names, at their own bit depth, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    meta = meta or {}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, pixels[..., 0] if pixels.shape[-1] == 1 else pixels,
                             photometric="minisblack" if pixels.shape[-1] <= 2 else "rgb")
        elif pixels.dtype == np.uint16 and pixels.shape[-1] > 1:
            if suffix != ".png":
                raise ValueError(f"cannot write 16-bit colour as {suffix}")
            h, w, c = pixels.shape
            writer = _pypng().Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16)
            with open(tmp, "wb") as handle:
                writer.write(handle, pixels.reshape(h, w * c))
        else:
            fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}[suffix]
            image = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
            extra = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
            PILImage.fromarray(image).save(tmp, format=fmt, **extra, **meta)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except OSError as err:  # name the file asked for, not the temporary file beside it
        raise OSError(f"cannot write {path}: {err.strerror or err}") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def to_unit(pixels: np.ndarray) -> tuple[torch.Tensor, tuple[float, float]]:
    """(H, W, C) -> float tensor (1, C, H, W) on [0, 1], and the (offset, scale) to undo it."""
    if pixels.dtype == np.uint8:
        low, scale = 0.0, 255.0
    elif pixels.dtype == np.uint16:
        low, scale = 0.0, 65535.0
    else:  # float data have no fixed range: use the image's own
        low, high = float(np.nanmin(pixels)), float(np.nanmax(pixels))
        scale = (high - low) or 1.0
        low = low if high > low else 0.0
    unit = pixels.astype(np.float32)  # scaled in place: one float copy of the photo, not three
    if low:
        unit -= np.float32(low)
    unit /= np.float32(scale)
    x = torch.from_numpy(unit).permute(2, 0, 1)[None]
    return x.contiguous(), (low, scale)


def from_unit(x: torch.Tensor, dtype: np.dtype, low: float, scale: float) -> np.ndarray:
    """Inverse of :func:`to_unit`, rounding to the original integer type.

    >>> p = np.array([[[0], [1], [254], [255]]], np.uint8)
    >>> bool((from_unit(to_unit(p)[0], p.dtype, 0.0, 255.0) == p).all())
    True
    """
    hwc = x[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    if np.issubdtype(dtype, np.integer):  # in place, in float32: one image-sized buffer (a 12 MP photo: 144 MB)
        out = np.multiply(hwc, np.float32(scale), dtype=np.float32)
        np.rint(out, out=out)
        np.clip(out, 0, np.iinfo(dtype).max, out=out)
        return out.astype(dtype)
    return (hwc.astype(np.float64) * scale + low).astype(dtype)


# ---------------------------------------------------------------------------------------------------
# Denoisers


def check_method(method: str) -> None:
    """Refuse (:class:`DenoiseError`) a method naming neither ZS-N2N nor a trained model; loads nothing."""
    if method.lower() in ZS_N2N_NAMES:
        return
    path = Path(method)
    if not path.exists():
        raise DenoiseError(f"unknown method '{method}': use 'zs-n2n', or the path of a run folder or "
                           "checkpoint of a trained model")
    from .checkpoints import MODEL_FILE

    if path.is_dir() and not (path / MODEL_FILE).is_file():
        raise DenoiseError(f"no trained model at {path / MODEL_FILE}: give a run folder holding {MODEL_FILE} "
                           "or the file itself")


PROTOCOLS = ("fast", "paper")


def zs_n2n_settings(protocol: str = "fast", steps: int | None = None):
    """The :class:`repro.methods.zsn2n.Settings` of a ``--protocol``, with ``steps`` if given, and the
    ``max_pixels`` window of whole-image fits (None for crop fits).

    >>> from repro.methods import zsn2n
    >>> zs_n2n_settings("paper") == (zsn2n.PAPER, MAX_FIT_PIXELS), zs_n2n_settings("fast", 500)[0].steps
    (True, 500)
    """
    import dataclasses

    from .methods import zsn2n

    if protocol not in PROTOCOLS:
        raise DenoiseError(f"unknown --protocol '{protocol}': use fast (the default) or paper")
    settings = zsn2n.PRESETS[protocol]
    if steps is not None:
        settings = dataclasses.replace(settings, steps=steps)
    return settings, (MAX_FIT_PIXELS if settings.crop is None else None)


def check_request(method: str, device="auto", steps: int | None = None, protocol: str | None = None,
                  sigma: float | None = None) -> None:
    """Refuse (:class:`DenoiseError`) a method, device, step count, protocol or noise level that cannot run;
    loads nothing (whether a trained model needs ``sigma`` is checked once it is loaded, :func:`make_denoiser`)."""
    check_method(method)
    if sigma is not None:
        if method.lower() in ZS_N2N_NAMES:
            raise DenoiseError("--sigma is for a trained model that is told the noise level; ZS-N2N needs none "
                               "(leave --sigma out)")
        if not sigma > 0:
            raise DenoiseError(f"--sigma must be > 0 (the noise level on the 0-255 scale), got {sigma:g}")
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise DenoiseError(f"unknown --protocol '{protocol}': use fast (the default) or paper")
        if method.lower() not in ZS_N2N_NAMES:
            raise DenoiseError(f"--protocol chooses how ZS-N2N is fitted; the trained model {method} takes none "
                               "(leave --protocol out)")
    if steps is not None:
        if method.lower() not in ZS_N2N_NAMES:
            raise DenoiseError(f"--steps sets ZS-N2N's fitting steps; the trained model {method} takes none "
                               "(leave --steps out)")
        if steps < 1:
            raise DenoiseError(f"--steps must be at least 1 (got {steps}); the default is 3000, the paper's")
    if not isinstance(device, str) or device == "auto":
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise DenoiseError(f"unknown device '{device}': use auto, cpu or cuda (cuda:1 for a second GPU)") from err
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise DenoiseError(f"--device {device}: CUDA is not available here; use --device auto or cpu")
        if parsed.index is not None and parsed.index >= count:
            raise DenoiseError(f"--device {device}: there is no such GPU here ({count} found: cuda:0 to "
                               f"cuda:{count - 1})")


def make_denoiser(method: str, device: str = "auto", steps: int | None = None, protocol: str | None = None,
                  sigma: float | None = None):
    """``zs-n2n`` (fitted per image, ``protocol`` fast or paper) or a trained model through :func:`repro.load`
    (imported only then).

    Raises :class:`DenoiseError` with a one-line reason for a method that names neither, and for a model that
    is told the noise level (SSDN trained with σ known over [5, 50]) without ``sigma``, or ``sigma`` for one
    that is not.
    """
    check_request(method, device, steps, protocol, sigma)
    if method.lower() in ZS_N2N_NAMES:
        from .methods.zsn2n import ZeroShotN2N

        settings, max_pixels = zs_n2n_settings(protocol or "fast", steps)
        try:
            return ZeroShotN2N(path="fast", device=device, settings=settings, max_pixels=max_pixels, progress=True)
        except (RuntimeError, ValueError) as err:
            raise DenoiseError(" ".join(str(err).split())) from err
    from .checkpoints import load

    try:
        model = load(method, device=device)
    except (OSError, ValueError, RuntimeError) as err:  # no model.pt, not a checkpoint, weights not matching
        raise DenoiseError(" ".join(str(err).split())) from err
    if model.takes_noise_level and sigma is None:
        raise DenoiseError(f"{method} is told the noise level of each image (trained with sigma known over a "
                           "range): give it with --sigma (0-255 scale)")
    if sigma is not None and not model.takes_noise_level:
        raise DenoiseError(f"--sigma is for a model that is told the noise level; {method} is not "
                           "(leave --sigma out)")
    return model


def _model_channels(denoiser) -> int | None:
    """The channels a trained model takes (:attr:`repro.Denoiser.in_channels`); None: any (ZS-N2N)."""
    value = getattr(denoiser, "in_channels", None)
    return value if isinstance(value, int) else None


def _model_device(denoiser) -> torch.device:
    if isinstance(denoiser, torch.nn.Module):
        param = next(denoiser.parameters(), None)
        if param is not None:
            return param.device
    return torch.device("cpu")


def denoise_array(denoiser, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Run a denoiser on (1, C, H, W) colour or gray data, matching the channels a trained model expects;
    ``sigma`` (0-255 of the full range): the noise level, for a model that is told it."""
    want = _model_channels(denoiser)
    channels = x.shape[1]
    device = _model_device(denoiser)
    known = {} if sigma is None else {"noise_level": torch.tensor([float(sigma)])}
    with torch.no_grad():
        if want is None or want == channels:
            return denoiser(x.to(device), **known).float().cpu()
        if want == 3 and channels == 1:  # gray photo, colour model: tile, then average back
            return denoiser(x.repeat(1, 3, 1, 1).to(device), **known).float().cpu().mean(1, keepdim=True)
        if want == 1:  # colour photo, gray model: one channel at a time
            return torch.cat([denoiser(x[:, c:c + 1].to(device), **known).float().cpu() for c in range(channels)], 1)
    raise ValueError(f"the model expects {want} channels, the image has {channels}")


# ---------------------------------------------------------------------------------------------------
# The command


def collect_inputs(inputs) -> list[Path]:
    """Files as given, and the PNG/JPEG/TIFF files of each folder (sorted, not recursive)."""
    files: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            files.append(item)
    return files


def plan_outputs(files: list[Path], output: Path, overwrite: bool = False):
    """``(pairs, failures, kept)``: (input, output) pairs to run, [(input, reason)] refused (missing input,
    a name taken by an earlier input, an output name taken by a folder), and [(input, reason)] skipped
    because their output exists (only without ``overwrite``).

    Refuses (DenoiseError) any output that would overwrite an input.
    """
    inputs = {f.resolve() for f in files if f.exists()}
    pairs, failures, kept, taken = [], [], [], {}
    for f in files:
        target = output / f.name
        if target.resolve() in inputs:
            raise DenoiseError(f"writing {target} would overwrite the input {f}: choose an output folder "
                               "that holds none of the inputs (-o)")
        if not f.is_file():
            failures.append((str(f), "no such file" if not f.exists() else "not a file"))
            continue
        if target.name in taken:
            failures.append((str(f), f"has the same name as {taken[target.name]}, whose result goes to {target}"))
            continue
        taken[target.name] = f
        if target.is_dir():
            failures.append((str(f), f"{target} is a folder: its result cannot be written there"))
            continue
        if not overwrite and (target.exists() or target.is_symlink()):
            kept.append((str(f), f"{target} already exists (kept; --overwrite replaces it)"))
            continue
        pairs.append((f, target))
    return pairs, failures, kept


def prepare_output(output: Path) -> list[Path]:
    """Create the output folder if missing and prove it writable by creating and removing a probe file.

    Returns the folders it created (deepest first). Raises :class:`DenoiseError` with a one-line reason,
    leaving nothing behind, for an output that is a file, cannot be created or cannot be written into.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise DenoiseError(f"the output {output} is a file, not a folder: -o names a folder (created if missing)")
    missing, ancestor = [], output
    while not ancestor.exists() and ancestor != ancestor.parent:
        missing.append(ancestor)
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DenoiseError(f"cannot create the output folder {output}: {ancestor} is a file, not a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _remove_folders(missing)
        raise DenoiseError(f"cannot create the output folder {output}: {err.strerror or err}") from err
    try:
        fd, probe = tempfile.mkstemp(dir=output, prefix=".repro-denoise-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        _remove_folders(missing)
        raise DenoiseError(f"cannot write into the output folder {output}: {err.strerror or err}") from err
    return missing


def _remove_folders(folders: list[Path]) -> None:
    """Remove folders this command created (deepest first), as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def image_size(path: Path) -> tuple[int, int, int] | None:
    """(width, height, channels) from the file's header, without decoding its pixels; None if unknown."""
    import warnings

    try:
        with warnings.catch_warnings(), PILImage.open(path) as im:
            warnings.simplefilter("ignore")  # a damaged file is reported when it is read, once
            gray = im.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F") or (
                im.mode == "P" and _palette_is_gray(im))
            return im.size[0], im.size[1], 1 if gray else 3
    except Exception:
        pass
    import logging

    log = logging.getLogger("tifffile")  # a damaged file is reported when it is read, once
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            samples = getattr(page, "samplesperpixel", 1)
            return int(page.imagewidth), int(page.imagelength), 1 if samples <= 2 else 3
    except Exception:
        return None
    finally:
        log.setLevel(level)


def _seconds(s: float) -> str:
    """A duration as people read it.

    >>> _seconds(42.4), _seconds(754), _seconds(7300)
    ('42 s', '12 min 34 s', '2 h 1 min')
    """
    s = round(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def describe_plan(pairs, method: str, denoiser, protocol: str = "fast") -> tuple[list[str], dict]:
    """The lines printed before the work starts (files, sizes, method, settings, estimated time), and the
    estimate in seconds of each input (ZS-N2N only: a few fitting steps timed here, scaled up)."""
    zs = method.lower() in ZS_N2N_NAMES
    threads = torch.get_num_threads()
    if zs:
        from .methods.zsn2n import PAPER

        what = f"zs-n2n, protocol {protocol}: {denoiser.settings.describe()}"
        if protocol == "paper" and denoiser.settings == PAPER:
            what += " (the published protocol)"
    else:
        what = f"trained model {method} (one pass per image)"
    lines = [f"method: {what}; device {_model_device(denoiser) if not zs else denoiser.device}, {threads} thread(s)"]
    estimates, total = {}, 0.0
    for source, _ in pairs:
        size = image_size(source)
        if size is None:
            lines.append(f"  {source}: size unknown until read")
            continue
        w, h, c = size
        line = f"  {source}: {w}x{h} ({w * h / 1e6:.1f} MP), {'colour' if c == 3 else 'gray'}"
        if zs:
            estimates[source] = denoiser.estimate_seconds((1, c, h, w))
            total += estimates[source]
            line += f", about {_seconds(estimates[source])}"
            if denoiser.max_pixels and w * h > denoiser.max_pixels:
                line += f" (each step fits a random {denoiser.max_pixels / 1e6:.1f} MP window: memory)"
        lines.append(line)
    if zs and estimates:
        lines.append(f"estimated time: about {_seconds(total)} for {len(estimates)} image(s) (measured on this "
                     "machine now; other jobs on it change it)")
    return lines, estimates


def denoise_files(inputs, output, method: str = "zs-n2n", device: str = "auto", steps: int | None = None,
                  progress: bool = True, overwrite: bool = False, protocol: str | None = None,
                  sigma: float | None = None) -> list[tuple[str, str]]:
    """Denoise image files into the folder ``output``; returns [(file, reason)] for each file that failed.

    ``protocol`` (ZS-N2N only): ``fast`` (None: the default) or ``paper`` (the published protocol).
    ``sigma``: the inputs' noise level (0-255), only for a trained model that is told it.

    Raises :class:`DenoiseError` before any image is fitted for an unknown method, device, protocol or a bad
    step count, an empty request, an output that would overwrite an input, or an output folder that is a file,
    cannot be created or cannot be written into (checked by a probe file before the denoiser is built).
    Missing inputs are reported before the denoiser is built. An output file that already
    exists is kept, and its input skipped with a message (not a failure), unless ``overwrite``.
    """
    output = Path(output)
    files = collect_inputs(inputs)
    if not files:
        raise DenoiseError(f"no PNG/JPEG/TIFF files found in {', '.join(map(str, inputs))}")
    check_request(method, device, steps, protocol, sigma)
    pairs, failures, kept = plan_outputs(files, output, overwrite)
    created = prepare_output(output)
    for source, reason in failures + kept:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    written, noted = 0, False
    if pairs:
        try:
            denoiser = make_denoiser(method, device, steps, protocol, sigma)
        except BaseException:
            _remove_folders(created)
            raise
        lines, estimates = describe_plan(pairs, method, denoiser, protocol or "fast")
        print("\n".join(lines), file=sys.stderr, flush=True)
    for source, target in progress_bar(pairs, desc="denoise", unit="file", disable=not progress):
        try:
            if not source.is_file():
                raise UnreadableImage("no such file")
            start = time.perf_counter()
            if hasattr(denoiser, "progress_desc"):
                denoiser.progress_desc = f"fit {source.name}"
                denoiser.progress = progress
            pixels, meta = read_file(source)
            colour = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., :1]
            x, (low, scale) = to_unit(colour)
            if not noted and x.shape[1] == 1 and _model_channels(denoiser) == 3:
                noted = True
                _say(f"note: {method} is a colour model: gray files go through it as three equal channels, "
                     "averaged back to gray, which removes little noise (the same noise in every channel, "
                     "unlike its training data); a model trained on gray images does better")
            estimate = from_unit(denoise_array(denoiser, x, sigma), pixels.dtype, low, scale)
            if pixels.shape[-1] in (2, 4):  # alpha is not noise: copy it
                estimate = np.concatenate([estimate, pixels[..., -1:]], axis=-1)
            write_file(target, estimate, meta)
            written += 1
            guess = f" (estimated {_seconds(estimates[source])})" if source in estimates else ""
            _say(f"wrote {target} in {_seconds(time.perf_counter() - start)}{guess}")
        except (UnreadableImage, ValueError, OSError, RuntimeError) as err:
            failures.append((str(source), str(err)))
            _say(f"skipped {source}: {err}")
    note = f"; kept {len(kept)} existing output(s) (--overwrite replaces them)" if kept else ""
    print(f"denoised {written} of {len(files)} file(s) into {output}{note}", file=sys.stderr)
    return failures
