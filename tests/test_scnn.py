"""SCNN and DCNN: Numba kernels against their references, and hand-computed cases."""

import dataclasses

import numpy as np
import pytest
from conftest import ROOT, random_conv_layer, random_linear_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim import Layer, load_arch
from accelsim.sim.machines import MACHINES
from accelsim.workload.macs import effective_macs

ARCH = {name: load_arch(ROOT / "arch_configs" / f"{name}.yaml") for name in ("scnn", "dcnn")}


def with_params(machine, **params):
    arch = ARCH[machine]
    return dataclasses.replace(arch, params=dataclasses.replace(arch.params, **params))


def counts(machine, arch, layer, reference=False):
    threshold = MACHINES[machine].activation_threshold(arch)
    eff = int(effective_macs(layer, threshold)[0])
    return MACHINES[machine].layer_counts(layer, 0, arch, eff, reference)


layers = st.builds(
    lambda seed, groups, cpg, fpg, kernel, stride, padding, dilation, size, wd, ad, linear: (
        random_linear_layer(np.random.default_rng(seed), samples=1, n_in=cpg * 5, n_out=fpg * 3,
                            weight_density=wd, act_density=ad)
        if linear or (kernel - 1) * dilation + 1 > size + 2 * padding else
        random_conv_layer(np.random.default_rng(seed), samples=1, channels=groups * cpg,
                          size=size, filters=groups * fpg, kernel=kernel, stride=stride,
                          padding=padding, dilation=dilation, groups=groups,
                          weight_density=wd, act_density=ad)),
    st.integers(0, 2**31), st.sampled_from([1, 2]), st.integers(1, 4), st.integers(1, 6),
    st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
    st.integers(2, 10), st.floats(0, 1), st.floats(0, 1), st.booleans())
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(layers, st.integers(1, 3), st.integers(1, 3), st.integers(1, 4),
       st.sampled_from([1, 2, 3, 4, 15, 16, 17]),
       st.sampled_from([1, 3, 4, 8, 32, 39, 62, 63, 64, 70]), st.integers(0, 3), st.integers(1, 4),
       st.integers(1, 5), st.integers(1, 8))
def test_scnn_kernel_matches_reference(layer, pe_rows, pe_cols, f, i, banks, kc, index_bits,
                                       queue, fifo):
    arch = with_params("scnn", pe_rows=pe_rows, pe_cols=pe_cols, weights_per_vector=f,
                       activations_per_vector=i, accumulator_banks=banks, kc=kc,
                       index_bits=index_bits, bank_queue=queue, weight_fifo_entries=fifo)
    fast, slow = counts("scnn", arch, layer), counts("scnn", arch, layer, reference=True)
    assert fast == slow
    assert fast.ops_executed >= fast.macs_effective  # products on no output are still computed


@SETTINGS
@given(layers, st.integers(1, 3), st.integers(1, 3), st.integers(1, 20))
def test_dcnn_closed_form_matches_reference(layer, pe_rows, pe_cols, multipliers):
    arch = with_params("dcnn", pe_rows=pe_rows, pe_cols=pe_cols, multipliers=multipliers)
    assert counts("dcnn", arch, layer) == counts("dcnn", arch, layer, reference=True)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 5), st.integers(1, 5), st.integers(0, 3), st.integers(0, 3),
       st.integers(1, 2), st.integers(1, 4), st.integers(1, 4))
