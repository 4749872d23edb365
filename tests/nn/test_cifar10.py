"""nn.datasets.cifar10: the binary version's reader, on small archives in the real format
(cifar-10-binary.tar.gz: cifar-10-batches-bin/data_batch_1..5.bin and test_batch.bin, each a
run of 3,073-byte records), written here independently of nn.datasets. Never the network."""
import hashlib
import io
import tarfile
import urllib.error

import numpy as np
import pytest

from nn import datasets as ds
from nn.datasets import CIFAR10_CLASSES, ChecksumError, DatasetNotAvailable, read_cifar10_bin

BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)]


def records(images_hwc, labels):
    """CIFAR-10's binary layout, as its README describes it: per image one label byte, then
    the red channel's 1,024 bytes row by row, then green, then blue. Built from (N, 32, 32, 3)
    pictures (Keras's layout) so the test does its own transposition."""
    out = bytearray()
    for img, label in zip(images_hwc, labels, strict=True):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(int(v) for v in img[row, :, channel])
    return bytes(out)


def fake_archive(sizes=(2, 1, 3, 1, 2), n_test=2, seed=0, extra=None, skip=()):
    """(archive bytes, train (images NHWC, labels), test (images NHWC, labels))."""
    rng = np.random.default_rng(seed)
    members, train_x, train_y = {}, [], []
    for name, n in zip(BATCHES, sizes, strict=True):
        x, y = rng.integers(0, 256, (n, 32, 32, 3)), rng.integers(0, 10, n)
        members[name] = records(x, y)
        train_x.append(x)
        train_y.append(y)
    test_x, test_y = rng.integers(0, 256, (n_test, 32, 32, 3)), rng.integers(0, 10, n_test)
    members["test_batch.bin"] = records(test_x, test_y)
    members["batches.meta.txt"] = "\n".join(CIFAR10_CLASSES).encode()
    members.update(extra or {})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            if name in skip:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return (buf.getvalue(), (np.concatenate(train_x), np.concatenate(train_y)),
            (test_x, test_y))


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """STEPGRAD_DATA -> an empty folder, the network -> refused (calls recorded)."""
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path / "data"))
    calls = []

    def download(url, dest, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(ds, "_download", download)
    return tmp_path / "data" / "cifar10", calls


def install(monkeypatch, folder, blob):
    """Put ``blob`` in the cache as the archive and make its MD5 the published one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(blob)
    title, mirrors, _ = ds._SOURCES["cifar10"]
    monkeypatch.setitem(ds._SOURCES, "cifar10", (title, mirrors, {
        "cifar-10-binary.tar.gz": hashlib.md5(blob).hexdigest()}))


def test_loader_reads_the_real_layout_channels_first(cache, monkeypatch):
    folder, calls = cache
    blob, (xtr, ytr), (xte, yte) = fake_archive()
    install(monkeypatch, folder, blob)
    (x_train, y_train), (x_test, y_test) = ds.cifar10()
    assert x_train.shape == (9, 3, 32, 32) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_train.tolist() == ytr.tolist()
    # NCHW: channel c of image i is the NHWC picture's [..., c], batches in file order
    np.testing.assert_array_equal(x_train, xtr.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(x_test, xte.transpose(0, 3, 1, 2))
    assert y_test.tolist() == yte.tolist()
    x1, y1 = ds.cifar10("test")
    np.testing.assert_array_equal(x1, x_test)
    assert calls == []  # a cached, verified archive never touches the network


def test_one_pixel_by_hand():
    # red (row 0, col 1) = 11, green (row 31, col 0) = 22, blue (row 2, col 3) = 33
    pixels = np.zeros(3072, np.uint8)
    pixels[0 * 1024 + 0 * 32 + 1] = 11
    pixels[1 * 1024 + 31 * 32 + 0] = 22
    pixels[2 * 1024 + 2 * 32 + 3] = 33
    x, y = read_cifar10_bin(io.BytesIO(bytes([9]) + pixels.tobytes()))
    assert y.tolist() == [9]
    assert (x[0, 0, 0, 1], x[0, 1, 31, 0], x[0, 2, 2, 3]) == (11, 22, 33)
    assert int(x.sum()) == 66


@pytest.mark.parametrize("blob, needle", [
    (b"", "0 bytes is not a whole number of 3073-byte records"),
    (bytes(3073 * 2 - 1), "6145 bytes is not a whole number"),
    (bytes([3]) + bytes(3072) + bytes([10]) + bytes(3072), "record 1 has label 10"),
])
def test_bad_batch_files(tmp_path, blob, needle):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=needle) as info:
        read_cifar10_bin(path)
    assert str(path) in str(info.value)


def test_offline_error_says_what_to_download_and_where(cache):
    folder, calls = cache
    with pytest.raises(DatasetNotAvailable) as info:
        ds.cifar10()
    text = str(info.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in text
    assert str(folder) in text and "offline" in text and "STEPGRAD_DATA" in text
    assert calls == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert not (folder / "cifar-10-binary.tar.gz").exists()  # nothing half-written kept


def test_download_false_and_cache_dir(tmp_path, cache):
    _, calls = cache
    with pytest.raises(DatasetNotAvailable, match="downloading is off"):
        ds.cifar10(cache_dir=tmp_path / "elsewhere", download=False)
    assert calls == []


def test_wrong_checksum_is_refused(cache, monkeypatch):
    folder, _ = cache
    blob, _, _ = fake_archive()
    install(monkeypatch, folder, blob)
    (folder / "cifar-10-binary.tar.gz").write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(ChecksumError, match="not the published CIFAR-10"):
        ds.cifar10()


def test_published_checksum():
    _, mirrors, md5s = ds._SOURCES["cifar10"]
    assert md5s == {"cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"}
    assert mirrors == ("https://www.cs.toronto.edu/~kriz/",)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(skip=("data_batch_3.bin",)), "no member cifar-10-batches-bin/data_batch_3.bin"),
    (dict(extra={"test_batch.bin": bytes(100)}), "test_batch.bin: not a CIFAR-10 binary"),
])
def test_archive_with_a_missing_or_bad_member(cache, monkeypatch, kwargs, needle):
    folder, _ = cache
    blob, _, _ = fake_archive(**kwargs)
    install(monkeypatch, folder, blob)
    with pytest.raises(ValueError, match=needle):
        ds.cifar10()


def test_not_an_archive(cache, monkeypatch):
    folder, _ = cache
    install(monkeypatch, folder, b"not a tar.gz at all")
    with pytest.raises(ValueError, match="not a readable tar.gz archive"):
        ds.cifar10("train")


def test_split_argument(cache):
    with pytest.raises(ValueError, match="split must be 'train', 'test' or None"):
        ds.cifar10("validation")
