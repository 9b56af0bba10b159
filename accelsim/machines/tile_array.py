"""DaDianNao's tile array, shared by the dense and Cnvlutin machines.

Organization: T tiles x Tm filter lanes x Tn neuron lanes. A pass applies one
window's inputs to T*Tm filters of one group; a layer takes
ceil(K_g / (T*Tm)) passes per group, each over every output position
(window). The window's depth is split into Tn contiguous slices of
ceil(C_g / Tn) channels, one per neuron lane; a lane walks its slice at every
kernel tap (r, s) in bricks of `brick_size` channels and applies one neuron
per cycle to its Tm filters.

- dense: every neuron, zero or not, costs a cycle, so a window costs
  R*S*ceil(C_g/Tn) cycles: DaDianNao's formula.
- cnvlutin: only non-zero neurons (|a| > threshold) cost a cycle; a brick with
  none costs `empty_cycles`. Lanes wait for each other at the end of each
  window (sync "window") or after each brick step (sync "brick").
Zero padding counts as zero neurons.
"""

import numba
import numpy as np

from ..macs import nonzero_activations, padded_mask
from .counts import LayerCounts, as_conv, ceil_div, group_slices


def brick_layout(channels, lanes, brick_size):
    """Channel range [start, stop) of each (lane, brick); lanes own contiguous depth slices."""
    slice_len = ceil_div(channels, lanes)
    bricks = max(1, ceil_div(slice_len, brick_size))
    starts = np.zeros((lanes, bricks), np.int64)
    stops = np.zeros((lanes, bricks), np.int64)
    for lane in range(lanes):
        for b in range(bricks):
            lo = min(lane * slice_len + b * brick_size, channels)
            hi = min(lo + brick_size, (lane + 1) * slice_len, channels)
            starts[lane, b], stops[lane, b] = lo, max(lo, hi)
    return starts, stops


def brick_counts(nonzero_padded, starts, stops):
    """(lanes, bricks, Hp, Wp) non-zeros and (lanes, bricks) lengths of every brick."""
    cumulative = np.concatenate(
        [np.zeros((1, *nonzero_padded.shape[1:]), np.int64),
         np.cumsum(nonzero_padded, axis=0, dtype=np.int64)])
    return (cumulative[stops] - cumulative[starts]).astype(np.int32), (stops - starts).astype(np.int32)


@numba.njit(parallel=True, cache=True)
def tile_array_window_cycles(nnz, length, out_h, out_w, kr, ks, sh, sw, dh, dw,
                             skip_zeros, empty_cycles, sync_brick):
    """Cycles of one pass over all windows, lane busy cycles, neurons applied."""
    lanes, bricks = length.shape
    row_cycles = np.zeros(out_h, np.int64)
    row_busy = np.zeros(out_h, np.int64)
    row_neurons = np.zeros(out_h, np.int64)
    for p in numba.prange(out_h):
        lane_total = np.zeros(lanes, np.int64)
        for q in range(out_w):
            lane_total[:] = 0
            window = 0
            for r in range(kr):
                y = p * sh + r * dh
                for s in range(ks):
                    x = q * sw + s * dw
                    for b in range(bricks):
                        step = 0
                        for lane in range(lanes):
                            if length[lane, b] == 0:
                                continue
                            work = nnz[lane, b, y, x] if skip_zeros else length[lane, b]
                            row_neurons[p] += work
                            if work == 0:
                                work = empty_cycles
                            lane_total[lane] += work
                            step = max(step, work)
                        window += step
            if not sync_brick:
                window = lane_total.max()
            row_cycles[p] += window
            row_busy[p] += lane_total.sum()
    return row_cycles.sum(), row_busy.sum(), row_neurons.sum()


