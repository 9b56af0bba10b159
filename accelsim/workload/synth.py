"""Synthetic traces: layers with chosen weight and activation densities.

For models whose data sets are not at hand (AlexNet, the EIE benchmarks), a
trace is drawn from per-layer densities. The non-zeros are chosen exactly
(the top-k of a random field), so realised densities match the request to
one element. The field is white noise ("uniform") or noise smoothed with a
box filter of `cluster_size` along every spatial/feature axis ("clustered"),
which makes non-zeros bunch together, or, for "spatial", noise smoothed over
the image plane only (conv activations; weights and linear inputs stay
white): zeros bunch in space but channels stay independent, as in ReLU
feature maps. Every array is
drawn from its own seeded stream: the same seed gives the same bytes.
"""

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ..core.progress import Progress, no_progress
from ..core.schema import build, spec
from ..errors import ConfigError
from .trace import DTYPES, Layer, Trace, check_layer_geometry, check_layer_name

PATTERNS = ("uniform", "clustered", "spatial")
# Limits, checked before drawing: samples per trace, elements per array (2**30 float16
# values are 2 GiB), and layers per trace (the manifest then stays well within the 16 MiB
# that the trace reader accepts).
MAX_SAMPLES = 100_000
MAX_ELEMENTS = 2**30
MAX_LAYERS = 10_000


@dataclass(frozen=True)
class LayerSpec:
    name: str = spec(doc="layer name")
    kind: str = spec(doc="layer type", choices=("linear", "conv2d"))
    weight_density: float = spec(doc="fraction of non-zero weights", minimum=0.0, maximum=1.0)
    activation_density: float = spec(doc="fraction of non-zero inputs", minimum=0.0, maximum=1.0)
    in_features: Optional[int] = spec(None, doc="linear: input length", minimum=1)
    out_features: Optional[int] = spec(None, doc="linear: output length", minimum=1)
    input_shape: Optional[list[int]] = spec(None, doc="conv2d: [C, H, W]", minimum=1)
    filters: Optional[int] = spec(None, doc="conv2d: K", minimum=1)
    kernel: int = spec(1, doc="conv2d: R (and S, unless kernel_width is given)", minimum=1)
    kernel_width: Optional[int] = spec(None, doc="conv2d: S, where it differs from R", minimum=1)
    stride: int = spec(1, doc="conv2d stride", minimum=1)
    padding: int = spec(0, doc="conv2d zero padding", minimum=0)
    dilation: int = spec(1, doc="conv2d dilation", minimum=1)
    groups: int = spec(1, doc="conv2d groups", minimum=1)


@dataclass(frozen=True)
class NetworkSpec:
    model: str = spec(doc="model name recorded in the trace")
    layers: list[LayerSpec] = spec(doc="layers in network order")
    variant: str = spec("synthetic", doc="variant recorded in the trace (dense, wp, jp, ...)")
    dataset: str = spec("synthetic", doc="data set recorded in the trace")
    description: str = spec("", doc="free text kept in the metadata")
    independent_layers: bool = spec(False, doc="the layers are separate benchmarks, not one "
                                    "network: each is simulated alone")


