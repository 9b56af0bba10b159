"""Shared fixtures, the suite's marks, and the Numba cache every test process uses."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Absolute, and set before Numba is imported: subprocesses started in a temporary directory
# (install, kill, torch-free) inherit it and reuse the compiled kernels instead of compiling
# every kernel again in an empty relative cache.
os.environ["NUMBA_CACHE_DIR"] = str((ROOT / os.environ.get("NUMBA_CACHE_DIR", ".numba_cache"))
                                    .resolve())

# pytest-xdist runs the suite in several worker processes on the same cores: each gets its
# share for torch's and Numba's threads (and so do the processes it starts), or their
# OpenMP threads spin waiting for each other (accelsim/core/threads.py).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and "OMP_NUM_THREADS" not in os.environ:
    _share = max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = str(_share)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from accelsim import Layer, Trace  # noqa: E402

# Marks that take a test out of the everyday run (-m everyday); the README's test command
# runs all of them but slow. pyproject.toml describes each.
HEAVY_MARKS = ("slow", "system", "training", "acceptance", "peers")

# The quick dense model the training, pareto and fuzz tests start from: seconds, not minutes.
QUICK_DENSE = dict(model="mlp3", method="dense", epochs=2, limit=400, validation=400)


def pytest_collection_modifyitems(items):
    for item in items:
        if not any(item.get_closest_marker(mark) for mark in HEAVY_MARKS):
            item.add_marker(pytest.mark.everyday)


@pytest.fixture(scope="session")
def dense_checkpoint(tmp_path_factory):
    """(path, TrainResult) of one quick dense MLP-3, trained once per pytest run. Read it;
    copy it before changing it."""
    pytest.importorskip("torch")
    from accelsim.training.checkpoint import save_checkpoint
    from accelsim.training.methods import TrainConfig, train

    result = train(TrainConfig(**QUICK_DENSE))
    path = tmp_path_factory.mktemp("dense") / "mlp3-dense.pt"
    save_checkpoint(result, path)
    return path, result


def random_conv_layer(rng, name="conv", samples=2, channels=4, size=7, filters=4, kernel=3,
                      stride=1, padding=1, dilation=1, groups=1, weight_density=0.5,
                      act_density=0.5, dtype=np.float32):
    weight = rng.standard_normal((filters, channels // groups, kernel, kernel)).astype(dtype)
    weight[rng.random(weight.shape) > weight_density] = 0
    acts = np.abs(rng.standard_normal((samples, channels, size, size))).astype(dtype)
    acts[rng.random(acts.shape) > act_density] = 0
    return Layer(name=name, kind="conv2d", weight=weight, activations=acts, stride=stride,
                 padding=padding, dilation=dilation, groups=groups)


def random_linear_layer(rng, name="fc", samples=2, n_in=20, n_out=9, weight_density=0.5,
                        act_density=0.5, dtype=np.float32):
    weight = rng.standard_normal((n_out, n_in)).astype(dtype)
    weight[rng.random(weight.shape) > weight_density] = 0
    acts = np.abs(rng.standard_normal((samples, n_in))).astype(dtype)
    acts[rng.random(acts.shape) > act_density] = 0
    return Layer(name=name, kind="linear", weight=weight, activations=acts)


@pytest.fixture
def small_trace():
    rng = np.random.default_rng(0)
    return Trace(
        layers=[random_conv_layer(rng, "conv1", groups=2), random_linear_layer(rng, "fc1")],
        model="tiny", variant="jp", dataset="synthetic", metadata={"test_accuracy": 0.5},
    )
