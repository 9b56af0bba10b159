"""Machine models: Numba kernels against their plain-Python references, and hand-computed cases."""

import dataclasses
import math

import numpy as np
import pytest
from conftest import ROOT, random_conv_layer, random_linear_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim import Layer, Trace, load_arch
from accelsim.sim.machines import MACHINES
from accelsim.sim.machines.eie_kernels import encode_column, pe_entries
from accelsim.sim.simulator import simulate
from accelsim.workload.macs import effective_macs

ARCH = {name: load_arch(ROOT / "arch_configs" / f"{name}.yaml") for name in MACHINES}


def with_params(machine, **params):
    arch = ARCH[machine]
    return dataclasses.replace(arch, params=dataclasses.replace(arch.params, **params))


def counts(machine, arch, layer, sample=0, reference=False):
    threshold = MACHINES[machine].activation_threshold(arch)
    eff = int(effective_macs(layer, threshold)[sample])
    return MACHINES[machine].layer_counts(layer, sample, arch, eff, reference)


def assert_same(a, b):
    assert dataclasses.asdict(a) == dataclasses.asdict(b)


layers = st.builds(
    lambda kind, seed, groups, cpg, fpg, kernel, stride, padding, dilation, size, wd, ad: (
        random_linear_layer(np.random.default_rng(seed), samples=1, n_in=cpg * 7, n_out=fpg * 5,
                            weight_density=wd, act_density=ad)
        if kind == "linear" or (kernel - 1) * dilation + 1 > size + 2 * padding else
        random_conv_layer(np.random.default_rng(seed), samples=1, channels=groups * cpg,
                          size=size, filters=groups * fpg, kernel=kernel, stride=stride,
                          padding=padding, dilation=dilation, groups=groups,
                          weight_density=wd, act_density=ad)),
    st.sampled_from(["conv2d", "conv2d", "linear"]), st.integers(0, 2**31),
    st.sampled_from([1, 2]), st.integers(1, 20), st.integers(1, 12), st.integers(1, 3),
    st.integers(1, 2), st.integers(0, 1), st.integers(1, 2), st.integers(3, 7),
    st.floats(0, 1), st.floats(0, 1))

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(layers, st.integers(1, 3), st.integers(1, 8), st.integers(1, 6), st.booleans())
def test_dense_kernel_matches_reference(layer, tiles, neuron_lanes, filter_lanes, gating):
    arch = with_params("dense", tiles=tiles, neuron_lanes=neuron_lanes, filter_lanes=filter_lanes,
                       zero_gating=gating)
    assert_same(counts("dense", arch, layer), counts("dense", arch, layer, reference=True))


@FAST
@given(layers, st.integers(1, 3), st.integers(1, 8), st.integers(1, 6),
       st.sampled_from(["window", "brick"]), st.integers(0, 1), st.sampled_from([0.0, 0.5]),
       st.integers(1, 3))
def test_cnvlutin_kernel_matches_reference(layer, tiles, neuron_lanes, filter_lanes, sync,
                                           empty, threshold, offset_bits):
    arch = with_params("cnvlutin", tiles=tiles, neuron_lanes=neuron_lanes,
                       filter_lanes=filter_lanes, sync=sync, empty_brick_cycles=empty,
                       activation_threshold=threshold, offset_bits=offset_bits)
    assert_same(counts("cnvlutin", arch, layer), counts("cnvlutin", arch, layer, reference=True))


@FAST
@given(layers, st.integers(1, 9), st.integers(1, 5), st.integers(1, 4), st.integers(0, 4))
def test_eie_kernel_matches_reference(layer, pes, fifo_depth, index_bits, pipeline_depth):
    arch = with_params("eie", pes=pes, fifo_depth=fifo_depth, index_bits=index_bits,
                       pipeline_depth=pipeline_depth)
    assert_same(counts("eie", arch, layer), counts("eie", arch, layer, reference=True))


