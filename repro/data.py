"""Benchmark image sets: where each comes from, how to verify it, and how to load it.

Every set is known by its public origin (repository, commit, path) and the sha256 of each file
(``datasets.sha256`` beside this module, identical to the mirror's ``MANIFEST.sha256``), so a user
anywhere gets the same bytes we evaluated on.

Where the files are looked for, in order:

1. an explicit ``root`` argument, or the ``REPRO_DATA`` environment variable (a folder holding one
   sub-folder per set);
2. the local cache ``~/.cache/repro/datasets`` (or ``$XDG_CACHE_HOME/repro/datasets``);
3. a mirror folder named by ``REPRO_DATA_MIRROR`` (CI points it at ``../shared/datasets``), or
   ``../shared/datasets`` next to a checkout;
4. a download from the public origin into the cache, checked against the manifest.

A file whose checksum differs from the manifest is refused, never used. ``REPRO_DATA`` or
``REPRO_DATA_MIRROR`` set to a path that is not a folder is an error, not a reason to look elsewhere.

>>> [s for s in SETS if SETS[s].role == "test"]
['kodak24', 'cbsd68', 'set12', 'bsd68', 'mcmaster18', 'set14', 'bsd300_test']
>>> SETS["set12"].channels
1
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image as PILImage

_PACKAGE_DIR = Path(__file__).resolve().parent
_BSDS = "https://raw.githubusercontent.com/BIDS/BSDS500/a04b7c6c3a9f0ace74bf205c72a43d32e1c72722/BSDS500/data/images"
_DNCNN = "https://raw.githubusercontent.com/cszn/DnCNN/e93b27812d3ff523a3a79d19e5e50d233d7a8d0a"
_FFDNET = "https://raw.githubusercontent.com/cszn/FFDNet/e787f46df2f374ff3591186706229cb9a0591fea/testsets"
_IRCNN = "https://raw.githubusercontent.com/cszn/IRCNN/d9dcd537bdac3ae5b753296cd675db8a303c8f72/testsets"
_BSDS_CITE = ("D. Martin, C. Fowlkes, D. Tal, J. Malik, 'A Database of Human Segmented Natural Images ...', "
              "ICCV 2001 (BSDS300)")
_BSDS_LICENCE = "BSDS: non-commercial research use"
_DNCNN_CITE = "K. Zhang et al., 'Beyond a Gaussian Denoiser: Residual Learning of Deep CNN', IEEE TIP 2017"


@dataclass(frozen=True)
class ImageSet:
    """A benchmark set: its origin, its channels and how its files are ordered."""

    name: str
    role: str  # "test" or "train"
    channels: int  # 1 (gray) or 3 (colour); set14 is mixed and declared 3
    origins: tuple[str, ...]  # base URLs; a file is fetched from the first that serves the right bytes
    licence: str
    citation: str
    numeric_order: bool = False  # McMaster's 1.tif..18.tif sort as numbers, not strings

    def files(self) -> list[tuple[str, str]]:
        """(file name, sha256) pairs in the documented order."""
        entries = [(Path(p).name, h) for p, h in _manifest().items() if p.split("/")[0] == self.name]
        key = (lambda e: int(Path(e[0]).stem)) if self.numeric_order else (lambda e: e[0])
        return sorted(entries, key=key)


SETS: dict[str, ImageSet] = {
    s.name: s
    for s in [
        ImageSet("kodak24", "test", 3, (f"{_IRCNN}/Set24",), "Kodak: free to use",
                 "Eastman Kodak Company, Kodak Lossless True Color Image Suite (PhotoCD PCD0992)"),
        ImageSet("cbsd68", "test", 3, (f"{_FFDNET}/CBSD68",), _BSDS_LICENCE,
                 _BSDS_CITE + "; S. Roth, M. J. Black, 'Fields of Experts', IJCV 2009"),
        ImageSet("set12", "test", 1, (f"{_DNCNN}/testsets/Set12",), "research use", _DNCNN_CITE),
        ImageSet("bsd68", "test", 1, (f"{_DNCNN}/testsets/BSD68",), _BSDS_LICENCE,
                 "S. Roth, M. J. Black, 'Fields of Experts', IJCV 2009; " + _DNCNN_CITE),
        ImageSet("mcmaster18", "test", 3, (f"{_FFDNET}/McMaster",), "research use",
                 "L. Zhang, X. Wu, A. Buades, X. Li, J. Electronic Imaging 20(2), 2011", numeric_order=True),
        ImageSet("set14", "test", 3, (f"{_DNCNN}/testsets/Set14",), "research use",
                 "R. Zeyde, M. Elad, M. Protter, 'On Single Image Scale-Up Using Sparse-Representations', 2010"),
        ImageSet("bsd300_test", "test", 3, (f"{_BSDS}/val",), _BSDS_LICENCE, _BSDS_CITE),
        ImageSet("bsd400", "train", 1, (f"{_DNCNN}/TrainingCodes/DnCNN_TrainingCodes_v1.0/data/Train400",),
                 _BSDS_LICENCE, "Y. Chen, T. Pock, TNRD, IEEE TPAMI 2017; " + _DNCNN_CITE),
        # CBSD432 = BSDS500 train + test + the 32 val images outside CBSD68; their split folder is not
        # recorded per file, so every split folder is tried and the checksum decides.
        ImageSet("cbsd432", "train", 3, (f"{_BSDS}/train", f"{_BSDS}/test", f"{_BSDS}/val"), _BSDS_LICENCE,
                 _BSDS_CITE + "; " + _DNCNN_CITE),
    ]
}


class Image(NamedTuple):
    """One image: its file stem and its pixels, uint8, shape (H, W, C) with C = 1 or 3."""

    name: str
    pixels: np.ndarray


class DataUnavailable(FileNotFoundError):
    """Raised when a set can be found neither locally nor at its origin."""


class ChecksumMismatch(ValueError):
    """Raised when a file's bytes differ from the manifest: it is never used."""


