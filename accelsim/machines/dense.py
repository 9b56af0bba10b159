"""dense: DaDianNao-style baseline that executes every MAC, zeros included.

cycles = sum over groups of ceil(K_g / (T*Tm)) * P*Q * R*S * ceil(C_g / Tn).
Zero-gating (config dense.zero_gating) saves the energy of MACs with a zero
operand but no cycle: what weight pruning alone buys on a dense machine.
The counting is the shared tile-array walk (tile_array.py) with zero skipping off.
"""

from .tile_array import tile_array_counts

def layer_counts(layer, sample, arch, macs_effective, reference=False):
    return tile_array_counts(layer, sample, arch, macs_effective, skip_zeros=False,
                             reference=reference)


def activation_threshold(arch):
    return 0.0