def test_every_product_lands_in_its_pes_accumulator_window(height, width, stride_h, stride_w,
                                                           kernel_r, kernel_s, pad_h, pad_w,
                                                           dilation, pe_rows, pe_cols):
    from accelsim.sim.machines.planar_tiling import output_owner, tile_bounds
    from accelsim.sim.machines.scnn import accumulator_windows
    if (kernel_r - 1) * dilation + 1 > height + 2 * pad_h or \
            (kernel_s - 1) * dilation + 1 > width + 2 * pad_w:
        return
    layer = Layer("c", "conv2d", np.ones((1, 1, kernel_r, kernel_s), np.float32),
                  np.ones((1, 1, height, width), np.float32), stride=(stride_h, stride_w),
                  padding=(pad_h, pad_w), dilation=dilation)
    _, out_h, out_w = layer.output_shape
    for axis, (extent, out, pes, kernel, stride, pad) in enumerate((
            (height, out_h, pe_rows, kernel_r, stride_h, pad_h),
            (width, out_w, pe_cols, kernel_s, stride_w, pad_w))):
        owner = output_owner(out, stride, extent, pes)
        windows = accumulator_windows(owner, out, extent, pes, kernel, stride, pad, dilation)
        starts, stops = tile_bounds(extent, pes)
        for pe in range(pes):
            reached = {(y + pad - t * dilation) // stride for y in range(starts[pe], stops[pe])
                       for t in range(kernel) if (y + pad - t * dilation) % stride == 0
                       and 0 <= (y + pad - t * dilation) // stride < out}
            owned = set(np.flatnonzero(owner == pe))
            assert all(windows[pe, 0] <= o < windows[pe, 1] for o in reached | owned), axis


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_dense_strided_streams_have_no_placeholders(stride):
    from accelsim.sim.machines.scnn_kernels import activation_streams, weight_streams
    _, entries = activation_streams(np.ones((2, 40, 40), bool), 8, 8, 4, (stride, stride))
    assert (entries >= 0).all() and len(entries) == 2 * 40 * 40
    _, entries, _ = weight_streams(np.ones((16, 2, 11, 11), bool), 8, 4, (stride, stride),
                                   (2, 2), (1, 1))
    assert (entries >= 0).all() and len(entries) == 16 * 2 * 121


def one_channel(height, width, weight):
    acts = np.ones((1, 1, height, width), np.float32)
    return Layer("conv", "conv2d", np.asarray(weight, np.float32), acts,
                 padding=(weight.shape[2] // 2, weight.shape[3] // 2))


def test_scnn_one_pe_one_channel_by_hand():
    # 4 x 4 non-zero inputs, two 1x1 filters: one weight vector (2 of F = 4 slots) against
    # four activation vectors of I = 4: 4 steps, 8 products each to 8 different banks.
    layer = one_channel(4, 4, np.ones((2, 1, 1, 1)))
    result = counts("scnn", with_params("scnn", pe_rows=1, pe_cols=1), layer)
    assert (result.cycles_compute, result.ops_executed, result.macs_effective) == (4, 32, 32)


def test_scnn_bank_conflict_by_hand():
    # Same layer with 8 banks: bank = (k + 4 * (x + 4 * y)) mod 8 = (k + 4x) mod 8, so in each
    # step inputs x and x + 2 send their products (k = 0 and 1) to the same two banks: two
    # products per bank, 2 cycles a step, 8 in all. With 32 banks all 8 products of a step
    # have banks of their own (the previous case).
    layer = one_channel(4, 4, np.ones((2, 1, 1, 1)))
    result = counts("scnn", with_params("scnn", pe_rows=1, pe_cols=1, accumulator_banks=8), layer)
    assert result.cycles_compute == 8


def crossbar_closed_form(steps, banks, queue):
    """The kernel's closed form of the crossbar (scnn_group_cycles), on a list of steps."""
    done, t = [0] * banks, 0
    for step in steps:
        latest = t
        for bank in step:
            done[bank] = max(done[bank], t) + 1
            latest = max(latest, done[bank])
        t = max(t, latest - queue) + 1
    return max([t, *done])


def test_crossbar_by_hand():
    from accelsim.sim.machines.scnn_kernels import scnn_crossbar_reference
    # Two steps of 4 products to bank 0, then one product to bank 1, queues of 2. Cycle 0:
    # step 1 latched, 2 products queue, bank 0 takes one; cycles 1-2: one more enters each
    # cycle; the latch is empty after cycle 2. Step 2 issues at cycle 3; bank 0 still holds
    # 1, so its queue has room for 1 then 1 a cycle: its last product enters at cycle 6.
    # Step 3 issues at cycle 7 to the idle bank 1. Bank 0 drains its 8th product at cycle 7:
    # 8 cycles, 3 of them issuing.
    steps = [[0] * 4, [0] * 4, [1]]
    assert scnn_crossbar_reference(steps, banks=2, queue=2) == 8
    # With queues of 8 the array runs ahead: 3 issue cycles, bank 0 busy for 8.
    assert scnn_crossbar_reference(steps, banks=2, queue=8) == 8
    assert scnn_crossbar_reference([[0] * 4, [1], [1]], banks=2, queue=4) == 4
    # Without queues (1 entry) a step costs its busiest bank: 4 + 4 + 1.
    assert scnn_crossbar_reference([[0] * 4, [0] * 4, [1], [0, 1]], banks=2, queue=1) == 10
    # An empty step (every product off the plane) still takes its issue cycle.
    assert scnn_crossbar_reference([[], [], [0]], banks=1, queue=1) == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 7), max_size=16), max_size=12), st.integers(1, 6))
