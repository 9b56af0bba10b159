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

TILE_ARRAY_BUFFERS = ("weights", "activations", "outputs")


@dataclass(frozen=True)
class TileArrayParams:
    """DaDianNao's organization: tiles x neuron lanes (Tn) x filter lanes (Tm)."""

    tiles: int = spec(16, doc="tiles, each with its own filters", minimum=1)
    neuron_lanes: int = spec(16, doc="Tn: input channels of one brick, one per lane", minimum=1)
    filter_lanes: int = spec(16, doc="Tm: filters per tile applied to each brick", minimum=1)
    zero_gating: bool = spec(False, doc="gate MAC energy when an operand is zero (saves no cycles)")


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    from .tile_array_kernels import tile_array_counts  # on first use: configs load without Numba
    return tile_array_counts(layer, sample, arch, macs_effective, skip_zeros=False,
                             reference=reference)


MACHINE = Machine(
    name="dense", params=TileArrayParams, layer_counts=layer_counts, buffers=TILE_ARRAY_BUFFERS,
    reference=True, macs_per_second=5e8,
    description="DaDianNao-style tile array executing every MAC (Chen et al., "
    "MICRO 2014)")