@lru_cache(maxsize=1)
def _manifest() -> dict[str, str]:
    out = {}
    for line in (_PACKAGE_DIR / "datasets.sha256").read_text().splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            out[path.strip()] = digest
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "repro" / "datasets"


def _folder_from_env(variable: str) -> Path | None:
    """The folder an environment variable names; one that is set (non-empty) but is no folder is an error,
    never silently skipped for the next place to look."""
    value = os.environ.get(variable)
    if not value:
        return None
    folder = Path(value)
    if not folder.is_dir():
        raise DataUnavailable(
            f"{variable}={value}: {'not a folder' if folder.exists() else 'no such folder'}. Point {variable} at "
            "a folder holding one sub-folder per data set (e.g. ../shared/datasets), or unset it to use the "
            "cache, the mirror beside the checkout and the download from each set's origin."
        )
    return folder


def _candidate_roots(root: str | Path | None) -> list[Path]:
    if root is not None:
        return [Path(root)]
    roots = []
    data_dir, mirror = _folder_from_env("REPRO_DATA"), _folder_from_env("REPRO_DATA_MIRROR")
    if data_dir is not None:
        roots.append(data_dir)
    roots.append(cache_dir())
    if mirror is not None:
        roots.append(mirror)
    roots.append(_PACKAGE_DIR.parent.parent / "shared" / "datasets")  # the mirror beside a checkout
    return roots


def _download(spec: ImageSet, fname: str, digest: str, dest: Path) -> None:
    errors = []
    for base in spec.origins:
        url = f"{base}/{fname}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                payload = response.read()
        except OSError as err:
            errors.append(f"{url}: {err}")
            continue
        if hashlib.sha256(payload).hexdigest() == digest:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".part")
            tmp.write_bytes(payload)
            tmp.replace(dest)
            return
        errors.append(f"{url}: checksum differs from the manifest")
    raise DataUnavailable(
        f"Data set '{spec.name}' is not available locally and could not be downloaded "
        f"(origin: {spec.origins[0]}/).\n  " + "\n  ".join(errors) +
        "\nPoint REPRO_DATA_MIRROR (or REPRO_DATA) at a folder holding a copy of '" + spec.name + "/', "
        "e.g. REPRO_DATA_MIRROR=../shared/datasets."
    )


def locate(name: str, root: str | Path | None = None, download: bool = True) -> Path:
    """Return the folder holding every file of set ``name``, each verified against the manifest.

    Files missing everywhere are downloaded into the cache when ``download`` is true.
    """
    spec = get(name)
    files = spec.files()
    roots = _candidate_roots(root)
    for base in roots:
        folder = base / name
        if folder.is_dir() and all((folder / f).is_file() for f, _ in files):
            for fname, digest in files:
                if _sha256(folder / fname) != digest:
                    raise ChecksumMismatch(
                        f"{folder / fname} does not match the manifest sha256 {digest}; refusing to use it. "
                        "Delete it (or fix the mirror) and try again."
                    )
            return folder
    if root is not None or not download:
        raise DataUnavailable(
            f"Data set '{name}' not found under {', '.join(str(r) for r in roots)} "
            f"(public origin: {spec.origins[0]}/). Set REPRO_DATA_MIRROR to a folder holding '{name}/'."
        )
    folder = cache_dir() / name
    for fname, digest in files:
        target = folder / fname
        if not target.is_file() or _sha256(target) != digest:
            _download(spec, fname, digest, target)
    return folder


def get(name: str) -> ImageSet:
    if name not in SETS:
        raise KeyError(f"unknown data set '{name}'; known: {', '.join(SETS)}")
    return SETS[name]


def read_image(path: str | Path) -> np.ndarray:
    """Read an 8-bit image file as uint8 (H, W, C), C = 1 for gray, 3 for colour.

    PIL ignores PNG gamma chunks, which is what the papers' loaders did (SSDN's README reports
    32.97 instead of 32.45 dB on Kodak when a gamma-applying reader was used).
    """
    with PILImage.open(path) as im:
        im = im.convert("L") if im.mode in ("L", "P", "1", "I;16", "I") else im.convert("RGB")
        arr = np.array(im, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def load(name: str, root: str | Path | None = None, exclude: str | None = None) -> list[Image]:
    """Load every image of set ``name`` in its documented order (sorted file names; McMaster numerically).

    ``exclude`` names another set whose scenes are removed (same file stem), e.g. training on
    ``load("cbsd432", exclude="bsd300_test")`` keeps the test scenes out of the training data.

    Images keep their stored channels: set14's ``bridge`` is 1-channel, ``man`` is RGB with R=G=B;
    an evaluation protocol converts explicitly (see :func:`repro.protocols.Protocol.prepare`).
    """
    spec = get(name)
    folder = locate(name, root)
    drop = {Path(f).stem for f, _ in get(exclude).files()} if exclude else set()
    return [Image(Path(f).stem, read_image(folder / f)) for f, _ in spec.files() if Path(f).stem not in drop]


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma as uint8 (what skimage's rgb2gray and MATLAB's rgb2gray compute, rounded)."""
    if pixels.shape[-1] == 1:
        return pixels
    luma = pixels[..., :3].astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """Tile a gray image to three channels (SSDN's handling of Set14's gray members)."""
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
