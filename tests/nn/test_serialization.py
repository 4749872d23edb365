"""nn.save / nn.load: exact round trips of nested state, atomic writes, no pickle."""
import io
import json
import math
import os
import pickle
import zipfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn.serialization import MANIFEST, load, save

# ---------------------------------------------------------------- strategies
dtypes = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="="),
                   hnp.unsigned_integer_dtypes(endianness="="),
                   hnp.floating_dtypes(endianness="=", sizes=(16, 32, 64)),
                   hnp.complex_number_dtypes(endianness="="),
                   hnp.unicode_string_dtypes(endianness="="),
                   hnp.integer_dtypes(endianness=">"), hnp.floating_dtypes(endianness=">"))
# min_dims=0 gives 0-d arrays; min_side=0 gives empty ones.
arrays = dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                    min_side=0, max_side=4)))
plain = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
leaves = st.one_of(plain, arrays)
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.lists(kids, max_size=4).map(tuple),
    st.dictionaries(keys, kids, max_size=4)), max_leaves=12)


def assert_identical(a, b):
    """Same structure, same types, arrays equal bit for bit (NaN payloads included)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            assert_identical(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_identical(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, float):
        assert a.hex() == b.hex() or (math.isnan(a) and math.isnan(b))
    else:
        assert a == b


# ---------------------------------------------------------------- round trips
@given(obj=trees)
def test_round_trip_is_exact(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("rt") / "x.sg"
    save(obj, path)
    assert_identical(obj, load(path))


@given(arr=arrays)
def test_arrays_bit_for_bit_compressed(tmp_path_factory, arr):
    path = tmp_path_factory.mktemp("c") / "x.sg"
    save({"a": arr}, path, compress=True)
    assert_identical({"a": arr}, load(path))


def test_model_and_optimizer_state_together(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "model": {"0.weight": rng.standard_normal((4, 3)).astype(np.float32),
                  "0.bias": np.zeros(4, np.float32), "1.running_mean": np.zeros(4),
                  "1.num_batches_tracked": np.array(7)},
        "optim": {"state": {0: {"step": 12, "exp_avg": rng.standard_normal((4, 3))},
                            1: {"step": 12, "exp_avg": np.zeros(4)}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7,
                                    "weight_decay": 0, "params": [0, 1], "nesterov": False,
                                    "name": None}]},
        "epoch": 50, "loss": float("nan"), "best": -float("inf"),
        "step_np": np.int64(3), "lr_np": np.float32(0.5), "flag": np.bool_(True),
    }
    save(state, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    assert_identical(state, back)
    assert list(back["optim"]["state"]) == [0, 1]  # int keys stay int
    assert isinstance(back["optim"]["param_groups"][0]["betas"], tuple)


def test_int_and_str_keys_stay_distinct(tmp_path):
    obj = {1: "int", "1": "str", 2.5: "float", None: "none", np.int64(4): "np"}
    save(obj, tmp_path / "k")
    assert_identical(obj, load(tmp_path / "k"))
    save({True: 1}, tmp_path / "b")
    assert_identical({True: 1}, load(tmp_path / "b"))


def test_special_arrays(tmp_path):
    objs = [np.array(3.5), np.zeros((0, 3)), np.zeros((2, 0, 1), np.int8),
            np.arange(12.).reshape(3, 4).T,                      # non-contiguous view
            np.asfortranarray(np.arange(6).reshape(2, 3)),
            np.array([np.nan, -0.0, np.inf], np.float16),
            np.array(["ab", "ç"]), np.frombuffer(b"\x7f\xf8\x00\x00\x00\x00\x00\x01", ">f8")]
    save(objs, tmp_path / "a")
    back = load(tmp_path / "a")
    assert_identical(objs, back)
    assert back[4].flags.f_contiguous


class FakeTensor:
    """Duck-typed engine Tensor: an ndarray .data and __array__."""

    def __init__(self, data):
        self.data = np.asarray(data, np.float32)

    def __array__(self, dtype=None, copy=None):
        return self.data


def test_tensors_are_stored_as_arrays(tmp_path):
    save({"w": FakeTensor([[1, 2]])}, tmp_path / "t")
    w = load(tmp_path / "t")["w"]
    assert type(w) is np.ndarray and w.dtype == np.float32 and w.tolist() == [[1, 2]]


def test_real_engine_tensor(tmp_path):
    engine = pytest.importorskip("engine")
    t = engine.Tensor(np.arange(3.0), requires_grad=True)
    save({"t": t}, tmp_path / "t")
    np.testing.assert_array_equal(load(tmp_path / "t")["t"], t.data)


# ---------------------------------------------------------------- refusals at save time
@pytest.mark.parametrize("obj, needle", [
    ({"a": {1, 2}}, "obj['a'] is a set"),
    ({"a": [object()]}, "obj['a'][0] is a object"),
    ({"a": np.array([None, 1], dtype=object)}, "dtype object"),
    ({(1, 2): 3}, "key of type tuple"),
])
def test_unsupported_values_are_named(tmp_path, obj, needle):
    with pytest.raises(TypeError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        save(obj, tmp_path / "x")
    assert os.listdir(tmp_path) == []  # nothing left behind


def test_cycle_is_refused(tmp_path):
    a = []
    a.append(a)
    with pytest.raises(ValueError, match="cyclic"):
        save({"a": a}, tmp_path / "x")


def test_shared_values_are_stored_twice(tmp_path):
    w = np.ones(2)
    save([w, w], tmp_path / "x")
    a, b = load(tmp_path / "x")
    assert a is not b and (a == b).all()


# ---------------------------------------------------------------- atomicity
def test_overwrite_and_no_temp_files(tmp_path):
    save({"v": 1}, tmp_path / "c")
    save({"v": 2}, tmp_path / "c")
    assert load(tmp_path / "c") == {"v": 2}
    assert os.listdir(tmp_path) == ["c"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    save({"v": 1}, tmp_path / "c")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        save({"v": 2, "a": np.zeros(3)}, tmp_path / "c")
    monkeypatch.undo()
    assert load(tmp_path / "c") == {"v": 1}
    assert os.listdir(tmp_path) == ["c"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("nope")))
    with pytest.raises(OSError, match="nope"):
        save({"v": 1}, tmp_path / "c")
    assert os.listdir(tmp_path) == []


def test_file_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save({}, tmp_path / "c")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "c").st_mode & 0o777 == 0o640


# ---------------------------------------------------------------- foreign and damaged files
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good"
    save({"w": np.arange(1000.0), "n": 3}, path)
    return path


def expect_value_error(path, needle):
    with pytest.raises(ValueError, match=needle) as info:
        load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(good_file, cut):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:int(len(data) * cut)])
    expect_value_error(good_file, "empty file" if cut == 0 else "truncated or corrupted")


def test_corrupted_array_bytes(good_file):
    data = bytearray(good_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array data: the zip CRC catches it
    good_file.write_bytes(bytes(data))
    expect_value_error(good_file, "corrupted")


def test_random_bytes(tmp_path):
    path = tmp_path / "r"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    expect_value_error(path, "not a stepgrad save file")


def test_pickle_is_refused_without_being_unpickled(tmp_path):
    class Bomb:
        def __reduce__(self):
            return (os.remove, (str(tmp_path / "victim"),))

    (tmp_path / "victim").write_text("still here")
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"a": Bomb()}))
    expect_value_error(path, "pickle")
    assert (tmp_path / "victim").exists()


def test_plain_npz_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(2))
    expect_value_error(path, "without the stepgrad manifest")


def test_npz_with_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, json.dumps({"format": "stepgrad", "version": 1,
                                          "root": {"t": "ndarray", "m": "a0.npy"}}))
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([None]), allow_pickle=True)
        zf.writestr("a0.npy", buf.getvalue())
    expect_value_error(path, "bad array member 'a0.npy'.*allow_pickle")


@pytest.mark.parametrize("manifest, needle", [
    (b"{not json", "unreadable manifest"),
    (json.dumps({"format": "other", "root": None}).encode(), "not a stepgrad manifest"),
    (json.dumps({"format": "stepgrad", "version": 99, "root": None}).encode(), "version 99"),
    (json.dumps({"format": "stepgrad", "version": 1, "root": {"t": "set"}}).encode(),
     "unknown node type 'set'"),
    (json.dumps({"format": "stepgrad", "version": 1, "root": {"t": "int", "v": "1"}}).encode(),
     "corrupted manifest"),
    (json.dumps({"format": "stepgrad", "version": 1,
                 "root": {"t": "ndarray", "m": "a7.npy"}}).encode(), "'a7.npy' is missing"),
    (json.dumps({"format": "stepgrad", "version": 1, "root": {"t": "dict", "items": [
        [{"t": "list", "items": []}, {"t": "none"}]]}}).encode(), "scalar key"),
])
def test_bad_manifests(tmp_path, manifest, needle):
    path = tmp_path / "m"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, manifest)
    expect_value_error(path, needle)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


def test_file_opens_as_npz(good_file):
    with np.load(good_file, allow_pickle=False) as z:  # a documented, inspectable format
        assert (z["a0"] == np.arange(1000.0)).all()
