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
through the arbitrated crossbar (in closed form), the steps, the
multiplications, the products that land on an output, and the distinct
halo outputs; the reference lists every step's products with Python sets
and steps the crossbar cycle by cycle (scnn_crossbar_reference).
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


@numba.njit(cache=True)
def weight_vectors(w_starts, w_k, w_dy, w_dx, vec_f, vec_i, banks, window_h, window_w):
    """The weight streams cut into vectors of F once, for every PE: per stream its first
    vector; per vector its first real (non-placeholder) weight, the box its (dy, dx) span
    (dy_lo, dy_hi, dx_lo, dx_hi) and the bank set of its weights' slot terms (-1 when two
    share a bank, or when banks do not fit a bit set); per real weight its slot term
    k + F * (dx + I * dy) and accumulator term (k * window_h + dy) * window_w + dx, which a
    PE offsets by its window's origin."""
    rows = w_starts.shape[0] - 1
    v_starts = np.zeros(rows + 1, np.int64)
    for row in range(rows):
        v_starts[row + 1] = v_starts[row] + (w_starts[row + 1] - w_starts[row] + vec_f - 1) // vec_f
    vectors = v_starts[rows]
    v_real = np.zeros(vectors + 1, np.int64)
    v_box = np.empty((vectors, 4), np.int64)
    v_banks = np.full(vectors, -1, np.int64)
    real = 0
    for wi in range(w_k.shape[0]):
        real += w_k[wi] >= 0
    r_term, r_acc = np.empty(real, np.int64), np.empty(real, np.int64)
    r_dy, r_dx = np.empty(real, np.int64), np.empty(real, np.int64)
    use_masks = banks <= 62
    n_real = 0
    for row in range(rows):
        for v in range(v_starts[row], v_starts[row + 1]):
            first = w_starts[row] + (v - v_starts[row]) * vec_f
            v_real[v] = n_real
            big = 1 << 40
            dy_lo = dx_lo = big
            dy_hi = dx_hi = -big
            bank_set = 0 if use_masks else -1
            for wi in range(first, min(first + vec_f, w_starts[row + 1])):
                if w_k[wi] >= 0:
                    k, dy, dx = w_k[wi], w_dy[wi], w_dx[wi]
                    r_dy[n_real], r_dx[n_real] = dy, dx
                    r_term[n_real] = k + vec_f * (dx + vec_i * dy)
                    r_acc[n_real] = (k * window_h + dy) * window_w + dx
                    if bank_set >= 0:
                        bit = 1 << (r_term[n_real] % banks)
                        bank_set = -1 if bank_set & bit else bank_set | bit
                    n_real += 1
                    dy_lo, dy_hi = min(dy_lo, dy), max(dy_hi, dy)
                    dx_lo, dx_hi = min(dx_lo, dx), max(dx_hi, dx)
            v_box[v, 0], v_box[v, 1], v_box[v, 2], v_box[v, 3] = dy_lo, dy_hi, dx_lo, dx_hi
            v_banks[v] = bank_set
    v_real[vectors] = n_real
    return v_starts, v_real, v_box, v_banks, r_term, r_acc, r_dy, r_dx


