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

from collections import deque

import numba
import numpy as np

from ..macs import magnitude_bits, nonzero_mask, padded_mask
from .counts import LayerCounts, as_conv, bank_accesses, ceil_div, group_slices

# ---------------------------------------------------------------- storage format


def encode_column(column, index_bits):
    """CSC entries of one PE's column: (values, relative indices), padding included."""
    max_run = 2 ** index_bits - 1
    values, indices, zeros = [], [], 0
    for value in column:
        if value == 0:
            zeros += 1
            continue
        while zeros > max_run:
            values.append(0)
            indices.append(max_run)
            zeros -= max_run + 1
        values.append(value)
        indices.append(zeros)
        zeros = 0
    return values, indices


@numba.njit(parallel=True, cache=True)
def _pe_entries(raw, magnitude, pes, index_bits):
    rows, cols = raw.shape
    entries = np.zeros((pes, cols), np.int32)
    for pe in numba.prange(pes):
        previous = np.full(cols, -1, np.int64)  # local row of the last stored non-zero
        for row in range(pe, rows, pes):
            local = row // pes
            for col in range(cols):
                if raw[row, col] & magnitude:
                    entries[pe, col] += 1 + ((local - previous[col] - 1) >> index_bits)
                    previous[col] = local
    return entries


def pe_entries(matrix, pes, index_bits):
    """(pes, columns) stored entries, padding included, for W (rows x columns).

    A gap of g zeros before a non-zero costs g >> index_bits padding entries
    (encode_column is the explicit reference).
    """
    raw, magnitude = magnitude_bits(np.ascontiguousarray(matrix))
    return _pe_entries(raw, magnitude, pes, index_bits)


def sram_words(entries, entries_per_word):
    """(pes, columns) sparse-matrix SRAM words a column's entries touch, packed back to back."""
    ends = np.cumsum(entries, axis=1, dtype=np.int64)
    starts = ends - entries
    words = (ends - 1) // entries_per_word - starts // entries_per_word + 1
    return np.where(entries > 0, words, 0).astype(np.int32)


# ---------------------------------------------------------------- timing: kernel


@numba.njit(cache=True)
def _matvec_cycles(entries, columns, count, depth, finish, ring):
    """Cycles of one matrix-vector product over the `count` active columns."""
    pes = entries.shape[0]
    finish[:] = 0
    broadcast = -1
    for k in range(count):
        broadcast += 1
        if k >= depth:
            for p in range(pes):
                broadcast = max(broadcast, ring[k % depth, p])
        col = columns[k]
        for p in range(pes):
            finish[p] = max(broadcast, finish[p]) + max(entries[p, col], 1)
            ring[k % depth, p] = finish[p]
    return finish.max() if count else 0


@numba.njit(parallel=True, cache=True)
def eie_layer_cycles(entries, words, nonzero_padded, out_h, out_w, kr, ks, sh, sw, dh, dw, depth):
    """Sum over output positions of matvec cycles; entries processed; words read; broadcasts."""
    pes, cols = entries.shape
    channels = nonzero_padded.shape[0]
    positions = out_h * out_w
    cycles = np.zeros(positions, np.int64)
    processed = np.zeros(positions, np.int64)
    read = np.zeros(positions, np.int64)
    broadcasts = np.zeros(positions, np.int64)
    for pos in numba.prange(positions):
        p, q = pos // out_w, pos % out_w
        columns = np.empty(cols, np.int64)
        count = 0
        for c in range(channels):
            for r in range(kr):
                for s in range(ks):
                    if nonzero_padded[c, p * sh + r * dh, q * sw + s * dw]:
                        columns[count] = (c * kr + r) * ks + s
                        count += 1
        finish = np.zeros(pes, np.int64)
        ring = np.zeros((depth, pes), np.int64)
        cycles[pos] = _matvec_cycles(entries, columns, count, depth, finish, ring)
        for k in range(count):
            for pe in range(pes):
                processed[pos] += entries[pe, columns[k]]
                read[pos] += words[pe, columns[k]]
        broadcasts[pos] = count
    return cycles.sum(), processed.sum(), read.sum(), broadcasts.sum()


# ---------------------------------------------------------------- timing: reference


def eie_matvec_cycles_reference(entries, columns, depth):
    """Cycle-stepped twin of _matvec_cycles with explicit FIFOs (entries: per PE, per column)."""
    pes = len(entries)
    queues = [deque() for _ in range(pes)]
    remaining = [0] * pes
    working = [False] * pes  # the head of the PE's queue is being processed
    next_k, cycle, last_busy = 0, 0, -1

    def start_if_idle():
        for p in range(pes):
            if not working[p] and queues[p]:
                remaining[p] = max(entries[p][queues[p][0]], 1)  # the pointer read
                working[p] = True

    while next_k < len(columns) or any(queues):
        for p in range(pes):
            if working[p] and remaining[p] == 0:  # done with the head: its slot frees
                queues[p].popleft()
                working[p] = False
        start_if_idle()
        if next_k < len(columns) and all(len(queue) < depth for queue in queues):
            for queue in queues:
                queue.append(columns[next_k])
            next_k += 1
            start_if_idle()  # an idle PE with an empty FIFO takes the new activation at once
        for p in range(pes):
            if remaining[p]:
                remaining[p] -= 1
                last_busy = cycle
        cycle += 1
    return last_busy + 1


def _reference_layer(weight2d, nonzero_padded, out_h, out_w, kernel, stride, dilation, params,
                     entries_per_word):
    pes = params.pes
    rows, cols = weight2d.shape
    encoded = [[len(encode_column(weight2d[p::pes, j], params.index_bits)[0]) for j in range(cols)]
               for p in range(pes)]
    words = []
    for p in range(pes):
        offset, row = 0, []
        for j in range(cols):
            count = encoded[p][j]
            row.append((offset + count - 1) // entries_per_word - offset // entries_per_word + 1
                       if count else 0)
            offset += count
        words.append(row)
    cycles = processed = read = broadcasts = 0
    for p in range(out_h):
        for q in range(out_w):
            columns = [
                (c * kernel[0] + r) * kernel[1] + s
                for c in range(nonzero_padded.shape[0])
                for r in range(kernel[0]) for s in range(kernel[1])
                if nonzero_padded[c, p * stride[0] + r * dilation[0], q * stride[1] + s * dilation[1]]
            ]
            cycles += eie_matvec_cycles_reference(encoded, columns, params.fifo_depth)
            processed += sum(encoded[pe][j] for j in columns for pe in range(pes))
            read += sum(words[pe][j] for j in columns for pe in range(pes))
            broadcasts += len(columns)
    return cycles, processed, read, broadcasts, [sum(row) for row in encoded]


# ---------------------------------------------------------------- layer counts


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    """LayerCounts of one sample.

    On-chip accesses: every SRAM word a column's entries touch in a PE is one sparse-matrix
    read; every pop reads the start and end pointers (one access of each pointer bank); the
    activation register files are read once per input by the leading-non-zero detector and
    read and written once per entry (the 16-bit destination accumulator); every broadcast is
    pushed into and popped from each PE's queue.
    """
    params, bits, buffers = arch.eie, arch.arithmetic, arch.memory.buffers
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
            *result, per_pe = _reference_layer(
                weight2d, group_nonzero, out_h, out_w, kernel, layer.stride, layer.dilation,
                params, entries_per_word)
        else:
            entries = pe_entries(weight2d, params.pes, params.index_bits)
            words = sram_words(entries, entries_per_word)
            result = eie_layer_cycles(entries, words, group_nonzero, out_h, out_w, kernel[0],
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


def activation_threshold(arch):
    return 0.0