def _box_blur(field, axis, width):
    """Running mean of `width` along `axis` (same length, edges averaged over fewer points)."""
    width = min(width, field.shape[axis])
    if width <= 1:
        return field
    pad = [(0, 0)] * field.ndim
    pad[axis] = (width // 2, width - 1 - width // 2)
    summed = np.cumsum(np.pad(field, pad, mode="edge"), axis=axis, dtype=np.float32)
    summed = np.concatenate([np.zeros_like(np.take(summed, [0], axis=axis)), summed], axis=axis)
    upper = np.take(summed, np.arange(width, summed.shape[axis]), axis=axis)
    lower = np.take(summed, np.arange(0, summed.shape[axis] - width), axis=axis)
    return (upper - lower) / width


def choose_nonzeros(rng, shape, density, pattern="uniform", cluster_size=4, per_row=False,
                    smooth_axes=None):
    """Boolean mask of `shape` with exactly round(density * n) True entries.

    per_row=True draws each leading-axis slice (one sample) to the density on its own.
    The clustered pattern smooths along `smooth_axes` (default: every axis but the sample's).
    """
    if pattern not in PATTERNS:
        raise ConfigError(f"pattern {pattern!r} is invalid: must be one of {', '.join(PATTERNS)}")
    field = rng.random(shape, dtype=np.float32)
    if smooth_axes is None:
        smooth_axes = range(1 if per_row else 0, len(shape))
    if pattern != "uniform":
        for axis in smooth_axes:
            for _ in range(2):  # two box passes: a smoother, roughly triangular kernel
                field = _box_blur(field, axis, cluster_size)
        # Smoothing leaves ties rare but possible; a tiny jitter breaks them at random.
        field = field + rng.random(shape, dtype=np.float32) * 1e-6
    rows = field.reshape(shape[0], -1) if per_row else field.reshape(1, -1)
    keep = int(round(density * rows.shape[1]))
    mask = np.zeros(rows.shape, dtype=bool)
    if keep > 0:
        top = np.argpartition(-rows, keep - 1, axis=1)[:, :keep]
        np.put_along_axis(mask, top, True, axis=1)
    return mask.reshape(shape)


def _values(rng, mask, scale, non_negative, dtype):
    values = rng.standard_normal(mask.shape, dtype=np.float32) * scale
    if non_negative:
        values = np.abs(values)
    # Keep drawn non-zeros non-zero after rounding to the storage dtype.
    floor = scale * 1e-2
    values = np.where(np.abs(values) < floor, np.copysign(floor, values), values)
    if np.dtype(dtype).kind == "i":
        # Quantize: the largest magnitude maps to the type's largest value, and every drawn
        # non-zero to at least 1, so the requested densities hold in integer traces too.
        peak = float(np.abs(values).max(initial=0.0)) or 1.0
        steps = np.abs(values.astype(np.float64)) * (np.iinfo(dtype).max / peak)
        values = np.sign(values) * np.maximum(1.0, np.round(steps))
    return np.where(mask, values, 0).astype(dtype)


def layer_shapes(layer_spec, samples=1, index=0):
    """(weight shape, activations shape) of a spec's layer, checked, before anything is drawn."""
    s = layer_spec
    check_layer_name(s.name, f"layer #{index}: ")
    if not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError(f"samples = {samples} is invalid: must be in 1..{MAX_SAMPLES}")
    if s.kind == "linear":
        if s.in_features is None or s.out_features is None:
            raise ConfigError(f"layer '{s.name}': linear needs in_features and out_features")
        weight_shape, act_shape = (s.out_features, s.in_features), (samples, s.in_features)
    else:
        if s.input_shape is None or len(s.input_shape) != 3 or s.filters is None:
            raise ConfigError(f"layer '{s.name}': conv2d needs input_shape [C, H, W] and filters")
        channels = s.input_shape[0]
        if channels % s.groups or s.filters % s.groups:
            raise ConfigError(f"layer '{s.name}': groups={s.groups} must divide channels "
                              f"{channels} and filters {s.filters}")
        weight_shape = (s.filters, channels // s.groups, s.kernel, s.kernel_width or s.kernel)
        act_shape = (samples, *s.input_shape)
    for what, shape in (("weights", weight_shape), ("activations", act_shape)):
        if math.prod(shape) > MAX_ELEMENTS:
            raise ConfigError(f"layer '{s.name}': {what} {list(shape)} have more than "
                              f"{MAX_ELEMENTS} elements")
    return weight_shape, act_shape


# Peak bytes per element drawn (weights and activations of one layer, all samples), on top
# of the arrays already drawn, which stay in memory until the trace is written: measured
# with /usr/bin/time on one 8192 x 8192 linear layer (25 B) and one 16 x 512 x 512 conv
# input (15 B), 2-core AMD EPYC, 2026-12-06, rounded up; drawing ran at 4.5 M elements per second.
BYTES_PER_DRAWN_ELEMENT = 28
DRAWN_PER_SECOND = 4e6
BASE_BYTES = 150 * 2**20


def synthesis_estimate(network, samples=1, dtype="float16"):
    """(peak bytes, seconds) of synthetic_trace(network, samples, dtype=dtype), from the
    spec's shapes alone: the estimate `accelsim synth` is refused on (core.resources)."""
    if not isinstance(network, NetworkSpec):
        network = build(NetworkSpec, network, "synthetic spec: ")
    sizes = [math.prod(w) + math.prod(a) for w, a in
             (layer_shapes(spec, samples, i) for i, spec in enumerate(network.layers))]
    if not sizes:
        return BASE_BYTES, 0.0
    itemsize = np.dtype(dtype).itemsize if dtype in DTYPES else 8
    return (BASE_BYTES + sum(sizes) * itemsize + max(sizes) * BYTES_PER_DRAWN_ELEMENT,
            sum(sizes) / DRAWN_PER_SECOND)


def synthetic_layer(layer_spec, samples=1, seed=0, index=0, pattern="uniform",
                    cluster_size=4, dtype="float16"):
    """Draw one layer: weights (any sign) and ReLU-like non-negative activations."""
    s = layer_spec
    weight_shape, act_shape = layer_shapes(s, samples, index)
    weight_rng = np.random.default_rng([seed, index, 0])
    act_rng = np.random.default_rng([seed, index, 1])
    fan_in = int(np.prod(weight_shape[1:]))
    spatial = pattern == "spatial"
    weight_mask = choose_nonzeros(weight_rng, weight_shape, s.weight_density,
                                  "uniform" if spatial else pattern, cluster_size)
    act_mask = choose_nonzeros(act_rng, act_shape, s.activation_density,
                               "uniform" if spatial and s.kind == "linear" else pattern,
                               cluster_size, per_row=True,
                               smooth_axes=(2, 3) if spatial and s.kind == "conv2d" else None)
    layer = Layer(
        name=s.name, kind=s.kind,
        weight=_values(weight_rng, weight_mask, 1.0 / np.sqrt(fan_in), False, dtype),
        activations=_values(act_rng, act_mask, 1.0, True, dtype),
        stride=s.stride, padding=s.padding, dilation=s.dilation, groups=s.groups,
    )
    check_layer_geometry(layer)
    return layer


def synthetic_trace(network: Union[NetworkSpec, Mapping[str, Any]], samples: int = 1,
                    seed: int = 0, pattern: str = "uniform", cluster_size: int = 4,
                    dtype: str = "float16", progress: Optional[Progress] = None) -> Trace:
    """Build a Trace with chosen per-layer densities from a NetworkSpec or a mapping that
    validates as one (the YAML of `accelsim synth --spec`; see traces/README.md).

    pattern: where non-zeros fall ("uniform" or "clustered" with `cluster_size`); dtype:
    the stored dtype (integer dtypes are quantized, keeping non-zeros non-zero). Seeded.

        trace = accelsim.synthetic_trace({"model": "fc", "layers": [{
            "name": "fc1", "kind": "linear", "in_features": 4096, "out_features": 4096,
            "weight_density": 0.09, "activation_density": 0.35}]})

    progress: None (silent) or a reporter progress(items, description) -> items, such as
    accelsim.tqdm_progress.
    """
    if not isinstance(network, NetworkSpec):
        return synthetic_trace(build(NetworkSpec, network, "synthetic spec: "), samples, seed,
                               pattern, cluster_size, dtype, progress)
    if not 0 <= seed < 2**63:
        raise ConfigError(f"seed = {seed} is invalid: must be in 0..2**63-1")
    if not 1 <= cluster_size <= 1024:
        raise ConfigError(f"cluster size = {cluster_size} is invalid: must be in 1..1024")
    if len(network.layers) > MAX_LAYERS:
        raise ConfigError(f"synthetic spec: {len(network.layers)} layers; the limit is "
                          f"{MAX_LAYERS}")
    progress = progress or no_progress
    layers = [
        synthetic_layer(layer_spec, samples, seed, i, pattern, cluster_size, dtype)
        for i, layer_spec in enumerate(progress(network.layers, f"synth {network.model}"))
    ]
    return Trace(
        layers=layers, model=network.model, variant=network.variant, dataset=network.dataset,
        source=f"accelsim synth: {pattern} pattern, seed {seed}",
        independent_layers=network.independent_layers,
        metadata={
            "synthetic": True, "seed": seed, "pattern": pattern, "cluster_size": cluster_size,
            "description": network.description,
            "requested_density": {
                l.name: {"weight": l.weight_density, "activation": l.activation_density}
                for l in network.layers
            },
        },
    )


# ---------------------------------------------------------------- presets

# EIE paper, Table III: (name, input length, output length, weight %, activation %).
EIE_BENCHMARKS = [
    ("Alex-6", 9216, 4096, 9, 35.1),
    ("Alex-7", 4096, 4096, 9, 35.3),
    ("Alex-8", 4096, 1000, 25, 37.5),
    ("VGG-6", 25088, 4096, 4, 18.3),
    ("VGG-7", 4096, 4096, 4, 37.5),
    ("VGG-8", 4096, 1000, 23, 41.1),
    ("NT-We", 4096, 600, 10, 100),
    ("NT-Wd", 600, 8791, 11, 100),
    ("NT-LSTM", 1201, 2400, 10, 100),
]

# Caffe AlexNet (227x227x3 input): name, input [C, H, W], K, kernel, stride, padding, groups.
ALEXNET_CONV = [
    ("conv1", [3, 227, 227], 96, 11, 4, 0, 1),
    ("conv2", [96, 27, 27], 256, 5, 1, 2, 2),
    ("conv3", [256, 13, 13], 384, 3, 1, 1, 1),
    ("conv4", [384, 13, 13], 384, 3, 1, 1, 2),
    ("conv5", [384, 13, 13], 256, 3, 1, 1, 2),
]
ALEXNET_FC = [("fc6", 9216, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)]

# Per-layer (weight %, input activation %) for conv1-5, fc6-8.
ALEXNET_DENSITIES = {
    "jp": ("JPnet paper, AlexNet table",
           [85, 40, 35, 40, 40, 17.2, 17.2, 31], [100, 69.9, 28.6, 16.4, 13.7, 15, 10, 9.4]),
    "wp": ("Han et al. 2015, AlexNet magnitude pruning",
           [84, 38, 35, 37, 37, 9, 9, 25], [100, 88, 52, 37, 40, 34, 36, 40]),
    "dense": ("dense weights; ReLU activation densities as the WP model's",
              [100] * 8, [100, 88, 52, 37, 40, 34, 36, 40]),
}


def _eie_benchmarks():
    return NetworkSpec(
        model="eie-benchmarks", variant="synthetic", dataset="synthetic",
        description="EIE paper Table III layer sizes and densities",
        independent_layers=True,
        layers=tuple(
            LayerSpec(name=name, kind="linear", in_features=n_in, out_features=n_out,
                      weight_density=wd / 100, activation_density=ad / 100)
            for name, n_in, n_out, wd, ad in EIE_BENCHMARKS
        ),
    )


def alexnet_conv_specs(densities):
    """LayerSpecs of Caffe AlexNet conv1-5, one (weight, activation) density pair per layer."""
    return [LayerSpec(name=name, kind="conv2d", input_shape=shape, filters=k, kernel=r,
                      stride=st, padding=pad, groups=g, weight_density=wd, activation_density=ad)
            for (name, shape, k, r, st, pad, g), (wd, ad) in zip(ALEXNET_CONV, densities)]


def _alexnet(variant):
    source, weight_pct, act_pct = ALEXNET_DENSITIES[variant]
    conv = alexnet_conv_specs([(wd / 100, ad / 100) for wd, ad in zip(weight_pct, act_pct)])
    fc = [
        LayerSpec(name=name, kind="linear", in_features=n_in, out_features=n_out,
                  weight_density=wd / 100, activation_density=ad / 100)
        for (name, n_in, n_out), wd, ad in zip(ALEXNET_FC, weight_pct[5:], act_pct[5:])
    ]
    return NetworkSpec(model="alexnet", variant=variant, dataset="imagenet (synthetic)",
                       description=f"Caffe AlexNet geometry; densities: {source}",
                       layers=tuple(conv + fc))


# SCNN paper, Figure 1: per-layer (input activation density, weight density).
SCNN_ALEXNET = [(1.00, 0.85), (0.94, 0.38), (0.53, 0.35), (0.39, 0.37), (0.43, 0.37)]
# GoogLeNet's nine inception modules (Szegedy et al., CVPR 2015, Table 1): name, input
# [C, H, W], and the filters of #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_MODULES = [
    ("3a", [192, 28, 28], (64, 96, 128, 16, 32, 32)),
    ("3b", [256, 28, 28], (128, 128, 192, 32, 96, 64)),
    ("4a", [480, 14, 14], (192, 96, 208, 16, 48, 64)),
    ("4b", [512, 14, 14], (160, 112, 224, 24, 64, 64)),
    ("4c", [512, 14, 14], (128, 128, 256, 24, 64, 64)),
    ("4d", [512, 14, 14], (112, 144, 288, 32, 64, 64)),
    ("4e", [528, 14, 14], (256, 160, 320, 32, 128, 128)),
    ("5a", [832, 7, 7], (256, 160, 320, 32, 128, 128)),
    ("5b", [832, 7, 7], (384, 192, 384, 48, 128, 128)),
]
INCEPTION_BRANCHES = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
# SCNN paper, Figure 1: (IA, W) density per branch, for modules 3a and 5b only.
INCEPTION_DENSITIES = {
    "3a": ((0.71, 0.38), (0.71, 0.41), (0.66, 0.45), (0.71, 0.36), (0.77, 0.34), (0.96, 0.46)),
    "5b": ((0.31, 0.32), (0.31, 0.33), (0.30, 0.37), (0.31, 0.33), (0.46, 0.35), (0.57, 0.31)),
}
# VGG-16 conv1_1..conv5_3 (3x3, padding 1): name, [C, H, W], K.
VGG16_CONV = [("conv1_1", [3, 224, 224], 64), ("conv1_2", [64, 224, 224], 64),
              ("conv2_1", [64, 112, 112], 128), ("conv2_2", [128, 112, 112], 128),
              ("conv3_1", [128, 56, 56], 256), ("conv3_2", [256, 56, 56], 256),
              ("conv3_3", [256, 56, 56], 256), ("conv4_1", [256, 28, 28], 512),
              ("conv4_2", [512, 28, 28], 512), ("conv4_3", [512, 28, 28], 512),
              ("conv5_1", [512, 14, 14], 512), ("conv5_2", [512, 14, 14], 512),
              ("conv5_3", [512, 14, 14], 512)]
SCNN_VGG16 = list(zip([1.00, .51, .90, .79, .81, .64, .69, .71, .50, .45, .39, .33, .31],
                      [.57, .22, .34, .36, .53, .24, .42, .32, .27, .34, .35, .29, .36]))
DENSITY_SWEEP = [round(0.1 * step, 1) for step in range(1, 11)]


def _scnn_alexnet():
    layers = alexnet_conv_specs([(wd, ad) for ad, wd in SCNN_ALEXNET])
    return NetworkSpec(model="alexnet", variant="scnn-paper", dataset="imagenet (synthetic)",
                       description="Caffe AlexNet conv1-5; densities: SCNN paper Figure 1",
                       layers=tuple(layers))


def inception_conv_specs(densities=None):
    """LayerSpecs of GoogLeNet's 54 inception conv layers, in module order. `densities`:
    (weight, activation) for every layer; by default Figure 1's for 3a and 5b, and for the
    seven modules between them, which Figure 1 does not show, each branch's densities
    interpolated linearly in module depth between its 3a and 5b values (an assumption)."""
    layers = []
    for depth, (module, (channels, height, width), filters) in enumerate(INCEPTION_MODULES):
        reduce_3x3, reduce_5x5 = filters[1], filters[3]
        # Each branch's input: the module's input, or its own reduce layer's output.
        inputs = (channels, channels, reduce_3x3, channels, reduce_5x5, channels)
        for branch, (name, k, c) in enumerate(zip(INCEPTION_BRANCHES, filters, inputs)):
            kernel = 5 if name == "5x5" else 3 if name == "3x3" else 1
            if densities is None:
                share = depth / (len(INCEPTION_MODULES) - 1)
                (ad0, wd0), (ad1, wd1) = (INCEPTION_DENSITIES[m][branch] for m in ("3a", "5b"))
                weight, act = (round(a + share * (b - a), 4) for a, b in ((wd0, wd1), (ad0, ad1)))
            else:
                weight, act = densities
            layers.append(LayerSpec(name=f"{module}/{name}", kind="conv2d",
                                    input_shape=[c, height, width], filters=k, kernel=kernel,
                                    padding=kernel // 2, weight_density=weight,
                                    activation_density=act))
    return layers


def _googlenet_inception():
    # Not independent layers: the modules form a network whose activations stay on chip
    # where the buffers hold them (SCNN paper, section 5), like any other network here.
    return NetworkSpec(model="googlenet", variant="scnn-paper", dataset="imagenet (synthetic)",
                       description="GoogLeNet's 54 inception conv layers (3a-5b); densities: "
                                   "SCNN paper Figure 1 for 3a and 5b, interpolated between",
                       layers=tuple(inception_conv_specs()))


def _vgg16_scnn():
    layers = [LayerSpec(name=name, kind="conv2d", input_shape=shape, filters=k, kernel=3,
                        padding=1, weight_density=wd, activation_density=ad)
              for (name, shape, k), (ad, wd) in zip(VGG16_CONV, SCNN_VGG16)]
    return NetworkSpec(model="vgg16", variant="scnn-paper", dataset="imagenet (synthetic)",
                       description="VGG-16 conv1_1-conv5_3; densities: SCNN paper Figure 1",
                       layers=tuple(layers))


def _density_sweep():
    # The points run back to back as one network; compare the PE arrays' cycles
    # (cycles_compute), as the paper's sweep does.
    layers = [dataclasses.replace(spec, name=f"d{density:.1f}/{spec.name}")
              for density in DENSITY_SWEEP
              for spec in inception_conv_specs((density, density))]
    return NetworkSpec(model="density-sweep", variant="synthetic", dataset="synthetic",
                       description="GoogLeNet's 54 inception conv layers at weight and "
                                   "activation density 0.1-1.0 (SCNN paper, Figure 8); layers "
                                   "d<density>/<module>/<branch>", layers=tuple(layers))


PRESETS = {
    "alexnet-scnn": _scnn_alexnet,
    "googlenet-inception": _googlenet_inception,
    "vgg16-scnn": _vgg16_scnn,
    "density-sweep": _density_sweep,
    "eie-benchmarks": _eie_benchmarks,
    "alexnet-jp": lambda: _alexnet("jp"),
    "alexnet-wp": lambda: _alexnet("wp"),
    "alexnet-dense": lambda: _alexnet("dense"),
}


def preset_spec(name):
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r} is unknown: must be one of {', '.join(PRESETS)}")
    return PRESETS[name]()
