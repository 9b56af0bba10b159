"""`accelsim validate`: every machine model against the published figures the project knows.

Each check simulates a reference case with the shipped configs and returns
rows: what is compared, the model's value, the published value, the range
the model must fall in (stated before the check was first run, with the
reason for its width), and PASS or FAIL. Rows whose published figure was
also an input of the model say so in their note: they do not count as
independent evidence. A machine added later appends its own check to CHECKS:
a function of a progress reporter (progress.py, for its loops) that returns
(rows, curves).

Scaling rule for DaDianNao (28 nm) to this project's 45 nm: dynamic power is
C V^2 f at the same clock, with C growing as the feature size (45/28) and
the supply from 0.9 V (28 nm) to 1.0 V (45 nm): x (45/28) (1.0/0.9)^2 = 1.98.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.progress import Counted, no_progress
from ..defaults import TOTAL_ROW
from ..sim.config import BUNDLED_CONFIGS, load_arch
from ..sim.energy import EnergyModel
from ..sim.simulator import simulate
from ..workload.synth import (
    DENSITY_SWEEP,
    LayerSpec,
    NetworkSpec,
    alexnet_conv_specs,
    inception_conv_specs,
    preset_spec,
    synthetic_trace,
)

DADIANNAO_45NM_SCALE = (45 / 28) * (1.0 / 0.9) ** 2
EIE_PE_MW = {"total": 9.157, "clock network": 1.874}  # EIE Table II, one PE
FIFO_DEPTHS = (1, 2, 4, 8, 16, 32)
PE_COUNTS = (1, 4, 16, 64, 256)


@dataclass
class Check:
    check: str
    machine: str
    model: float
    published: float
    low: float
    high: float
    unit: str
    tolerance: str
    note: str = ""

    @property
    def status(self):
        return "PASS" if self.low <= self.model <= self.high else "FAIL"


def _arch(name, **overrides):
    return load_arch(BUNDLED_CONFIGS / f"{name}.yaml", overrides)


def _layers(table):
    return table[table["layer"] != TOTAL_ROW].set_index("layer")


def onchip_power_w(row, arch):
    """Average on-chip power while computing: dynamic on-chip energy over the compute time,
    plus leakage and logic static power (DRAM and memory stalls left out)."""
    static = {"energy_leakage_pj", "energy_logic_static_pj", "energy_dram_pj"}
    dynamic_pj = sum(v for k, v in row.items() if k.startswith("energy_") and k != "energy_pj"
                     and k not in static and not pd.isna(v))
    model = EnergyModel(arch)
    return (dynamic_pj * arch.clock_mhz / row["cycles_compute"] * 1e-6
            + (model.leakage_mw + model.static_mw) * 1e-3)


def eie_checks(progress):
    suite = synthetic_trace(preset_spec("eie-benchmarks"))
    arch = _arch("eie")
    alex7 = _layers(simulate(arch, suite)).loc["Alex-7"]
    power = onchip_power_w(alex7, arch)
    clock_w = arch.instances("pe") * EIE_PE_MW["clock network"] * 1e-3
    published = arch.params.pes * EIE_PE_MW["total"] * 1e-3
    rows = [
        Check("Alex-7 power without the clock network", "eie", power - clock_w,
              published - clock_w, 0.7 * (published - clock_w), 1.3 * (published - clock_w), "W",
              "±30 %: CACTI arrays and Horowitz operators against a placed and routed PE",
              "published: 64 x (9.157 - 1.874) mW (EIE Table II); the model's clock network is "
              "Table II's, so only this part is a prediction"),
        Check("Alex-7 average power", "eie", power, published, 0.7 * published, 1.3 * published,
              "W", "±30 %", "EIE: 0.59 W for 64 PEs at 800 MHz; 20 % of it (the clock "
              "network) is an input of the model"),
    ]
    efficiency = {}
    for depth in progress(FIFO_DEPTHS, "eie fifo depths"):
        table = _layers(simulate(_arch("eie", **{"eie.fifo_depth": depth}), suite))
        efficiency[depth] = table["load_efficiency"]
    rows += [
        Check("load efficiency at FIFO depth 1 (mean of 9 layers)", "eie",
              float(efficiency[1].mean()), 0.5, 0.4, 0.6, "",
              "0.4-0.6: \"about half the cycles wasted\"", "EIE Fig. 8"),
        Check("load efficiency gained from FIFO depth 8 to 32 (mean)", "eie",
              float((efficiency[32] - efficiency[8]).mean()), 0.0, 0.0, 0.05, "",
              "<= 0.05: \"little gain above 8\"", "EIE Fig. 8"),
    ]
    cycles = {pes: _layers(simulate(_arch("eie", **{"eie.pes": pes}), suite))["cycles_compute"]
              for pes in progress(PE_COUNTS, "eie scaling")}
    speedup = {pes: cycles[1] / cycles[pes] for pes in PE_COUNTS}
    parallel = speedup[256] / 256
    rows += [
        Check("speedup 1 -> 256 PEs / 256, worst layer but NT-We", "eie",
              float(parallel.drop("NT-We").min()), 1.0, 0.6, math.inf, "",
              ">= 0.6: \"near-linear\"", "EIE Fig. 11"),
        Check("NT-We's 256-PE efficiency / the worst other layer's", "eie",
              float(parallel["NT-We"] / parallel.drop("NT-We").min()), 0.0, 0.0, 1.0, "",
              "< 1: NT-We (600 rows) scales worst", "EIE Fig. 11"),
    ]
    curves = {"fifo": pd.DataFrame(efficiency), "scaling": pd.DataFrame(speedup)}
    return rows, curves


def dadiannao_checks(progress):
    # A layer that keeps all 16 x 16 x 16 MAC units busy: C and K multiples of 16 and 256.
    layer = LayerSpec(name="full-load", kind="conv2d", input_shape=[256, 16, 16], filters=256,
                      kernel=3, padding=1, weight_density=1.0, activation_density=1.0)
    trace = synthetic_trace(NetworkSpec(model="full-load", layers=[layer]))
    arch = _arch("dense")
    power = onchip_power_w(_layers(simulate(arch, trace)).iloc[0], arch)
    published = 15.97 * DADIANNAO_45NM_SCALE
    return [Check("power at full load (45 nm)", "dense", power, published, 0.7 * published,
                  1.3 * published, "W", "±30 %",
                  f"DaDianNao: 15.97 W at 28 nm x {DADIANNAO_45NM_SCALE:.2f} (the scaling rule "
                  f"above); it includes the HyperTransport links and the central block")], {}


def cnvlutin_checks(progress):
    network = NetworkSpec(model="alexnet-conv2-5",
                          layers=alexnet_conv_specs([(1.0, 0.56)] * 5)[1:])
    dense, cnv = _arch("dense"), _arch("cnvlutin")
    rows, gains = [], {}
    for pattern in progress(("spatial", "uniform", "clustered"), "cnvlutin patterns"):
        trace = synthetic_trace(network, pattern=pattern)
        a, b = (simulate(arch, trace).iloc[-1] for arch in (dense, cnv))
        gains[pattern] = (a["cycles_compute"] / b["cycles_compute"],
                          (a["energy_pj"] - a["energy_dram_pj"]) / (b["energy_pj"] - b["energy_dram_pj"]))
    bound = ("bound: zeros spread evenly (uniform) or bunched across channels too (clustered); "
             "not a check")
    rows.append(Check("speedup on AlexNet conv2-5, 44 % zeros in space", "cnvlutin",
                      gains["spatial"][0], 1.37, 1.24, 1.55, "x", "1.24-1.55: the published range",
                      "Cnvlutin: 1.37x on average over DaDianNao; zeros clustered in the image "
                      "plane, channels independent (synth pattern 'spatial')"))
    rows.append(Check("energy gain on the same layers", "cnvlutin", gains["spatial"][1], 1.07,
                      0.92, 1.22, "x", "±0.15",
                      "Cnvlutin: EDP 1.47x at 1.37x speed, i.e. 1.07x energy (on-chip energy "
                      "here)"))
    for pattern in ("uniform", "clustered"):
        for index, what in enumerate(("speedup", "energy gain")):
            rows.append(Check(f"{what}, {pattern} zeros", "cnvlutin", gains[pattern][index],
                              (1.37, 1.07)[index], -math.inf, math.inf, "x", "none", bound))
    return rows, {}


def eyeriss_checks(progress):
    """Energy per 16-bit value moved, relative to a 16-bit MAC (Eyeriss, ISCA 2016, Fig. 2)."""
    arch = _arch("eie")
    model = EnergyModel(arch)
    mac = model.op_pj("int_mult", 16) + model.op_pj("int_add", 16)
    sram = arch.memory.buffers["sparse_matrix"]  # 128 KiB, 64-bit: Eyeriss's 108 KB buffer
    costs = {"register file": 16 * model.rf_pj_per_bit,
             "global buffer (128 KiB SRAM, 64-bit words)": sram.read_pj * 16 / sram.bank_width_bits,
             "DRAM": 16 * model.dram_pj_per_bit}
    rows = []
    for (name, pj), published in zip(costs.items(), (1, 6, 200)):
        rows.append(Check(f"{name} access / MAC", "energy", pj / mac, published,
                          published / 3, published * 3, "x",
                          "within 3x: a sanity row (Eyeriss is 65 nm with LPDDR)",
                          "Eyeriss relative costs: RF 1, buffer 6, DRAM 200"))
    return rows, {}


def systolic_checks(progress):
    """Compute cycles against SCALE-Sim's own, on the layers of its golden file (made by
    benchmarks/scalesim_peer.py into the repository's tests/golden/; absent from an installed
    package, then no row)."""
    golden = Path(__file__).resolve().parents[2] / "tests" / "golden" / "scalesim_cycles.csv"
    if not golden.is_file():
        return [], {}
    rows = pd.read_csv(golden)
    equal = 0
    for row in progress(Counted(rows.itertuples(), len(rows)), "systolic cases"):
        layer = LayerSpec(name=row.layer, kind="conv2d", filters=row.filters,
                          input_shape=[row.channels, row.ifmap_h, row.ifmap_w],
                          kernel=row.filter_h, stride=row.stride, weight_density=1.0,
                          activation_density=1.0)
        trace = synthetic_trace(NetworkSpec(model="scalesim-peer", layers=[layer]))
        ours = simulate(_arch("systolic", **{"systolic.dataflow": row.dataflow}), trace)
        equal += int(ours.iloc[0]["cycles_compute"]) == row.scalesim_cycles
    return [Check(f"compute cycles equal SCALE-Sim 3.0.0's ({len(rows)} layer x dataflow "
                  f"cases)", "systolic", equal / len(rows), 1.0, 1.0, 1.0, "fraction",
                  "every case equal", f"golden file {golden.name} from SCALE-Sim itself")], {}


def _scnn_over_dcnn(trace, cycles="cycles_total"):
    """Per layer and TOTAL: DCNN cycles / SCNN cycles, DCNN energy / SCNN energy, and SCNN's
    table."""
    tables = {m: simulate(_arch(m), trace).set_index("layer") for m in ("scnn", "dcnn")}
    return (tables["dcnn"][cycles] / tables["scnn"][cycles],
            tables["dcnn"]["energy_pj"] / tables["scnn"]["energy_pj"], tables["scnn"])


def scnn_checks(progress):
    """SCNN against DCNN on the SCNN paper's networks (Figure 1 densities) and density sweep."""
    speed, energy, figure_10 = [], [], {}
    presets = {"alexnet-scnn": "AlexNet", "googlenet-inception": "GoogLeNet",
               "vgg16-scnn": "VGG-16"}
    for preset in progress(presets, "scnn networks"):
        layer_speed, layer_energy, scnn = _scnn_over_dcnn(synthetic_trace(preset_spec(preset)))
        speed.append(layer_speed[TOTAL_ROW])
        energy.append(layer_energy[TOTAL_ROW])
        figure_10[presets[preset]] = scnn.loc[TOTAL_ROW]
    # The sweep (the density-sweep preset's points): GoogLeNet's 54 inception layers at each
    # density, each density its own network, compared on the PE arrays' cycles.
    sweep_speed, sweep_energy = pd.Series(dtype=float), pd.Series(dtype=float)
    for density in progress(DENSITY_SWEEP, "scnn density sweep"):
        network = NetworkSpec(model="density-sweep", layers=inception_conv_specs((density,) * 2))
        layer_speed, layer_energy, _ = _scnn_over_dcnn(synthetic_trace(network), "cycles_compute")
        sweep_speed[density], sweep_energy[density] = layer_speed[TOTAL_ROW], layer_energy[TOTAL_ROW]
    densities = sweep_speed.index.to_numpy()
    # Where SCNN's speedup falls through 1, interpolated linearly between sweep points.
    above = np.flatnonzero(sweep_speed.to_numpy() >= 1.0)
    last = above.max() if len(above) else 0
    crossover = (densities[last] if last + 1 >= len(densities) else np.interp(
        1.0, sweep_speed.to_numpy()[[last + 1, last]], densities[[last + 1, last]]))
    note = "SCNN paper; networks: AlexNet conv1-5, GoogLeNet's 54 inception layers, VGG-16 conv"
    rows = [
        Check("speed over DCNN, mean of AlexNet, GoogLeNet, VGG-16", "scnn",
              float(np.mean(speed)), 2.7, 0.7 * 2.7, 1.3 * 2.7, "x", "±30 %",
              f"{note}; per network " + ", ".join(f"{v:.2f}" for v in speed)),
        Check("energy gain over DCNN, same mean", "scnn", float(np.mean(energy)), 2.3, 0.7 * 2.3,
              1.3 * 2.3, "x", "±30 %", f"{note}; per network "
              + ", ".join(f"{v:.2f}" for v in energy)),
        Check("performance relative to DCNN at density 1.0/1.0", "scnn",
              float(sweep_speed[1.0]), 0.79, 0.64, 0.94, "x", "±0.15",
              "SCNN paper: about 79 % of DCNN (the PE arrays' cycles)"),
        Check("energy relative to DCNN at density 1.0/1.0", "scnn",
              float(1 / sweep_energy[1.0]), 1.33, 1.13, 1.53, "x", "±0.2",
              "SCNN paper: 33 % more energy than DCNN"),
        Check("density where SCNN stops being faster than DCNN", "scnn", float(crossover),
              0.85, 0.75, 0.95, "", "±0.1", "SCNN paper: faster below about 0.85/0.85"),
        Check("speed over DCNN at density 0.1/0.1", "scnn", float(sweep_speed[0.1]), 24.0,
              0.7 * 24, 1.3 * 24, "x", "±30 %", "SCNN paper: 24x"),
    ]
    for network, total in figure_10.items():
        for column, what in (("multiplier_utilization", "multiplier utilization"),
                             ("barrier_idle_fraction", "PE time idle at the barrier")):
            rows.append(Check(f"{what}, {network}", "scnn", float(total[column]), math.nan,
                              -math.inf, math.inf, "", "none",
                              "SCNN paper Figure 10 shows it per layer, with no figure quoted "
                              "here: a reading, not a check"))
    return rows, {"density": pd.DataFrame({"speedup": sweep_speed.to_numpy(),
                                           "energy_gain": sweep_energy.to_numpy()},
                                          index=densities)}