def test_crossbar_closed_form_equals_cycle_by_cycle(steps, queue):
    from accelsim.sim.machines.scnn_kernels import scnn_crossbar_reference
    assert crossbar_closed_form(steps, 8, queue) == scnn_crossbar_reference(steps, 8, queue)
    # One entry per queue is the lock-step crossbar: each step costs its busiest bank.
    lock_step = sum(max([step.count(b) for b in set(step)], default=1) for step in steps)
    assert crossbar_closed_form(steps, 8, 1) == lock_step


def test_scnn_full_queue_by_hand():
    # One PE, one 1x1 filter, a 1 x 8 row of non-zero inputs, 4 banks: bank = (k + 4 * ...)
    # mod 4 = 0 for every product. Two steps of 4 products to bank 0; queues of 2: the first
    # step's products enter by cycle 2, the second issues at 3 and enters by cycle 6, bank 0
    # takes its 8th product at cycle 7: 8 cycles, 2 steps, 6 of them stalled.
    layer = one_channel(1, 8, np.ones((1, 1, 1, 1)))
    arch = with_params("scnn", pe_rows=1, pe_cols=1, accumulator_banks=4, bank_queue=2)
    result = counts("scnn", arch, layer)
    assert (result.cycles_compute, result.macs_effective) == (8, 8)
    assert result.figures["contention_stall_fraction"] == 6 / 8
    assert result.figures["multiplier_utilization"] == 8 / (16 * 8)
    assert result.figures["barrier_idle_fraction"] == 0.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.2, 1.0), st.floats(0.2, 1.0),
       st.sampled_from([1, 3]), st.integers(8, 16))
def test_contention_small_at_2fi_banks_and_falls_as_banks_grow(seed, wd, ad, kernel, size):
    # Banks 16 -> 128 double each time: products that share a bank at 2A share it at A, so
    # no bank's queue can fill sooner (Kc held fixed: it would otherwise grow with A).
    layer = random_conv_layer(np.random.default_rng(seed), samples=1, channels=8, size=size,
                              filters=32, kernel=kernel, padding=kernel // 2,
                              weight_density=wd, act_density=ad)
    stalls = []
    for banks in (16, 32, 64, 128):
        arch = with_params("scnn", pe_rows=2, pe_cols=2, accumulator_banks=banks, kc=16)
        result = counts("scnn", arch, layer)
        stalls.append(result.figures["contention_stall_fraction"])
    assert stalls == sorted(stalls, reverse=True)
    # At A = 2 F I with queues of 4: small (a median of 0.2 % on 300 such layers, the worst
    # 8 %, where a group's last queue drain is a large share of a tiny layer) and never more
    # than the lock-step crossbar's (queues of 1; median 40 %).
    lock_step = counts("scnn", with_params("scnn", pe_rows=2, pe_cols=2, kc=16, bank_queue=1),
                       layer).figures["contention_stall_fraction"]
    assert stalls[1] < 0.15 and stalls[1] <= lock_step


