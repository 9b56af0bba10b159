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
    reference=True runs the plain-Python twin of the model's Numba kernel. A machine with
    `compressed_outputs` also takes the keyword `output_nonzeros`: the non-zeros of what
    the layer's output becomes, when the trace shows it (see simulator.count_layers),
    else None."""

    def __call__(self, layer: Layer, sample: int, arch: ArchConfig, macs_effective: int,
                 reference: bool = False) -> LayerCounts: ...


def no_threshold(arch: ArchConfig) -> float:
    return 0.0


@dataclass(frozen=True)
class Machine:
    """One machine model.

    name                  the `machine:` value of a config, and the name of its parameter section
    params                frozen dataclass of that section (schema.spec fields)
    layer_counts          (layer, sample, arch, macs_effective, reference=False) ->
                          LayerCounts; reference=True runs the plain-Python twin of the kernel
    compressed_outputs    the machine stores a layer's outputs compressed, so its layer_counts
                          also takes the keyword output_nonzeros (LayerCountsFunction)
    buffers               on-chip buffers a config must size (memory.buffers)
    activation_threshold  arch -> float: |a| <= threshold counts as zero
    efficiency            (column, title) of per-layer fractions the efficiency plot shows
    figures               (column, weight) of LayerCounts.figures, each a results column;
                          weight "sum": a count, averaged over samples, summed on TOTAL;
                          a column name: a fraction, averaged over samples and layers
                          weighted by that column; None: a layer's setting, 0 on TOTAL
    reference             the machine other machines' speedups are quoted against
    description           one line for `accelsim config --list` and the docs
    macs_per_second       a floor of the model's simulation speed, in dense MACs per second
                          of one core (one 16 x 512 x 512 conv per machine on a 2-core AMD
                          EPYC, 2026-12-06): only to estimate a run's work before it starts
                          (simulator.simulation_estimate), never in a result
    occupancy             (layer, params) -> (share, why): the largest share of the MAC units
                          a layer's shape lets the machine keep busy, from its geometry alone,
                          and the reason in words; the results' `notes` column quotes it where
                          it is low (simulator.structural_note). None: not stated
    """

    name: str
    params: type
    layer_counts: LayerCountsFunction
    buffers: tuple[str, ...]
    activation_threshold: Callable[[ArchConfig], float] = no_threshold
    efficiency: tuple[Any, ...] = ()
    figures: tuple[tuple[str, str | None], ...] = ()
    compressed_outputs: bool = False
    reference: bool = False
    description: str = ""
    macs_per_second: float = 1e8
    occupancy: Callable[[Layer, Any], tuple[float, str]] | None = None