def tile_array_window_cycles_reference(nonzero_padded, out_h, out_w, kernel, stride, dilation,
                                       lanes, brick_size, skip_zeros, empty_cycles, sync_brick):
    """Plain-Python twin of tile_array_window_cycles, reading the raw mask."""
    channels = nonzero_padded.shape[0]
    slice_len = -(-channels // lanes)
    cycles = busy = neurons = 0
    for p in range(out_h):
        for q in range(out_w):
            lane_total = [0] * lanes
            window = 0
            for r in range(kernel[0]):
                for s in range(kernel[1]):
                    y, x = p * stride[0] + r * dilation[0], q * stride[1] + s * dilation[1]
                    for b in range(max(1, -(-slice_len // brick_size))):
                        step = 0
                        for lane in range(lanes):
                            chans = [c for c in range(lane * slice_len + b * brick_size,
                                                      lane * slice_len + (b + 1) * brick_size)
                                     if c < min(channels, (lane + 1) * slice_len)]
                            if not chans:
                                continue
                            work = sum(bool(nonzero_padded[c, y, x]) for c in chans) if skip_zeros \
                                else len(chans)
                            neurons += work
                            work = work or empty_cycles
                            lane_total[lane] += work
                            step = max(step, work)
                        window += step
            cycles += window if sync_brick else max(lane_total)
            busy += sum(lane_total)
    return cycles, busy, neurons


def tile_array_counts(layer, sample, arch, macs_effective, skip_zeros, threshold=0.0,
                      empty_cycles=0, sync_brick=False, offset_bits=0, reference=False):
    """LayerCounts of one sample on a tile array described by arch.params."""
    params, bits = arch.params, arch.arithmetic
    lanes, filters_per_pass = params.neuron_lanes, params.tiles * params.filter_lanes
    weight, acts = as_conv(layer, sample)
    kernel = weight.shape[2:]
    stride, dilation = layer.stride, layer.dilation
    out_h, out_w = layer.output_shape[1:] if layer.kind == "conv2d" else (1, 1)
    nonzero = nonzero_activations(acts, threshold)
    live_inputs = int(np.count_nonzero(nonzero))
    nonzero = padded_mask(layer, nonzero)
    # Dense lanes walk their whole slice as one brick; Cnvlutin's bricks are 2**offset_bits.
    brick_size = 2 ** offset_bits if skip_zeros else ceil_div(weight.shape[1], lanes)

    cycles = ideal = busy = neurons = ops = 0
    weight_bits_read = out_bits = 0
    tiles = []
    for filter_slice, channel_slice in group_slices(layer):
        group_nonzero = nonzero[channel_slice]
        if reference:
            pass_cycles, pass_busy, pass_neurons = tile_array_window_cycles_reference(
                group_nonzero, out_h, out_w, kernel, stride, dilation, lanes, brick_size,
                skip_zeros, empty_cycles, sync_brick)
        else:
            starts, stops = brick_layout(group_nonzero.shape[0], lanes, brick_size)
            nnz, length = brick_counts(group_nonzero, starts, stops)
            pass_cycles, pass_busy, pass_neurons = (int(v) for v in tile_array_window_cycles(
                nnz, length, out_h, out_w, kernel[0], kernel[1], stride[0], stride[1],
                dilation[0], dilation[1], skip_zeros, empty_cycles, sync_brick))
        group_filters = filter_slice.stop - filter_slice.start
        for first in range(0, group_filters, filters_per_pass):
            pass_filters = min(filters_per_pass, group_filters - first)
            cycles += pass_cycles
            ideal += ceil_div(pass_neurons, lanes)
            busy += pass_busy
            neurons += pass_neurons
            ops += pass_neurons * pass_filters
            weight_bits_read += pass_neurons * pass_filters * bits.weight_bits
            out_bits += out_h * out_w * pass_filters * bits.accumulator_bits
            weight_bytes = pass_filters * int(np.prod(weight.shape[1:])) * bits.weight_bits // 8
            tiles.append((weight_bytes, pass_cycles))

    mac_units = filters_per_pass * lanes
    actions = {
        "sram_read:weights": weight_bits_read,
        "sram_read:activations": neurons * bits.activation_bits,
        "sram_write:outputs": out_bits,
    }
    if offset_bits:
        actions["sram_read:offsets"] = neurons * offset_bits
    if params.zero_gating:
        actions.update(mac=macs_effective, mac_gated=ops - macs_effective)
    else:
        actions.update(mac=ops, mac_gated=0)
    return LayerCounts(
        cycles_compute=cycles,
        # Ideal: each pass's neurons spread evenly over the lanes, no empty-brick cycles.
        cycles_ideal=ideal,
        ops_executed=ops,
        macs_effective=macs_effective,
        mac_units=mac_units,
        actions=actions,
        tiles=tiles,
        lane_utilization=busy / (lanes * cycles) if cycles else 0.0,
        # Zero-free bricks move only their non-zeros, each with its offset.
        input_bytes=ceil_div(live_inputs * (bits.activation_bits + offset_bits), 8) if skip_zeros
        else ceil_div(acts.size * bits.activation_bits, 8),
    )
