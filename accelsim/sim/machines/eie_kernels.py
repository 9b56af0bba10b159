"""Numba kernels of the EIE model and their plain-Python references (the model: eie.py).

The storage format (interleaved CSC with padding entries), the stored entries
and SRAM words per PE and column, and the FIFO/broadcast recurrence, each
beside a reference that simulates the same thing explicitly.
"""

from collections import deque

import numba
import numpy as np

from ...workload.macs import magnitude_bits

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


def reference_layer(weight2d, nonzero_padded, out_h, out_w, kernel, stride, dilation, params,
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