@numba.njit(parallel=True, cache=True)
def scnn_group_cycles(w_starts, w_k, w_dy, w_dx, a_starts, a_y, a_x, channels, classes, groups,
                      kc, filters, out_h, out_w, own_rows, own_cols, acc_rows, acc_cols, vec_f,
                      vec_i, banks, queue):
    """Per (group, PE): cycles, steps, multiplications, products on an output, distinct halo
    outputs.

    Coordinates come divided by the stride: a_y/a_x are an activation's input row and column
    // stride (-1 for a placeholder), w_dy/w_dx a weight's (padding - tap * dilation + the
    input phase of its class) / stride, exact within a phase class, so a product's output is
    (a_y + w_dy, a_x + w_dx); w_k is the weight's filter in the group (-1: placeholder).
    own_rows/own_cols: per PE row and column, the [first, last + 1) output rows and columns
    it owns; acc_rows/acc_cols: the same for its accumulator window (owned outputs and every
    output its products reach). A product's bank is (k + F * (column - first window column +
    I * (row - first window row))) mod banks.

    The crossbar in closed form (scnn_crossbar_reference steps it cycle by cycle): a bank
    accumulates one product per cycle, back to back while it has any, so it is described by
    the cycle it falls idle, `done`. A step issued at cycle t adds its products to their banks
    (done = max(done, t) + products); they wait in the step's latch until each fits its
    bank's queue, which happens at cycle done - queue for the bank that finishes last, and
    the next step issues the cycle after that (or after t, if everything fitted at once).
    A step issued while every bank is idle, whose weights sit in distinct banks and whose
    products all land on the plane (most steps), is priced with bit-sliced counters: only
    the banks it gives two or more products have `done` written; the others are idle again
    by the next issue, which `max(done, t)` already implies. Both the bank slot and the
    accumulator index of a product are a weight's term plus an activation's term, so each is
    computed once per operand.
    """
    pe_cols = own_cols.shape[0]
    pes = (a_starts.shape[0] - 1) // (channels * classes)
    cycles = np.zeros((groups, pes), np.int64)
    steps = np.zeros((groups, pes), np.int64)
    mults = np.zeros((groups, pes), np.int64)
    valid = np.zeros((groups, pes), np.int64)
    halo = np.zeros((groups, pes), np.int64)
    # Every PE's accumulators indexed in one (Kc, window_h, window_w) frame.
    window_h = window_w = 1
    for r in range(acc_rows.shape[0]):
        window_h = max(window_h, acc_rows[r, 1] - acc_rows[r, 0])
    for c in range(acc_cols.shape[0]):
        window_w = max(window_w, acc_cols[c, 1] - acc_cols[c, 0])
    v_starts, v_real, v_box, v_banks, r_term, r_acc, r_dy, r_dx = weight_vectors(
        w_starts, w_k, w_dy, w_dx, vec_f, vec_i, banks, window_h, window_w)
    # A power-of-two bank count selects by mask; a general one by remainder.
    bank_mask = banks - 1 if banks & (banks - 1) == 0 else -1
    use_masks = banks <= 62
    ring = (1 << banks) - 1 if use_masks else 0
    for pe in numba.prange(pes):
        pr, pc = pe // pe_cols, pe % pe_cols
        row0, col0 = acc_rows[pr, 0], acc_cols[pc, 0]
        acc_h, acc_w = acc_rows[pr, 1] - row0, acc_cols[pc, 1] - col0
        own_r0, own_r1 = own_rows[pr, 0], own_rows[pr, 1]
        own_c0, own_c1 = own_cols[pc, 0], own_cols[pc, 1]
        # The PE's activation streams (every channel and class) decoded once for all groups:
        # the real activations, offset into the PE's window, and per vector where it starts
        # among them and the box its coordinates span; per stream its first vector.
        row_first = pe * channels * classes
        e0, e1 = a_starts[row_first], a_starts[row_first + channels * classes]
        ay, ax = np.empty(e1 - e0, np.int64), np.empty(e1 - e0, np.int64)
        a_slot, a_acc = np.empty(e1 - e0, np.int64), np.empty(e1 - e0, np.int64)
        a_bank = np.empty(e1 - e0, np.int64)  # a_slot mod banks, for the bit sets
        row_vectors = np.empty(channels * classes + 1, np.int64)
        a_start = np.empty((e1 - e0) + channels * classes + 1, np.int64)
        a_box = np.empty(((e1 - e0) + channels * classes, 4), np.int64)
        origin = vec_f * (col0 + vec_i * row0)
        n_avec = n_real = 0
        for local in range(channels * classes):
            row_vectors[local] = n_avec
            a0, a1 = a_starts[row_first + local], a_starts[row_first + local + 1]
            for av in range(a0, a1, vec_i):
                a_start[n_avec] = n_real
                y_lo = x_lo = out_h + out_w
                y_hi = x_hi = -1
                for ai in range(av, min(av + vec_i, a1)):
                    if a_y[ai] >= 0:
                        y, x = a_y[ai], a_x[ai]
                        ay[n_real], ax[n_real] = y, x
                        a_slot[n_real] = vec_f * (x + vec_i * y) - origin
                        a_bank[n_real] = a_slot[n_real] % banks
                        a_acc[n_real] = (y - row0) * window_w + x - col0
                        n_real += 1
                        y_lo, y_hi = min(y_lo, y), max(y_hi, y)
                        x_lo, x_hi = min(x_lo, x), max(x_hi, x)
                a_box[n_avec, 0], a_box[n_avec, 1] = y_lo, y_hi
                a_box[n_avec, 2], a_box[n_avec, 3] = x_lo, x_hi
                n_avec += 1
        row_vectors[channels * classes] = n_avec
        a_start[n_avec] = n_real
        for g in range(groups):
            k_here = min(kc, filters - g * kc)
            touched = np.zeros(k_here * window_h * window_w, np.bool_)  # accumulators written
            done = np.zeros(banks, np.int64)  # per bank, the cycle it falls idle
            t = 0  # the cycle the next step issues
            horizon = 0  # no bank is busy from this cycle on
            n_steps = n_mults = n_valid = 0  # locals: no shared writes in the loop
            for local in range(channels * classes):
                w_row = g * channels * classes + local
                if w_starts[w_row] == w_starts[w_row + 1]:
                    continue
                # Input-stationary: each activation vector is held while the channel's
                # weight block streams past it.
                for v in range(row_vectors[local], row_vectors[local + 1]):
                    first, last = a_start[v], a_start[v + 1]
                    y_lo, y_hi, x_lo, x_hi = a_box[v, 0], a_box[v, 1], a_box[v, 2], a_box[v, 3]
                    for wv in range(v_starts[w_row], v_starts[w_row + 1]):
                        f0, f1 = v_real[wv], v_real[wv + 1]
                        n_steps += 1
                        n_mults += (f1 - f0) * (last - first)
                        inside = (y_lo + v_box[wv, 0] >= 0 and y_hi + v_box[wv, 1] < out_h
                                  and x_lo + v_box[wv, 2] >= 0 and x_hi + v_box[wv, 3] < out_w)
                        latest = t  # when the step's last bank falls idle
                        if inside and horizon <= t and v_banks[wv] >= 0 and vec_i <= 15:
                            # Every bank idle, the weights in distinct banks: activation i
                            # sends one product to each bank of the weights' set rotated by
                            # its offset. Sum the rotated sets in bit-sliced counters (bit<l>:
                            # bit l of every bank's count); only banks given two or more
                            # products stay busy past the next cycle.
                            weights = v_banks[wv]
                            bit0 = bit1 = bit2 = bit3 = 0  # counts up to 15 (I <= 15)
                            for i in range(first, last):
                                shift = a_bank[i]
                                carry = ((weights << shift) | (weights >> (banks - shift))) & ring
                                bit0, carry = bit0 ^ carry, bit0 & carry
                                bit1, carry = bit1 ^ carry, bit1 & carry
                                bit2, carry = bit2 ^ carry, bit2 & carry
                                bit3 = bit3 ^ carry
                            n_valid += (f1 - f0) * (last - first)
                            latest = t + 1
                            several = bit1 | bit2 | bit3
                            bank = 0
                            while several:
                                if several & 1:
                                    count = (((bit0 >> bank) & 1) + 2 * ((bit1 >> bank) & 1)
                                             + 4 * ((bit2 >> bank) & 1) + 8 * ((bit3 >> bank) & 1))
                                    done[bank] = t + count
                                    latest = max(latest, t + count)
                                several >>= 1
                                bank += 1
                        elif inside:
                            # Every product lands on the plane: no bounds checks.
                            n_valid += (f1 - f0) * (last - first)
                            for f in range(f0, f1):
                                slot0 = r_term[f]
                                for i in range(first, last):
                                    slot = slot0 + a_slot[i]
                                    bank = slot & bank_mask if bank_mask >= 0 else slot % banks
                                    busy = max(done[bank], t) + 1
                                    done[bank] = busy
                                    latest = max(latest, busy)
                        if inside:
                            if not (own_r0 <= y_lo + v_box[wv, 0] and y_hi + v_box[wv, 1] < own_r1
                                    and own_c0 <= x_lo + v_box[wv, 2]
                                    and x_hi + v_box[wv, 3] < own_c1):
                                # Mark every product's accumulator; owned ones are left out
                                # when the halo is counted (cheaper than a branch each).
                                for f in range(f0, f1):
                                    acc0 = r_acc[f]
                                    for i in range(first, last):
                                        touched[acc0 + a_acc[i]] = True
                        else:
                            for f in range(f0, f1):
                                dy, dx, slot0, acc0 = r_dy[f], r_dx[f], r_term[f], r_acc[f]
                                for i in range(first, last):
                                    oy = ay[i] + dy
                                    ox = ax[i] + dx
                                    if oy < 0 or ox < 0 or oy >= out_h or ox >= out_w:
                                        continue  # computed, then dropped
                                    touched[acc0 + a_acc[i]] = True
                                    slot = slot0 + a_slot[i]
                                    bank = slot & bank_mask if bank_mask >= 0 else slot % banks
                                    busy = max(done[bank], t) + 1
                                    done[bank] = busy
                                    latest = max(latest, busy)
                                    n_valid += 1
                        horizon = max(horizon, latest)
                        t = max(t, latest - queue) + 1
            # The group ends when the last step has issued and every queue has drained.
            end = t
            for bank in range(banks):
                end = max(end, done[bank])
            # Halo outputs: written accumulators outside the outputs the PE owns.
            n_halo = 0
            for k in range(k_here):
                for ly in range(acc_h):
                    inside_rows = own_r0 <= row0 + ly < own_r1
                    for lx in range(acc_w):
                        if touched[(k * window_h + ly) * window_w + lx] and not (
                                inside_rows and own_c0 <= col0 + lx < own_c1):
                            n_halo += 1
            cycles[g, pe], steps[g, pe], mults[g, pe] = end, n_steps, n_mults
            valid[g, pe], halo[g, pe] = n_valid, n_halo
    return cycles, steps, mults, valid, halo


