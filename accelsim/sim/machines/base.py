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
    reference=True runs the plain-Python twin of the model's Numba kernel."""

    def __call__(self, layer: Layer, sample: int, arch: ArchConfig, macs_effective: int,
                 reference: bool = False) -> LayerCounts: ...


def no_threshold(arch: ArchConfig) -> float:
    return 0.0


@dataclass(frozen=True)
class Machine:
    """One machine model.

    name                  the `machine:` value of a config, and the name of its parameter section
    params                frozen dataclass of that section (schema.spec fields)
    layer_counts          (layer, sample, arch, macs_effective, reference=False) -> LayerCounts;
                          reference=True runs the plain-Python twin of the kernel
    buffers               on-chip buffers a config must size (memory.buffers)
    activation_threshold  arch -> float: |a| <= threshold counts as zero
    efficiency            (column, title) of per-layer fractions the efficiency plot shows
    reference             the machine other machines' speedups are quoted against
    description           one line for `accelsim config --list` and the docs
    """

    name: str
    params: type
    layer_counts: LayerCountsFunction
    buffers: tuple[str, ...]
    activation_threshold: Callable[[ArchConfig], float] = no_threshold
    efficiency: tuple[Any, ...] = ()
    reference: bool = False
    description: str = ""
