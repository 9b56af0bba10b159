"""DaDianNao's tile array, shared by the dense and Cnvlutin machines: its Numba kernel, the
plain-Python reference of the same walk, and the counting around them.

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

from ...workload.macs import nonzero_activations, padded_mask
from .counts import LayerCounts, as_conv, bank_accesses, ceil_div, group_slices, output_positions


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
    """LayerCounts of one sample on a tile array described by arch.params.

    On-chip accesses (a modelling choice, as DaDianNao and Cnvlutin): each neuron a lane
    applies in a tile reads that lane's row of Tm weights from the tile's synapse buffer;
    the dense machine reads one brick of Tn neurons per cycle from the neuron memory, a
    Cnvlutin lane reads each of its stored bricks once per tap (values and offsets); each
    tile writes its Tm partial sums to its output buffer once per window; the layer's
    outputs are written to the neuron memory (and, on Cnvlutin, their offsets) once.
    """
    params, bits = arch.params, arch.arithmetic
    lanes, filters_per_pass = params.neuron_lanes, params.tiles * params.filter_lanes
    weight, acts = as_conv(layer, sample)
    kernel = weight.shape[2:]
    stride, dilation = layer.stride, layer.dilation
    out_h, out_w = layer.output_shape[1:] if layer.kind == "conv2d" else (1, 1)
    nonzero = padded_mask(layer, nonzero_activations(acts, threshold))
    # Dense lanes walk their whole slice as one brick; Cnvlutin's bricks are 2**offset_bits.
    brick_size = 2 ** offset_bits if skip_zeros else ceil_div(weight.shape[1], lanes)
    filter_bytes = ceil_div(int(np.prod(weight.shape[1:])) * bits.weight_bits, 8)

    cycles = ideal = busy = neurons = ops = 0
    weight_reads = brick_reads = partial_sum_writes = fullest_tile_bytes = 0
    tiles = []
    for filter_slice, channel_slice in group_slices(layer):
        group_nonzero = nonzero[channel_slice]
        starts, stops = brick_layout(group_nonzero.shape[0], lanes, brick_size)
        if reference:
            pass_cycles, pass_busy, pass_neurons = tile_array_window_cycles_reference(
                group_nonzero, out_h, out_w, kernel, stride, dilation, lanes, brick_size,
                skip_zeros, empty_cycles, sync_brick)
        else:
            nnz, length = brick_counts(group_nonzero, starts, stops)
            pass_cycles, pass_busy, pass_neurons = (int(v) for v in tile_array_window_cycles(
                nnz, length, out_h, out_w, kernel[0], kernel[1], stride[0], stride[1],
                dilation[0], dilation[1], skip_zeros, empty_cycles, sync_brick))
        stored_bricks = int(np.count_nonzero(stops > starts))
        group_filters = filter_slice.stop - filter_slice.start
        for first in range(0, group_filters, filters_per_pass):
            pass_filters = min(filters_per_pass, group_filters - first)
            tiles_used = ceil_div(pass_filters, params.filter_lanes)
            cycles += pass_cycles
            ideal += ceil_div(pass_neurons, lanes)
            busy += pass_busy
            neurons += pass_neurons
            ops += pass_neurons * pass_filters
            weight_reads += pass_neurons * tiles_used
            brick_reads += (out_h * out_w * kernel[0] * kernel[1] * stored_bricks if skip_zeros
                            else pass_cycles)
            partial_sum_writes += out_h * out_w * tiles_used
            # Tile 0 holds the first Tm filters of every pass: the fullest tile.
            fullest_tile_bytes += min(params.filter_lanes, pass_filters) * filter_bytes
            tiles.append((pass_filters * filter_bytes, pass_cycles))

    outputs = int(np.prod(layer.output_shape))
    output_writes = output_positions(layer) * ceil_div(layer.output_shape[0] * bits.activation_bits,
                                                       arch.memory.buffers["activations"].bank_width_bits)
    actions = {
        "read:weights": bank_accesses(arch, "weights", weight_reads,
                                      params.filter_lanes * bits.weight_bits),
        "read:activations": bank_accesses(arch, "activations", brick_reads,
                                          brick_size * bits.activation_bits if skip_zeros
                                          else lanes * bits.activation_bits),
        "write:outputs": bank_accesses(arch, "outputs", partial_sum_writes,
                                       params.filter_lanes * bits.accumulator_bits),
        "write:activations": output_writes,
    }
    inputs = int(np.prod(layer.input_shape))
    input_footprint = {"activations": ceil_div(inputs * bits.activation_bits, 8)}
    output_footprint = {"activations": ceil_div(outputs * bits.activation_bits, 8)}
    if offset_bits:
        actions["read:offsets"] = bank_accesses(arch, "offsets", brick_reads,
                                                brick_size * offset_bits)
        actions["write:offsets"] = output_writes
        # ZFNAf keeps every brick at its full size: the offsets come on top of the values.
        input_footprint["offsets"] = ceil_div(inputs * offset_bits, 8)
        output_footprint["offsets"] = ceil_div(outputs * offset_bits, 8)
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
        mac_units=filters_per_pass * lanes,
        actions=actions,
        tiles=tiles,
        lane_utilization=busy / (lanes * cycles) if cycles else 0.0,
        weight_footprint={"weights": fullest_tile_bytes},
        input_footprint=input_footprint,
        output_footprint=output_footprint,
    )
