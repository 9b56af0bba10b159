"""Vectorised MAC counts against a brute-force loop over every (output, tap) pair."""

import numpy as np
from conftest import random_conv_layer, random_linear_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.workload.macs import dense_macs, effective_macs, layer_macs


def brute_force_macs(layer, threshold=0.0):
    """(dense, effective per sample) by visiting every multiplication the layer does."""
    w, a = np.asarray(layer.weight), np.asarray(layer.activations)
    if layer.kind == "linear":
        dense = w.size
        eff = [sum(1 for o in range(w.shape[0]) for i in range(w.shape[1])
                   if w[o, i] != 0 and abs(a[n, i]) > threshold) for n in range(a.shape[0])]
        return dense, eff
    K, Cg, R, S = w.shape
    _, P, Q = layer.output_shape
    (sh, sw), (ph, pw), (dh, dw), G = layer.stride, layer.padding, layer.dilation, layer.groups
    H, W = a.shape[2:]
    dense, eff = 0, [0] * a.shape[0]
    for k in range(K):
        g = k // (K // G)
        for c in range(Cg):
            for r in range(R):
                for s in range(S):
                    for p in range(P):
                        for q in range(Q):
                            dense += 1
                            y, x = p * sh + r * dh - ph, q * sw + s * dw - pw
                            if w[k, c, r, s] == 0 or not (0 <= y < H and 0 <= x < W):
                                continue
                            for n in range(a.shape[0]):
                                if abs(a[n, g * Cg + c, y, x]) > threshold:
                                    eff[n] += 1
    return dense, eff


conv_geometry = st.fixed_dictionaries({
    "groups": st.sampled_from([1, 2, 3]),
    "channels_per_group": st.integers(1, 3),
    "filters_per_group": st.integers(1, 3),
    "kernel": st.integers(1, 4),
    "stride": st.integers(1, 3),
    "padding": st.integers(0, 2),
    "dilation": st.integers(1, 2),
    "size": st.integers(4, 9),
    "seed": st.integers(0, 2**31),
    "weight_density": st.floats(0, 1),
    "act_density": st.floats(0, 1),
})


@settings(max_examples=150, deadline=None)
@given(conv_geometry)
def test_conv_macs_match_brute_force(g):
    if (g["kernel"] - 1) * g["dilation"] + 1 > g["size"] + 2 * g["padding"]:
        return  # kernel does not fit
    rng = np.random.default_rng(g["seed"])
    layer = random_conv_layer(
        rng, samples=2, channels=g["groups"] * g["channels_per_group"], size=g["size"],
        filters=g["groups"] * g["filters_per_group"], kernel=g["kernel"], stride=g["stride"],
        padding=g["padding"], dilation=g["dilation"], groups=g["groups"],
        weight_density=g["weight_density"], act_density=g["act_density"])
    dense, eff = brute_force_macs(layer)
    assert dense_macs(layer) == dense
    assert effective_macs(layer).tolist() == eff


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**31), st.floats(0, 1), st.floats(0, 1))
def test_linear_macs_match_brute_force(n_in, n_out, seed, wd, ad):
    layer = random_linear_layer(np.random.default_rng(seed), n_in=n_in, n_out=n_out,
                                weight_density=wd, act_density=ad)
    dense, eff = brute_force_macs(layer)
    assert dense_macs(layer) == dense
    assert effective_macs(layer).tolist() == eff


def test_threshold_treats_small_activations_as_zero():
    layer = random_conv_layer(np.random.default_rng(3), padding=2, stride=2)
    for threshold in (0.0, 0.3, 1.0):
        _, eff = brute_force_macs(layer, threshold)
        assert effective_macs(layer, threshold).tolist() == eff
    assert effective_macs(layer, 0.3).sum() < effective_macs(layer).sum()


def test_hand_computed_conv():
    # 1 channel 3x3 input, all ones except the centre; 2x2 kernel of ones, no padding:
    # 4 outputs, each window holds 3 non-zeros -> 12 effective of 16 dense MACs.
    from accelsim import Layer
    acts = np.ones((1, 1, 3, 3), np.float32)
    acts[0, 0, 1, 1] = 0
    layer = Layer("c", "conv2d", np.ones((1, 1, 2, 2), np.float32), acts)
    macs = layer_macs(layer)
    assert macs.macs_dense == 16
    assert macs.macs_effective.tolist() == [12]
    assert macs.activation_density.tolist() == [8 / 9]
