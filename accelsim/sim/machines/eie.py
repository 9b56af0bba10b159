"""eie: weight and activation zero-skipping (Han et al., ISCA 2016).

Storage: row r of W (out x in) lives in PE r mod N. Each PE keeps, per column,
its non-zeros in CSC with a b-bit relative row index (zeros since the previous
stored entry); a run of more than 2**b - 1 zeros inserts a padding entry
(value 0, index 2**b - 1), which costs a cycle like a real one. Entries are
packed back to back, so a column's entries may span SRAM words.

Timing: a leading-non-zero detector broadcasts the next non-zero input
activation to every PE's FIFO, at most one per cycle, and stalls while any
FIFO is full. "At any point in time each PE processes the activation at the
head of its queue" (EIE, Sec. III): a PE starts the head as soon as it is
idle (in the cycle it arrives, if its FIFO was empty). Starting it needs the
column's start and end pointers (one read of the even and one of the odd
pointer bank, one cycle), so a PE takes at most one activation per cycle and
a column with e stored entries in its rows costs it max(e, 1) cycles: an
empty column is not free.
FIFO slot rule: a slot is taken in the cycle of the broadcast and freed in
the cycle after the PE's last cycle on that activation (it sits at the head
while it is processed); a broadcast may use a slot freed in its own cycle.
With depth 1 the PEs therefore move in lockstep, one column at a time. For
activation k, with broadcast cycle b_k:
    start[p, k] = max(b_k, finish[p, k-1]);  finish[p, k] = start[p, k] + max(entries[p, col_k], 1)
    b_k = max(b_{k-1} + 1, max_p finish[p, k - depth])
A matrix-vector product ends when the last PE finishes; `pipeline_depth`
cycles (pointer read, matrix read, MAC, write-back, including the cycle from
broadcast to pop) are added once per layer because successive products overlap
in the pipeline.

Conv layers (an extension of the paper): lowered to one matrix-vector product
per output position over the receptive field (im2col, zero padding included),
the products of one group back to back with a barrier between them.
"""

from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from ...workload.macs import nonzero_mask, padded_mask
from .base import Machine
from .counts import LayerCounts, as_conv, bank_accesses, ceil_div, group_slices


@dataclass(frozen=True)
class EieParams:
    pes: int = spec(64, doc="processing elements; row r of W goes to PE r mod pes", minimum=1)
    fifo_depth: int = spec(8, doc="activation queue entries per PE", minimum=1)
    index_bits: int = spec(4, doc="bits of the relative row index; longer zero runs get padding",
                           minimum=1, maximum=16)
    codebook_bits: int = spec(4, doc="bits of a weight's codebook index", minimum=1, maximum=16)
    pipeline_depth: int = spec(4, doc="cycles from a PE's last entry to its result", minimum=0)


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    from . import eie_kernels as kernels  # imported on first use: configs load without Numba

    """LayerCounts of one sample.

    On-chip accesses: every SRAM word a column's entries touch in a PE is one sparse-matrix
    read; every pop reads the start and end pointers (one access of each pointer bank); the
    activation register files are read once per input by the leading-non-zero detector and
    read and written once per entry (the 16-bit destination accumulator); every broadcast is
    pushed into and popped from each PE's queue.
    """
    params, bits, buffers = arch.params, arch.arithmetic, arch.memory.buffers
    entry_bits = params.index_bits + params.codebook_bits
    entries_per_word = max(1, buffers["sparse_matrix"].bank_width_bits // entry_bits)
    pointer_bits = buffers["pointers"].bank_width_bits
    weight, acts = as_conv(layer, sample)
    kernel = weight.shape[2:]
    out_h, out_w = layer.output_shape[1:] if layer.kind == "conv2d" else (1, 1)
    nonzero = padded_mask(layer, nonzero_mask(acts))

    cycles = processed = read = broadcasts = stored_entries = 0
    fullest_pe_entries = columns_per_pe = 0
    for filter_slice, channel_slice in group_slices(layer):
        weight2d = weight[filter_slice].reshape(filter_slice.stop - filter_slice.start, -1)
        group_nonzero = nonzero[channel_slice]
        if reference:
            *result, per_pe = kernels.reference_layer(
                weight2d, group_nonzero, out_h, out_w, kernel, layer.stride, layer.dilation,
                params, entries_per_word)
        else:
            entries = kernels.pe_entries(weight2d, params.pes, params.index_bits)
            words = kernels.sram_words(entries, entries_per_word)
            result = kernels.eie_layer_cycles(entries, words, group_nonzero, out_h, out_w, kernel[0],
                                      kernel[1], layer.stride[0], layer.stride[1],
                                      layer.dilation[0], layer.dilation[1], params.fifo_depth)
            per_pe = entries.sum(axis=1)
        g_cycles, g_processed, g_read, g_broadcasts = (int(v) for v in result)
        cycles += g_cycles
        processed += g_processed
        read += g_read
        broadcasts += g_broadcasts
        stored_entries += int(sum(per_pe))
        fullest_pe_entries += int(max(per_pe))
        columns_per_pe += weight2d.shape[1] + 1  # a start pointer per column and an end

    column_bits = max(1, int(np.ceil(np.log2(max(2, weight.shape[1] * kernel[0] * kernel[1])))))
    input_reads = out_h * out_w * weight.shape[1] * layer.groups * kernel[0] * kernel[1]
    actions = {
        "mac": processed,
        "mac_gated": 0,
        "read:sparse_matrix": bank_accesses(arch, "sparse_matrix", read,
                                            buffers["sparse_matrix"].bank_width_bits),
        "read:pointers": bank_accesses(arch, "pointers", broadcasts * params.pes, 2 * pointer_bits),
        "read:activations": bank_accesses(arch, "activations", input_reads, bits.activation_bits)
        + bank_accesses(arch, "activations", processed, bits.accumulator_bits),
        "write:activations": bank_accesses(arch, "activations", processed, bits.accumulator_bits),
        "rf": broadcasts * params.pes * 2 * (bits.activation_bits + column_bits),
        "codebook": processed,
    }
    weight_bytes = ceil_div(stored_entries * entry_bits + params.pes * columns_per_pe * pointer_bits, 8)
    cycles_total = cycles + params.pipeline_depth
    return LayerCounts(
        cycles_compute=cycles_total,
        cycles_ideal=ceil_div(processed, params.pes) + params.pipeline_depth,
        ops_executed=processed,
        macs_effective=macs_effective,
        mac_units=params.pes,
        actions=actions,
        tiles=[(weight_bytes, cycles_total)],
        lane_utilization=processed / (params.pes * cycles_total) if cycles_total else 0.0,
        weight_footprint={"sparse_matrix": ceil_div(fullest_pe_entries * entry_bits, 8),
                          "pointers": ceil_div(columns_per_pe * pointer_bits, 8)},
        # Inputs and outputs are interleaved over the PEs' activation register files.
        input_footprint={"activations": ceil_div(acts.size * bits.activation_bits, 8)},
        output_footprint={"activations": ceil_div(int(np.prod(layer.output_shape))
                                                  * bits.activation_bits, 8)},
    )


MACHINE = Machine(
    name="eie", params=EieParams, layer_counts=layer_counts,
    buffers=("sparse_matrix", "pointers", "activations"),
    efficiency=(("load_efficiency", "EIE load efficiency (ideal / actual)"),),
    macs_per_second=1e8,
    description="weight and activation zero-skipping for FC layers (Han et al., ISCA 2016)")