@settings(max_examples=100, deadline=None)
@given(layers, st.integers(1, 8), st.sampled_from(["window", "brick"]), st.integers(0, 1))
def test_cnvlutin_never_slower_than_dense(layer, neuron_lanes, sync, empty):
    dense = counts("dense", with_params("dense", neuron_lanes=neuron_lanes), layer)
    cnv = counts("cnvlutin", with_params("cnvlutin", neuron_lanes=neuron_lanes, sync=sync,
                                         empty_brick_cycles=empty), layer)
    assert cnv.cycles_compute <= dense.cycles_compute


@pytest.mark.parametrize("sync", ["window", "brick"])
def test_cnvlutin_without_zeros_equals_dense(sync):
    rng = np.random.default_rng(4)
    for channels, groups in ((20, 1), (48, 2), (3, 1), (256, 1)):
        layer = random_conv_layer(rng, channels=channels, groups=groups, filters=2 * groups,
                                  size=6, act_density=1.0, padding=0)
        dense = counts("dense", ARCH["dense"], layer)
        cnv = counts("cnvlutin", with_params("cnvlutin", sync=sync), layer)
        assert cnv.cycles_compute == dense.cycles_compute


def test_dense_cycle_formula_by_hand():
    # K=40, C=20, R=S=3, 7x7 input, pad 1 -> P=Q=7; T=2, Tm=4, Tn=8:
    # ceil(40/8) * 49 * 9 * ceil(20/8) = 5 * 49 * 9 * 3 = 6615 cycles.
    layer = random_conv_layer(np.random.default_rng(0), channels=20, filters=40, size=7)
    arch = with_params("dense", tiles=2, filter_lanes=4, neuron_lanes=8)
    assert counts("dense", arch, layer).cycles_compute == 6615
    # Two groups: each 20 filters over 10 channels: 2 * ceil(20/8) * 49 * 9 * ceil(10/8) = 5292.
    grouped = random_conv_layer(np.random.default_rng(0), channels=20, filters=40, size=7, groups=2)
    assert counts("dense", arch, grouped).cycles_compute == 2 * 3 * 49 * 9 * 2
    # Linear 100 -> 30 on 16x16x16: ceil(30/256) * ceil(100/16) = 7.
    fc = random_linear_layer(np.random.default_rng(0), n_in=100, n_out=30)
    assert counts("dense", ARCH["dense"], fc).cycles_compute == 7
    assert counts("dense", ARCH["dense"], fc).ops_executed == 3000


def test_eie_padding_example_from_the_paper():
    column = [0, 0, 1, 2] + [0] * 18 + [3]
    assert encode_column(column, 4) == ([1, 2, 0, 3], [2, 0, 15, 2])
    matrix = np.array(column, dtype=np.float32)[:, None]
    assert pe_entries(matrix, 1, 4).tolist() == [[4]]


@pytest.mark.parametrize("seed", range(5))
def test_eie_one_pe_unbounded_fifo_takes_one_cycle_per_entry(seed):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((200, 30)).astype(np.float32)
    weight[rng.random(weight.shape) < 0.9] = 0
    weight[0] = 1  # every column holds at least one entry
    acts = np.abs(rng.standard_normal((1, 30))).astype(np.float32)
    acts[0, rng.random(30) < 0.4] = 0
    layer = Layer("fc", "linear", weight, acts)
    arch = with_params("eie", pes=1, fifo_depth=1000, index_bits=2, pipeline_depth=0)
    entries = pe_entries(weight, 1, 2)[0]
    result = counts("eie", arch, layer)
    assert result.cycles_compute == entries[acts[0] != 0].sum()
    assert entries.sum() > np.count_nonzero(weight)  # padding entries were counted


def test_eie_empty_column_costs_its_pointer_cycle_by_hand():
    # One PE, columns holding 3, 0, 0, 0 and 3 entries, every input non-zero: each pop reads
    # the column's pointers, so 3 + 1 + 1 + 1 + 3 = 9 cycles (free empty columns would give 7).
    weight = np.zeros((6, 5), np.float32)
    weight[:3, 0] = weight[3:, 4] = 1
    layer = Layer("fc", "linear", weight, np.ones((1, 5), np.float32))
    arch = with_params("eie", pes=1, fifo_depth=8, pipeline_depth=0)
    assert counts("eie", arch, layer).cycles_compute == 9
    assert counts("eie", arch, layer, reference=True).cycles_compute == 9


