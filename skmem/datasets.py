"""Data sets: scikit-learn's digits (embedded) and the paper's MNIST and CIFAR-10.

:func:`load_digits` needs no download. :func:`fetch_mnist` and
:func:`fetch_cifar10` read the standard distribution files (MNIST's gzipped
idx files, CIFAR-10's tarball of pickled batches) from a data folder and
download them there when they are missing, in the manner of scikit-learn's
``fetch_*`` functions: a :class:`~sklearn.utils.Bunch`, ``subset=`` and
``return_X_y=`` as in :func:`sklearn.datasets.fetch_20newsgroups`.
"""

import gzip
import hashlib
import os
import pickle
import shutil
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as _sklearn_load_digits
from sklearn.utils import Bunch, check_random_state


def load_digits(*, binarize=False, return_y=False):
    """scikit-learn's 8x8 digits (1797 x 64), scaled to [0, 1].

    Parameters
    ----------
    binarize : bool, default=False
        Threshold the pixels at 0.5, giving binary data for a Bernoulli VAE.
    return_y : bool, default=False
        Also return the digit labels.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        Pixel intensities divided by 16 (or thresholded), float64.
    y : ndarray of shape (1797,)
        The labels, when ``return_y`` is True.

    Examples
    --------
    >>> from skmem.datasets import load_digits
    >>> X = load_digits()
    >>> X.shape, float(X.min()), float(X.max())
    ((1797, 64), 0.0, 1.0)
    """
    digits = _sklearn_load_digits()
    X = digits.data / 16.0
    if binarize:
        X = (X >= 0.5).astype(np.float64)
    if return_y:
        return X, digits.target
    return X


# The distribution files and their MD5 checksums (those that torchvision checks).
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}
_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
_CIFAR10_FILE = ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
_CIFAR10_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
_SUBSETS = ("train", "test", "all")


def get_data_home(data_home=None):
    """The folder where skmem keeps downloaded data sets, created if missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. ``None`` means the ``SKMEM_DATA`` environment variable if
        it is set, else ``~/skmem_data``. ``~`` is expanded.

    Returns
    -------
    str
        The folder's path.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmem.datasets import get_data_home
    >>> folder = get_data_home(os.path.join(tempfile.mkdtemp(), "data"))
    >>> os.path.isdir(folder)
    True
    """
    if data_home is None:
        data_home = os.environ.get("SKMEM_DATA", os.path.join("~", "skmem_data"))
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_file(folder, filename, md5, base_url, download_if_missing):
    """The path of ``folder/filename``, downloaded and checked when missing."""
    path = Path(folder) / filename
    if path.exists():
        return path
    if not download_if_missing:
        raise OSError(
            f"{path} not found and download_if_missing=False; put the file there "
            "or allow the download."
        )
    url = base_url + filename
    # Download to a temporary file in the same folder, then move it into
    # place, so that an interrupted download never leaves a partial file.
    fd, part = tempfile.mkstemp(prefix=filename + ".part_", dir=folder)
    os.close(fd)
    try:
        try:
            urllib.request.urlretrieve(url, part)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OSError(
                f"could not download {url} ({reason}); check the connection, or "
                f"put {filename} in {folder} yourself."
            ) from exc
        checksum = _md5(part)
        if checksum != md5:
            raise OSError(
                f"{url} downloaded with MD5 {checksum}, expected {md5}; the file "
                "is incomplete or has changed. Try again later."
            )
        shutil.move(part, path)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return path


