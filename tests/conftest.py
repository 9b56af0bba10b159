import numpy as np
import pytest

from accelsim import Layer, Trace

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


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