def test_scnn_halo_by_hand():
    # Two PEs stacked (input rows 0-1 and 2-3), a 3x3 filter whose only weight is the top
    # middle tap: input row y feeds output row y + 1. PE 0's row 1 feeds output row 2, which
    # belongs to PE 1: 4 halo outputs, sent in one cycle after the group. PE 1's row 3 would
    # feed row 4, which does not exist: computed, dropped. 2 steps per PE + 1 = 3 cycles.
    weight = np.zeros((1, 1, 3, 3))
    weight[0, 0, 0, 1] = 1
    layer = one_channel(4, 4, weight)
    result = counts("scnn", with_params("scnn", pe_rows=2, pe_cols=1), layer)
    assert (result.cycles_compute, result.ops_executed, result.macs_effective) == (3, 16, 12)
    # Each placed product is a read-modify-write; a halo partial sum is read to be sent and
    # read-modify-written at the neighbour; the 16 outputs are read once to be drained.
    assert result.actions["read:accumulators"] == 12 + 2 * 4 + 16
    assert result.actions["write:accumulators"] == 12 + 4


def test_scnn_placeholders_take_vector_slots():
    # One filter, 1x1, and a single non-zero input after 40 zeros in a 1 x 41 row: with 4-bit
    # indices the run needs 40 >> 4 = 2 placeholders, so the activation stream has 3 entries;
    # with 6-bit indices it has one. One step either way here; with I = 1 the placeholders
    # cost a step each.
    acts = np.zeros((1, 1, 1, 41), np.float32)
    acts[0, 0, 0, 40] = 1
    layer = Layer("conv", "conv2d", np.ones((1, 1, 1, 1), np.float32), acts)
    narrow = dict(pe_rows=1, pe_cols=1, activations_per_vector=1)
    assert counts("scnn", with_params("scnn", **narrow, index_bits=4), layer).cycles_compute == 3
    assert counts("scnn", with_params("scnn", **narrow, index_bits=6), layer).cycles_compute == 1


def test_scnn_fc_runs_at_a_quarter_of_peak():
    layer = random_linear_layer(np.random.default_rng(0), samples=1, n_in=300, n_out=200,
                                weight_density=0.5, act_density=0.5)
    result = counts("scnn", ARCH["scnn"], layer)
    assert result.cycles_compute == -(-result.macs_effective // (64 * 4))


def test_dcnn_by_hand():
    # 16 x 16 input on 8 x 8 PEs: 2 x 2 outputs per PE; 3x3 x 16 channels = 144 = 9 steps of
    # 16; 4 filters: 4 outputs x 4 filters x 9 = 144 cycles.
    layer = random_conv_layer(np.random.default_rng(0), samples=1, channels=16, filters=4,
                              size=16, kernel=3, padding=1)
    result = counts("dcnn", ARCH["dcnn"], layer)
    assert result.cycles_compute == 144 and result.ops_executed == 256 * 4 * 144


def test_scnn_beats_dcnn_when_sparse_and_loses_when_dense():
    rng = np.random.default_rng(3)
    dense = random_conv_layer(rng, samples=1, channels=32, filters=64, size=28, kernel=3,
                              weight_density=1.0, act_density=1.0)
    sparse = random_conv_layer(rng, samples=1, channels=32, filters=64, size=28, kernel=3,
                               weight_density=0.1, act_density=0.1)
    for layer, faster in ((dense, "dcnn"), (sparse, "scnn")):
        cycles = {m: counts(m, ARCH[m], layer).cycles_compute for m in ARCH}
        assert min(cycles, key=cycles.get) == faster


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.05, 1.0), st.sampled_from([1, 3, 5]),
       st.integers(1, 3), st.integers(2, 12), st.integers(1, 4))
