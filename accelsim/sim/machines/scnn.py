"""scnn: weight and activation zero-skipping in conv layers (Parashar et al., ISCA 2017).

PT-IS-CP-sparse. The input plane (H x W, unpadded) is cut into pe_rows x
pe_cols tiles of ceil(H / pe_rows) x ceil(W / pe_cols), one per PE, each with
all C channels; weights are broadcast. Output channels go in groups of Kc;
for each group and each input channel, a PE streams the group's non-zero
weights (the Kc x R x S block, vectors of F) against its tile's non-zero
activations (vectors of I) and computes all F x I products of each pair of
vectors (a Cartesian-product step). Each product's output coordinate follows
from the operands'; products that fall off the output plane (at its edges)
are computed and dropped. The others go through the crossbar to one of
A accumulator banks; a step takes as many cycles as the most products sent
to one bank (at least one). All PEs meet at a barrier after each group.
Compressed streams carry a 4-bit zero-run index per entry; a run of more
than 15 zeros needs a placeholder entry, which takes a vector slot (a
multiplier does nothing with it). FC layers run at a quarter of peak: each
PE completes fc_products_per_cycle (4, a quarter of F x I = 16) useful
products per cycle, the work spread evenly over the PEs (placeholders and
imbalance not counted there).

Choices the paper leaves open, stated:
- A PE's accumulators cover the outputs it owns and every output its
  inputs' products can reach (its halo), along each axis.
- Kc (config scnn.kc = 0): the largest Kc for which the widest such window
  fits one accumulator buffer (A banks x accumulator_entries), at most K_g;
  the paper's example uses Kc = 8; a fixed value can be set.
- Order inside a compressed Kc x R x S block: tap by tap, the Kc filters of
  a tap together (k fastest), so the products of one step share an output
  only when Kc < F or a sparse vector spans taps (the paper's loop nest puts
  Kc outside R and S for its dense walk and leaves the packing of sparse
  vectors open). A strided layer's phase classes are stored apart, so only a
  class's own zeros make its zero runs.
- Strides: a strided layer is split into stride x stride phase classes:
  the taps whose products land on outputs for inputs of one row and column
  phase are streamed against that phase's activations only, so no product
  is formed for a pair that cannot meet (streams per class, so vectors
  fragment more).
- Tiles of ceil(H / 8) rows and ceil(W / 8) columns; trailing PEs get fewer
  or none. Output (oy, ox) belongs to the PE holding input
  (min(oy*stride, H-1), min(ox*stride, W-1)); a product for another PE's
  output is a halo: it is accumulated locally and sent at the group's end.
- Bank of a product: (k + F * (x + I * y)) mod A, with (x, y) the output's
  place in the PE's accumulator window: F
  consecutive filters times I consecutive inputs of a row land on F x I
  different banks (A = 2 F I in the paper), irregular sparse vectors can
  still collide. A global or filter-major address would make the F filters
  of a step collide whenever the tile's size is a multiple of A.
- Halo exchange: A partial sums per cycle per PE, all PEs at once, after
  each group; with double-buffered accumulators it overlaps the next group's
  compute, so a group costs max(its slowest PE, the previous exchange) and
  the last exchange is added at the end.
- Conv groups (layer.groups) run one after the other.
"""

from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from ...workload.macs import nonzero_activations
from .base import Machine
from .counts import LayerCounts, bank_accesses, ceil_div, group_slices
from .planar_tiling import PlanarTiling, output_owner, tile_bounds


@dataclass(frozen=True)
class ScnnParams(PlanarTiling):
    weights_per_vector: int = spec(4, doc="F: non-zero weights per Cartesian-product step",
                                   minimum=1)
    activations_per_vector: int = spec(4, doc="I: non-zero activations per step", minimum=1)
    accumulator_banks: int = spec(32, doc="A: accumulator banks behind the crossbar", minimum=1)
    accumulator_entries: int = spec(32, doc="entries per bank in one of the two buffers",
                                    minimum=1)
    kc: int = spec(0, doc="output channels per group; 0: the largest that fits the accumulators",
                   minimum=0)
    index_bits: int = spec(4, doc="bits of the zero-run index; longer runs need a placeholder",
                           minimum=1, maximum=16)
    fc_products_per_cycle: int = spec(4, doc="useful products per PE per cycle on FC layers",
                                      minimum=1)
    activation_threshold: float = spec(0.0, doc="|a| <= threshold is treated as zero", minimum=0.0)


