"""simulate(arch, trace) -> pandas.DataFrame: the pipeline from trace to results table.

For every layer and sample the machine model counts cycles and actions; the
memory system adds DRAM traffic and stalls over the whole inference; the
energy model prices the actions. Rows are per layer, plus one `TOTAL` row per
trace; figures are per inference, averaged over the trace's samples unless
per_sample=True.
"""

import numpy as np
import pandas as pd

from .config import ArchConfig, load_arch
from .energy import EnergyModel
from .errors import AccelsimError
from .machines import MACHINES
from .macs import layer_macs
from .memory import layer_chunks, plan_network, run_memory_system
from .trace import Trace, load_trace

ADDITIVE = ["macs_dense", "macs_effective", "ops_executed", "cycles_ideal", "cycles_compute",
            "cycles_memory_stall", "cycles_total", "latency_us", "dram_read_bytes",
            "dram_write_bytes", "dram_bytes", "energy_pj"]
INTEGER_COUNTS = ["macs_dense", "macs_effective", "ops_executed", "cycles_ideal", "cycles_compute",
                  "cycles_memory_stall", "cycles_total", "dram_read_bytes", "dram_write_bytes",
                  "dram_bytes"]
COLUMNS = ["model", "variant", "arch", "machine", "layer", "kind", "samples", "weight_density",
           "activation_density", *ADDITIVE[:8],
           "utilization", "load_efficiency", "lane_utilization", "weights_on_chip",
           "input_from_dram", *ADDITIVE[8:]]


def _layer_row(trace, arch, layer, counts, macs, densities, plan, traffic, energy):
    stall, dram_read, dram_write = traffic
    cycles_total = counts.cycles_compute + stall
    priced = energy.price(dict(counts.actions, dram_read=8 * dram_read, dram_write=8 * dram_write),
                          cycles_total)
    row = {
        "model": trace.model, "variant": trace.variant, "arch": arch.name,
        "machine": arch.machine, "layer": layer.name, "kind": layer.kind,
        "samples": trace.samples, "weight_density": densities[0],
        "activation_density": densities[1], "macs_dense": macs, "macs_effective": counts.macs_effective,
        "ops_executed": counts.ops_executed, "cycles_ideal": counts.cycles_ideal,
        "cycles_compute": counts.cycles_compute, "cycles_memory_stall": stall,
        "cycles_total": cycles_total, "latency_us": cycles_total / arch.clock_mhz,
        "mac_units": counts.mac_units, "lane_utilization": counts.lane_utilization,
        "weights_on_chip": plan.weights_on_chip, "input_from_dram": plan.input_from_dram,
        "dram_read_bytes": dram_read, "dram_write_bytes": dram_write,
        "dram_bytes": dram_read + dram_write, "energy_pj": sum(priced.values()),
    }
    row.update({f"energy_{component}_pj": pj for component, pj in priced.items()})
    return row


def _check_figures(table, arch):
    """No figure may come out NaN, infinite or negative: that would be a config at the edge of
    the arithmetic (an overflow), never a result."""
    columns = ADDITIVE + sorted({c for c in table if c.startswith("energy_")} - set(ADDITIVE))
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


def _total_row(layers):
    total = layers.iloc[0].copy()
    energy_columns = [c for c in layers.columns if c.startswith("energy_")]
    for column in ADDITIVE + energy_columns:
        total[column] = layers[column].sum()
    total["layer"], total["kind"] = "TOTAL", ""
    # Whole-network densities as the effective-to-dense MAC ratio cannot tell them apart:
    # weighted by each layer's dense MACs.
    for column in ("weight_density", "activation_density"):
        total[column] = (layers[column] * layers["macs_dense"]).sum() / layers["macs_dense"].sum()
    weights = layers["cycles_compute"]
    total["lane_utilization"] = (
        (layers["lane_utilization"] * weights).sum() / weights.sum() if weights.sum() else 0.0)
    total["weights_on_chip"] = bool(layers["weights_on_chip"].all())
    total["input_from_dram"] = bool(layers["input_from_dram"].any())
    return total


def simulate(arch, trace, per_sample=False, reference=False, progress=None):
    """Simulate every layer and sample of `trace` on machine `arch` (objects or paths)."""
    arch = arch if isinstance(arch, ArchConfig) else load_arch(arch)
    trace = trace if isinstance(trace, Trace) else load_trace(trace)
    machine = MACHINES[arch.machine]
    energy = EnergyModel(arch)
    threshold = machine.activation_threshold(arch)
    iterate = progress or (lambda items: items)

    simulated = []
    for layer in iterate(trace.layers):
        macs = layer_macs(layer, threshold)
        counts = [machine.layer_counts(layer, s, arch, int(macs.macs_effective[s]), reference)
                  for s in range(layer.samples)]
        simulated.append((layer, macs, counts))
    # Compressed formats vary by sample: buffers are allocated for each layer's largest sample.
    largest = [max(counts, key=lambda c: sum(c.input_footprint.values())
                   + sum(c.output_footprint.values())) for _, _, counts in simulated]
    networks = ([[i] for i in range(len(simulated))] if trace.independent_layers
                else [list(range(len(simulated)))])
    plans = [plan for network in networks
             for plan in plan_network([largest[i] for i in network], arch)]

    rows = []
    for sample in range(trace.samples):
        traffic = []
        for network in networks:
            transfers = [(layer_chunks(simulated[i][2][sample], plans[i]), plans[i].write_bytes)
                         for i in network]
            traffic += zip(*run_memory_system(transfers, arch))
        for (layer, macs, counts), plan, layer_traffic in zip(simulated, plans, traffic):
            densities = (macs.weight_density, float(macs.activation_density[sample]))
            row = _layer_row(trace, arch, layer, counts[sample], macs.macs_dense, densities, plan,
                             layer_traffic, energy)
            rows.append(dict(row, sample=sample))

    table = pd.DataFrame(rows)
    _check_figures(table, arch)
    # A component a layer's actions never touch costs nothing there.
    table = table.fillna({c: 0.0 for c in table.columns if c.startswith("energy_")})
    energy_columns = sorted(c for c in table.columns if c.startswith("energy_") and c != "energy_pj")
    if per_sample:
        parts = [pd.concat([group, _total_row(group).to_frame().T], ignore_index=True)
                 for _, group in table.groupby("sample", sort=True)]
        table = pd.concat(parts, ignore_index=True)
        columns = COLUMNS[:7] + ["sample"] + COLUMNS[7:]
    else:
        numeric = ADDITIVE + energy_columns + ["lane_utilization", "activation_density"]
        means = table.groupby("layer", sort=False)[numeric].mean()
        first = table.drop_duplicates("layer").set_index("layer")
        first[numeric] = means
        first = first.reset_index()
        table = pd.concat([first, _total_row(first).to_frame().T], ignore_index=True)
        columns = list(COLUMNS)
    table = _with_ratios(table)
    for column in ("samples", "mac_units"):
        table[column] = table[column].astype(np.int64)
    for column in INTEGER_COUNTS:
        # Counts are integers per sample; a mean over samples stays integral only by chance.
        values = table[column].astype(float)
        if (values == values.round()).all():
            table[column] = values.astype(np.int64)
    return table[columns + ["mac_units"] + energy_columns].infer_objects()