def test_kc_is_the_largest_that_fits_accumulators_and_weight_fifo(seed, wd, kernel, stride,
                                                                   fifo, vec_f):
    from accelsim.sim.machines.scnn import _fifo_vectors, choose_kc
    from accelsim.sim.machines.scnn_kernels import weight_streams
    layer = random_conv_layer(np.random.default_rng(seed), samples=1, channels=3, size=12,
                              filters=24, kernel=kernel, stride=stride, padding=kernel // 2,
                              weight_density=wd, act_density=1.0)
    params = dataclasses.replace(ARCH["scnn"].params, weight_fifo_entries=fifo,
                                 weights_per_vector=vec_f, accumulator_entries=4)
    rows = cols = np.array([[0, 3]])  # a 3 x 3 window: the accumulators allow 32 * 4 // 9 = 14
    mask = layer.weight_nonzero

    def fits(kc):
        streams = weight_streams(mask, kc, params.index_bits, layer.stride, layer.padding,
                                 layer.dilation)
        return _fifo_vectors(streams, vec_f) <= fifo

    kc, _ = choose_kc(params, mask, layer.kernel, layer.stride, layer.padding, layer.dilation,
                   rows, cols)
    assert 1 <= kc <= 14
    assert kc == 1 or fits(kc)
    assert not any(fits(larger) for larger in range(kc + 1, 15))


def small_buffers(**params):
    arch = load_arch(ROOT / "arch_configs" / "scnn.yaml",
                     {f"memory.buffers.{name}.{key}": value for name in ("iaram", "oaram")
                      for key, value in (("bank_kb", 0.25), ("read_pj", 1.0), ("write_pj", 1.0),
                                         ("leakage_mw", 0.0))})
    return dataclasses.replace(arch, params=dataclasses.replace(arch.params, **params))


