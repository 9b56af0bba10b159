"""systolic: an R x C array of MAC units as SCALE-Sim 3.0.0 models it (Samajdar et al.).

A conv layer (per group) is the GEMM of an M x K ifmap operand by a K x N
filter operand: M = P*Q output pixels, K = R*S*C_g (the window), N = K_g
filters; a linear layer is M = 1. Each dataflow maps two GEMM dimensions on
the array's rows and columns and streams the third (T):
    os  rows <- M, cols <- N, T = K: a fold costs T + R + C - 2 cycles
    ws  rows <- K, cols <- N, T = M: a fold costs 2R + C + T - 2 cycles
    is  rows <- K, cols <- M, T = N: a fold costs 2R + C + T - 2 cycles
(R - 1 and C - 1 of skew, plus R cycles of weight or input preload for ws and
is). A layer takes ceil(rows / R) * ceil(cols / C) folds back to back and a
partial fold costs as much as a full one. SCALE-Sim's COMPUTE_REPORT counts
the index of the last cycle, so a GEMM takes folds * per_fold - 1 cycles:
`cycles_compute` is exactly SCALE-Sim's "Total Cycles" with bandwidth mode
CALC (no stalls), for every layer and dataflow (tests/golden/scalesim_cycles.csv,
made by benchmarks/scalesim_peer.py). Closed form here; the cycle-level twin
that fires every MAC of every fold is `systolic_cycles_reference`.

Choices SCALE-Sim leaves to us, stated: groups run as separate GEMMs, one
after the other; the output size is the trace's (PyTorch's floor), i.e.
SCALE-Sim given the padded input cropped to the last window (the topology row
that accelsim.workload.topology.scalesim_row writes for the layer); dilation only
changes which input a window reads, not the GEMM. The array executes zeros:
with `zero_gating` a MAC with a zero operand costs no energy, but no cycle is
saved.

SRAM traffic per fold, with the array's edge read as one word per cycle (a
bank as wide as the edge): os reads T ifmap and T filter edge words and
writes the R x C outputs once; ws preloads its weights (R words), streams T
ifmap words and writes T partial-sum words; is preloads its inputs, streams T
filter words and writes T partial-sum words. Partial sums of a fold that
continues an earlier one along K are read back first.
"""

import math
from dataclasses import dataclass

import numpy as np

from ...core.schema import spec
from .base import Machine
from .counts import LayerCounts, bank_accesses, ceil_div, output_positions

DATAFLOWS = ("os", "ws", "is")


@dataclass(frozen=True)
class SystolicParams:
    rows: int = spec(32, doc="R: rows of MAC units", minimum=1)
    cols: int = spec(32, doc="C: columns of MAC units", minimum=1)
    dataflow: str = spec("os", doc="output-, weight- or input-stationary, as SCALE-Sim",
                         choices=DATAFLOWS)
    zero_gating: bool = spec(True, doc="a MAC with a zero operand costs no energy (no cycle saved)")


def gemm_shape(layer):
    """(M, N, K) of one group's GEMM, and the number of groups."""
    filters, window = layer.weight.shape[0], int(np.prod(layer.weight.shape[1:]))
    return output_positions(layer), filters // layer.groups, window, layer.groups


def mapping(m, n, k, dataflow):
    """(rows dimension, cols dimension, streamed dimension) of a GEMM under a dataflow."""
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def fold_cycles(r, c, streamed, dataflow):
    return streamed + r + c - 2 if dataflow == "os" else 2 * r + c + streamed - 2


def systolic_cycles(m, n, k, r, c, dataflow):
    """SCALE-Sim's Total Cycles of one M x N x K GEMM on an r x c array."""
    sr, sc, streamed = mapping(m, n, k, dataflow)
    return ceil_div(sr, r) * ceil_div(sc, c) * fold_cycles(r, c, streamed, dataflow) - 1


def systolic_cycles_reference(m, n, k, r, c, dataflow):
    """Cycle-level twin: fire every MAC of every fold at its cycle and take the last.

    In a fold, PE (i, j) meets stream element t at cycle pre + t + i + j (operands skewed
    by one cycle per row and column), pre = r cycles of preload for ws and is. An output
    of os is done with its last MAC; ws and is send each partial sum down the remaining
    rows of its column, so it leaves at cycle pre + t + (r - 1) + j. Padded PEs of a
    partial fold take their cycles like real ones.
    """
    sr, sc, streamed = mapping(m, n, k, dataflow)
    folds = math.ceil(sr / r) * math.ceil(sc / c)
    pre = 0 if dataflow == "os" else r
    total = 0
    for _ in range(folds):
        last = 0
        for i in range(r):
            for j in range(c):
                for t in range(streamed):
                    fire = pre + t + i + j
                    done = fire if dataflow == "os" else pre + t + (r - 1) + j
                    last = max(last, done)
        total += last + 1
    return total - 1


