"""dcnn: SCNN's comparably provisioned dense twin (Parashar et al., ISCA 2017, "DCNN").

PT-IS-DP-dense: the same planar tiling and output ownership as scnn.py
(planar_tiling.py), 64 PEs of 16
multipliers (1,024 in all), every MAC executed. A PE computes each of its
outputs as dot products of `multipliers` operands per cycle over the
C_g x R x S window, so an output of one filter costs ceil(C_g*R*S / 16)
cycles, zeros included. The PEs meet at a barrier per conv group, so a layer
takes the sum over groups of its slowest PE (edge tiles hold fewer outputs).
FC layers: each PE takes ceil(out / 64) outputs at the same rate.

Choices the paper leaves open, stated: the mapping above (the paper names the
dataflow, not its loop order). In particular, the dot product reduces over
the whole C_g x R x S window, flattened, so a layer with few input channels
still fills the 16 multipliers: at C = 3, VGG's conv1_1 (3 x 3 x 3 = 27
products) takes 2 cycles per output and filter (84 % of the multipliers
busy) and AlexNet's conv1 (363) takes 23 (99 %). A reduction over C alone,
one tap at a time, would take 9 and 121 cycles there (4.5x and 5.3x
slower) and change nothing where C is a multiple of 16. This is an open
assumption, not fitted to any figure. Input halos are read from neighbours
at no cycle cost; with `zero_gating` (DCNN-opt) a MAC with a zero operand costs no
energy; DCNN-opt's compression of activations on DRAM transfers is not
modelled (activations move dense).
"""

from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from .base import Machine
from .counts import LayerCounts, bank_accesses, ceil_div
from .planar_tiling import PlanarTiling, output_owner


@dataclass(frozen=True)
class DcnnParams(PlanarTiling):
    multipliers: int = spec(16, doc="multipliers per PE: the width of one dot-product step",
                            minimum=1)
    zero_gating: bool = spec(False, doc="DCNN-opt: a MAC with a zero operand costs no energy")


def outputs_per_pe(layer, pe_rows, pe_cols):
    """(pe_rows * pe_cols,) outputs (per filter) each PE owns."""
    if layer.kind == "linear":
        pes = pe_rows * pe_cols
        owned = np.full(pes, layer.weight.shape[0] // pes)
        owned[:layer.weight.shape[0] % pes] += 1
        return owned
    _, height, width = layer.input_shape
    _, out_h, out_w = layer.output_shape
    rows = np.bincount(output_owner(out_h, layer.stride[0], height, pe_rows), minlength=pe_rows)
    cols = np.bincount(output_owner(out_w, layer.stride[1], width, pe_cols), minlength=pe_cols)
    return np.outer(rows, cols).reshape(-1)


def dcnn_cycles(layer, pe_rows, pe_cols, multipliers):
    window = int(np.prod(layer.weight.shape[1:]))
    steps = ceil_div(window, multipliers)
    if layer.kind == "linear":
        return int(outputs_per_pe(layer, pe_rows, pe_cols).max()) * steps
    filters_per_group = layer.weight.shape[0] // layer.groups
    return layer.groups * int(outputs_per_pe(layer, pe_rows, pe_cols).max()) * filters_per_group * steps


def dcnn_cycles_reference(layer, pe_rows, pe_cols, multipliers):
    """Walk every output of every filter, hand it to its PE, and take each group's slowest PE."""
    window = int(np.prod(layer.weight.shape[1:]))
    pes = pe_rows * pe_cols
    if layer.kind == "linear":
        busy = [0] * pes
        for o in range(layer.weight.shape[0]):
            busy[o % pes] += -(-window // multipliers)
        return max(busy)
    _, height, width = layer.input_shape
    _, out_h, out_w = layer.output_shape
    tile_h, tile_w = -(-height // pe_rows), -(-width // pe_cols)
    total = 0
    for _ in range(layer.groups):
        busy = [0] * pes
        for _filter in range(layer.weight.shape[0] // layer.groups):
            for oy in range(out_h):
                for ox in range(out_w):
                    pe = (min(oy * layer.stride[0], height - 1) // tile_h * pe_cols
                          + min(ox * layer.stride[1], width - 1) // tile_w)
                    for _chunk in range(0, window, multipliers):
                        busy[pe] += 1
        total += max(busy)
    return total


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    p, bits = arch.params, arch.arithmetic
    pes = p.pes
    count = dcnn_cycles_reference if reference else dcnn_cycles
    cycles = count(layer, p.pe_rows, p.pe_cols, p.multipliers)
    outputs = int(np.prod(layer.output_shape))
    window = int(np.prod(layer.weight.shape[1:]))
    ops = outputs * window
    steps = outputs * ceil_div(window, p.multipliers)
    actions = {
        # Every step reads `multipliers` inputs and as many weights; each output is written once.
        "read:iaram": bank_accesses(arch, "iaram", steps, p.multipliers * bits.activation_bits),
        "read:weight_fifo": bank_accesses(arch, "weight_fifo", steps,
                                          p.multipliers * bits.weight_bits),
        "write:oaram": bank_accesses(arch, "oaram", outputs, bits.activation_bits),
    }
    if p.zero_gating:
        actions.update(mac=macs_effective, mac_gated=ops - macs_effective)
    else:
        actions.update(mac=ops, mac_gated=0)
    weight_bytes = ceil_div(layer.weight.size * bits.weight_bits, 8)
    mac_units = pes * p.multipliers
    return LayerCounts(
        cycles_compute=cycles,
        cycles_ideal=ceil_div(ops, mac_units),
        ops_executed=ops,
        macs_effective=macs_effective,
        mac_units=mac_units,
        actions=actions,
        tiles=[(weight_bytes, cycles)],
        lane_utilization=ops / (mac_units * cycles) if cycles else 0.0,
        weight_footprint={"weight_fifo": weight_bytes},
        input_footprint={"iaram": ceil_div(int(np.prod(layer.input_shape)) * bits.activation_bits, 8)},
        output_footprint={"oaram": ceil_div(outputs * bits.activation_bits, 8)},
    )


MACHINE = Machine(
    name="dcnn", params=DcnnParams, layer_counts=layer_counts,
    buffers=("weight_fifo", "iaram", "oaram"),
    efficiency=(("lane_utilization", "DCNN multiplier utilization"),),
    macs_per_second=1e9,
    description="SCNN's dense twin: 64 PEs x 16 multipliers, dot products (Parashar et al., "
                "ISCA 2017)")
