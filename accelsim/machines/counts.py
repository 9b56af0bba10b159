"""What every machine model reports for one layer and one sample.

All counts are integers. `actions` maps an action name to how many units of
it happened; energy.py prices them:
  mac            multiplications executed with full energy
  mac_gated      multiplications executed with a zero operand and gated
  sram_read:B / sram_write:B   bits moved at on-chip buffer B
  rf             bits moved through register files and queues
  codebook       weight look-ups in a codebook register file
The memory system adds `dram` bits.
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
    # Bytes of this layer's input in the machine's storage format (if it comes from DRAM).
    input_bytes: int = 0


def ceil_div(a, b):
    return -(-a // b)


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
