"""cnvlutin: activation zero-skipping on DaDianNao's organization (Albericio et al., ISCA 2016).

Inputs are stored zero-free (ZFNAf): bricks of 2**offset_bits neurons keep
only their non-zeros, each with its offset. Each neuron lane walks its depth
slice and spends one cycle per non-zero neuron (|a| > activation_threshold),
`empty_brick_cycles` on a brick with none; lanes synchronize per window or per
brick (config cnvlutin.sync). Weights are dense: weight pruning buys no
cycles here, activation pruning does. Shared walk: tile_array.py.
"""

from .tile_array import tile_array_counts

def layer_counts(layer, sample, arch, macs_effective, reference=False):
    p = arch.cnvlutin
    return tile_array_counts(
        layer, sample, arch, macs_effective, skip_zeros=True,
        threshold=p.activation_threshold, empty_cycles=p.empty_brick_cycles,
        sync_brick=p.sync == "brick", offset_bits=p.offset_bits, reference=reference)


def activation_threshold(arch):
    return arch.cnvlutin.activation_threshold
