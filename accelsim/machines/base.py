"""What a machine model is to the rest of accelsim: one registry entry."""

from dataclasses import dataclass
from typing import Callable


def no_threshold(arch):
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
    layer_counts: Callable
    buffers: tuple
    activation_threshold: Callable = no_threshold
    efficiency: tuple = ()
    reference: bool = False
    description: str = ""
