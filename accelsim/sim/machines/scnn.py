"""scnn: weight and activation zero-skipping in conv layers (Parashar et al., ISCA 2017).

PT-IS-CP-sparse. The input plane (H x W, unpadded) is cut into pe_rows x
pe_cols tiles of ceil(H / pe_rows) x ceil(W / pe_cols), one per PE, each with
all C channels; weights are broadcast. Output channels go in groups of Kc;
for each group and each input channel, a PE holds each vector of its tile's
non-zero activations (vectors of I) while the group's non-zero weights (the
Kc x R x S block, vectors of F) stream past it from the weight FIFO
(input-stationary, the paper's loop nest), and computes all F x I products of
each pair of vectors (a Cartesian-product step, one per cycle). Each
product's output coordinate follows from the operands'; products that fall
off the output plane (at its edges) are computed and dropped. The others go
through an arbitrated crossbar (the paper's Figure 6) into one of A
accumulator banks, each behind a queue of `bank_queue` entries: a bank
accumulates one product per cycle from its queue, and the multiplier array
issues its next step only when every product of the last one has found room
in its bank's queue (scnn_kernels.scnn_crossbar_reference steps this cycle by
cycle). All PEs meet at a barrier after each group. Compressed streams carry
a 4-bit zero-run index per entry; a run of more than 15 zeros needs a
placeholder entry, which takes a vector slot (a multiplier does nothing with
it). FC layers run at a quarter of peak: each PE completes
fc_products_per_cycle (4, a quarter of F x I = 16) useful products per
cycle, the work spread evenly over the PEs (placeholders and imbalance not
counted there).

Per layer, besides cycles (the paper's Figure 10 splits utilisation in two):
working_pe_cycles, the PE-cycles spent on steps, stalls and drains (barrier
waits excluded); multiplier_utilization, multiplications over F x I x those;
barrier_idle_fraction, the share of PE-cycles spent waiting for the slowest
PE or the halo exchange; contention_stall_fraction, the share of working
cycles the multiplier array waits on a full bank queue (or a queue draining
at a group's end); kc, the group size used (the smallest over conv groups
and temporal tiles); temporal_tiles.

Choices the paper leaves open, stated:
- Arbitration: a bank's queue takes every product the crossbar sends it in a
  cycle while it has room (a crossbar with one queue per output, as in an
  output-queued switch); products that find no room wait in the multiplier
  array's output latch, which holds one step. bank_queue = 1 is the
  lock-step crossbar: a step costs its busiest bank's product count.
- A PE's accumulators cover the outputs it owns and every output its
  inputs' products can reach (its halo), along each axis.
- Kc (config scnn.kc = 0): the largest Kc, at most K_g, for which the widest
  such window fits one accumulator buffer (A banks x accumulator_entries)
  and, since the held activation vector sees the whole block go by, every
  compressed Kc x R x S block of one channel and phase class (placeholders
  included) fits the weight FIFO (weight_fifo_entries vectors of F). If a
  single filter's block overflows the FIFO, Kc = 1 and the overflow's
  re-reads are not charged. The paper's example uses Kc = 8; a fixed value
  can be set.
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
- Temporal tiling (section 4.4): bands of whole output rows (never cut
  along W), the fewest equal bands whose input rows (non-zeros with
  indices; placeholders left out) fit the IARAMs of all PEs together and
  whose share of the output, in proportion to their rows, fits the OARAMs.
  The output the OARAM keeps is the compressed input of the layer that reads
  it, where the trace shows that layer (simulator.consumer), else every
  output. Each band is a full pass: its own Kc, spatial tiles and weight
  stream (weights are fetched again per band); its input rows, halo rows
  included, come from DRAM in its tile of the memory system, and the
  layer's output goes to DRAM after the layer.
- Bank queues: each product placed is pushed and popped once, priced as
  register-file bits of a partial sum.
"""

