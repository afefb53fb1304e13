"""fetch_mnist and fetch_cifar10 on small files in the exact distribution
formats, written to temporary folders; the download path through file:// URLs.
Nothing here touches the network."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from skmem import datasets
from skmem.datasets import fetch_cifar10, fetch_mnist, get_data_home, load_named


def write_idx(path, array, magic):
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_mnist(folder, n_train=7, n_test=3, seed=0):
    """Small MNIST files; returns the pixels and labels written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for part, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        (images, _), (labels, _) = datasets._MNIST_FILES[part]
        write_idx(folder / images, x, 0x00000803)
        write_idx(folder / labels, y, 0x00000801)
        written[part] = (x, y)
    return written


def make_cifar(path, sizes=(2, 3, 1, 2, 2, 4), seed=0):
    """A small cifar-10-python.tar.gz; returns the pixels and labels per batch."""
    rng = np.random.default_rng(seed)
    names = datasets._CIFAR10_BATCHES["train"] + datasets._CIFAR10_BATCHES["test"]
    written = {}
    with tarfile.open(path, "w:gz") as archive:
        for name, n in zip(names, sizes, strict=True):
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, size=n)]
            batch = {b"batch_label": name.encode(), b"data": data, b"labels": labels}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
            written[name] = (data, np.array(labels))
    return written


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKMEM_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert (tmp_path / "env").is_dir()
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")
    monkeypatch.delenv("SKMEM_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == str(tmp_path / "home" / "skmem_data")


def test_fetch_mnist_reads_the_idx_files(tmp_path):
    written = make_mnist(tmp_path / "mnist")
    bunch = fetch_mnist(tmp_path, download_if_missing=False)
    x, y = written["train"]
    assert bunch.data.shape == (7, 784) and bunch.data.dtype == np.float32
    # Flattened row by row, scaled by 255.
    np.testing.assert_allclose(bunch.data, x.reshape(7, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(bunch.target, y)
    np.testing.assert_array_equal(bunch.images[2], bunch.data[2].reshape(28, 28))
    X, y_test = fetch_mnist(
        tmp_path, subset="test", download_if_missing=False, return_X_y=True
    )
    np.testing.assert_allclose(X * 255, written["test"][0].reshape(3, -1), atol=1e-4)
    np.testing.assert_array_equal(y_test, written["test"][1])
    X_all, y_all = fetch_mnist(
        tmp_path, subset="all", download_if_missing=False, return_X_y=True
    )
    np.testing.assert_array_equal(X_all, np.vstack([bunch.data, X]))
    np.testing.assert_array_equal(y_all, np.concatenate([bunch.target, y_test]))


def test_fetch_cifar10_reads_the_tarball_channels_first(tmp_path):
    (tmp_path / "cifar10").mkdir()
    written = make_cifar(tmp_path / "cifar10" / "cifar-10-python.tar.gz")
    bunch = fetch_cifar10(tmp_path, download_if_missing=False)
    train = [written[f"data_batch_{i}"] for i in range(1, 6)]
    expected = np.vstack([d for d, _ in train]) / 255.0
    assert bunch.data.shape == (10, 3072) and bunch.data.dtype == np.float32
    np.testing.assert_allclose(bunch.data, expected, rtol=1e-6)
    np.testing.assert_array_equal(bunch.target, np.concatenate([y for _, y in train]))
    # Channels first: the first 1024 values of a row are the red plane.
    np.testing.assert_array_equal(bunch.images[0, 0].ravel(), bunch.data[0, :1024])
    assert bunch.images.shape == (10, 3, 32, 32)
    X, y = fetch_cifar10(
        tmp_path, subset="test", download_if_missing=False, return_X_y=True
    )
    np.testing.assert_allclose(X * 255, written["test_batch"][0], atol=1e-4)
    assert len(fetch_cifar10(tmp_path, subset="all").data) == 14


def test_binarize_is_bernoulli_of_the_intensity_and_seeded(tmp_path):
    # Every pixel of every image at intensity 64/255: the fraction of ones
    # estimates it.
    folder = tmp_path / "mnist"
    folder.mkdir()
    for part, n in (("train", 200), ("test", 1)):
        (images, _), (labels, _) = datasets._MNIST_FILES[part]
        write_idx(folder / images, np.full((n, 28, 28), 64, np.uint8), 0x803)
        write_idx(folder / labels, np.zeros(n, np.uint8), 0x801)
    X = fetch_mnist(tmp_path, binarize=True, random_state=0).data
    assert set(np.unique(X)) == {0.0, 1.0}
    p = 64 / 255
    se = np.sqrt(p * (1 - p) / X.size)
    assert abs(X.mean() - p) < 4 * se
    again = fetch_mnist(tmp_path, binarize=True, random_state=0).data
    np.testing.assert_array_equal(X, again)
    other = fetch_mnist(tmp_path, binarize=True, random_state=1).data
    assert (X != other).any()
    # Extremes are deterministic: 0 stays 0, 255 stays 1.
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.full((1, 28, 28), 255), 0x803)
    assert fetch_mnist(tmp_path, subset="test", binarize=True).data.min() == 1.0


def test_missing_files_without_download_raise(tmp_path):
    with pytest.raises(OSError, match="download_if_missing=False"):
        fetch_mnist(tmp_path, download_if_missing=False)
    with pytest.raises(OSError, match="cifar-10-python.tar.gz not found"):
        fetch_cifar10(tmp_path, download_if_missing=False)


def test_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset must be"):
        fetch_mnist(tmp_path, subset="validation")


def serve(monkeypatch, source, name):
    """Point the downloader's base URL at a local folder (file:// URLs), with
    the checksums of the files there."""
    monkeypatch.setattr(datasets, f"_{name}_URL", source.as_uri() + "/")


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_through_file_urls(tmp_path, monkeypatch):
    source = tmp_path / "server"
    written = make_mnist(source)
    serve(monkeypatch, source, "MNIST")
    files = {
        part: tuple((f, md5(source / f)) for f, _ in pairs)
        for part, pairs in datasets._MNIST_FILES.items()
    }
    monkeypatch.setattr(datasets, "_MNIST_FILES", files)
    home = tmp_path / "home"
    X = fetch_mnist(home, subset="all", return_X_y=True)[0]
    local = home / "mnist"
    names = [f for pairs in files.values() for f, _ in pairs]
    assert sorted(p.name for p in local.iterdir()) == sorted(names)
    for name in names:
        assert (local / name).read_bytes() == (source / name).read_bytes()
    pixels = np.vstack([written[p][0].reshape(-1, 784) for p in ("train", "test")])
    np.testing.assert_allclose(X * 255, pixels, atol=1e-4)

    # CIFAR-10 the same way.
    make_cifar(source / "cifar-10-python.tar.gz")
    serve(monkeypatch, source, "CIFAR10")
    monkeypatch.setattr(
        datasets,
        "_CIFAR10_FILE",
        ("cifar-10-python.tar.gz", md5(source / "cifar-10-python.tar.gz")),
    )
    assert fetch_cifar10(home, subset="all").data.shape == (14, 3072)


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    source = tmp_path / "server"
    make_mnist(source)
    serve(monkeypatch, source, "MNIST")  # the real checksums: they differ
    with pytest.raises(OSError, match="MD5"):
        fetch_mnist(tmp_path / "home")
    assert list((tmp_path / "home" / "mnist").iterdir()) == []


def test_offline_download_error_is_one_clear_line(tmp_path, monkeypatch):
    serve(monkeypatch, tmp_path / "nowhere", "MNIST")
    with pytest.raises(OSError, match="could not download .* put train-images"):
        fetch_mnist(tmp_path / "home")
    assert list((tmp_path / "home" / "mnist").iterdir()) == []


def test_corrupt_files_raise_clear_errors(tmp_path):
    folder = tmp_path / "mnist"
    make_mnist(folder)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a readable gzipped idx file"):
        fetch_mnist(tmp_path)
    # Right format, wrong magic number (labels where images should be).
    write_idx(images, np.zeros((7, 28, 28), np.uint8), 0x801)
    with pytest.raises(ValueError, match="corrupt: magic number 0x00000801"):
        fetch_mnist(tmp_path)
    # Truncated: the header promises more pixels than there are.
    with gzip.open(images, "wb") as f:
        f.write(struct.pack(">4I", 0x803, 7, 28, 28) + bytes(100))
    with pytest.raises(ValueError, match="corrupt"):
        fetch_mnist(tmp_path)
    # Images and labels that do not match in number.
    write_idx(images, np.zeros((6, 28, 28), np.uint8), 0x803)
    with pytest.raises(ValueError, match="6 images but"):
        fetch_mnist(tmp_path)

    (tmp_path / "cifar10").mkdir()
    tarball = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    tarball.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="not a readable CIFAR-10"):
        fetch_cifar10(tmp_path)
    with tarfile.open(tarball, "w:gz") as archive:  # a batch missing
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        raw = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]})
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    with pytest.raises(ValueError, match="not a readable CIFAR-10"):
        fetch_cifar10(tmp_path)


