"""simulate(arch, trace) -> pandas.DataFrame: the pipeline from trace to results table.

Three steps, each a function of the one before:
- count_layers: for every layer and sample, the machine model counts cycles and
  actions (CountedLayer per layer);
- simulate_memory: the memory system allocates the network on chip and adds DRAM
  traffic and stalls over each inference (LayerMemory per sample and layer);
- aggregate: the energy model prices the actions; rows are per layer, plus one
  `TOTAL` row per trace; figures are per inference, averaged over the trace's
  samples unless per_sample=True.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.progress import no_progress
from ..defaults import TOTAL_ROW
from ..errors import AccelsimError
from ..workload.macs import LayerMacs, dense_macs, layer_macs
from ..workload.trace import READ_WHOLE_BYTES, Layer, Trace, check_trace, load_trace
from .config import load_arch
from .energy import EnergyModel
from .machines import MACHINES
from .machines.counts import LayerCounts
from .memory import LayerPlan, layer_traffic, plan_network, run_memory_system

ADDITIVE = ["macs_dense", "macs_effective", "ops_executed", "cycles_ideal", "cycles_compute",
            "cycles_memory_stall", "cycles_total", "latency_us", "dram_read_bytes",
            "dram_write_bytes", "dram_bytes", "energy_pj"]
INTEGER_COUNTS = ["macs_dense", "macs_effective", "ops_executed", "cycles_ideal", "cycles_compute",
                  "cycles_memory_stall", "cycles_total", "dram_read_bytes", "dram_write_bytes",
                  "dram_bytes"]
TEXT_COLUMNS = ["model", "variant", "arch", "machine", "layer", "kind"]
FLAG_COLUMNS = ["weights_on_chip", "input_from_dram"]
NOTES_COLUMN = "notes"  # text, last: why a layer runs far below peak (structural_note)
COLUMNS = [*TEXT_COLUMNS, "samples", "weight_density", "activation_density", *ADDITIVE[:8],
           "utilization", "load_efficiency", "lane_utilization", *FLAG_COLUMNS, *ADDITIVE[8:]]


@dataclass(frozen=True)
class CountedLayer:
    """Counting step, one layer: its MACs and densities, and the machine's counts per sample."""
    layer: Layer
    macs: LayerMacs
    counts: tuple  # LayerCounts, one per sample


@dataclass(frozen=True)
class LayerMemory:
    """Memory step, one layer on one sample: where its data lives and what DRAM adds."""
    plan: LayerPlan
    stall_cycles: int
    dram_read_bytes: int
    dram_write_bytes: int


@dataclass(frozen=True)
class LayerCost:
    """Aggregation step, one layer on one sample: counted, through memory and priced."""
    layer: Layer
    sample: int
    macs_dense: int
    weight_density: float
    activation_density: float
    counts: LayerCounts
    memory: LayerMemory
    cycles_total: int
    latency_us: float
    energy_pj: dict  # {component: pJ}


def consumer(trace, index):
    """The layer that reads layer `index`'s output, where the trace shows it: the next layer
    of a network whose input has as many channels (or features) as this layer has outputs.
    None for the last or an independent layer, or where the next layer reads something else
    (an inception module's next branch reads the module's input, not this branch's output)."""
    if trace.independent_layers or index + 1 >= len(trace.layers):
        return None
    layer, following = trace.layers[index], trace.layers[index + 1]
    produced = layer.output_shape[0]
    read = following.input_shape[0]
    if layer.kind == "conv2d" and following.kind == "linear":
        return following if read % produced == 0 else None  # flattened after pooling
    return following if read == produced else None