def test_eie_fifo_depth_one_is_lockstep_by_hand():
    # Two PEs (rows 0, 2, 4 and rows 1, 3, 5). Column 0: 3 entries on PE 0, 1 on PE 1;
    # column 1: 1 and 3. An activation holds its slot until processed, so with depth 1 the
    # second broadcast waits for both PEs to finish column 0: 3 + 3 = 6 cycles. With depth 2
    # each PE works through its own queue: 3 + 1 = 1 + 3 = 4 cycles.
    weight = np.zeros((6, 2), np.float32)
    weight[[0, 2, 4, 1], 0] = 1
    weight[[0, 1, 3, 5], 1] = 1
    layer = Layer("fc", "linear", weight, np.ones((1, 2), np.float32))
    for depth, expected in ((1, 6), (2, 4)):
        arch = with_params("eie", pes=2, fifo_depth=depth, pipeline_depth=0)
        assert counts("eie", arch, layer).cycles_compute == expected
        assert counts("eie", arch, layer, reference=True).cycles_compute == expected


@pytest.mark.parametrize("seed", range(5))
def test_eie_one_pe_takes_max_entries_or_one_cycle_per_active_column(seed):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((40, 30)).astype(np.float32)
    weight[rng.random(weight.shape) < 0.97] = 0  # many empty columns
    acts = np.abs(rng.standard_normal((1, 30))).astype(np.float32)
    acts[0, rng.random(30) < 0.3] = 0
    layer = Layer("fc", "linear", weight, acts)
    arch = with_params("eie", pes=1, fifo_depth=1000, pipeline_depth=0)
    entries = pe_entries(weight, 1, 4)[0][acts[0] != 0]
    assert (entries == 0).any()
    assert counts("eie", arch, layer).cycles_compute == np.maximum(entries, 1).sum()


def test_eie_load_efficiency_is_one_for_equal_work():
    rng = np.random.default_rng(1)
    weight = np.ones((64 * 3, 50), np.float32)
    acts = np.abs(rng.standard_normal((1, 50))).astype(np.float32)
    acts[0, ::3] = 0
    result = counts("eie", ARCH["eie"], Layer("fc", "linear", weight, acts))
    assert result.cycles_compute - ARCH["eie"].params.pipeline_depth == 3 * np.count_nonzero(acts)
    assert result.cycles_ideal == result.cycles_compute


def test_eie_small_fifo_stalls_on_imbalance():
    # PE 0 owns every non-zero: with depth 1 the broadcast waits for it, deeper FIFOs hide nothing
    # here because work is serial on PE 0, but a balanced column order lets depth matter.
    rng = np.random.default_rng(2)
    weight = np.zeros((2, 40), np.float32)
    weight[0, ::2] = rng.random(20) + 1   # even columns: PE 0 busy
    weight[1, 1::2] = rng.random(20) + 1  # odd columns: PE 1 busy
    weight[:, ::4] = 1                    # some columns load both PEs
    acts = np.ones((1, 40), np.float32)
    layer = Layer("fc", "linear", weight, acts)
    cycles = [counts("eie", with_params("eie", pes=2, fifo_depth=d, pipeline_depth=0),
                     layer).cycles_compute for d in (1, 2, 8)]
    assert cycles[0] >= cycles[1] >= cycles[2]
    assert cycles[2] >= math.ceil(pe_entries(weight, 2, 4).sum() / 2)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_macs_effective_equals_exact_count_on_every_layer(machine):
    rng = np.random.default_rng(9)
    trace = Trace([random_conv_layer(rng, "c1", samples=3, channels=4, groups=2, stride=2),
                   random_conv_layer(rng, "c2", samples=3, channels=6, dilation=2, padding=2),
                   random_linear_layer(rng, "f1", samples=3)])
    table = simulate(ARCH[machine], trace, per_sample=True)
    for layer in trace.layers:
        rows = table[table.layer == layer.name].sort_values("sample")
        assert rows.macs_effective.tolist() == effective_macs(layer).tolist()
        assert rows.macs_effective.dtype.kind == "i" and rows.cycles_total.dtype.kind == "i"


