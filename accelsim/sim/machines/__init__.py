"""Machine models: one module each, found here by the MACHINE entry it defines.

A machine module defines MACHINE = base.Machine(...): its name, parameter
dataclass, required buffers and `layer_counts`. Config validation, the
simulator, summaries and plots read that entry and nothing else, so a new
machine is one module here plus one YAML file in arch_configs/ (a module
elsewhere joins with `register`). Numba kernels live in *_kernels modules,
imported on first use, so that loading a config stays fast.

LayerCounts (counts.py) carries the cycles, the counted actions (bank accesses
per buffer, MACs, ...) and the weight, input and output footprints per buffer
from which memory.py allocates the network.
"""

import importlib
import pkgutil

from .base import Machine

MACHINES: dict[str, Machine] = {}


def register(machine: Machine) -> Machine:
    """Add a Machine (from a module outside this package) to the registry."""
    if not isinstance(machine, Machine):
        raise TypeError(f"register() takes a Machine, got {type(machine).__name__}")
    MACHINES[machine.name] = machine
    return machine


for _module in pkgutil.iter_modules(__path__):
    if not _module.name.endswith("_kernels") and _module.name not in ("base", "counts"):
        _entry = getattr(importlib.import_module(f"{__name__}.{_module.name}"), "MACHINE", None)
        if _entry is not None:
            register(_entry)