def accumulator_windows(owner, out_extent, in_extent, pes, kernel, stride, padding, dilation):
    """(pes, 2) [first, last + 1) outputs along one axis each PE row (or column) accumulates:
    those it owns and every output its inputs' products can reach."""
    windows = np.zeros((pes, 2), np.int64)
    starts, stops = tile_bounds(in_extent, pes)
    for pe in range(pes):
        owned = np.flatnonzero(owner == pe)
        lo, hi = (owned[0], owned[-1] + 1) if len(owned) else (out_extent, 0)
        if stops[pe] > starts[pe]:
            reach_lo = max(0, ceil_div(starts[pe] + padding - (kernel - 1) * dilation, stride))
            reach_hi = min(out_extent - 1, (stops[pe] - 1 + padding) // stride)
            lo, hi = min(lo, reach_lo), max(hi, reach_hi + 1)
        windows[pe] = (lo, hi) if hi > lo else (min(lo, out_extent), min(lo, out_extent))
    return windows


def choose_kc(params, filters, rows, cols):
    """Output channels per group: the largest whose accumulator window (every PE's, widest
    along each axis) fits one accumulator buffer."""
    if params.kc:
        return min(params.kc, filters)
    area = max(1, int(np.diff(rows).max()) * int(np.diff(cols).max()))
    room = params.accumulator_banks * params.accumulator_entries
    return int(min(filters, max(1, room // area)))


def _conv_counts(layer, nonzero, arch, reference):
    from . import scnn_kernels as kernels  # imported on first use: configs load without Numba
    p = arch.params
    pes = p.pes
    _, out_h, out_w = layer.output_shape
    height, width = nonzero.shape[1:]
    kernel, stride = layer.kernel, layer.stride
    totals = dict(cycles=0, mults=0, valid=0, steps=0, halo=0, weight_entries=0, act_entries=0)
    owner_row = output_owner(out_h, stride[0], height, p.pe_rows)
    owner_col = output_owner(out_w, stride[1], width, p.pe_cols)
    acc_rows = accumulator_windows(owner_row, out_h, height, p.pe_rows, kernel[0], stride[0],
                                   layer.padding[0], layer.dilation[0])
    acc_cols = accumulator_windows(owner_col, out_w, width, p.pe_cols, kernel[1], stride[1],
                                   layer.padding[1], layer.dilation[1])
    for filter_slice, channel_slice in group_slices(layer):
        w_mask = layer.weight_nonzero[filter_slice]
        a_mask = nonzero[channel_slice]
        filters, channels = w_mask.shape[:2]
        kc = choose_kc(p, filters, acc_rows, acc_cols)
        groups = ceil_div(filters, kc)
        # The reference builds its streams one by one, the kernel path all at once.
        build_w, build_a = ((kernels.weight_streams_reference, kernels.activation_streams_reference)
                            if reference else (kernels.weight_streams, kernels.activation_streams))
        w_starts, w_entries, classes = build_w(w_mask, kc, p.index_bits, stride, layer.padding,
                                               layer.dilation)
        a_starts, a_entries = build_a(a_mask, p.pe_rows, p.pe_cols, p.index_bits, stride)
        shape = dict(channels=channels, classes=classes, groups=groups, kc=kc, filters=filters)
        if reference:
            cycles, mults, valid, halo = kernels.scnn_group_cycles_reference(
                w_starts, w_entries, a_starts, a_entries, *shape.values(), kernel, width,
                (out_h, out_w), stride, layer.padding, layer.dilation, owner_row, owner_col,
                p.pe_cols, acc_rows[:, 0], acc_cols[:, 0], p.weights_per_vector,
                p.activations_per_vector, p.accumulator_banks)
        else:
            # Decode the entries once. Inside a phase class (inputs y with y % stride == -dy %
            # stride), (y + dy) / stride = y // stride + (dy + -dy % stride) / stride exactly, so
            # the kernel adds quotients and never divides.
            taps = kernel[0] * kernel[1]
            w_k = np.where(w_entries < 0, -1, w_entries // taps)
            dy = layer.padding[0] - (w_entries // kernel[1]) % kernel[0] * layer.dilation[0]
            dx = layer.padding[1] - w_entries % kernel[1] * layer.dilation[1]
            w_dy = (dy + -dy % stride[0]) // stride[0]
            w_dx = (dx + -dx % stride[1]) // stride[1]
            cycles, mults, valid, halo = kernels.scnn_group_cycles(
                w_starts, w_k, w_dy, w_dx, a_starts,
                np.where(a_entries < 0, -1, a_entries // width // stride[0]),
                a_entries % width // stride[1], *shape.values(), out_h, out_w,
                kernels.owned_ranges(owner_row, p.pe_rows),
                kernels.owned_ranges(owner_col, p.pe_cols), acc_rows, acc_cols,
                p.weights_per_vector, p.activations_per_vector, p.accumulator_banks)
        exchange = [ceil_div(int(h), p.accumulator_banks) for h in halo.max(axis=1)]
        previous = 0
        for g in range(groups):
            totals["cycles"] += max(int(cycles[g].max()), previous)
            previous = exchange[g]
        totals["cycles"] += previous
        totals["mults"] += int(mults.sum())
        totals["valid"] += int(valid.sum())
        totals["halo"] += int(halo.sum())
        # Steps: vector pairs per (group, channel, PE), for operand reads.
        w_len = np.diff(w_starts).reshape(groups, channels * classes)
        a_len = np.diff(a_starts).reshape(pes, channels * classes)
        w_vectors = -(-w_len // p.weights_per_vector)
        a_vectors = -(-a_len // p.activations_per_vector)
        totals["steps"] += int(np.einsum("gc,pc->", w_vectors, a_vectors))
        totals["weight_entries"] += len(w_entries)
        totals["act_entries"] += len(a_entries)
    return totals


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    p, bits = arch.params, arch.arithmetic
    pes = p.pes
    entry_bits = bits.activation_bits + p.index_bits
    acts = np.asarray(layer.activations[sample])
    outputs = int(np.prod(layer.output_shape))
    if layer.kind == "linear":
        cycles = ceil_div(macs_effective, pes * p.fc_products_per_cycle)
        stored_weights = int(np.count_nonzero(layer.weight_nonzero))
        live = int(np.count_nonzero(nonzero_activations(acts, p.activation_threshold)))
        totals = dict(cycles=cycles, mults=macs_effective, valid=macs_effective,
                      steps=ceil_div(macs_effective, p.fc_products_per_cycle), halo=0,
                      weight_entries=stored_weights, act_entries=live)
    else:
        nonzero = nonzero_activations(acts, p.activation_threshold)
        totals = _conv_counts(layer, nonzero, arch, reference)
    if totals["valid"] != macs_effective:
        raise AssertionError(f"layer {layer.name}: SCNN placed {totals['valid']} products, "
                             f"the exact count is {macs_effective}")
    vector_bits = {"weight_fifo": p.weights_per_vector * (bits.weight_bits + p.index_bits),
                   "iaram": p.activations_per_vector * entry_bits}
    actions = {
        "mac": totals["mults"], "mac_gated": 0,
        "read:weight_fifo": bank_accesses(arch, "weight_fifo", totals["steps"],
                                          vector_bits["weight_fifo"]),
        "read:iaram": bank_accesses(arch, "iaram", totals["steps"], vector_bits["iaram"]),
        # Each product placed is a read-modify-write of its accumulator; a halo partial sum is
        # read to be sent and read-modify-written at the neighbour; every output is read once
        # to be drained to the OARAM.
        "read:accumulators": bank_accesses(arch, "accumulators",
                                           totals["valid"] + 2 * totals["halo"] + outputs,
                                           bits.accumulator_bits),
        "write:accumulators": bank_accesses(arch, "accumulators", totals["valid"] + totals["halo"],
                                            bits.accumulator_bits),
        "write:oaram": bank_accesses(arch, "oaram", ceil_div(outputs, p.activations_per_vector),
                                     p.activations_per_vector * entry_bits),
    }
    weight_bytes = ceil_div(totals["weight_entries"] * (bits.weight_bits + p.index_bits), 8)
    cycles = totals["cycles"]
    return LayerCounts(
        cycles_compute=cycles,
        cycles_ideal=ceil_div(macs_effective, pes * p.weights_per_vector * p.activations_per_vector),
        ops_executed=totals["mults"],
        macs_effective=macs_effective,
        mac_units=pes * p.weights_per_vector * p.activations_per_vector,
        actions=actions,
        tiles=[(weight_bytes, cycles)],
        lane_utilization=(totals["mults"] / (pes * p.weights_per_vector
                                             * p.activations_per_vector * cycles)
                          if cycles else 0.0),
        weight_footprint={"weight_fifo": weight_bytes},
        input_footprint={"iaram": ceil_div(totals["act_entries"] * entry_bits, 8)},
        output_footprint={"oaram": ceil_div(outputs * entry_bits, 8)},
    )


MACHINE = Machine(
    name="scnn", params=ScnnParams, layer_counts=layer_counts,
    buffers=("weight_fifo", "iaram", "oaram", "accumulators"),
    activation_threshold=lambda arch: arch.params.activation_threshold,
    efficiency=(("lane_utilization", "SCNN multiplier slots used (products / F x I x cycles)"),),
    description="PT-IS-CP-sparse: Cartesian products of non-zero weights and activations "
                "(Parashar et al., ISCA 2017)")
