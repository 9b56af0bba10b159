"""The planar tiling SCNN and DCNN share: PEs laid out over the input plane, one tile each,
and which PE owns each output (scnn.py's docstring states the choices)."""

from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from .counts import ceil_div


@dataclass(frozen=True)
class PlanarTiling:
    """PEs laid out over the input plane, one planar tile each (SCNN and DCNN)."""

    pe_rows: int = spec(8, doc="rows of PEs (planar tiles along H)", minimum=1)
    pe_cols: int = spec(8, doc="columns of PEs (planar tiles along W)", minimum=1)

    @property
    def pes(self):
        return self.pe_rows * self.pe_cols


def tile_bounds(extent, tiles):
    """[start, stop) of each of `tiles` equal tiles of ceil(extent / tiles) (trailing ones may be
    empty)."""
    size = -(-extent // tiles)
    starts = np.minimum(np.arange(tiles) * size, extent)
    return starts, np.minimum(starts + size, extent)


def output_owner(out_extent, stride, in_extent, tiles):
    """PE row (or column) owning each output row (or column): the tile holding input
    min(o * stride, in_extent - 1)."""
    return np.minimum(np.arange(out_extent) * stride, in_extent - 1) // ceil_div(in_extent, tiles)