def count_layers(arch, trace, reference=False, progress=None):
    """CountedLayer per layer of `trace` on machine `arch`; reference=True runs the machines'
    plain-Python twins of their kernels."""
    machine = MACHINES[arch.machine]
    threshold = machine.activation_threshold(arch)
    progress = progress or no_progress
    # Every layer's MACs and non-zero counts first: a machine that stores outputs compressed
    # is told how many non-zeros the layer reading them takes in.
    layers_macs = [layer_macs(layer, threshold) for layer in trace.layers]
    counted = []
    for index, layer in enumerate(progress(trace.layers, f"{arch.name} {trace.model}/{trace.variant}")):
        macs = layers_macs[index]
        reader = consumer(trace, index) if machine.compressed_outputs else None
        counts = []
        for s in range(layer.samples):
            extra = {}
            if machine.compressed_outputs:
                extra["output_nonzeros"] = (
                    None if reader is None else int(layers_macs[index + 1].activations_nonzero[s]))
            counts.append(machine.layer_counts(layer, s, arch, int(macs.macs_effective[s]),
                                               reference, **extra))
        counted.append(CountedLayer(layer, macs, tuple(counts)))
    return counted


def _footprint(counts):
    return sum(counts.input_footprint.values()) + sum(counts.output_footprint.values())


def simulate_memory(arch, trace, counted):
    """[sample][layer] -> LayerMemory: the on-chip allocation of the network, then the
    memory system run once per sample."""
    # Compressed formats vary by sample: buffers are allocated for each layer's largest
    # sample, and a layer any sample tiles through DRAM is planned that way.
    largest = [dataclasses.replace(max(layer.counts, key=_footprint), activations_via_dram=any(
        c.activations_via_dram for c in layer.counts)) for layer in counted]
    networks = ([[i] for i in range(len(counted))] if trace.independent_layers
                else [list(range(len(counted)))])
    plans = [plan for network in networks
             for plan in plan_network([largest[i] for i in network], arch)]
    memory = []
    for sample in range(trace.samples):
        traffic = []
        for network in networks:
            transfers = [layer_traffic(counted[i].counts[sample], plans[i],
                                       counted[i + 1].counts[sample] if i != network[-1] else None)
                         for i in network]
            traffic += zip(*run_memory_system(transfers, arch))
        memory.append([LayerMemory(plan, *figures) for plan, figures in zip(plans, traffic)])
    return memory


def _layer_cost(counted, sample, memory, arch, energy):
    counts = counted.counts[sample]
    cycles_total = counts.cycles_compute + memory.stall_cycles
    priced = energy.price(dict(counts.actions, dram_read=8 * memory.dram_read_bytes,
                               dram_write=8 * memory.dram_write_bytes), cycles_total,
                          memory.stall_cycles)
    return LayerCost(counted.layer, sample, counted.macs.macs_dense, counted.macs.weight_density,
                     float(counted.macs.activation_density[sample]), counts, memory,
                     cycles_total, cycles_total / arch.clock_mhz, priced)


def _layer_row(cost):
    counts, memory = cost.counts, cost.memory
    row = {
        "layer": cost.layer.name, "kind": cost.layer.kind, "sample": cost.sample,
        "weight_density": cost.weight_density, "activation_density": cost.activation_density,
        "macs_dense": cost.macs_dense, "macs_effective": counts.macs_effective,
        "ops_executed": counts.ops_executed, "cycles_ideal": counts.cycles_ideal,
        "cycles_compute": counts.cycles_compute, "cycles_memory_stall": memory.stall_cycles,
        "cycles_total": cost.cycles_total, "latency_us": cost.latency_us,
        "mac_units": counts.mac_units, "lane_utilization": counts.lane_utilization,
        "weights_on_chip": memory.plan.weights_on_chip,
        "input_from_dram": memory.plan.input_from_dram,
        "dram_read_bytes": memory.dram_read_bytes, "dram_write_bytes": memory.dram_write_bytes,
        "dram_bytes": memory.dram_read_bytes + memory.dram_write_bytes,
        "energy_pj": sum(cost.energy_pj.values()),
    }
    row.update({f"energy_{component}_pj": pj for component, pj in cost.energy_pj.items()})
    row.update(counts.figures)
    return row


def figure_columns(table):
    """The numeric columns of a results table: COLUMNS but the text ones, and the energy
    components it has."""
    return [c for c in COLUMNS if c not in TEXT_COLUMNS] + [
        c for c in table.columns if c.startswith("energy_") and c not in COLUMNS]