def occupancy(layer, params):
    """(share, why) of the R x C MAC units a layer's GEMM fills: the dimensions the dataflow
    maps on the rows and columns, over the folds that hold them."""
    m, n, k, _ = gemm_shape(layer)
    sr, sc, _ = mapping(m, n, k, params.dataflow)
    rows = sr / (ceil_div(sr, params.rows) * params.rows)
    cols = sc / (ceil_div(sc, params.cols) * params.cols)
    names = {"os": ("M (output pixels)", "N (filters)"), "ws": ("K (window)", "N (filters)"),
             "is": ("K (window)", "M (output pixels)")}[params.dataflow]
    if layer.kind == "linear" and params.dataflow == "os":
        why = f"batch-1 FC: M = 1 output row for {params.rows} array rows"
    elif rows <= cols:
        why = f"{names[0]} = {sr} for {params.rows} array rows"
    else:
        why = f"{names[1]} = {sc} for {params.cols} array columns"
    return rows * cols, why


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    params, bits = arch.params, arch.arithmetic
    r, c, dataflow = params.rows, params.cols, params.dataflow
    m, n, k, groups = gemm_shape(layer)
    count = systolic_cycles_reference if reference else systolic_cycles
    cycles = groups * count(m, n, k, r, c, dataflow)
    ops = groups * m * n * k

    sr, sc, streamed = mapping(m, n, k, dataflow)
    row_folds, col_folds = ceil_div(sr, r), ceil_div(sc, c)
    folds = row_folds * col_folds
    # Words per edge access: os and ws feed the ifmap along the R rows and the filter along the
    # C columns; is preloads the ifmap C wide and streams the filter along the rows.
    ifmap_edge, filter_edge = (c, r) if dataflow == "is" else (r, c)
    edge = {"ifmap": ifmap_edge * bits.activation_bits, "filter": filter_edge * bits.weight_bits,
            "ofmap": c * bits.accumulator_bits}
    if dataflow == "os":
        reads = {"ifmap": folds * streamed, "filter": folds * streamed}
        writes = folds * r  # the R x C outputs, one edge word per row
        read_back = 0
    else:
        preloaded, streamed_operand = ("filter", "ifmap") if dataflow == "ws" else ("ifmap", "filter")
        reads = {preloaded: folds * r, streamed_operand: folds * streamed}
        writes = folds * streamed
        read_back = (row_folds - 1) * col_folds * streamed  # partial sums continued along K
    actions = {f"read:{name}": groups * bank_accesses(arch, name, amount, edge[name])
               for name, amount in reads.items()}
    actions["read:ofmap"] = groups * bank_accesses(arch, "ofmap", read_back, edge["ofmap"])
    actions["write:ofmap"] = groups * bank_accesses(arch, "ofmap", writes, edge["ofmap"])
    if params.zero_gating:
        actions.update(mac=macs_effective, mac_gated=ops - macs_effective)
    else:
        actions.update(mac=ops, mac_gated=0)

    weight_bytes = ceil_div(layer.weight.size * bits.weight_bits, 8)
    inputs = int(np.prod(layer.input_shape))
    outputs = int(np.prod(layer.output_shape))
    return LayerCounts(
        cycles_compute=cycles,
        cycles_ideal=ceil_div(ops, r * c),
        ops_executed=ops,
        macs_effective=macs_effective,
        mac_units=r * c,
        actions=actions,
        tiles=[(weight_bytes, cycles)],
        lane_utilization=ops / (r * c * cycles) if cycles else 0.0,
        weight_footprint={"filter": weight_bytes},
        input_footprint={"ifmap": ceil_div(inputs * bits.activation_bits, 8)},
        output_footprint={"ofmap": ceil_div(outputs * bits.activation_bits, 8)},
    )


MACHINE = Machine(
    name="systolic", params=SystolicParams, layer_counts=layer_counts,
    buffers=("ifmap", "filter", "ofmap"),
    efficiency=(("lane_utilization", "systolic array utilization (MACs / R x C x cycles)"),),
    macs_per_second=1e9,
    occupancy=occupancy,
    description="R x C systolic array with SCALE-Sim's os/ws/is dataflows (dense baseline)")