from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from ...workload.macs import nonzero_activations
from ..memory import total_capacity
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
    bank_queue: int = spec(4, doc="products each accumulator bank's queue holds; 1: lock-step",
                           minimum=1)
    weight_fifo_entries: int = spec(50, doc="vectors of F weights the weight FIFO holds (bounds "
                                    "Kc)", minimum=1)
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


def _fifo_vectors(streams, vec_f):
    """Most vectors of F any one stream (group, channel, class) takes."""
    return int((-(-np.diff(streams[0]) // vec_f)).max(initial=0))


def choose_kc(params, w_mask, kernel, stride, padding, dilation, rows, cols):
    """(Kc, its weight streams or None): output channels per group (the rule in the module
    docstring), the largest Kc whose accumulator window (every PE's, widest along each axis)
    fits one accumulator buffer and whose compressed blocks fit the weight FIFO."""
    from . import scnn_kernels as kernels
    filters, channels = w_mask.shape[:2]
    if params.kc:
        return min(params.kc, filters), None
    area = max(1, int(np.diff(rows).max()) * int(np.diff(cols).max()))
    room = params.accumulator_banks * params.accumulator_entries
    largest = int(min(filters, max(1, room // area)))
    # Non-zeros per (filter, channel, class): a block can only fit if its non-zeros do, a
    # cheap test that skips most candidates before the exact one counts placeholders.
    tap_class = kernels.tap_classes(kernel, stride, padding, dilation).reshape(-1)
    nonzeros = np.stack([w_mask.reshape(filters, channels, -1)[:, :, tap_class == cls].sum(2)
                         for cls in range(stride[0] * stride[1])], axis=2)
    capacity = params.weight_fifo_entries
    for kc in range(largest, 1, -1):
        padded = np.pad(nonzeros, ((0, -filters % kc), (0, 0), (0, 0)))
        block_nonzeros = padded.reshape(-1, kc, *padded.shape[1:]).sum(1).max()
        if block_nonzeros > capacity * params.weights_per_vector:
            continue
        streams = kernels.weight_streams(w_mask, kc, params.index_bits, stride, padding, dilation)
        if _fifo_vectors(streams, params.weights_per_vector) <= capacity:
            return kc, streams
    return 1, None


def _plane_counts(layer, nonzero, out_h, padding, arch, reference, totals):
    """Add to `totals` one pass over an input plane `nonzero` (C x H x W) that makes output
    rows [0, out_h) with top and left `padding`: a whole layer, or one temporal tile."""
    from . import scnn_kernels as kernels  # imported on first use: configs load without Numba
    p = arch.params
    pes = p.pes
    out_w = layer.output_shape[2]
    height, width = nonzero.shape[1:]
    kernel, stride = layer.kernel, layer.stride
    owner_row = output_owner(out_h, stride[0], height, p.pe_rows)
    owner_col = output_owner(out_w, stride[1], width, p.pe_cols)
    acc_rows = accumulator_windows(owner_row, out_h, height, p.pe_rows, kernel[0], stride[0],
                                   padding[0], layer.dilation[0])
    acc_cols = accumulator_windows(owner_col, out_w, width, p.pe_cols, kernel[1], stride[1],
                                   padding[1], layer.dilation[1])
    for filter_slice, channel_slice in group_slices(layer):
        w_mask = layer.weight_nonzero[filter_slice]
        a_mask = nonzero[channel_slice]
        filters, channels = w_mask.shape[:2]
        kc, streams = choose_kc(p, w_mask, kernel, stride, padding, layer.dilation, acc_rows,
                                acc_cols)
        totals["kc"] = min(totals["kc"], kc) if totals["kc"] else kc
        groups = ceil_div(filters, kc)
        # The reference builds its streams one by one, the kernel path all at once.
        build_w, build_a = ((kernels.weight_streams_reference, kernels.activation_streams_reference)
                            if reference else (kernels.weight_streams, kernels.activation_streams))
        if reference or streams is None:
            streams = build_w(w_mask, kc, p.index_bits, stride, padding, layer.dilation)
        w_starts, w_entries, classes = streams
        a_starts, a_entries = build_a(a_mask, p.pe_rows, p.pe_cols, p.index_bits, stride)
        shape = dict(channels=channels, classes=classes, groups=groups, kc=kc, filters=filters)
        if reference:
            cycles, steps, mults, valid, halo = kernels.scnn_group_cycles_reference(
                w_starts, w_entries, a_starts, a_entries, *shape.values(), kernel, width,
                (out_h, out_w), stride, padding, layer.dilation, owner_row, owner_col,
                p.pe_cols, acc_rows[:, 0], acc_cols[:, 0], p.weights_per_vector,
                p.activations_per_vector, p.accumulator_banks, p.bank_queue)
        else:
            # Decode the entries once. Inside a phase class (inputs y with y % stride == -dy %
            # stride), (y + dy) / stride = y // stride + (dy + -dy % stride) / stride exactly, so
            # the kernel adds quotients and never divides.
            taps = kernel[0] * kernel[1]
            w_k = np.where(w_entries < 0, -1, w_entries // taps)
            dy = padding[0] - (w_entries // kernel[1]) % kernel[0] * layer.dilation[0]
            dx = padding[1] - w_entries % kernel[1] * layer.dilation[1]
            w_dy = (dy + -dy % stride[0]) // stride[0]
            w_dx = (dx + -dx % stride[1]) // stride[1]
            cycles, steps, mults, valid, halo = kernels.scnn_group_cycles(
                w_starts, w_k, w_dy, w_dx, a_starts,
                np.where(a_entries < 0, -1, a_entries // width // stride[0]),
                a_entries % width // stride[1], *shape.values(), out_h, out_w,
                kernels.owned_ranges(owner_row, p.pe_rows),
                kernels.owned_ranges(owner_col, p.pe_cols), acc_rows, acc_cols,
                p.weights_per_vector, p.activations_per_vector, p.accumulator_banks,
                p.bank_queue)
        exchange = [ceil_div(int(h), p.accumulator_banks) for h in halo.max(axis=1)]
        previous = 0
        for g in range(groups):
            totals["cycles"] += max(int(cycles[g].max()), previous)
            previous = exchange[g]
        totals["cycles"] += previous
        totals["working"] += int(cycles.sum())
        totals["steps"] += int(steps.sum())
        # Activation vectors read from the IARAM: each is held while a block streams past.
        w_len = np.diff(w_starts).reshape(groups, channels * classes)
        a_len = np.diff(a_starts).reshape(pes, channels * classes)
        totals["act_vectors"] += int(np.einsum("gc,pc->", w_len > 0,
                                               -(-a_len // p.activations_per_vector)))
        totals["mults"] += int(mults.sum())
        totals["valid"] += int(valid.sum())
        totals["halo"] += int(halo.sum())
        totals["weight_entries"] += len(w_entries)
        totals["act_entries"] += len(a_entries)


def _input_rows(layer, first, last, height):
    """[top, bottom) input rows that output rows [first, last) read (empty for rows that
    only read padding)."""
    stride, pad = layer.stride[0], layer.padding[0]
    top = min(height, max(0, first * stride - pad))
    bottom = min(height, (last - 1) * stride - pad + (layer.kernel[0] - 1) * layer.dilation[0] + 1)
    return top, max(top, bottom)


def temporal_tiles(layer, nonzero, arch, output_entries):
    """[(first, last + 1) output rows] per temporal tile (section 4.4): the fewest equal bands
    of output rows whose inputs, halo rows included, fit all PEs' IARAMs and whose share of
    the `output_entries` the layer leaves in OARAM fits their OARAMs. Inputs count their
    non-zeros with indices (placeholders, rare at these densities, left out). Each tile's
    outputs go to DRAM and come back as the next layer's input. If one output row per tile
    still overflows, that overflow is not modelled."""
    entry_bits = arch.arithmetic.activation_bits + arch.params.index_bits
    iaram, oaram = (8 * total_capacity(arch, name) for name in ("iaram", "oaram"))
    out_h = layer.output_shape[1]
    rows_before = np.concatenate([[0], np.cumsum(nonzero.sum(axis=(0, 2)))])

    def fits(first, last):
        top, bottom = _input_rows(layer, first, last, nonzero.shape[1])
        return (ceil_div(output_entries * (last - first), out_h) * entry_bits <= oaram
                and (rows_before[bottom] - rows_before[top]) * entry_bits <= iaram)

    for tiles in range(1, out_h + 1):
        size = ceil_div(out_h, tiles)
        bands = [(first, min(first + size, out_h)) for first in range(0, out_h, size)]
        if all(fits(*band) for band in bands):
            return bands
    return [(row, row + 1) for row in range(out_h)]


def _conv_counts(layer, nonzero, arch, reference, output_entries):
    totals = dict(cycles=0, mults=0, valid=0, steps=0, halo=0, weight_entries=0, act_entries=0,
                  working=0, kc=0, act_vectors=0, bands=[])
    bands = temporal_tiles(layer, nonzero, arch, output_entries)
    if len(bands) == 1:
        _plane_counts(layer, nonzero, layer.output_shape[1], layer.padding, arch, reference,
                      totals)
        return totals
    for first, last in bands:
        top, bottom = _input_rows(layer, first, last, nonzero.shape[1])
        if top == bottom:
            continue  # outputs that read only padding: no products
        before = {key: totals[key] for key in ("weight_entries", "act_entries", "cycles")}
        # The tile's own top padding is what the plane's leaves above its first input row.
        _plane_counts(layer, nonzero[:, top:bottom], last - first,
                      (top - (first * layer.stride[0] - layer.padding[0]), layer.padding[1]),
                      arch, reference, totals)
        totals["bands"].append(tuple(totals[key] - value for key, value in before.items()))
    return totals


def layer_counts(layer, sample, arch, macs_effective, reference=False, output_nonzeros=None):
    p, bits = arch.params, arch.arithmetic
    pes = p.pes
    entry_bits = bits.activation_bits + p.index_bits
    acts = np.asarray(layer.activations[sample])
    outputs = int(np.prod(layer.output_shape))
    # What the OARAM holds: the compressed next input in a network, else every output.
    output_entries = outputs if output_nonzeros is None else output_nonzeros
    nonzero = nonzero_activations(acts, p.activation_threshold)
    if layer.kind == "linear":
        cycles = ceil_div(macs_effective, pes * p.fc_products_per_cycle)
        stored_weights = int(np.count_nonzero(layer.weight_nonzero))
        live = int(np.count_nonzero(nonzero))
        steps = ceil_div(macs_effective, p.fc_products_per_cycle)
        totals = dict(cycles=cycles, mults=macs_effective, valid=macs_effective, steps=steps,
                      working=pes * cycles, halo=0, weight_entries=stored_weights,
                      act_entries=live, kc=0, act_vectors=steps, bands=[])
    else:
        totals = _conv_counts(layer, nonzero, arch, reference, output_entries)
    if totals["valid"] != macs_effective:
        raise AssertionError(f"layer {layer.name}: SCNN placed {totals['valid']} products, "
                             f"the exact count is {macs_effective}")
    vector_bits = {"weight_fifo": p.weights_per_vector * (bits.weight_bits + p.index_bits),
                   "iaram": p.activations_per_vector * entry_bits}
    actions = {
        "mac": totals["mults"], "mac_gated": 0,
        "read:weight_fifo": bank_accesses(arch, "weight_fifo", totals["steps"],
                                          vector_bits["weight_fifo"]),
        "read:iaram": bank_accesses(arch, "iaram", totals["act_vectors"], vector_bits["iaram"]),
        # Each product placed is a read-modify-write of its accumulator; a halo partial sum is
        # read to be sent and read-modify-written at the neighbour; every output is read once
        # to be drained to the OARAM.
        "read:accumulators": bank_accesses(arch, "accumulators",
                                           totals["valid"] + 2 * totals["halo"] + outputs,
                                           bits.accumulator_bits),
        "write:accumulators": bank_accesses(arch, "accumulators", totals["valid"] + totals["halo"],
                                            bits.accumulator_bits),
        # The PPU compresses what it writes: the entries the OARAM keeps, in vectors of I.
        "write:oaram": bank_accesses(arch, "oaram",
                                     ceil_div(output_entries, p.activations_per_vector),
                                     p.activations_per_vector * entry_bits),
        # Each product placed passes through its bank's queue: a push and a pop of a partial
        # sum, counted as register-file bits (the queue is a few entries of flops).
        "rf": 2 * totals["valid"] * bits.accumulator_bits,
    }
    weight_bits = bits.weight_bits + p.index_bits
    weight_bytes = ceil_div(totals["weight_entries"] * weight_bits, 8)
    input_bytes = ceil_div(totals["act_entries"] * entry_bits, 8)
    tiles, weight_footprint = [(weight_bytes, totals["cycles"])], weight_bytes
    tile_input_bytes = []
    if totals["bands"]:
        # Temporal tiles: each streams its weights and its input rows (halo included) from
        # DRAM; the input as the previous layer leaves it is the plane's non-zeros once.
        tiles = [(ceil_div(w * weight_bits, 8), c) for w, _, c in totals["bands"]]
        tile_input_bytes = [ceil_div(a * entry_bits, 8) for _, a, _ in totals["bands"]]
        weight_footprint = max(ceil_div(w * weight_bits, 8) for w, _, _ in totals["bands"])
        input_bytes = ceil_div(int(np.count_nonzero(nonzero)) * entry_bits, 8)
    cycles, working = totals["cycles"], totals["working"]
    products = p.weights_per_vector * p.activations_per_vector
    return LayerCounts(
        cycles_compute=cycles,
        cycles_ideal=ceil_div(macs_effective, pes * products),
        ops_executed=totals["mults"],
        macs_effective=macs_effective,
        mac_units=pes * products,
        actions=actions,
        tiles=tiles,
        tile_input_bytes=tile_input_bytes,
        lane_utilization=totals["mults"] / (pes * products * cycles) if cycles else 0.0,
        weight_footprint={"weight_fifo": weight_footprint},
        input_footprint={"iaram": input_bytes},
        output_footprint={"oaram": ceil_div(output_entries * entry_bits, 8)},
        activations_via_dram=bool(totals["bands"]),
        figures={
            "working_pe_cycles": working,
            "multiplier_utilization": totals["mults"] / (products * working) if working else 0.0,
            "barrier_idle_fraction": 1 - working / (pes * cycles) if cycles else 0.0,
            # FC layers: the quarter-rate pipeline, no crossbar contention counted.
            "contention_stall_fraction": ((working - totals["steps"]) / working
                                          if working and layer.kind != "linear" else 0.0),
            "kc": totals["kc"],
            "temporal_tiles": max(1, len(totals["bands"])),
        },
    )


MACHINE = Machine(
    name="scnn", params=ScnnParams, layer_counts=layer_counts,
    buffers=("weight_fifo", "iaram", "oaram", "accumulators"),
    activation_threshold=lambda arch: arch.params.activation_threshold,
    efficiency=(("lane_utilization", "SCNN multiplier slots used (products / F x I x cycles)"),
                ("multiplier_utilization", "SCNN multiplier utilization, barrier waits excluded"),
                ("barrier_idle_fraction", "SCNN PE-cycles idle at the barrier")),
    figures=(("working_pe_cycles", "sum"),
             ("multiplier_utilization", "working_pe_cycles"),
             ("barrier_idle_fraction", "cycles_compute"),
             ("contention_stall_fraction", "working_pe_cycles"),
             ("kc", None), ("temporal_tiles", None)),
    compressed_outputs=True,
    macs_per_second=1e8,
    description="PT-IS-CP-sparse: Cartesian products of non-zero weights and activations "
                "(Parashar et al., ISCA 2017)")