def _check_figures(table, arch, figure_names):
    """No figure may come out NaN, infinite or negative: that would be a config at the edge of
    the arithmetic (an overflow), never a result."""
    columns = ADDITIVE + sorted({c for c in table if c.startswith("energy_")} - set(ADDITIVE))
    columns += figure_names
    numeric = table[columns].astype(float)
    # An energy component may be absent (NaN) on a layer that never uses it; nothing else.
    missing = numeric.isna().to_numpy() & ~numeric.columns.str.endswith("_pj")[None, :]
    values = numeric.fillna(0.0).to_numpy()
    bad = missing | ~np.isfinite(values) | (values < 0) | (values > 2.0**62)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise AccelsimError(f"arch '{arch.name}', layer '{table['layer'].iloc[row]}': "
                            f"{numeric.columns[column]} came out {numeric.iloc[row, column]}; "
                            f"a config value is too large for the arithmetic")
    return table


def _with_ratios(table):
    cycles = table["cycles_total"].where(table["cycles_total"] > 0)
    table["utilization"] = (table["macs_effective"] / (table["mac_units"] * cycles)).fillna(0.0)
    compute = table["cycles_compute"].where(table["cycles_compute"] > 0)
    table["load_efficiency"] = (table["cycles_ideal"] / compute).fillna(1.0)
    return table


def _weighted_mean(values, weights):
    return float((values * weights).sum() / weights.sum()) if weights.sum() else 0.0


def _total_row(layers, figures):
    total = layers.iloc[0].copy()
    energy_columns = [c for c in layers.columns if c.startswith("energy_")]
    for column in ADDITIVE + energy_columns:
        total[column] = layers[column].sum()
    total["layer"], total["kind"] = TOTAL_ROW, ""
    # Whole-network densities as the effective-to-dense MAC ratio cannot tell them apart:
    # weighted by each layer's dense MACs.
    for column in ("weight_density", "activation_density"):
        total[column] = (layers[column] * layers["macs_dense"]).sum() / layers["macs_dense"].sum()
    for column, weight in [("lane_utilization", "cycles_compute"), *figures]:
        if weight is None:
            total[column] = 0  # a layer's own setting
        elif weight == "sum":
            total[column] = layers[column].sum()
        else:
            total[column] = _weighted_mean(layers[column], layers[weight])
    total["weights_on_chip"] = bool(layers["weights_on_chip"].all())
    total["input_from_dram"] = bool(layers["input_from_dram"].any())
    return total


# A layer whose shape lets a machine keep less than this share of its MAC units busy gets a
# note in the results (the `notes` column), with the share and the reason.
NOTE_BELOW = 0.5


def structural_note(arch, layer):
    """'' or why `layer` runs far below the machine's peak whatever its values (its shape
    against the machine's organization: a depthwise conv on a tile array, a batch-1 FC on
    a systolic array), from the machine's occupancy (Machine.occupancy)."""
    occupancy = MACHINES[arch.machine].occupancy
    if occupancy is None:
        return ""
    share, why = occupancy(layer, arch.params)
    return f"{why}: at most {share:.3g} of the MAC units busy" if share < NOTE_BELOW else ""