def scnn_crossbar_reference(steps, banks, queue):
    """Cycles of a PE's steps through the accumulator crossbar, simulated cycle by cycle.

    `steps`: per step, the banks of its products. In each cycle: the multiplier array
    computes the next step into its latch if the latch is empty; latched products move into
    their banks' queues while a queue has fewer than `queue` entries; every bank with a queued
    product accumulates one. The PE is done when every step has issued and every queue has
    drained."""
    queued = [0] * banks
    latch = {}
    pending = list(steps)[::-1]
    cycle = 0
    while pending or latch or any(queued):
        if not latch and pending:
            for bank in pending.pop():
                latch[bank] = latch.get(bank, 0) + 1
        for bank in list(latch):
            moved = min(latch[bank], queue - queued[bank])
            queued[bank] += moved
            latch[bank] -= moved
            if not latch[bank]:
                del latch[bank]
        queued = [max(0, q - 1) for q in queued]
        cycle += 1
    return cycle


def scnn_group_cycles_reference(w_starts, w_entries, a_starts, a_entries, channels, classes,
                                groups, kc, filters, kernel, width, out_shape, stride, padding,
                                dilation, owner_row, owner_col, pe_cols, acc_row0, acc_col0,
                                vec_f, vec_i, banks, queue):
    """Plain-Python twin of scnn_group_cycles, from the raw stream entries: every step's
    products listed in input-stationary order, then the crossbar stepped cycle by cycle."""
    pes = (len(a_starts) - 1) // (channels * classes)
    shape = (groups, pes)
    cycles, steps, mults, valid, halo = (np.zeros(shape, np.int64) for _ in range(5))
    for g in range(groups):
        block = (min(kc, filters - g * kc), *kernel)
        for pe in range(pes):
            halo_outputs = set()
            pe_steps = []
            origin = (acc_row0[pe // pe_cols], acc_col0[pe % pe_cols])
            for c in range(channels):
                for cls in range(classes):
                    w_row = (g * channels + c) * classes + cls
                    a_row = (pe * channels + c) * classes + cls
                    weights = list(w_entries[w_starts[w_row]:w_starts[w_row + 1]])
                    acts = list(a_entries[a_starts[a_row]:a_starts[a_row + 1]])
                    if not weights:
                        continue
                    for av in range(0, len(acts), vec_i):
                        for wv in range(0, len(weights), vec_f):
                            step_banks = []
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
                                    step_banks.append(
                                        (k + vec_f * (local_col + vec_i * local_row)) % banks)
                                    if owner_row[oy] * pe_cols + owner_col[ox] != pe:
                                        halo_outputs.add(out)
                            pe_steps.append(step_banks)
            steps[g, pe] = len(pe_steps)
            cycles[g, pe] = scnn_crossbar_reference(pe_steps, banks, queue)
            halo[g, pe] = len(halo_outputs)
    return cycles, steps, mults, valid, halo
