"""dense: DaDianNao-style baseline that executes every MAC, zeros included.

cycles = sum over groups of ceil(K_g / (T*Tm)) * P*Q * R*S * ceil(C_g / Tn).
Zero-gating (config dense.zero_gating) saves the energy of MACs with a zero
operand but no cycle: what weight pruning alone buys on a dense machine.
The counting is the shared tile-array walk (tile_array_kernels.py) with zero
skipping off.
"""

from dataclasses import dataclass

from ...core.schema import spec
from .base import Machine
from .counts import ceil_div

TILE_ARRAY_BUFFERS = ("weights", "activations", "outputs")


@dataclass(frozen=True)
class TileArrayParams:
    """DaDianNao's organization: tiles x neuron lanes (Tn) x filter lanes (Tm)."""

    tiles: int = spec(16, doc="tiles, each with its own filters", minimum=1)
    neuron_lanes: int = spec(16, doc="Tn: input channels of one brick, one per lane", minimum=1)
    filter_lanes: int = spec(16, doc="Tm: filters per tile applied to each brick", minimum=1)
    zero_gating: bool = spec(False, doc="gate MAC energy when an operand is zero (saves no cycles)")


def tile_array_occupancy(layer, params):
    """(share, why) of the T x Tm x Tn multipliers a layer can keep busy: each group's
    C/groups input channels fill ceil(C_g / Tn) bricks of Tn lanes and its K/groups filters
    ceil(K_g / (T * Tm)) passes of T * Tm (the cycle formula in the docstring)."""
    channels = layer.weight.shape[1]
    filters = layer.weight.shape[0] // layer.groups
    lanes = channels / (ceil_div(channels, params.neuron_lanes) * params.neuron_lanes)
    width = params.tiles * params.filter_lanes
    filter_share = filters / (ceil_div(filters, width) * width)
    parts = ([f"{channels} input channel(s) per group for {params.neuron_lanes} neuron lanes"]
             if lanes < 1 else []) + (
        [f"{filters} filter(s) per group for {width} filter lanes"] if filter_share < 1 else [])
    depthwise = "depthwise conv: " if layer.groups > 1 and channels == 1 else ""
    return lanes * filter_share, depthwise + " and ".join(parts)


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    from .tile_array_kernels import tile_array_counts  # on first use: configs load without Numba
    return tile_array_counts(layer, sample, arch, macs_effective, skip_zeros=False,
                             reference=reference)


MACHINE = Machine(
    name="dense", params=TileArrayParams, layer_counts=layer_counts, buffers=TILE_ARRAY_BUFFERS,
    reference=True, macs_per_second=5e8, occupancy=tile_array_occupancy,
    description="DaDianNao-style tile array executing every MAC (Chen et al., "
    "MICRO 2014)")