def aggregate(arch, trace, counted, memory, per_sample=False):
    """The results table from the counting and memory steps: energy priced, one row per
    layer (per sample with per_sample=True) and a TOTAL row, ratios and integer counts."""
    energy = EnergyModel(arch)
    figures = MACHINES[arch.machine].figures
    figure_names = [column for column, _ in figures]
    run = {"model": trace.model, "variant": trace.variant, "arch": arch.name,
           "machine": arch.machine, "samples": trace.samples}
    rows = [dict(run, **_layer_row(_layer_cost(layer, sample, layer_memory, arch, energy)))
            for sample, sample_memory in enumerate(memory)
            for layer, layer_memory in zip(counted, sample_memory)]
    table = pd.DataFrame(rows)
    _check_figures(table, arch, figure_names)
    # A component a layer's actions never touch costs nothing there.
    table = table.fillna({c: 0.0 for c in table.columns if c.startswith("energy_")})
    energy_columns = sorted(c for c in table.columns if c.startswith("energy_") and c != "energy_pj")
    if per_sample:
        parts = [pd.concat([group, _total_row(group, figures).to_frame().T], ignore_index=True)
                 for _, group in table.groupby("sample", sort=True)]
        table = pd.concat(parts, ignore_index=True)
        columns = COLUMNS[:7] + ["sample"] + COLUMNS[7:]
    else:
        numeric = (ADDITIVE + energy_columns + figure_names
                   + ["lane_utilization", "activation_density"])
        means = table.groupby("layer", sort=False)[numeric].mean()
        for column, weight in figures:
            if weight not in (None, "sum"):
                means[column] = table.groupby("layer", sort=False)[[column, weight]].apply(
                    lambda part, c=column, w=weight: _weighted_mean(part[c], part[w]))
        first = table.drop_duplicates("layer").set_index("layer")
        first[numeric] = means
        first = first.reset_index()
        table = pd.concat([first, _total_row(first, figures).to_frame().T], ignore_index=True)
        columns = list(COLUMNS)
    table = _with_ratios(table)
    for column in ("samples", "mac_units"):
        table[column] = table[column].astype(np.int64)
    for column in INTEGER_COUNTS:
        # Counts are integers per sample; a mean over samples stays integral only by chance.
        values = table[column].astype(float)
        if (values == values.round()).all():
            table[column] = values.astype(np.int64)
    notes = {item.layer.name: structural_note(arch, item.layer) for item in counted}
    table[NOTES_COLUMN] = table["layer"].map(notes).fillna("")
    return table[columns + ["mac_units"] + figure_names + energy_columns
                 + [NOTES_COLUMN]].infer_objects()


# Peak bytes while one layer is simulated, per weight and per input and output element
# over all samples, on top of the interpreter (BASE_BYTES) and the trace's arrays read into
# memory (those up to READ_WHOLE_BYTES; larger ones are memory-mapped, pages the system can
# drop again, and counted in the working set of their layer only): measured with
# /usr/bin/time on one 8192 x 8192 linear layer (5 B per weight) and one 16 x 512 x 512
# conv (21 B per input and output element) on all six machines (2-core AMD EPYC,
# 2026-12-06), and rounded up. Weights are read and masked at about WEIGHTS_PER_SECOND on
# every machine (the same linear layer: 2 s for 67 M weights).
BASE_BYTES = 200 * 2**20
BYTES_PER_WEIGHT = 8
BYTES_PER_ACTIVATION = 32
WEIGHTS_PER_SECOND = 3e7


def simulation_estimate(archs, traces):
    """(peak bytes, seconds) of simulating every trace on every machine config, from the
    traces' shapes alone (no array is read): the estimate a run is refused on
    (core.resources). Seconds: each layer's dense MACs over its machine's macs_per_second
    floor, plus its weights at WEIGHTS_PER_SECOND, for every machine."""
    arrays, working, seconds = 0, 0, 0.0
    for trace in traces:
        for layer in trace.layers:
            weights, inputs = layer.weight.size, layer.activations.size
            outputs = layer.samples * int(np.prod(layer.output_shape))
            arrays += sum(a.nbytes for a in (layer.weight, layer.activations)
                          if a.nbytes <= READ_WHOLE_BYTES)
            working = max(working, BYTES_PER_WEIGHT * weights
                          + BYTES_PER_ACTIVATION * (inputs + outputs))
            macs = dense_macs(layer) * layer.samples
            seconds += sum(macs / MACHINES[arch.machine].macs_per_second
                           + weights / WEIGHTS_PER_SECOND for arch in archs)
    return BASE_BYTES + arrays + working, seconds


def simulate(arch, trace, per_sample=False, reference=False, progress=None):
    """Simulate every layer and sample of `trace` on machine `arch` (objects or paths)."""
    arch = load_arch(arch)  # an ArchConfig built in Python is checked like a loaded one
    trace = check_trace(trace) if isinstance(trace, Trace) else load_trace(trace)
    counted = count_layers(arch, trace, reference, progress)
    return aggregate(arch, trace, counted, simulate_memory(arch, trace, counted), per_sample)
