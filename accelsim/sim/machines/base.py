"""What a machine model is to the rest of accelsim: one registry entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...workload.trace import Layer
    from ..config import ArchConfig
    from .counts import LayerCounts


class LayerCountsFunction(Protocol):
    """How a machine model counts one layer on one sample: cycles, counted actions and
    buffer footprints (LayerCounts). `macs_effective` is that sample's exact count of
    products of non-zeros (accelsim.workload.macs), which the model must account for;
    reference=True runs the plain-Python twin of the model's Numba kernel.
    `output_nonzeros`: in a network, the non-zeros of what the layer's output becomes (the
    next layer's input, after pooling and the machine's threshold), for a machine that
    stores outputs compressed; None for the last layer or independent layers."""

    def __call__(self, layer: Layer, sample: int, arch: ArchConfig, macs_effective: int,
                 reference: bool = False, output_nonzeros: int | None = None
                 ) -> LayerCounts: ...


def no_threshold(arch: ArchConfig) -> float:
    return 0.0


@dataclass(frozen=True)
class Machine:
    """One machine model.

    name                  the `machine:` value of a config, and the name of its parameter section
    params                frozen dataclass of that section (schema.spec fields)
    layer_counts          (layer, sample, arch, macs_effective, reference=False,
                          output_nonzeros=None) -> LayerCounts (LayerCountsFunction);
                          reference=True runs the plain-Python twin of the kernel
    buffers               on-chip buffers a config must size (memory.buffers)
    activation_threshold  arch -> float: |a| <= threshold counts as zero
    efficiency            (column, title) of per-layer fractions the efficiency plot shows
    figures               (column, kind) of LayerCounts.figures, each a results column;
                          kind "fraction": averaged over samples, cycle-weighted on TOTAL;
                          "per layer": a layer's setting (averaged over samples), 0 on TOTAL
    reference             the machine other machines' speedups are quoted against
    description           one line for `accelsim config --list` and the docs
    """

    name: str
    params: type
    layer_counts: LayerCountsFunction
    buffers: tuple[str, ...]
    activation_threshold: Callable[[ArchConfig], float] = no_threshold
    efficiency: tuple[Any, ...] = ()
    figures: tuple[tuple[str, str], ...] = ()
    reference: bool = False
    description: str = ""
