import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.workload.macs import layer_macs
from accelsim.workload.synth import (
    ALEXNET_DENSITIES,
    EIE_BENCHMARKS,
    LayerSpec,
    choose_nonzeros,
    preset_spec,
    synthetic_layer,
    synthetic_trace,
)


@pytest.mark.parametrize("pattern", ["uniform", "clustered"])
@pytest.mark.parametrize("density", [0.0, 0.031, 0.5, 1.0])
def test_exact_density(pattern, density):
    mask = choose_nonzeros(np.random.default_rng(1), (3, 16, 20, 20), density, pattern, per_row=True)
    per_sample = mask.reshape(3, -1).sum(axis=1)
    assert (per_sample == round(density * 16 * 400)).all()


def test_clustered_nonzeros_have_more_nonzero_neighbours():
    def neighbour_agreement(mask):
        return (mask[:, :, 1:] == mask[:, :, :-1]).mean()

    rng = np.random.default_rng(0)
    uniform = choose_nonzeros(rng, (8, 32, 32), 0.3, "uniform")
    clustered = choose_nonzeros(rng, (8, 32, 32), 0.3, "clustered")
    assert neighbour_agreement(clustered) > neighbour_agreement(uniform) + 0.1


def test_same_seed_same_bytes_other_seed_other_bytes():
    spec = {"model": "m", "layers": [
        {"name": "c", "kind": "conv2d", "input_shape": [4, 9, 9], "filters": 6, "kernel": 3,
         "padding": 1, "weight_density": 0.4, "activation_density": 0.3},
        {"name": "f", "kind": "linear", "in_features": 30, "out_features": 5,
         "weight_density": 0.2, "activation_density": 0.5}]}
    a, b, c = (synthetic_trace(spec, samples=2, seed=s, pattern="clustered") for s in (5, 5, 6))
    for la, lb, lc in zip(a.layers, b.layers, c.layers):
        assert la.weight.tobytes() == lb.weight.tobytes()
        assert la.activations.tobytes() == lb.activations.tobytes()
        assert la.activations.tobytes() != lc.activations.tobytes()


def test_values_survive_float16_and_activations_are_non_negative():
    spec = LayerSpec(name="f", kind="linear", in_features=5000, out_features=40,
                     weight_density=0.1, activation_density=0.35)
    layer = synthetic_layer(spec, samples=3, dtype="float16")
    macs = layer_macs(layer)
    assert macs.weight_density == pytest.approx(0.1, abs=1e-4)
    assert np.allclose(macs.activation_density, 0.35, atol=1e-4)
    assert (layer.activations >= 0).all()


def test_bad_spec_names_the_field():
    with pytest.raises(ConfigError, match=r"layers\[0\].weight_density = 1.5 .*<= 1"):
        synthetic_trace({"model": "m", "layers": [
            {"name": "f", "kind": "linear", "in_features": 3, "out_features": 2,
             "weight_density": 1.5, "activation_density": 0.5}]})
    with pytest.raises(ConfigError, match="preset 'vgg' is unknown"):
        preset_spec("vgg")


def test_presets_have_the_paper_geometry():
    eie = preset_spec("eie-benchmarks")
    assert [(l.name, l.in_features, l.out_features) for l in eie.layers] == [
        (name, n_in, n_out) for name, n_in, n_out, _, _ in EIE_BENCHMARKS]
    alexnet = synthetic_trace(preset_spec("alexnet-jp"), seed=0)
    shapes = [(l.name, l.input_shape, l.output_shape, l.groups) for l in alexnet.layers]
    assert shapes == [
        ("conv1", (3, 227, 227), (96, 55, 55), 1), ("conv2", (96, 27, 27), (256, 27, 27), 2),
        ("conv3", (256, 13, 13), (384, 13, 13), 1), ("conv4", (384, 13, 13), (384, 13, 13), 2),
        ("conv5", (384, 13, 13), (256, 13, 13), 2), ("fc6", (9216,), (4096,), 1),
        ("fc7", (4096,), (4096,), 1), ("fc8", (4096,), (1000,), 1)]
    _, weight_pct, act_pct = ALEXNET_DENSITIES["jp"]
    for layer, wd, ad in zip(alexnet.layers, weight_pct, act_pct):
        macs = layer_macs(layer)
        if layer.weight.size >= 100_000:
            assert abs(100 * macs.weight_density - wd) < 0.5, layer.name
        if layer.activations.size >= 100_000:
            assert abs(100 * macs.activation_density[0] - ad) < 0.5, layer.name


def test_spatial_pattern_clusters_in_the_plane_not_across_channels():
    rng = np.random.default_rng(0)
    spatial = choose_nonzeros(rng, (1, 64, 24, 24), 0.5, "spatial", 4, per_row=True,
                              smooth_axes=(2, 3))[0]
    # Neighbours in the plane agree more often than neighbours across channels.
    along_plane = (spatial[:, 1:, :] == spatial[:, :-1, :]).mean()
    across_channels = (spatial[1:] == spatial[:-1]).mean()
    assert along_plane > 0.6 and abs(across_channels - 0.5) < 0.05


@pytest.mark.parametrize("preset,count", [("alexnet-scnn", 5), ("googlenet-inception", 54),
                                          ("vgg16-scnn", 13)])
def test_scnn_paper_presets_have_figure_1_densities(preset, count):
    spec = preset_spec(preset)
    trace = synthetic_trace(spec, seed=0)
    assert len(trace.layers) == count
    assert not trace.independent_layers
    for layer, layer_spec in zip(trace.layers, spec.layers):
        assert abs(np.count_nonzero(layer.weight) / layer.weight.size
                   - layer_spec.weight_density) < 0.005
        acts = np.asarray(layer.activations)
        assert abs(np.count_nonzero(acts) / acts.size - layer_spec.activation_density) < 0.005
    if preset == "googlenet-inception":
        (layer,) = [l for l in trace.layers if l.name == "5b/5x5"]
        assert layer.weight.shape == (128, 48, 5, 5) and layer.output_shape == (128, 7, 7)
        # The paper's sweep workload: 1.1 billion multiplies (SCNN paper, Table 1).
        assert abs(sum(l.weight.size * np.prod(l.output_shape[1:]) for l in trace.layers)
                   - 1.104e9) < 1e6


def test_density_sweep_is_the_inception_layers_at_each_density():
    spec = preset_spec("density-sweep")
    assert len(spec.layers) == 10 * 54
    by_density = {}
    for layer in spec.layers:
        assert layer.weight_density == layer.activation_density
        by_density.setdefault(layer.name.split("/")[0], []).append(layer)
    assert sorted(by_density) == [f"d{0.1 * step:.1f}" for step in range(1, 11)]
    geometry = {(l.name, tuple(l.input_shape), l.filters, l.kernel)
                for l in preset_spec("googlenet-inception").layers}
    for layers in by_density.values():
        assert {(l.name.split("/", 1)[1], tuple(l.input_shape), l.filters, l.kernel)
                for l in layers} == geometry
