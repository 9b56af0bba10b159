"""The systolic machine: SCALE-Sim's compute cycles, by formula, by cycle-level reference and
against SCALE-Sim's own output (golden file from benchmarks/scalesim_peer.py)."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, random_conv_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import Layer, Trace, load_arch
from accelsim.sim.machines import MACHINES
from accelsim.sim.machines.systolic import systolic_cycles, systolic_cycles_reference
from accelsim.sim.simulator import simulate
from accelsim.workload.macs import effective_macs
from accelsim.workload.synth import NetworkSpec, synthetic_trace
from accelsim.workload.topology import scalesim_row

GOLDEN = ROOT / "tests" / "golden" / "scalesim_cycles.csv"
PEER_SCRIPT = ROOT / "benchmarks" / "scalesim_peer.py"


def arch(dataflow, **overrides):
    return load_arch(ROOT / "arch_configs" / "systolic.yaml",
                     {"systolic.dataflow": dataflow, **overrides})


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30), st.integers(1, 8),
       st.integers(1, 8), st.sampled_from(["os", "ws", "is"]))
def test_formula_equals_the_cycle_level_reference(m, n, k, rows, cols, dataflow):
    assert systolic_cycles(m, n, k, rows, cols, dataflow) == systolic_cycles_reference(
        m, n, k, rows, cols, dataflow)


def test_cycles_by_hand():
    # One fold: os T + R + C - 2 = 4 + 4 + 4 - 2 = 10, minus SCALE-Sim's 1 -> 9.
    assert systolic_cycles(4, 4, 4, 4, 4, "os") == 9
    # ws, K = 8 rows on a 4 x 4 array: 2 folds x (2*4 + 4 + 5 - 2) - 1 = 29.
    assert systolic_cycles(5, 3, 8, 4, 4, "ws") == 29
    # is, M = 6 columns on 4: 2 folds x (8 + 4 + 3 - 2) - 1 = 25 (a partial fold costs as much).
    assert systolic_cycles(6, 3, 4, 4, 4, "is") == 25


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from(["os", "ws", "is"]), st.integers(1, 2),
       st.integers(1, 2), st.integers(0, 1), st.booleans())
def test_layer_counts_match_the_reference(seed, dataflow, groups, stride, padding, gating):
    layer = random_conv_layer(np.random.default_rng(seed), samples=1, channels=2 * groups,
                              filters=3 * groups, size=5, stride=stride, padding=padding,
                              groups=groups)
    config = arch(dataflow, **{"systolic.rows": 3, "systolic.cols": 4,
                               "systolic.zero_gating": gating})
    machine = MACHINES["systolic"]
    eff = int(effective_macs(layer)[0])
    fast = machine.layer_counts(layer, 0, config, eff)
    slow = machine.layer_counts(layer, 0, config, eff, reference=True)
    assert fast == slow
    assert fast.ops_executed == layer.weight.size * layer.output_shape[1] * layer.output_shape[2]
    assert fast.actions["mac"] + fast.actions["mac_gated"] == fast.ops_executed
    assert fast.actions["mac"] == (eff if gating else fast.ops_executed)


def test_zeros_cost_no_cycles_but_gate_energy():
    rng = np.random.default_rng(0)
    dense = random_conv_layer(rng, samples=1, weight_density=1.0, act_density=1.0)
    sparse = Layer("conv", "conv2d", dense.weight * (rng.random(dense.weight.shape) < 0.3),
                   dense.activations, padding=1)
    a, b = (simulate(arch("ws"), Trace([layer])).iloc[0] for layer in (dense, sparse))
    assert a.cycles_compute == b.cycles_compute
    assert b.energy_mac_pj < 0.5 * a.energy_mac_pj


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_edge_words_follow_the_array_shape(dataflow):
    # 64 filters over 256 pixels: a 32 x 64 array moves the same words as a 32 x 32 one, in
    # half the folds, so it touches the same number of 512-bit banks.
    layer = random_conv_layer(np.random.default_rng(0), samples=1, channels=16, filters=64,
                              size=16, kernel=3)
    machine = MACHINES["systolic"]
    eff = int(effective_macs(layer)[0])
    square = machine.layer_counts(layer, 0, arch(dataflow), eff).actions
    wide = machine.layer_counts(layer, 0, arch(dataflow, **{"systolic.cols": 64}), eff).actions
    preloaded = {"os": "read:filter", "ws": "read:filter", "is": "read:ifmap"}[dataflow]
    assert wide[preloaded] == square[preloaded] > 0


def _golden_rows():
    with open(GOLDEN) as handle:
        return list(csv.DictReader(handle))


def test_golden_file_covers_the_agreed_layers():
    rows = _golden_rows()
    layers = {row["layer"] for row in rows}
    assert {"conv1", "conv2", "conv3", "conv4", "conv5"} <= layers and len(layers) >= 8
    assert {row["dataflow"] for row in rows} == {"os", "ws", "is"}
    assert all(int(row["scalesim_stall_cycles"]) == 0 for row in rows)  # bandwidth mode CALC


def test_cycles_equal_scalesim_on_every_golden_layer():
    sys.path.insert(0, str(PEER_SCRIPT.parent))
    from scalesim_peer import LAYERS
    trace = synthetic_trace(NetworkSpec(model="peer", layers=LAYERS, independent_layers=True))
    by_name = {layer.name: layer for layer in trace.layers}
    for row in _golden_rows():
        layer = by_name[row["layer"]]
        topology = scalesim_row(layer)
        assert [str(v) for v in topology[1:]] == [row[k] for k in (
            "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride")]
        ours = simulate(arch(row["dataflow"]), Trace([layer])).iloc[0]
        assert ours.cycles_compute == int(row["scalesim_cycles"]), (row["layer"], row["dataflow"])


@pytest.mark.peers
def test_scalesim_live(tmp_path):
    """Installs SCALE-Sim 3.0.0 in its own venv (PyPI) and reruns it on three small layers."""
    out = tmp_path / "peer.csv"
    subprocess.run([sys.executable, str(PEER_SCRIPT), "--venv", str(tmp_path / "venv"),
                    "--layers", "stride2_odd,partial_window,pointwise", "--out", str(out)],
                   check=True, timeout=1800)
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9
    assert all(row["scalesim_cycles"] == row["accelsim_cycles"] for row in rows)