def _read_idx(path, magic, shape):
    """A uint8 array from a gzipped idx file, checking its magic number and
    trailing dimensions (``shape`` without the number of items)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        ndim = len(shape) + 1
        found, *dims = struct.unpack(f">{ndim + 1}I", raw[: 4 * (ndim + 1)])
    except (OSError, EOFError, struct.error, gzip.BadGzipFile) as exc:
        raise ValueError(
            f"{path} is not a readable gzipped idx file ({exc}); delete it to "
            "download it again."
        ) from exc
    expected = int(np.prod(dims, dtype=np.int64))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (ndim + 1))
    if found != magic or tuple(dims[1:]) != tuple(shape) or data.size != expected:
        raise ValueError(
            f"{path} is corrupt: magic number {found:#010x}, dimensions "
            f"{tuple(dims)} and {data.size} values, expected {magic:#010x} and "
            f"(n, *{tuple(shape)}); delete it to download it again."
        )
    return data.reshape(dims)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10's batches (dicts, lists, bytes and numpy arrays) and
    refuses every other global, so a foreign pickle cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes, in pickle protocols 0-2
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a CIFAR-10 batch holds no {module}.{name}")


def _read_cifar_batches(path, names):
    """Pixels (n, 3072) uint8 and labels of the named batches of the tarball."""
    data, labels = [], []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for name in names:
                member = archive.extractfile(f"cifar-10-batches-py/{name}")
                # The official format is pickled dicts of numpy arrays. A file
                # put there by hand is not checked against the MD5, so the
                # unpickler builds nothing but those.
                batch = _BatchUnpickler(member, encoding="bytes").load()
                data.append(np.asarray(batch[b"data"], dtype=np.uint8))
                labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    except (
        OSError,
        EOFError,
        KeyError,
        TypeError,
        pickle.UnpicklingError,
        tarfile.TarError,
    ) as exc:
        raise ValueError(
            f"{path} is not a readable CIFAR-10 python tarball ({exc!r}); delete "
            "it to download it again."
        ) from exc
    for name, d, y in zip(names, data, labels, strict=True):
        if d.ndim != 2 or d.shape[1] != 3 * 32 * 32 or len(y) != len(d):
            raise ValueError(
                f"{path}: batch {name} has data of shape {d.shape} and "
                f"{len(y)} labels, expected (n, 3072) and n; delete it to "
                "download it again."
            )
    return np.concatenate(data), np.concatenate(labels)


def _check_subset(subset):
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be 'train', 'test' or 'all'; got {subset!r}.")
    return ["train", "test"] if subset == "all" else [subset]


def _to_unit(pixels, binarize, random_state):
    """uint8 pixels as float32 in [0, 1], or their stochastic binarization:
    each pixel is 1 with probability its intensity (the paper's
    BinarizedMNIST), drawn from ``random_state``."""
    X = pixels.astype(np.float32)
    X /= 255.0
    if binarize:
        rng = check_random_state(random_state)
        for start in range(0, len(X), 4096):  # bounded temporary memory
            block = X[start : start + 4096]
            block[...] = rng.random_sample(block.shape) < block
    return X


def _bunch(pixels, target, image_shape, binarize, random_state, return_X_y, descr):
    X = _to_unit(pixels, binarize, random_state)
    if return_X_y:
        return X, target
    return Bunch(
        data=X,
        target=target,
        images=X.reshape(len(X), *image_shape),
        DESCR=descr,
    )


def fetch_mnist(
    data_home=None,
    *,
    subset="train",
    binarize=False,
    random_state=None,
    download_if_missing=True,
    return_X_y=False,
):
    """The MNIST digits (60,000 + 10,000 images of 28 x 28), pixels in [0, 1].

    Reads ``train-images-idx3-ubyte.gz`` and the three other standard idx
    files from ``data_home/mnist``, downloading the missing ones. With
    ``binarize=True`` this is the BinarizedMNIST of van den Burg & Williams
    (2021).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder of the data files; see :func:`get_data_home` (``SKMEM_DATA``
        or ``~/skmem_data``). The files are kept in its subfolder 'mnist'.
    subset : {"train", "test", "all"}, default="train"
        The standard training set (the paper's data), the test set, or both,
        training rows first.
    binarize : bool, default=False
        The paper's stochastic binarization: each pixel becomes 1 with
        probability equal to its intensity and 0 otherwise, drawn once from
        ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds the binarization; used only with ``binarize=True``.
    download_if_missing : bool, default=True
        Download a missing file (its MD5 checked); if False, a missing file
        raises OSError.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n, 784) float32 pixels in [0, 1] (0 or 1 with
        ``binarize=True``), row by row; ``target`` (n,) int64 digit labels;
        ``images`` (n, 28, 28), a view of ``data``; ``DESCR``. float32
        because the models compute in float32 and it halves the memory.
    (data, target) : tuple of ndarray
        The same ``data`` and ``target``, when ``return_X_y`` is True.

    Raises
    ------
    OSError
        A file is missing and cannot be downloaded.
    ValueError
        A file on disk is not in the expected format.

    Examples
    --------
    >>> from skmem.datasets import fetch_mnist
    >>> X, y = fetch_mnist(binarize=True, random_state=0,
    ...                    return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (60000, 784)
    """
    folder = os.path.join(get_data_home(data_home), "mnist")
    os.makedirs(folder, exist_ok=True)
    pixels, target = [], []
    for part in _check_subset(subset):
        (images, images_md5), (labels, labels_md5) = _MNIST_FILES[part]
        args = (_MNIST_URL, download_if_missing)
        images = _fetch_file(folder, images, images_md5, *args)
        labels = _fetch_file(folder, labels, labels_md5, *args)
        x = _read_idx(images, 0x00000803, (28, 28))
        y = _read_idx(labels, 0x00000801, ())
        if len(x) != len(y):
            raise ValueError(
                f"{images} has {len(x)} images but {labels} {len(y)} labels; "
                "delete them to download them again."
            )
        pixels.append(x.reshape(len(x), -1))
        target.append(y.astype(np.int64))
    return _bunch(
        np.concatenate(pixels),
        np.concatenate(target),
        (28, 28),
        binarize,
        random_state,
        return_X_y,
        "MNIST handwritten digits (LeCun et al.), 28 x 28 grey pixels in [0, 1].",
    )


def fetch_cifar10(
    data_home=None,
    *,
    subset="train",
    binarize=False,
    random_state=None,
    download_if_missing=True,
    return_X_y=False,
):
    """CIFAR-10 (50,000 + 10,000 colour images of 32 x 32), pixels in [0, 1].

    Reads the python version's tarball ``cifar-10-python.tar.gz`` (batches
    ``data_batch_1`` to ``data_batch_5`` and ``test_batch``) from
    ``data_home/cifar10``, downloading it (about 170 MB) when missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder of the data files; see :func:`get_data_home` (``SKMEM_DATA``
        or ``~/skmem_data``). The files are kept in its subfolder 'cifar10'.
    subset : {"train", "test", "all"}, default="train"
        The standard training set (the paper's data), the test set, or both,
        training rows first.
    binarize : bool, default=False
        The paper's stochastic binarization: each pixel becomes 1 with
        probability equal to its intensity and 0 otherwise, drawn once from
        ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds the binarization; used only with ``binarize=True``.
    download_if_missing : bool, default=True
        Download a missing file (its MD5 checked); if False, a missing file
        raises OSError.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n, 3072) float32 pixels in [0, 1], channels first (the 1024
        red values, then green, then blue, each row by row), as
        ``VAEDensity(architecture="conv", input_shape=(3, 32, 32))`` takes
        them; ``target`` (n,) int64 class labels; ``images`` (n, 3, 32, 32),
        a view of ``data``; ``DESCR``. For the paper's dequantized models,
        ``np.rint(data * 255)`` gives the integer levels.
    (data, target) : tuple of ndarray
        The same ``data`` and ``target``, when ``return_X_y`` is True.

    Raises
    ------
    OSError
        The file is missing and cannot be downloaded.
    ValueError
        The file on disk is not in the expected format.

    Examples
    --------
    >>> from skmem.datasets import fetch_cifar10
    >>> X, y = fetch_cifar10(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10000, 3072)
    """
    folder = os.path.join(get_data_home(data_home), "cifar10")
    os.makedirs(folder, exist_ok=True)
    names = [b for part in _check_subset(subset) for b in _CIFAR10_BATCHES[part]]
    path = _fetch_file(folder, *_CIFAR10_FILE, _CIFAR10_URL, download_if_missing)
    pixels, target = _read_cifar_batches(path, names)
    return _bunch(
        pixels,
        target,
        (3, 32, 32),
        binarize,
        random_state,
        return_X_y,
        "CIFAR-10 (Krizhevsky, 2009), 32 x 32 colour pixels in [0, 1], channels first.",
    )


#: Data set names that ``skmem score NAME`` accepts in place of a file.
NAMED_DATASETS = {
    "mnist": lambda: fetch_mnist(return_X_y=True)[0],
    "binarized-mnist": lambda: fetch_mnist(
        binarize=True, random_state=0, return_X_y=True
    )[0],
    "cifar10": lambda: fetch_cifar10(return_X_y=True)[0],
}


def load_named(name):
    """The training set of a data set named on the command line, or None.

    Parameters
    ----------
    name : str or path-like
        ``"mnist"``, ``"binarized-mnist"`` (binarized with seed 0) or
        ``"cifar10"``, in any case.

    Returns
    -------
    ndarray of shape (n_samples, n_features) or None
        The rows of :func:`fetch_mnist` or :func:`fetch_cifar10`, float64,
        downloaded to :func:`get_data_home` when missing; None for any other
        name.
    """
    fetch = NAMED_DATASETS.get(str(name).lower())
    return None if fetch is None else fetch().astype(np.float64)
