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
@given(layers, st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from([1, 3, 4, 8, 32, 39, 62, 63, 64]), st.integers(0, 3), st.integers(1, 4))
def test_scnn_kernel_matches_reference(layer, pe_rows, pe_cols, f, i, banks, kc, index_bits):
    arch = with_params("scnn", pe_rows=pe_rows, pe_cols=pe_cols, weights_per_vector=f,
                       activations_per_vector=i, accumulator_banks=banks, kc=kc,
                       index_bits=index_bits)
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