def test_zero_gating_saves_energy_not_cycles():
    layer = random_conv_layer(np.random.default_rng(3), weight_density=0.3, act_density=0.4)
    plain = counts("dense", ARCH["dense"], layer)
    gated = counts("dense", with_params("dense", zero_gating=True), layer)
    assert gated.cycles_compute == plain.cycles_compute
    assert gated.actions["mac"] == gated.macs_effective < plain.actions["mac"]
    assert gated.actions["mac"] + gated.actions["mac_gated"] == plain.actions["mac"]


def test_results_are_deterministic():
    rng = np.random.default_rng(5)
    trace = Trace([random_conv_layer(rng, "c"), random_linear_layer(rng, "f")])
    for machine in MACHINES:
        a, b = simulate(ARCH[machine], trace), simulate(ARCH[machine], trace)
        assert a.equals(b)


def test_a_layers_consumer_is_the_next_layer_that_reads_its_output():
    from accelsim.sim.simulator import consumer
    rng = np.random.default_rng(0)
    a = random_conv_layer(rng, "a", samples=1, channels=4, filters=8)
    b = random_conv_layer(rng, "b", samples=1, channels=8, filters=6)   # reads a
    c = random_conv_layer(rng, "c", samples=1, channels=8, filters=4)   # reads a, not b
    d = random_linear_layer(rng, samples=1, n_in=4 * 9, n_out=3)        # c, flattened, pooled
    trace = Trace([a, b, c, d])
    assert [consumer(trace, i) for i in range(4)] == [b, None, d, None]
    assert consumer(Trace([a, b], independent_layers=True), 0) is None


@FAST
@given(layers, st.integers(1, 3), st.integers(1, 8), st.integers(1, 6))
def test_tile_array_occupancy_is_what_the_dense_machine_achieves(layer, tiles, neuron_lanes,
                                                                 filter_lanes):
    """The occupancy the notes quote is a bound from the shape alone; on the dense machine,
    which executes every MAC, it is exactly dense MACs over MAC units x cycles."""
    from accelsim.sim.machines.dense import tile_array_occupancy
    from accelsim.workload.macs import dense_macs

    arch = with_params("dense", tiles=tiles, neuron_lanes=neuron_lanes, filter_lanes=filter_lanes)
    result = counts("dense", arch, layer)
    share, _ = tile_array_occupancy(layer, arch.params)
    assert math.isclose(share, dense_macs(layer) / (result.mac_units * result.cycles_compute))


def test_notes_name_the_shapes_a_machine_runs_far_below_its_peak():
    rng = np.random.default_rng(0)
    depthwise = random_conv_layer(rng, "dw", channels=32, filters=32, groups=32, size=14)
    pointwise = random_conv_layer(rng, "pw", channels=32, filters=256, kernel=1, size=14)
    fc = random_linear_layer(rng, "fc", samples=2, n_in=64, n_out=10)
    trace = Trace([depthwise, pointwise, fc])
    notes = {machine: dict(zip(table["layer"], table["notes"]))
             for machine in ("dense", "cnvlutin", "systolic", "eie")
             for table in [simulate(ARCH[machine], trace)]}
    # 16 tiles x 16 filter lanes x 16 neuron lanes: a depthwise conv fills one multiplier.
    assert notes["dense"]["dw"] == (
        "depthwise conv: 1 input channel(s) per group for 16 neuron lanes and 1 filter(s) per "
        "group for 256 filter lanes: at most 0.000244 of the MAC units busy")
    assert notes["cnvlutin"]["dw"] == notes["dense"]["dw"]
    assert notes["dense"]["pw"] == "" and notes["dense"]["TOTAL"] == ""
    # 32 x 32 output-stationary array: one output row of a batch-1 FC layer.
    assert notes["systolic"]["fc"] == ("batch-1 FC: M = 1 output row for 32 array rows: "
                                       "at most 0.00977 of the MAC units busy")
    assert set(notes["eie"].values()) == {""}  # EIE states no occupancy
