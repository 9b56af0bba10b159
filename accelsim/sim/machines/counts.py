"""What every machine model reports for one layer and one sample.

All counts are integers. `actions` maps an action name to how many units of
it happened; energy.py prices them:
  mac            multiplications executed with full energy
  mac_gated      multiplications executed with a zero operand and gated
  read:B / write:B   accesses of one bank of on-chip buffer B (see bank_accesses)
  rf             bits moved through queues and register files that are not buffers
  codebook       weight look-ups in a codebook register file
The memory system adds `dram_read` and `dram_write` bits.

Footprints, for the network-level memory walk (memory.py), map buffer names
to bytes: weights per instance of the buffer (the fullest tile or PE), inputs
and outputs over all instances, in the machine's storage format.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerCounts:
    cycles_compute: int
    cycles_ideal: int
    ops_executed: int
    macs_effective: int
    mac_units: int
    actions: dict = field(default_factory=dict)
    # (weight bytes to load, compute cycles) per tile, in execution order, for the memory system.
    tiles: list = field(default_factory=list)
    # Busy lane-cycles over available lane-cycles (neuron lanes, EIE PEs).
    lane_utilization: float = 1.0
    weight_footprint: dict = field(default_factory=dict)
    input_footprint: dict = field(default_factory=dict)
    output_footprint: dict = field(default_factory=dict)
    # Temporal tiling (SCNN): the layer reads its input from DRAM tile by tile, these bytes
    # per tile beside its weights (rows two tiles share fetched by both), and writes its
    # output there.
    activations_via_dram: bool = False
    tile_input_bytes: list = field(default_factory=list)
    # Machine-specific per-layer figures, each its own results column (Machine.figures).
    figures: dict = field(default_factory=dict)


def ceil_div(a, b):
    return -(-a // b)


def bank_accesses(arch, buffer, accesses, bits_each):
    """Bank accesses of buffer `buffer` for `accesses` accesses of `bits_each` bits each: an
    access touches ceil(bits_each / bank_width_bits) banks."""
    return accesses * ceil_div(bits_each, arch.memory.buffers[buffer].bank_width_bits)


def output_positions(layer):
    """P*Q of a conv layer, 1 for a linear one."""
    return int(np.prod(layer.output_shape[1:])) if layer.kind == "conv2d" else 1


def as_conv(layer, sample):
    """(weight K x Cg x R x S, activations C x H x W) of one sample; linear becomes a 1x1 conv."""
    weight = np.asarray(layer.weight)
    acts = np.asarray(layer.activations[sample])
    if layer.kind == "linear":
        return weight[:, :, None, None], acts[:, None, None]
    return weight, acts


def group_slices(layer):
    """Per group: (filter slice, input-channel slice)."""
    filters, channels_per_group = layer.weight.shape[:2]
    filters_per_group = filters // layer.groups
    return [
        (slice(g * filters_per_group, (g + 1) * filters_per_group),
         slice(g * channels_per_group, (g + 1) * channels_per_group))
        for g in range(layer.groups)
    ]
