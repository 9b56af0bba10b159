"""cnvlutin: activation zero-skipping on DaDianNao's organization (Albericio et al., ISCA 2016).

Inputs are stored zero-free (ZFNAf): bricks of 2**offset_bits neurons keep
only their non-zeros, each with its offset. Each neuron lane walks its depth
slice and spends one cycle per non-zero neuron (|a| > activation_threshold),
`empty_brick_cycles` on a brick with none; lanes synchronize per window or per
brick (config cnvlutin.sync). Weights are dense: weight pruning buys no
cycles here, activation pruning does. Shared walk: tile_array_kernels.py.
"""

from dataclasses import dataclass

from ...core.schema import spec
from .base import Machine
from .dense import TILE_ARRAY_BUFFERS, TileArrayParams, tile_array_occupancy


@dataclass(frozen=True)
class CnvlutinParams(TileArrayParams):
    sync: str = spec("window", doc="where neuron lanes wait for each other",
                     choices=("window", "brick"))
    empty_brick_cycles: int = spec(1, doc="cycles a lane spends on a brick with no non-zero",
                                   minimum=0, maximum=1)
    activation_threshold: float = spec(0.0, doc="|a| <= threshold is treated as zero", minimum=0.0)
    offset_bits: int = spec(4, doc="bits of a neuron's offset inside its brick (ZFNAf)", minimum=1)


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    from .tile_array_kernels import tile_array_counts  # on first use: configs load without Numba
    p = arch.params
    return tile_array_counts(
        layer, sample, arch, macs_effective, skip_zeros=True,
        threshold=p.activation_threshold, empty_cycles=p.empty_brick_cycles,
        sync_brick=p.sync == "brick", offset_bits=p.offset_bits, reference=reference)


MACHINE = Machine(
    name="cnvlutin", params=CnvlutinParams, layer_counts=layer_counts,
    buffers=TILE_ARRAY_BUFFERS + ("offsets",),
    activation_threshold=lambda arch: arch.params.activation_threshold,
    efficiency=(("lane_utilization", "Cnvlutin lane utilization"),),
    macs_per_second=4e8, occupancy=tile_array_occupancy,
    description="DaDianNao organization skipping zero activations (Albericio et al., ISCA 2016)")
