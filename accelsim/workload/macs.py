"""Exact MAC counts of a layer, per sample.

Dense MACs: K * (C/groups) * R * S * P * Q (linear: out * in).
Effective MACs: the (weight, activation) pairs that are both non-zero and meet
in some output. Counted exactly from the real masks, not from densities: for
conv, every (channel, r, s) tap contributes (non-zero filters of its group at
that tap) x (non-zero inputs that tap visits over the output plane).

An activation counts as zero when |a| <= threshold (threshold 0: exact zeros),
which is how a machine with an ineffectual-neuron threshold sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .trace import Layer


@dataclass
class LayerMacs:
    macs_dense: int                  # per sample
    macs_effective: np.ndarray       # int64, one per sample
    weights: int
    weights_nonzero: int
    activations: int                 # per sample
    activations_nonzero: np.ndarray  # int64, one per sample

    @property
    def weight_density(self) -> float:
        return self.weights_nonzero / self.weights

    @property
    def activation_density(self):
        return self.activations_nonzero / self.activations


def magnitude_bits(array):
    """(unsigned integer view, mask) such that (view & mask) != 0 exactly where array != 0.

    Lets kernels and NumPy test float16 for zero as integers (NumPy compares
    float16 in software); the mask drops a float's sign bit so -0.0 is zero.
    """
    array = np.asarray(array)
    view = array.view(f"u{array.itemsize}")
    all_ones = (1 << (8 * array.itemsize)) - 1
    mask = all_ones >> 1 if array.dtype.kind == "f" else all_ones
    return view, view.dtype.type(mask)


def nonzero_mask(array):
    view, mask = magnitude_bits(array)
    return (view & mask) != 0


def nonzero_activations(activations, threshold=0.0):
    if threshold == 0:
        return nonzero_mask(activations)
    return np.abs(np.asarray(activations, dtype=np.float32)) > threshold


def dense_macs(layer):
    if layer.kind == "linear":
        return int(layer.weight.shape[0]) * int(layer.weight.shape[1])
    filters, channels_per_group, rows, cols = (int(v) for v in layer.weight.shape)
    _, out_h, out_w = layer.output_shape
    return filters * channels_per_group * rows * cols * out_h * out_w


def padded_mask(layer, mask):
    """Activation mask (..., H, W) with the layer's zero padding added to H and W."""
    pad_h, pad_w = layer.padding
    return np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(pad_h, pad_h), (pad_w, pad_w)])


def tap_window(layer, r, s):
    """Index slices of the padded input that kernel tap (r, s) visits, one per output."""
    _, out_h, out_w = layer.output_shape
    (step_h, step_w), (dil_h, dil_w) = layer.stride, layer.dilation
    rows = slice(r * dil_h, r * dil_h + step_h * (out_h - 1) + 1, step_h)
    cols = slice(s * dil_w, s * dil_w + step_w * (out_w - 1) + 1, step_w)
    return rows, cols


def tap_counts(layer, act_mask):
    """(N, C, R, S): how many non-zero inputs each kernel tap meets over the output plane."""
    padded = padded_mask(layer, act_mask)
    rows, cols = layer.kernel
    counts = np.empty((padded.shape[0], padded.shape[1], rows, cols), dtype=np.int64)
    for r in range(rows):
        for s in range(cols):
            window_rows, window_cols = tap_window(layer, r, s)
            counts[:, :, r, s] = padded[:, :, window_rows, window_cols].sum(axis=(2, 3))
    return counts


def effective_macs(layer, threshold=0.0):
    """Effective MACs per sample (int64 array of length N)."""
    return _effective_from_masks(layer, layer.weight_nonzero,
                                 nonzero_activations(layer.activations, threshold))


def _effective_from_masks(layer, weight_mask, act_mask):
    if layer.kind == "linear":
        per_input = weight_mask.sum(axis=0, dtype=np.int64)
        return act_mask.astype(np.int64) @ per_input
    counts = tap_counts(layer, act_mask)
    groups = layer.groups
    channels_per_group = weight_mask.shape[1]
    filters_per_group = weight_mask.shape[0] // groups
    total = np.zeros(counts.shape[0], dtype=np.int64)
    for g in range(groups):
        live_filters = weight_mask[g * filters_per_group:(g + 1) * filters_per_group].sum(
            axis=0, dtype=np.int64)
        group_counts = counts[:, g * channels_per_group:(g + 1) * channels_per_group]
        total += np.einsum("ncrs,crs->n", group_counts, live_filters)
    return total


def layer_macs(layer: Layer, threshold: float = 0.0) -> LayerMacs:
    """A Layer's dense and effective MACs per inference and its non-zero counts -> LayerMacs.

    Effective MACs count only products whose weight and input are both non-zero (|input|
    > threshold), exactly, per sample and then averaged: not density x density, so the
    correlation between surviving weights and active inputs is kept."""
    weight_mask = layer.weight_nonzero
    act_mask = nonzero_activations(layer.activations, threshold)
    return LayerMacs(
        macs_dense=dense_macs(layer),
        macs_effective=_effective_from_masks(layer, weight_mask, act_mask),
        weights=int(weight_mask.size),
        weights_nonzero=int(np.count_nonzero(weight_mask)),
        activations=int(act_mask[0].size),
        activations_nonzero=act_mask.reshape(act_mask.shape[0], -1).sum(axis=1, dtype=np.int64),
    )