def test_load_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SKMEM_DATA", str(tmp_path))
    written = make_mnist(tmp_path / "mnist")
    X = load_named("MNIST")
    assert X.dtype == np.float64
    np.testing.assert_allclose(X * 255, written["train"][0].reshape(7, -1), atol=1e-4)
    B = load_named("binarized-mnist")
    np.testing.assert_array_equal(B, load_named("binarized-mnist"))  # seeded
    assert set(np.unique(B)) <= {0.0, 1.0}
    assert load_named("digits.csv") is None


def test_command_line_scores_a_data_set_by_name(tmp_path, monkeypatch, capsys):
    from skmem.cli import main

    monkeypatch.setenv("SKMEM_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    make_mnist(tmp_path / "data" / "mnist", n_train=12)
    out = tmp_path / "s.csv"
    argv = ["score", "mnist", "--model", "kde", "--cv", "3", "--repeats", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert sum(1 for line in lines if line and line[0].isdigit()) == 12
    # Offline, with no file: one line that says what to do, exit status 2.
    monkeypatch.setenv("SKMEM_DATA", str(tmp_path / "empty"))
    serve(monkeypatch, tmp_path / "nowhere", "MNIST")
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not download" in err[0]
    # A corrupt file: the same.
    monkeypatch.setenv("SKMEM_DATA", str(tmp_path / "data"))
    (tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(b"x")
    assert main([*argv, "--out", str(out)]) == 2
    assert "not a readable gzipped idx file" in capsys.readouterr().err


class _Payload:
    def __reduce__(self):  # what a malicious pickle does: call any function
        return (os.remove, (str(_Payload.target),))


def test_a_cifar_tarball_put_there_by_hand_cannot_run_code(tmp_path):
    (tmp_path / "cifar10").mkdir()
    _Payload.target = victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    with tarfile.open(tmp_path / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        raw = pickle.dumps({b"data": _Payload(), b"labels": [0]}, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(ValueError, match="not a readable CIFAR-10"):
        fetch_cifar10(tmp_path, download_if_missing=False)
    assert victim.read_text() == "still here"


def test_the_cifar_unpickler_refuses_every_global_outside_its_allow_list():
    # Every global of these modules, numpy's included, is refused unless it is
    # one of the few that CIFAR-10's batches hold: a widened rule (say, any
    # numpy.*) lets a pickle call numpy.testing's runstring, i.e. exec.
    import importlib

    modules = ["numpy", "numpy.testing._private.utils", "numpy.lib.npyio"]
    modules += ["numpy.core.multiarray", "numpy._core.multiarray", "numpy.ctypeslib"]
    modules += ["builtins", "os", "subprocess", "pickle", "_codecs", "shutil"]
    allowed = datasets._BatchUnpickler._ALLOWED
    unpickler = datasets._BatchUnpickler(io.BytesIO(b""))
    checked = 0
    for module in modules:
        try:
            names = dir(importlib.import_module(module))
        except ImportError:  # numpy.core or numpy._core, by numpy version
            continue
        for name in names:
            if (module, name) in allowed:
                continue
            with pytest.raises(pickle.UnpicklingError, match="holds no"):
                unpickler.find_class(module, name)
            checked += 1
    assert checked > 1000
    # What the batches need still loads, in protocols 0 to 4 (the official
    # files are protocol 2; protocol 5 would need numpy's _frombuffer).
    batch = {b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"labels": [1, 2]}
    for protocol in range(5):
        loaded = datasets._BatchUnpickler(
            io.BytesIO(pickle.dumps(batch, protocol=protocol)), encoding="bytes"
        ).load()
        np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])


class _RunString:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):  # exec through a numpy function
        from numpy.testing._private.utils import runstring

        return (runstring, (self.code, {}))


def test_a_cifar_tarball_cannot_run_code_through_numpy(tmp_path):
    (tmp_path / "cifar10").mkdir()
    victim = tmp_path / "ran.txt"
    code = f"open({str(victim)!r}, 'w').write('ran')"
    with tarfile.open(tmp_path / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        raw = pickle.dumps({b"data": _RunString(code), b"labels": [0]}, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(ValueError, match="holds no numpy.testing"):
        fetch_cifar10(tmp_path, download_if_missing=False)
    assert not victim.exists()


def test_binarize_draws_fresh_noise_for_every_row_past_one_block(tmp_path):
    # Every pixel at intensity 128/255 in 4,100 images: rows r and r + 4,096
    # agree on a pixel with probability p^2 + (1 - p)^2 ~ 1/2, as any two
    # rows do. Noise re-drawn from the seed per block would make them equal.
    folder = tmp_path / "mnist"
    folder.mkdir()
    for part, n in (("train", 4100), ("test", 1)):
        (images, _), (labels, _) = datasets._MNIST_FILES[part]
        write_idx(folder / images, np.full((n, 28, 28), 128, np.uint8), 0x803)
        write_idx(folder / labels, np.zeros(n, np.uint8), 0x801)
    X = fetch_mnist(tmp_path, binarize=True, random_state=0).data
    p = 128 / 255
    agree = (X[:4] == X[4096:4100]).mean(axis=1)
    expected = p**2 + (1 - p) ** 2
    se = np.sqrt(expected * (1 - expected) / 784)
    assert (np.abs(agree - expected) < 5 * se).all(), agree
    # Nor does any row repeat another anywhere in the set.
    assert len(np.unique(X, axis=0)) == len(X)
