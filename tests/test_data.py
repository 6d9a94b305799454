import hashlib
import shutil

import numpy as np
import pytest

from repro import data


def test_kodak_loads_24_full_size_images_verified_against_manifest():
    images = data.load("kodak24")
    assert [im.name for im in images] == [f"kodim{i:02d}" for i in range(1, 25)]
    shapes = {im.pixels.shape for im in images}
    assert shapes == {(512, 768, 3), (768, 512, 3)}
    assert all(im.pixels.dtype == np.uint8 for im in images)
    folder = data.locate("kodak24")
    manifest = dict(data.SETS["kodak24"].files())
    for name, digest in manifest.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest


def test_every_registered_set_has_files_an_origin_and_a_citation():
    counts = {name: len(spec.files()) for name, spec in data.SETS.items()}
    assert counts == {"kodak24": 24, "cbsd68": 68, "set12": 12, "bsd68": 68, "mcmaster18": 18, "set14": 14,
                      "bsd300_test": 100, "bsd400": 400, "cbsd432": 432}
    for spec in data.SETS.values():
        assert spec.origins and all(o.startswith("https://") for o in spec.origins)
        assert spec.citation and spec.licence


def test_mcmaster_is_ordered_numerically_and_set14_keeps_its_channel_mix():
    assert [im.name for im in data.load("mcmaster18")] == [str(i) for i in range(1, 19)]
    set14 = {im.name: im.pixels for im in data.load("set14")}
    assert set14["bridge"].shape[-1] == 1
    man = set14["man"]
    assert man.shape[-1] == 3 and (man[..., 0] == man[..., 1]).all()


def test_training_split_excludes_test_scenes():
    train = {im.name for im in data.load("cbsd432", exclude="bsd300_test")}
    test = {im.name for im in data.load("bsd300_test")}
    assert len(train) == 400 and not train & test


def _copy_set(tmp_path, name):
    src = data.locate(name)
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def test_a_file_with_the_wrong_checksum_is_refused(tmp_path):
    dst = _copy_set(tmp_path, "set12")
    with open(dst / "01.png", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(data.ChecksumMismatch, match="01.png"):
        data.load("set12", root=tmp_path)


def test_missing_data_offline_names_the_set_the_url_and_the_mirror(tmp_path, monkeypatch):
    with pytest.raises(data.DataUnavailable) as err:
        data.locate("set12", root=tmp_path / "nowhere")
    message = str(err.value)
    assert "set12" in message and "REPRO_DATA_MIRROR" in message and "https://" in message


def _no_local_copy(tmp_path, monkeypatch):
    """An empty cache, no mirror variable and no ../shared mirror beside the package."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("REPRO_DATA_MIRROR", raising=False)
    monkeypatch.delenv("REPRO_DATA", raising=False)
    monkeypatch.setattr(data, "_PACKAGE_DIR", tmp_path / "pkg")  # hides the ../shared mirror
    (tmp_path / "pkg").mkdir()
    shutil.copy(data.Path(data.__file__).parent / "datasets.sha256", tmp_path / "pkg" / "datasets.sha256")


@pytest.mark.parametrize("variable", ["REPRO_DATA_MIRROR", "REPRO_DATA"])
def test_a_mirror_variable_naming_no_folder_is_an_error_not_a_silent_fallback(variable, tmp_path, monkeypatch):
    data.locate("set12")  # found (the cache or the ../shared mirror) while the variable is sane
    missing = tmp_path / "nonexistent"
    monkeypatch.setenv(variable, str(missing))
    with pytest.raises(data.DataUnavailable) as err:
        data.locate("set12")
    assert f"{variable}={missing}: no such folder" in str(err.value)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(variable, str(tmp_path / "a-file"))
    with pytest.raises(data.DataUnavailable, match=f"{variable}=.*a-file: not a folder"):
        data.load("set12")
    monkeypatch.setenv(variable, "")  # set but empty counts as unset
    assert len(data.load("set12")) == 12


def test_no_mirror_and_no_network_names_the_set_and_the_url(tmp_path, monkeypatch):
    _no_local_copy(tmp_path, monkeypatch)

    def offline(url, timeout):
        raise data.urllib.error.URLError("no network")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(data.DataUnavailable) as err:
        data.locate("set12")
    message = str(err.value)
    assert "Data set 'set12' is not available locally" in message and "REPRO_DATA_MIRROR" in message
    assert "https://raw.githubusercontent.com/cszn/DnCNN/" in message and "no network" in message


def test_download_path_refuses_bytes_that_differ(tmp_path, monkeypatch):
    """The download fallback checks every file's sha256 before it lands in the cache."""
    _no_local_copy(tmp_path, monkeypatch)

    class FakeResponse:
        def __init__(self, payload): self.payload = payload
        def read(self): return self.payload
        def __enter__(self): return self
        def __exit__(self, *a): return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"not an image"))
    with pytest.raises(data.DataUnavailable, match="checksum differs"):
        data.locate("set12")
    assert not list((tmp_path / "cache").rglob("*.png"))


def test_gray_conversion_matches_bsd68_from_cbsd68():
    """BSD68 is the luma of CBSD68 (SOURCE.txt: within 1 gray level); our to_gray must agree."""
    gray = data.load("bsd68")[0].pixels[..., 0].astype(int)  # test001 -> 101085
    colour = {im.name: im.pixels for im in data.load("cbsd68")}["101085"]
    ours = data.to_gray(colour)[..., 0].astype(int)
    assert np.abs(ours - gray).max() <= 1