CHECKS = [eie_checks, dadiannao_checks, cnvlutin_checks, eyeriss_checks, systolic_checks,
          scnn_checks]


def run_validation(progress=None):
    """(table of checks, curves for the figure); each check gets `progress` for its loops."""
    progress = progress or no_progress
    checks, curves = [], {}
    for check in progress(CHECKS, "validate"):
        rows, extra = check(progress)
        checks += rows
        curves.update(extra)
    table = pd.DataFrame([dict(check=c.check, machine=c.machine, model=c.model,
                               published=c.published, unit=c.unit, tolerance=c.tolerance,
                               low=c.low, high=c.high, status=c.status if c.tolerance != "none"
                               else "bound", note=c.note) for c in checks])
    return table, curves


def format_table(table):
    shown = table.assign(model=table["model"].map(lambda v: f"{v:.3g}"),
                         published=table["published"].map(lambda v: f"{v:.3g}"))
    columns = ["machine", "check", "model", "published", "unit", "status", "tolerance"]
    with pd.option_context("display.width", 250, "display.max_colwidth", 70):
        return shown[columns].to_string(index=False)


def validation_figure(table, curves):
    """Model / published per check with its accepted band; EIE's FIFO and scaling curves."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 8.5), dpi=150, layout="constrained")
    grid = figure.add_gridspec(2, 3, height_ratios=(1.4, 1))
    ratios = figure.add_subplot(grid[0, :])
    checked = table[(table["status"] != "bound") & (table["published"] > 0)].reset_index(drop=True)
    y = np.arange(len(checked))[::-1]
    for yi, (_, row) in zip(y, checked.iterrows()):
        low = max(row["low"] / row["published"], 0.2)
        high = min(row["high"] / row["published"], 5.0)
        ratios.plot([low, high], [yi, yi], color="#cccccc", linewidth=7, solid_capstyle="butt")
        ratios.plot(row["model"] / row["published"], yi, "o",
                    color="#2ca02c" if row["status"] == "PASS" else "#d62728")
    ratios.axvline(1.0, color="black", linewidth=0.6)
    ratios.set_xscale("log")
    ratios.set_xlim(0.2, 5.0)
    ratios.set_yticks(y)
    ratios.set_yticklabels([f"{r.machine}: {r.check}" for r in checked.itertuples()], fontsize=7)
    ratios.set_xlabel("model / published (grey: accepted range; green PASS, red FAIL)")
    ratios.set_title("accelsim validate: models against published figures", fontsize=10)
    if "fifo" in curves:
        fifo = figure.add_subplot(grid[1, 0])
        for layer, values in curves["fifo"].iterrows():
            fifo.plot(values.index, values.values, marker=".", linewidth=0.8, label=layer)
        fifo.plot(curves["fifo"].columns, curves["fifo"].mean().values, color="black",
                  linewidth=2, label="mean")
        fifo.set_xscale("log", base=2)
        fifo.set_xlabel("activation FIFO depth")
        fifo.set_ylabel("load efficiency")
        fifo.set_title("EIE, 64 PEs (cf. EIE Fig. 8)", fontsize=10)
        fifo.legend(fontsize=6, ncol=2)
    if "density" in curves:
        sweep = figure.add_subplot(grid[1, 2])
        for column, label in (("speedup", "speed"), ("energy_gain", "energy gain")):
            sweep.plot(curves["density"].index, curves["density"][column], marker=".",
                       label=f"SCNN {label} over DCNN")
        sweep.axhline(1.0, color="black", linewidth=0.6)
        sweep.axvline(0.85, color="grey", linestyle=":", linewidth=0.8,
                      label="published crossover (0.85)")
        sweep.set_yscale("log")
        sweep.set_xlabel("weight and activation density")
        sweep.set_ylabel("x over DCNN")
        sweep.set_title("SCNN density sweep (cf. SCNN Fig. 8)", fontsize=10)
        sweep.legend(fontsize=6)
    if "scaling" in curves:
        scaling = figure.add_subplot(grid[1, 1])
        for layer, values in curves["scaling"].iterrows():
            scaling.plot(values.index, values.values, marker=".", linewidth=0.8, label=layer)
        pes = np.array(PE_COUNTS)
        scaling.plot(pes, pes, color="black", linestyle="--", linewidth=0.8, label="linear")
        scaling.set_xscale("log", base=2)
        scaling.set_yscale("log", base=2)
        scaling.set_xlabel("PEs")
        scaling.set_ylabel("speedup over 1 PE")
        scaling.set_title("EIE scalability (cf. EIE Fig. 11)", fontsize=10)
        scaling.legend(fontsize=6, ncol=2)
    return figure
