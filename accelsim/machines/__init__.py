"""Machine models, one module each.

A machine module provides:
  layer_counts(layer, sample, arch, macs_effective, reference=False) -> LayerCounts
      (reference=True runs the plain-Python twin of the Numba kernel)
  activation_threshold(arch) -> float   |a| <= threshold counts as zero
LayerCounts (counts.py) carries the cycles, the counted actions (bank accesses
per buffer, MACs, ...) and the weight, input and output footprints per buffer
from which memory.py allocates the network.
To add a machine: copy eie.py (or dense.py), register it here and in
config.MACHINES with its parameter section and required buffers.
"""

from . import cnvlutin, dense, eie

MACHINES = {"dense": dense, "cnvlutin": cnvlutin, "eie": eie}
