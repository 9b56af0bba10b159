"""Numba kernel of the SCNN model and its plain-Python reference (the model: scnn.py).

Both take the same compressed streams, built by `weight_streams` and
`activation_streams`. A strided layer is split into stride phases: the taps
(r, s) whose products can land on an output for inputs of row phase
y mod stride and column phase x mod stride form one phase class, and a PE
only pairs a weight stream with the activation stream of the same class.
Streams are kept per (output-channel group, input channel, class) for the
weights of the Kc x R x S block and per (PE, input channel, class) for the
activations of the PE's tile; an entry is an index into its coordinate
arrays, or a placeholder (-1) standing for a run of 2**index_bits zeros.
The kernel counts, per group and PE, the cycles of the Cartesian products
(a step costs the largest number of products sent to one accumulator bank,
at least one), the multiplications, the products that land on an output,
and the distinct halo outputs; the reference does the same with Python sets
and dicts.
"""

import numba
import numpy as np

from .planar_tiling import tile_bounds


def _stream(mask, index_bits):
    """Positions of the non-zeros of a flat mask, with -1 placeholders for long zero runs."""
    positions = np.flatnonzero(mask)
    gaps = np.diff(positions, prepend=-1) - 1
    placeholders = gaps >> index_bits
    out = np.full(len(positions) + int(placeholders.sum()), -1, np.int64)
    # Each non-zero lands after the placeholders that precede it.
    out[np.arange(len(positions)) + np.cumsum(placeholders)] = positions
    return out


def _csr(pieces):
    starts = np.zeros(len(pieces) + 1, np.int64)
    starts[1:] = np.cumsum([len(p) for p in pieces])
    return starts, (np.concatenate(pieces) if pieces else np.zeros(0, np.int64))


def phase_of_tap(tap, dilation, padding, stride):
    """The input phase (index mod stride) whose products with this tap land on outputs."""
    return (tap * dilation - padding) % stride


def tap_classes(kernel, stride, padding, dilation):
    """(R, S) phase class of every tap."""
    return (phase_of_tap(np.arange(kernel[0]), dilation[0], padding[0], stride[0])[:, None]
            * stride[1]
            + phase_of_tap(np.arange(kernel[1]), dilation[1], padding[1], stride[1])[None, :])