def test_temporal_tiles_by_hand():
    # One PE: 256 B of IARAM and of OARAM, 2048 bits, 102 entries of 20 bits. Eight 3x3
    # filters over a dense 1 x 24 x 24 plane. Kept whole, a row of outputs is 8 x 24 = 192
    # entries: nothing fits, one row per tile (the overflow is not modelled). If the next
    # layer takes a quarter of them (2 x 2 pooling), a row leaves 48 entries: 2 rows per tile
    # (96 <= 102), whose inputs, 4 rows of 24 = 96 entries, fit too. 24 rows: 12 tiles.
    from accelsim.sim.machines.scnn import temporal_tiles
    layer = random_conv_layer(np.random.default_rng(0), samples=1, channels=1, size=24,
                              filters=8, kernel=3, padding=1, weight_density=1.0, act_density=1.0)
    arch = small_buffers(pe_rows=1, pe_cols=1)
    plane = np.asarray(layer.activations[0]) != 0
    assert temporal_tiles(layer, plane, arch, 8 * 24 * 24) == [(r, r + 1) for r in range(24)]
    assert temporal_tiles(layer, plane, arch, 8 * 12 * 12) == [(r, r + 2) for r in range(0, 24, 2)]
    eff = int(effective_macs(layer)[0])
    result = MACHINES["scnn"].layer_counts(layer, 0, arch, eff, output_nonzeros=8 * 12 * 12)
    assert result.figures["temporal_tiles"] == 12 and result.activations_via_dram
    assert result.output_footprint == {"oaram": 8 * 12 * 12 * 20 // 8}
    # Each tile streams its weights (72 of 20 bits: 180 B) and its input rows: 3 at either
    # end, 4 between, 46 rows of 24 inputs of 20 bits (60 B a row): two rows per boundary
    # fetched twice.
    assert [bytes_ for bytes_, _ in result.tiles] == [180] * 12
    assert result.tile_input_bytes == [60 * rows for rows in [3] + [4] * 10 + [3]]
    assert result.input_footprint == {"iaram": 24 * 60}
    untiled = counts("scnn", ARCH["scnn"], layer)
    assert untiled.figures["temporal_tiles"] == 1 and not untiled.activations_via_dram
    assert result.macs_effective == untiled.macs_effective


@SETTINGS
@given(layers, st.integers(1, 2), st.integers(1, 2), st.integers(1, 3))
def test_temporally_tiled_kernel_matches_reference(layer, pe_rows, pe_cols, queue):
    arch = small_buffers(pe_rows=pe_rows, pe_cols=pe_cols, bank_queue=queue)
    fast, slow = counts("scnn", arch, layer), counts("scnn", arch, layer, reference=True)
    assert fast == slow  # both also placed exactly macs_effective products (layer_counts checks)


def test_vgg16_tiles_exactly_the_layers_whose_activations_overflow():
    # Section 4.4: a layer is tiled in time when its input (compressed) does not fit all PEs'
    # IARAMs or the output its next layer reads does not fit their OARAMs. The paper counts
    # 9 of its 72 layers; here VGG-16's first seven.
    from accelsim.sim.machines.scnn import temporal_tiles
    from accelsim.workload.synth import preset_spec, synthetic_trace
    trace = synthetic_trace(preset_spec("vgg16-scnn"))
    arch = ARCH["scnn"]
    room = {b: arch.memory.buffers[b].capacity_bytes * 64 * 8 for b in ("iaram", "oaram")}
    tiled = []
    for index, layer in enumerate(trace.layers):
        plane = np.asarray(layer.activations[0]) != 0
        following = trace.layers[index + 1] if index + 1 < len(trace.layers) else None
        outputs = (np.count_nonzero(following.activations[0]) if following is not None
                   else int(np.prod(layer.output_shape)))
        overflows = (np.count_nonzero(plane) * 20 > room["iaram"] or outputs * 20 > room["oaram"])
        if len(temporal_tiles(layer, plane, arch, outputs)) > 1:
            tiled.append(layer.name)
        assert (layer.name in tiled) == overflows, layer.name
    assert tiled == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3"]


@pytest.mark.parametrize("preset", ["alexnet-scnn", "googlenet-inception"])
def test_alexnet_and_googlenet_activations_stay_on_chip(preset):
    # SCNN paper, section 5: both machines hold every activation of these two networks; only
    # the network's input comes from DRAM.
    from accelsim.sim.simulator import simulate
    from accelsim.workload.synth import preset_spec, synthetic_trace
    trace = synthetic_trace(preset_spec(preset))
    for machine in ("scnn", "dcnn"):
        table = simulate(ARCH[machine], trace)
        layers = table[table.layer != "TOTAL"]
        assert list(layers.input_from_dram) == [True] + [False] * (len(layers) - 1), machine
        assert (layers.dram_write_bytes.iloc[:-1] == 0).all(), machine


def test_scnn_totals_weigh_each_fraction_by_its_own_denominator():
    from accelsim import Trace
    from accelsim.sim.simulator import simulate
    rng = np.random.default_rng(5)
    trace = Trace([random_conv_layer(rng, "a", samples=2, channels=8, size=13, filters=16,
                                     weight_density=0.3, act_density=0.6),
                   random_conv_layer(rng, "b", samples=2, channels=16, size=13, filters=8,
                                     kernel=1, padding=0, weight_density=0.9, act_density=0.9)])
    table = simulate(ARCH["scnn"], trace)
    per_sample = simulate(ARCH["scnn"], trace, per_sample=True)
    layers, total = table[table.layer != "TOTAL"], table[table.layer == "TOTAL"].iloc[0]
    samples = per_sample[per_sample.layer != "TOTAL"]
    for column, weight in (("multiplier_utilization", "working_pe_cycles"),
                           ("contention_stall_fraction", "working_pe_cycles"),
                           ("barrier_idle_fraction", "cycles_compute")):
        # Over samples, then over layers, each weighted by its denominator.
        for name, rows in samples.groupby("layer"):
            mean = (rows[column] * rows[weight]).sum() / rows[weight].sum()
            assert layers.set_index("layer").loc[name, column] == pytest.approx(mean)
        assert total[column] == pytest.approx(
            (layers[column] * layers[weight]).sum() / layers[weight].sum())
    assert total.working_pe_cycles == layers.working_pe_cycles.sum()
    assert total.kc == 0 and total.temporal_tiles == 0
    assert set(layers.kc) <= set(range(1, 17)) and (layers.temporal_tiles == 1).all()
