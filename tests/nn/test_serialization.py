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


# ================================================================ faults (issue 16)
# Each test below is one of the faults found by trying checkpoints the way a crash, a bad
# disk or a wrong call would: every load must fail with ONE ValueError naming the file and
# the entry, before anything is copied; every save must leave the old file or the new one,
# and no temporary file.
import errno  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import engine  # noqa: E402
import nn  # noqa: E402
from nn import files as nnfiles  # noqa: E402
from nn.optim import SGD, Adam, AdamW, ExponentialLR, StepLR  # noqa: E402
from nn.serialization import MAX_DEPTH, LoadError, load_checkpoint, make_checkpoint  # noqa: E402


def temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def write_zip(path, manifest_root, members=(), compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr(MANIFEST, json.dumps({"format": "stepgrad", "version": 1,
                                          "root": manifest_root}))
        for name, data in members:
            zf.writestr(name, data)


def npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


# ---------------------------------------------------------------- kill -9 while saving
KILL_CHILD = textwrap.dedent("""
    import sys, numpy as np
    import nn.files, nn.serialization
    if sys.argv[2] == "named":       # the non-Linux path: a named temporary file
        nn.files._open_unnamed = lambda directory: None
    big = {"w": np.random.default_rng(0).standard_normal((3_000_000,))}  # 24 MB
    print("ready", flush=True)
    while True:
        nn.serialization.save(big, sys.argv[1])
""")


@pytest.mark.parametrize("mode, trials", [("unnamed", 8), ("named", 6)])
def test_kill_9_mid_save_leaves_a_whole_file_and_no_temporary(tmp_path, mode, trials):
    target = tmp_path / "ckpt.npz"
    rng = np.random.default_rng(1)
    save({"w": np.zeros(3)}, target)  # an old file that must survive any kill
    for _ in range(trials):
        child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(target), mode],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        import time
        time.sleep(float(rng.uniform(0.0, 0.15)))  # one save takes ~0.05-0.1 s
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        w = load(target)["w"]  # always the old file or a whole new one
        assert w.shape in ((3,), (3_000_000,))
        if mode == "unnamed":  # an unnamed file vanishes with its process
            # (all but the microseconds between linkat and rename, which the next save
            # cleans up: checked below)
            assert len(temporaries(tmp_path)) <= 1
    left = temporaries(tmp_path)
    save({"v": 1}, target)  # the next save removes what dead writers left
    assert temporaries(tmp_path) == []
    if mode == "named":
        print(f"{len(left)} temporaries left by {trials} kills, all removed by the next save")