def weight_streams_reference(weight_mask, kc, index_bits, stride, padding, dilation):
    """Streams over (group, channel, class), one by one: a class's taps in order, the group's
    filters of a tap together; entries are flat indices into (Kc_local, R, S). A class is
    stored on its own, so only its own zeros make runs."""
    filters, channels, kernel_r, kernel_s = weight_mask.shape
    classes = stride[0] * stride[1]
    tap_class = tap_classes((kernel_r, kernel_s), stride, padding, dilation).reshape(-1)
    pieces = []
    for g in range(-(-filters // kc)):
        block = weight_mask[g * kc:(g + 1) * kc]
        k_here = block.shape[0]
        for c in range(channels):
            by_tap = block[:, c].reshape(k_here, -1).T  # (taps, k)
            for cls in range(classes):
                taps = np.flatnonzero(tap_class == cls)
                stream = _stream(by_tap[taps].reshape(-1), index_bits)
                rank, k = np.divmod(np.maximum(stream, 0), k_here)
                tap = taps[rank] if len(taps) else rank
                pieces.append(np.where(stream >= 0, k * kernel_r * kernel_s + tap, -1))
    return (*_csr(pieces), classes)


def activation_streams_reference(act_mask, pe_rows, pe_cols, index_bits, stride):
    """Streams over (PE, channel, class) of the tile's non-zeros as flat y * W + x, one by one;
    a class (the tile's inputs of one row and column phase) is stored on its own."""
    channels, height, width = act_mask.shape
    row_start, row_stop = tile_bounds(height, pe_rows)
    col_start, col_stop = tile_bounds(width, pe_cols)
    pieces = []
    for i in range(pe_rows):
        for j in range(pe_cols):
            for c in range(channels):
                for phase_y in range(stride[0]):
                    for phase_x in range(stride[1]):
                        ys = [y for y in range(row_start[i], row_stop[i]) if y % stride[0] == phase_y]
                        xs = [x for x in range(col_start[j], col_stop[j]) if x % stride[1] == phase_x]
                        flat = np.array([y * width + x for y in ys for x in xs], np.int64)
                        grid = act_mask[c][np.ix_(ys, xs)].reshape(-1) if flat.size else flat
                        stream = _stream(grid, index_bits)
                        pieces.append(np.where(stream >= 0, flat[np.maximum(stream, 0)], -1)
                                      if flat.size else stream)
    return _csr(pieces)


def _segmented_streams(segment, position, value, segments, index_bits):
    """All streams at once: entries `value`, in `position` order within each `segment`, with a
    placeholder (-1) per 2**index_bits zeros before an entry. Returns (starts, entries)."""
    # One stable argsort of a combined key: a third of lexsort's time.
    order = np.argsort(segment * (int(position.max(initial=0)) + 1) + position, kind="stable")
    segment, position, value = segment[order], position[order], value[order]
    first = np.ones(len(segment), bool)
    first[1:] = segment[1:] != segment[:-1]
    previous = np.where(first, -1, np.concatenate([[-1], position[:-1]]))
    placeholders = (position - previous - 1) >> index_bits
    sizes = np.bincount(segment, weights=placeholders + 1, minlength=segments).astype(np.int64)
    starts = np.zeros(segments + 1, np.int64)
    starts[1:] = np.cumsum(sizes)
    # Entry i sits after every entry and placeholder before it in its segment.
    within = np.cumsum(placeholders + 1) - 1
    segment_base = np.concatenate([[0], np.cumsum(placeholders + 1)])[:-1]
    offset = within - np.maximum.accumulate(np.where(first, segment_base, 0))
    entries = np.full(starts[-1], -1, np.int64)
    entries[starts[segment] + offset] = value
    return starts, entries


def weight_streams(weight_mask, kc, index_bits, stride, padding, dilation):
    """weight_streams_reference, vectorised: (starts, entries, classes)."""
    filters, channels, kernel_r, kernel_s = weight_mask.shape
    classes = stride[0] * stride[1]
    tap_class = tap_classes((kernel_r, kernel_s), stride, padding, dilation).reshape(-1)
    # A tap's rank among the taps of its class, in tap order.
    tap_rank = np.zeros(tap_class.size, np.int64)
    for cls in range(classes):
        tap_rank[tap_class == cls] = np.arange(np.count_nonzero(tap_class == cls))
    k, c, r, s = np.nonzero(weight_mask)
    tap = r * kernel_s + s
    k_here = np.minimum(kc, filters - k // kc * kc)
    position = tap_rank[tap] * k_here + k % kc
    segment = ((k // kc) * channels + c) * classes + tap_class[tap]
    groups = -(-filters // kc)
    return (*_segmented_streams(segment, position, (k % kc) * kernel_r * kernel_s + tap,
                                groups * channels * classes, index_bits), classes)


def activation_streams(act_mask, pe_rows, pe_cols, index_bits, stride):
    """activation_streams_reference, vectorised: (starts, entries)."""
    channels, height, width = act_mask.shape
    classes = stride[0] * stride[1]
    tile_h, tile_w = -(-height // pe_rows), -(-width // pe_cols)
    c, y, x = np.nonzero(act_mask)
    pe_row, pe_col = y // tile_h, x // tile_w
    # Rank inside the tile's sub-grid of the input's phase: its first row and column of that
    # phase, and how many columns of that phase the tile has.
    y0 = pe_row * tile_h + (y - pe_row * tile_h) % stride[0]
    x0 = pe_col * tile_w + (x - pe_col * tile_w) % stride[1]
    x_stop = np.minimum((pe_col + 1) * tile_w, width)
    phase_cols = -(-(x_stop - x0) // stride[1])
    position = (y - y0) // stride[0] * phase_cols + (x - x0) // stride[1]
    segment = (((pe_row * pe_cols + pe_col) * channels + c) * classes
               + (y % stride[0]) * stride[1] + x % stride[1])
    return _segmented_streams(segment, position, y * width + x,
                              pe_rows * pe_cols * channels * classes, index_bits)


def owned_ranges(owner, pes):
    """(pes, 2) [first, last + 1) of the outputs each PE row (or column) owns; owners ascend."""
    ranks = np.arange(pes)
    return np.stack([np.searchsorted(owner, ranks, "left"),
                     np.searchsorted(owner, ranks, "right")], axis=1).astype(np.int64)


@numba.njit(parallel=True, cache=True)
def scnn_group_cycles(w_starts, w_k, w_dy, w_dx, a_starts, a_y, a_x, channels, classes, groups,
                      kc, filters, out_h, out_w, own_rows, own_cols, acc_rows, acc_cols, vec_f,
                      vec_i, banks):
    """Per (group, PE): cycles, multiplications, products on an output, distinct halo outputs.

    Coordinates come divided by the stride: a_y/a_x are an activation's input row and column
    // stride (-1 for a placeholder), w_dy/w_dx a weight's (padding - tap * dilation + the
    input phase of its class) / stride, exact within a phase class, so a product's output is
    (a_y + w_dy, a_x + w_dx); w_k is the weight's filter in the group (-1: placeholder).
    own_rows/own_cols: per PE row and column, the [first, last + 1) output rows and columns
    it owns; acc_rows/acc_cols: the same for its accumulator window (owned outputs and every
    output its products reach). A product's bank is (k + F * (column - first window column +
    I * (row - first window row))) mod banks.

    Both the bank slot and the accumulator index of a product are a weight's term plus an
    activation's term, so each operand's term is computed once per vector, not per product.
    A step whose products all land on the plane, from weights in distinct banks (most steps),
    is priced with bit sets; the others product by product. Both give the same count.
    """
    pe_cols = own_cols.shape[0]
    pes = (a_starts.shape[0] - 1) // (channels * classes)
    cycles = np.zeros((groups, pes), np.int64)
    mults = np.zeros((groups, pes), np.int64)
    valid = np.zeros((groups, pes), np.int64)
    halo = np.zeros((groups, pes), np.int64)
    longest = 0  # the longest activation stream, for the per-job scratch arrays
    for row in range(a_starts.shape[0] - 1):
        longest = max(longest, a_starts[row + 1] - a_starts[row])
    for job in numba.prange(groups * pes):
        g, pe = job // pes, job % pes
        pr, pc = pe // pe_cols, pe % pe_cols
        row0, col0 = acc_rows[pr, 0], acc_cols[pc, 0]
        acc_h, acc_w = acc_rows[pr, 1] - row0, acc_cols[pc, 1] - col0
        own_r0, own_r1 = own_rows[pr, 0], own_rows[pr, 1]
        own_c0, own_c1 = own_cols[pc, 0], own_cols[pc, 1]
        k_here = min(kc, filters - g * kc)
        touched = np.zeros(k_here * acc_h * acc_w, np.bool_)  # accumulators written
        # Banks fit one int64 bit set (below the sign bit): steps whose products all land on
        # the plane are priced with bit operations.
        use_masks = banks <= 62 and vec_i <= 15
        ring = (1 << banks) - 1 if use_masks else 0
        # Per bank, (the last step that used it) << 32 | (its products in that step).
        bank_mark = np.full(banks, -1 << 32, np.int64)
        step_id = 0
        # A power-of-two bank count selects by mask; a general one by remainder.
        bank_mask = banks - 1 if banks & (banks - 1) == 0 else -1
        n_cycles = n_mults = n_valid = 0  # locals: no shared writes in the loop
        # The real (non-placeholder) operands of the current weight vector, and the real
        # activations of the current stream with where each of its vectors starts.
        wdy, wdx = np.empty(vec_f, np.int64), np.empty(vec_f, np.int64)
        w_slot, w_acc = np.empty(vec_f, np.int64), np.empty(vec_f, np.int64)
        ay, ax = np.empty(longest, np.int64), np.empty(longest, np.int64)
        a_slot, a_acc = np.empty(longest, np.int64), np.empty(longest, np.int64)
        a_bank = np.empty(longest, np.int64)  # a_slot mod banks: no division in the step loop
        vec_start = np.empty(longest // vec_i + 2, np.int64)
        box = np.empty((longest // vec_i + 1, 4), np.int64)  # per vector: y_lo, y_hi, x_lo, x_hi
        for c in range(channels):
            for cls in range(classes):
                w_row = (g * channels + c) * classes + cls
                a_row = (pe * channels + c) * classes + cls
                ws, we = w_starts[w_row], w_starts[w_row + 1]
                a0, a1 = a_starts[a_row], a_starts[a_row + 1]
                if ws == we or a0 == a1:
                    continue
                n_vectors = 0
                n_real = 0
                for av in range(a0, a1, vec_i):
                    vec_start[n_vectors] = n_real
                    y_lo = x_lo = out_h + out_w
                    y_hi = x_hi = -1
                    for ai in range(av, min(av + vec_i, a1)):
                        if a_y[ai] >= 0:
                            y, x = a_y[ai], a_x[ai]
                            ay[n_real], ax[n_real] = y, x
                            a_slot[n_real] = vec_f * (x + vec_i * y)
                            a_bank[n_real] = a_slot[n_real] % banks
                            a_acc[n_real] = y * acc_w + x
                            n_real += 1
                            y_lo, y_hi = min(y_lo, y), max(y_hi, y)
                            x_lo, x_hi = min(x_lo, x), max(x_hi, x)
                    box[n_vectors, 0], box[n_vectors, 1] = y_lo, y_hi
                    box[n_vectors, 2], box[n_vectors, 3] = x_lo, x_hi
                    n_vectors += 1
                vec_start[n_vectors] = n_real
                for wv in range(ws, we, vec_f):
                    nw = 0
                    w_banks = 0  # bit b: a weight of the vector maps to bank b (at offset 0)
                    distinct = use_masks
                    dy_lo = dx_lo = out_h + out_w
                    dy_hi = dx_hi = -(out_h + out_w)
                    for wi in range(wv, min(wv + vec_f, we)):
                        if w_k[wi] >= 0:
                            k, dy, dx = w_k[wi], w_dy[wi], w_dx[wi]
                            wdy[nw], wdx[nw] = dy, dx
                            w_slot[nw] = k + vec_f * (dx - col0 + vec_i * (dy - row0))
                            w_acc[nw] = (k * acc_h + dy - row0) * acc_w + dx - col0
                            nw += 1
                            if use_masks:
                                bit = 1 << (w_slot[nw - 1] % banks)
                                distinct = distinct and not (w_banks & bit)
                                w_banks |= bit
                            dy_lo, dy_hi = min(dy_lo, dy), max(dy_hi, dy)
                            dx_lo, dx_hi = min(dx_lo, dx), max(dx_hi, dx)
                    for v in range(n_vectors):
                        first, last = vec_start[v], vec_start[v + 1]
                        n_mults += nw * (last - first)
                        step = 1
                        if (distinct and box[v, 0] + dy_lo >= 0 and box[v, 1] + dy_hi < out_h
                                and box[v, 2] + dx_lo >= 0 and box[v, 3] + dx_hi < out_w):
                            # Every product lands on the plane, and the vector's weights use
                            # distinct banks: activation i adds one product to each bank of
                            # the weights' bank set rotated by its offset. Sum the rotated
                            # sets in bit-sliced counters (bit<l>: bit l of every bank's
                            # count) and read off the largest count.
                            n_valid += nw * (last - first)
                            bit0 = bit1 = bit2 = bit3 = 0  # counts up to 15 (I <= 15)
                            for i in range(first, last):
                                shift = a_bank[i]
                                carry = ((w_banks << shift) | (w_banks >> (banks - shift))) & ring
                                bit0, carry = bit0 ^ carry, bit0 & carry
                                bit1, carry = bit1 ^ carry, bit1 & carry
                                bit2, carry = bit2 ^ carry, bit2 & carry
                                bit3 = bit3 ^ carry
                            candidates, largest = ring, 0
                            for level, bits in ((3, bit3), (2, bit2), (1, bit1), (0, bit0)):
                                if candidates & bits:
                                    candidates &= bits
                                    largest += 1 << level
                            step = max(step, largest)
                            if not (own_r0 <= box[v, 0] + dy_lo and box[v, 1] + dy_hi < own_r1
                                    and own_c0 <= box[v, 2] + dx_lo and box[v, 3] + dx_hi < own_c1):
                                # Mark every product's accumulator; owned ones are left out
                                # when the halo is counted (cheaper than a branch each).
                                for f in range(nw):
                                    acc0 = w_acc[f]
                                    for i in range(first, last):
                                        touched[acc0 + a_acc[i]] = True
                        else:
                            for f in range(nw):
                                dy, dx, slot0, acc0 = wdy[f], wdx[f], w_slot[f], w_acc[f]
                                for i in range(first, last):
                                    oy = ay[i] + dy
                                    ox = ax[i] + dx
                                    if oy < 0 or ox < 0 or oy >= out_h or ox >= out_w:
                                        continue  # computed, then dropped
                                    touched[acc0 + a_acc[i]] = True
                                    slot = slot0 + a_slot[i]
                                    bank = slot & bank_mask if bank_mask >= 0 else slot % banks
                                    # The bank's products in this step, or none if it was last
                                    # used in an earlier step: no reset between steps.
                                    mark = bank_mark[bank]
                                    count = (mark & 0xFFFFFFFF) + 1 if mark >> 32 == step_id else 1
                                    bank_mark[bank] = (step_id << 32) | count
                                    step = max(step, count)
                                    n_valid += 1
                            step_id += 1
                        n_cycles += step
        # Halo outputs: written accumulators outside the outputs the PE owns.
        n_halo = 0
        for k in range(k_here):
            for ly in range(acc_h):
                inside_rows = own_r0 <= row0 + ly < own_r1
                for lx in range(acc_w):
                    if touched[(k * acc_h + ly) * acc_w + lx] and not (
                            inside_rows and own_c0 <= col0 + lx < own_c1):
                        n_halo += 1
        cycles[g, pe], mults[g, pe], valid[g, pe], halo[g, pe] = n_cycles, n_mults, n_valid, n_halo
    return cycles, mults, valid, halo


def scnn_group_cycles_reference(w_starts, w_entries, a_starts, a_entries, channels, classes,
                                groups, kc, filters, kernel, width, out_shape, stride, padding,
                                dilation, owner_row, owner_col, pe_cols, acc_row0, acc_col0,
                                vec_f, vec_i, banks):
    """Plain-Python twin of scnn_group_cycles, from the raw stream entries, with sets and dicts."""
    pes = (len(a_starts) - 1) // (channels * classes)
    shape = (groups, pes)
    cycles, mults, valid, halo = (np.zeros(shape, np.int64) for _ in range(4))
    for g in range(groups):
        block = (min(kc, filters - g * kc), *kernel)
        for pe in range(pes):
            halo_outputs = set()
            origin = (acc_row0[pe // pe_cols], acc_col0[pe % pe_cols])
            for c in range(channels):
                for cls in range(classes):
                    w_row = (g * channels + c) * classes + cls
                    a_row = (pe * channels + c) * classes + cls
                    weights = list(w_entries[w_starts[w_row]:w_starts[w_row + 1]])
                    acts = list(a_entries[a_starts[a_row]:a_starts[a_row + 1]])
                    for wv in range(0, len(weights), vec_f):
                        for av in range(0, len(acts), vec_i):
                            per_bank = {}
                            for w in weights[wv:wv + vec_f]:
                                for a in acts[av:av + vec_i]:
                                    if w < 0 or a < 0:
                                        continue
                                    mults[g, pe] += 1
                                    k, r, s = np.unravel_index(w, block)
                                    y, x = divmod(a, width)
                                    ny = y + padding[0] - r * dilation[0]
                                    nx = x + padding[1] - s * dilation[1]
                                    assert ny % stride[0] == 0 and nx % stride[1] == 0
                                    oy, ox = ny // stride[0], nx // stride[1]
                                    if not (0 <= oy < out_shape[0] and 0 <= ox < out_shape[1]):
                                        continue
                                    valid[g, pe] += 1
                                    out = (k * out_shape[0] + oy) * out_shape[1] + ox
                                    local_row, local_col = oy - origin[0], ox - origin[1]
                                    bank = (k + vec_f * (local_col + vec_i * local_row)) % banks
                                    per_bank[bank] = per_bank.get(bank, 0) + 1
                                    if owner_row[oy] * pe_cols + owner_col[ox] != pe:
                                        halo_outputs.add(out)
                            cycles[g, pe] += max(per_bank.values(), default=1)
            halo[g, pe] = len(halo_outputs)
    return cycles, mults, valid, halo