def test_next_save_removes_only_dead_writers_temporaries(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".c.stepgrad-{dead}-0123abcd.tmp"
    alive = tmp_path / f".c.stepgrad-{os.getppid()}-0123abcd.tmp"  # a running process
    other = tmp_path / ".c.12345.tmp"  # not ours: never touched
    for p in (stale, alive, other):
        p.write_bytes(b"x" * 10)
    save({"v": 1}, tmp_path / "c")
    assert not stale.exists() and alive.exists() and other.exists()


# ---------------------------------------------------------------- saves: errors and clean-up
def test_save_errors_name_the_target_and_leave_nothing(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.npz"

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left on device") as info:
        save({"w": np.zeros(10)}, target)
    assert info.value.errno == errno.ENOSPC
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_save_into_a_file_names_the_target(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as info:
        save({"v": 1}, tmp_path / "file" / "ckpt.npz")
    assert str(tmp_path / "file" / "ckpt.npz") in str(info.value)


@pytest.mark.parametrize("unnamed", [True, False])
def test_interrupt_mid_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch,
                                                               unnamed):
    if not unnamed:
        monkeypatch.setattr(nnfiles, "_open_unnamed", lambda directory: None)
    save({"v": 1}, tmp_path / "c")
    calls = []

    def interrupt(*args, **kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save({"a": np.zeros(3)}, tmp_path / "c")
    assert calls and load(tmp_path / "c") == {"v": 1}
    assert os.listdir(tmp_path) == ["c"]


def test_deep_nesting_is_refused_at_save(tmp_path):
    deep = x = []
    for _ in range(MAX_DEPTH + 1):
        x.append([])
        x = x[0]
    with pytest.raises(ValueError, match="nested more than"):
        save(deep, tmp_path / "d")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- loads: damaged files
def test_bit_flips_give_a_value_error_or_the_same_data(tmp_path):
    """600 single-bit flips over a small checkpoint: each load either raises one ValueError
    naming the file, or (a flip in a field nobody reads, like a timestamp) returns exactly
    the saved data -- never another exception, never different data."""
    obj = {"model": {"0.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
                     "0.bias": np.ones(3, np.float32)}, "epoch": 3, "name": "run"}
    good = tmp_path / "good.npz"
    save(obj, good)
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    positions = rng.integers(0, len(data) * 8, size=600)
    outcomes = {"ValueError": 0, "same": 0}
    path = tmp_path / "flipped.npz"
    for bit in positions:
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(damaged))
        try:
            back = load(path)
        except ValueError as e:
            assert str(path) in str(e)
            outcomes["ValueError"] += 1
        else:
            assert_identical(obj, back)
            outcomes["same"] += 1
    assert outcomes["ValueError"] > 400, outcomes


def test_compressed_file_bit_flips(tmp_path):
    obj = {"w": np.linspace(0, 1, 200)}
    good = tmp_path / "good.npz"
    save(obj, good, compress=True)
    data = good.read_bytes()
    path = tmp_path / "f.npz"
    for bit in np.random.default_rng(1).integers(0, len(data) * 8, size=200):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(damaged))
        try:
            assert_identical(obj, load(path))
        except ValueError as e:
            assert str(path) in str(e)


def test_unsupported_compression_method_is_a_value_error(good_file):
    data = bytearray(good_file.read_bytes())
    # The compression-method field of every local and central header: 12 = bzip2,
    # 99 = AES: zipfile would raise NotImplementedError.
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            data[i + offset] = 99
            start = i + 4
    good_file.write_bytes(bytes(data))
    expect_value_error(good_file, "compression method")


def test_huge_npy_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    write_zip(path, {"t": "dict", "items": [[{"t": "str", "v": "w"},
                                             {"t": "ndarray", "m": "a0.npy"}]]},
              [("a0.npy", header.getvalue() + b"\0" * 80)])
    with pytest.raises(ValueError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg and "['w']" in msg and "a0.npy" in msg
    assert "(1000000, 1000000)" in msg and "80 bytes" in msg


def test_member_claiming_more_than_the_file_is_refused(good_file):
    data = bytearray(good_file.read_bytes())
    i = data.rfind(b"PK\x01\x02")  # the last central-directory entry (a0.npy's)
    # uncompressed size at offset 24 of the central header: claim 10^12 bytes
    data[i + 24:i + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    good_file.write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        load(good_file)
    assert str(good_file) in str(info.value)


def test_zip_bomb_member_is_refused(tmp_path):
    """A deflated member may expand at most 1032:1; a header claiming more is refused."""
    path = tmp_path / "bomb.npz"
    write_zip(path, {"t": "ndarray", "m": "a0.npy"},
              [("a0.npy", npy_bytes(np.zeros(1000)))], compression=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    i = data.rfind(b"PK\x01\x02")
    data[i + 24:i + 28] = (10**9).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    expect_value_error(path, "claims 1000000000 bytes")


@pytest.mark.parametrize("levels", [900, 100_000])
def test_deep_manifest_is_a_value_error(tmp_path, levels):
    path = tmp_path / "deep.npz"
    text = '{"t": "list", "items": [' * levels + '{"t": "none"}' + "]}" * levels
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, '{"format": "stepgrad", "version": 1, "root": ' + text + "}")
    expect_value_error(path, "nested more than")


def test_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "dup.npz"
    key = {"t": "str", "v": "w"}
    write_zip(path, {"t": "dict", "items": [[key, {"t": "int", "v": 1}],
                                            [key, {"t": "int", "v": 2}]]})
    expect_value_error(path, "key 'w' appears twice")


def test_entry_is_named_in_member_errors(tmp_path):
    path = tmp_path / "short.npz"
    full = npy_bytes(np.arange(10.0))
    write_zip(path, {"t": "dict", "items": [[{"t": "str", "v": "model"}, {"t": "dict", "items": [
        [{"t": "str", "v": "0.weight"}, {"t": "ndarray", "m": "a0.npy"}]]}]]},
        [("a0.npy", full[:-8])])  # one float missing, CRC consistent
    with pytest.raises(ValueError) as info:
        load(path)
    assert "['model']['0.weight']" in str(info.value) and "72 bytes" in str(info.value)


def test_structured_arrays_are_refused_both_ways(tmp_path):
    rec = np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])
    with pytest.raises(TypeError, match="dtype"):
        save({"r": rec}, tmp_path / "r")
    path = tmp_path / "r.npz"
    write_zip(path, {"t": "ndarray", "m": "a0.npy"}, [("a0.npy", npy_bytes(rec))])
    expect_value_error(path, "not a numeric or string dtype")


# ---------------------------------------------------------------- all-or-nothing loading
def snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def same_state(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def small_model(seed=0):
    engine.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def trained(opt_cls, seed=0, scheduler=None, **kw):
    model = small_model(seed)
    opt = opt_cls(model.parameters(), **kw)
    sched = scheduler(opt) if scheduler else None
    loss = model(engine.tensor(np.ones((5, 3)))).sum()
    loss.backward()
    opt.step()
    return model, opt, sched


def test_load_state_dict_with_a_bad_late_entry_copies_nothing():
    model = small_model()
    before = snapshot(model)
    state = {k: v + 1 for k, v in small_model(1).state_dict().items()}
    state["2.bias"] = np.zeros(3, np.float32)  # the LAST entry is wrong
    with pytest.raises(ValueError, match=r"2\.bias"):
        model.load_state_dict(state)
    assert same_state(before, snapshot(model))


def test_check_state_dict_returns_the_arrays_and_the_missing_and_unexpected_keys():
    """What load_state_dict(strict=False) returns comes from check_state_dict: the names of
    the module absent from the state, those of the state absent from the module (PyTorch's
    BatchNorm counter is never unexpected, nor missing), each list in its dict's order."""
    from nn.serialization import check_state_dict, state_tensors
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = {"zz": np.zeros(1, np.float32), "0.bias": np.arange(3, dtype=np.float32),
             "1.num_batches_tracked": np.array(4), "aa": np.zeros(2, np.float32)}
    arrays, missing, unexpected = check_state_dict(state_tensors(model), state, strict=False)
    assert list(arrays) == ["0.bias", "1.num_batches_tracked"]
    assert arrays["0.bias"].dtype == np.float32
    assert arrays["1.num_batches_tracked"].dtype == np.int64
    assert missing == ["0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    assert unexpected == ["zz", "aa"]
    assert model.load_state_dict(state, strict=False) == (missing, unexpected)
    np.testing.assert_array_equal(model[0].bias.data, [0, 1, 2])
    assert model[1].num_batches_tracked.item() == 4
    with pytest.raises(KeyError, match=r"missing keys \['0\.weight', .*unexpected keys "
                                       r"\['zz', 'aa'\]"):
        check_state_dict(state_tensors(model), state)


@pytest.mark.parametrize("bad, needle", [
    (np.ones((4, 3), np.complex64), "complex"),
    (np.full((4, 3), "x"), "dtype <U1"),
    (np.ones((4, 3), bool), "dtype bool"),
    (np.array([[None] * 3] * 4, dtype=object), "dtype object"),
])
def test_complex_and_non_numeric_entries_are_refused(bad, needle):
    model = small_model()
    before = snapshot(model)
    state = model.state_dict()
    state["0.weight"] = bad
    with pytest.raises(ValueError, match=needle):
        model.load_state_dict(state)
    assert same_state(before, snapshot(model))


def test_torch_complex_entry_is_refused():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    model = small_model()
    state = {k: torch.tensor(v) for k, v in model.state_dict().items()}
    state["0.weight"] = state["0.weight"].to(torch.complex64)
    with pytest.raises(ValueError, match="complex"):
        model.load_state_dict(state)


def write_checkpoint(path, net, opt=None, sched=None, epoch=2, **edits):
    ckpt = make_checkpoint(net, epoch, opt, sched)
    ckpt.update(edits)
    save(ckpt, path)
    return ckpt


def expect_checkpoint_error(path, model, opt, sched, entry, needle):
    """load_checkpoint must raise one ValueError naming file and entry, and change nothing."""
    m_before = snapshot(model)
    o_before = opt.state_dict() if opt is not None else None
    s_before = sched.state_dict() if sched is not None else None
    r_before = engine.get_rng().bit_generator.state
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, model, opt, sched)
    msg = str(info.value)
    assert str(path) in msg and entry in msg and re.search(needle, msg), msg
    assert same_state(m_before, snapshot(model))
    if opt is not None:
        assert_identical(o_before, opt.state_dict())
    if sched is not None:
        assert sched.state_dict() == s_before
    assert engine.get_rng().bit_generator.state == r_before



def test_adam_checkpoint_into_sgd_changes_nothing(tmp_path):
    model, adam, _ = trained(Adam, lr=0.01)
    write_checkpoint(tmp_path / "adam.npz", model, adam)
    target, sgd, _ = trained(SGD, seed=5, lr=0.1, momentum=0.9)
    expect_checkpoint_error(tmp_path / "adam.npz", target, sgd, None, "['optimizer']",
                            "Adam optimizer, but the optimizer given is a SGD")


def test_adam_checkpoint_into_adamw_changes_nothing(tmp_path):
    # Adam and AdamW have the same hyper-parameter names: only the recorded kind tells.
    model, adam, _ = trained(Adam, lr=0.01)
    write_checkpoint(tmp_path / "adam.npz", model, adam)
    target, adamw, _ = trained(AdamW, seed=5, lr=0.01)
    expect_checkpoint_error(tmp_path / "adam.npz", target, adamw, None, "['optimizer']",
                            "AdamW")


def test_checkpoint_without_kinds_still_checks_hyper_parameters(tmp_path):
    model, adam, _ = trained(Adam, lr=0.01)
    ckpt = make_checkpoint(model, 2, adam)
    del ckpt["kinds"]  # as written before kinds were recorded
    save(ckpt, tmp_path / "old.npz")
    target, sgd, _ = trained(SGD, seed=5, lr=0.1)
    expect_checkpoint_error(tmp_path / "old.npz", target, sgd, None,
                            "['optimizer']['param_groups'][0]", "not a SGD's")


def test_scheduler_kind_and_state_are_checked(tmp_path):
    model, opt, sched = trained(SGD, lr=0.1, scheduler=lambda o: StepLR(o, step_size=2))
    write_checkpoint(tmp_path / "c.npz", model, opt, sched)
    target, opt2, sched2 = trained(SGD, seed=3, lr=0.1,
                                   scheduler=lambda o: ExponentialLR(o, gamma=0.5))
    expect_checkpoint_error(tmp_path / "c.npz", target, opt2, sched2, "['scheduler']",
                            "StepLR scheduler, but the scheduler given is a ExponentialLR")
    bad = sched.state_dict()
    bad["last_epoch"] = "three"
    write_checkpoint(tmp_path / "d.npz", model, opt, sched, scheduler=bad)
    target, opt3, sched3 = trained(SGD, seed=3, lr=0.1,
                                   scheduler=lambda o: StepLR(o, step_size=2))
    expect_checkpoint_error(tmp_path / "d.npz", target, opt3, sched3,
                            "['scheduler']['last_epoch']", "does not fit")


def test_complex_entries_in_a_checkpoint(tmp_path):
    model, opt, _ = trained(Adam, lr=0.01)
    state = model.state_dict()
    state["2.weight"] = state["2.weight"].astype(np.complex64) + 1j
    write_checkpoint(tmp_path / "c.npz", model, opt, model=state)
    target, opt2, _ = trained(Adam, seed=4, lr=0.01)
    expect_checkpoint_error(tmp_path / "c.npz", target, opt2, None, "['model']", "complex")
    ostate = opt.state_dict()
    ostate["state"][0]["exp_avg"] = ostate["state"][0]["exp_avg"].astype(np.complex128)
    write_checkpoint(tmp_path / "o.npz", model, opt, optimizer=ostate)
    expect_checkpoint_error(tmp_path / "o.npz", target, opt2, None,
                            "['optimizer']['state'][0]['exp_avg']", "not a real number")


def test_bad_shapes_names_and_rng_change_nothing(tmp_path):
    model, opt, _ = trained(Adam, lr=0.01)
    target, opt2, _ = trained(Adam, seed=4, lr=0.01)
    ostate = opt.state_dict()
    ostate["state"][3]["exp_avg_sq"] = np.zeros(7, np.float32)  # the last parameter's
    write_checkpoint(tmp_path / "a.npz", model, opt, optimizer=ostate)
    expect_checkpoint_error(tmp_path / "a.npz", target, opt2, None, "['optimizer']",
                            "shape")
    state = model.state_dict()
    state["9.weight"] = state.pop("2.weight")
    write_checkpoint(tmp_path / "b.npz", model, opt, model=state)
    expect_checkpoint_error(tmp_path / "b.npz", target, opt2, None, "['model']",
                            "missing keys.*2.weight")
    write_checkpoint(tmp_path / "r.npz", model, opt, rng={"bit_generator": "MT19937"})
    expect_checkpoint_error(tmp_path / "r.npz", target, opt2, None, "['rng']", "PCG64")
    write_checkpoint(tmp_path / "e.npz", model, opt, epoch=-1)
    expect_checkpoint_error(tmp_path / "e.npz", target, opt2, None, "['epoch']", "int >= 0")


def test_a_failure_while_applying_is_rolled_back(tmp_path, monkeypatch):
    """The partial-copy fault: model written, then the optimizer fails. With everything
    checked first this cannot happen through the file; force it, and check the rollback."""
    model, opt, _ = trained(Adam, lr=0.01)
    write_checkpoint(tmp_path / "c.npz", model, opt)
    target, opt2, _ = trained(Adam, seed=4, lr=0.01)
    before, o_before = snapshot(target), opt2.state_dict()
    real = Adam.load_state_dict
    calls = []

    def fail_second_time(self, sd):
        calls.append(1)
        if len(calls) == 2:  # 1: the trial load on a copy; 2: the real one
            raise RuntimeError("disk pulled out")
        return real(self, sd)

    monkeypatch.setattr(Adam, "load_state_dict", fail_second_time)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        load_checkpoint(tmp_path / "c.npz", target, opt2)
    assert same_state(before, snapshot(target))
    assert_identical(o_before, opt2.state_dict())


def test_good_checkpoint_loads_everything(tmp_path):
    model, opt, sched = trained(Adam, lr=0.01, scheduler=lambda o: StepLR(o, step_size=2))
    engine.manual_seed(11)
    ckpt = write_checkpoint(tmp_path / "c.npz", model, opt, sched, epoch=7)
    target, opt2, sched2 = trained(Adam, seed=4, lr=0.01,
                                   scheduler=lambda o: StepLR(o, step_size=2))
    engine.manual_seed(99)
    assert load_checkpoint(tmp_path / "c.npz", target, opt2, sched2) == 7
    assert same_state(snapshot(model), snapshot(target))
    assert_identical(opt.state_dict(), opt2.state_dict())
    assert sched2.state_dict() == sched.state_dict()
    assert engine.get_rng().bit_generator.state == ckpt["rng"]


def test_checkpoint_of_a_module_held_under_two_names(tmp_path):
    # state_dict lists a shared module under both names (PyTorch's keys); the checkpoint
    # loader checks against the same list, so the model round-trips.
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = self.q = nn.Linear(2, 2)

        def forward(self, x):
            return self.q(self.p(x))

    model, fresh = Tied(), Tied()
    assert list(model.state_dict()) == ["p.weight", "p.bias", "q.weight", "q.bias"]
    save(make_checkpoint(model, 3, SGD(model.parameters(), lr=0.1)), tmp_path / "t.npz")
    assert load_checkpoint(tmp_path / "t.npz", fresh, SGD(fresh.parameters(), lr=0.1)) == 3
    assert np.array_equal(fresh.q.weight.data, model.p.weight.data)
    assert fresh.p.weight is fresh.q.weight


def test_load_errors_are_load_errors(good_file):
    good_file.write_bytes(good_file.read_bytes()[:50])
    with pytest.raises(LoadError):
        load(good_file)


def test_a_kernel_that_refuses_linkat_falls_back_to_a_named_file(tmp_path, monkeypatch):
    real_link = os.link
    calls = []

    def refuse(src, dst, **kwargs):
        if str(src).startswith("/proc/self/fd/"):
            calls.append(src)
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", refuse)
    save({"v": np.arange(3)}, tmp_path / "c")
    assert (load(tmp_path / "c")["v"] == np.arange(3)).all()
    assert os.listdir(tmp_path) == ["c"]
    assert calls or not hasattr(os, "O_TMPFILE")


@pytest.mark.parametrize("make", [
    lambda o: nn.optim.OneCycleLR(o, max_lr=0.1, total_steps=20),
    lambda o: nn.optim.SequentialLR(o, [nn.optim.LinearLR(o, 0.1, total_iters=3),
                                        nn.optim.ExponentialLR(o, 0.9)], milestones=[3]),
    lambda o: nn.optim.ChainedScheduler([nn.optim.ExponentialLR(o, 0.9),
                                         nn.optim.StepLR(o, 2)])],
    ids=["one_cycle", "sequential", "chained"])
def test_checkpoints_of_schedulers_with_nested_state_load(tmp_path, make):
    """A scheduler whose state nests lists and dicts (OneCycleLR's phases, the combinators'
    schedulers) resumes from load_checkpoint: its check refused every such state."""
    from nn.serialization import make_checkpoint

    def run():
        model = nn.Linear(2, 1)
        opt = nn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, opt, make(opt)

    model, opt, sched = run()
    for _ in range(5):
        opt.step()
        sched.step()
    save(make_checkpoint(model, 5, opt, sched), tmp_path / "c.ckpt")
    model2, opt2, sched2 = run()
    assert nn.load_checkpoint(tmp_path / "c.ckpt", model2, opt2, sched2) == 5
    for _ in range(4):
        opt.step(), sched.step(), opt2.step(), sched2.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_a_combinators_checkpoint_with_other_schedulers_inside_is_refused(tmp_path):
    from nn.serialization import make_checkpoint
    model = nn.Linear(2, 1)
    opt = nn.optim.SGD(model.parameters(), lr=0.05)
    sched = nn.optim.ChainedScheduler([nn.optim.ExponentialLR(opt, 0.9)])
    save(make_checkpoint(model, 1, opt, sched), tmp_path / "c.ckpt")
    other = nn.optim.ChainedScheduler([nn.optim.StepLR(opt, 2)])
    with pytest.raises(nn.serialization.LoadError,
                       match=r"\['scheduler'\]\['_schedulers'\]\[0\]: has .*a ChainedScheduler "
                             r"has"):
        nn.load_checkpoint(tmp_path / "c.ckpt", model, opt, other)
