"""SCNN against DCNN layer by layer, and the density sweep (SCNN paper, Figures 8-10).

    for p in alexnet-scnn googlenet-inception vgg16-scnn density-sweep; do
        accelsim synth --preset $p --out traces/generated/$p
    done
    accelsim simulate --arch scnn --arch dcnn --trace traces/generated/alexnet-scnn \
        --trace traces/generated/googlenet-inception --trace traces/generated/vgg16-scnn \
        --trace traces/generated/density-sweep --out results/scnn.csv
    python analysis/scnn_layers.py results/scnn.csv --out figures/scnn

Per network (model): one table of SCNN and DCNN cycles per layer, the speedup, and
SCNN's per-layer figures (multiplier utilisation, barrier idle, contention stalls,
Kc, temporal tiles) as far as the results have them. Several SCNN configs in the
results (say A = 16, 32, 64, 128 through `accelsim simulate --arch my-scnn-a64.yaml`)
add a contention table: each config's contention stall fraction and cycles per
layer. The density-sweep model (layers d<density>/...) gives the figure: SCNN's
latency relative to DCNN's against density, from the PE arrays' cycles summed
over each density's layers.
"""

import argparse
from pathlib import Path

import pandas as pd
from _common import plt, save_figure, write_table

from accelsim.defaults import TOTAL_ROW

SCNN_FIGURES = ["multiplier_utilization", "barrier_idle_fraction", "contention_stall_fraction",
                "kc", "temporal_tiles"]


def layer_table(rows, scnn_arch, dcnn_arch):
    scnn = rows[rows["arch"] == scnn_arch].set_index("layer")
    dcnn = rows[rows["arch"] == dcnn_arch].set_index("layer")
    table = pd.DataFrame({"scnn_cycles": scnn["cycles_total"], "dcnn_cycles": dcnn["cycles_total"]})
    table["speedup"] = table["dcnn_cycles"] / table["scnn_cycles"]
    table["scnn_compute"] = scnn["cycles_compute"]
    for column in SCNN_FIGURES:
        if column in scnn:
            table[column] = scnn[column]
    return table.reset_index()


def contention_table(rows, scnn_archs):
    parts = {}
    for arch in scnn_archs:
        part = rows[rows["arch"] == arch].set_index("layer")
        parts[f"{arch} cycles"] = part["cycles_compute"]
        if "contention_stall_fraction" in part:
            parts[f"{arch} stalls"] = part["contention_stall_fraction"]
    return pd.DataFrame(parts).reset_index()


def sweep_figure(rows, scnn_arch, dcnn_arch):
    layers = rows[rows["layer"] != TOTAL_ROW]
    density = layers["layer"].str.split("/").str[0].str[1:].astype(float)
    cycles = layers.assign(density=density).groupby(["density", "arch"])["cycles_compute"].sum()
    cycles = cycles.unstack("arch")
    relative = (cycles[scnn_arch] / cycles[dcnn_arch]).rename("scnn_latency_over_dcnn")
    figure, axis = plt.subplots(figsize=(4.5, 3.2))
    axis.plot(relative.index, relative.values, marker="o", label="SCNN / DCNN (PE-array cycles)")
    axis.axhline(1.0, color="black", linewidth=0.6)
    axis.set_xlabel("weight and activation density")
    axis.set_ylabel("latency relative to DCNN")
    axis.set_yscale("log")
    axis.set_title("GoogLeNet inception layers (cf. SCNN Fig. 8)")
    axis.legend()
    return figure, relative.reset_index()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results tables of `accelsim simulate`")
    parser.add_argument("--out", required=True, help="directory for the tables and figure")
    args = parser.parse_args()
    rows = pd.concat([pd.read_csv(path) for path in args.results], ignore_index=True)
    pd.set_option("display.width", 200)
    for model, model_rows in rows.groupby("model", sort=False):
        scnn_archs = list(model_rows.loc[model_rows["machine"] == "scnn", "arch"].unique())
        dcnn_archs = list(model_rows.loc[model_rows["machine"] == "dcnn", "arch"].unique())
        if model == "density-sweep" and scnn_archs and dcnn_archs:
            figure, relative = sweep_figure(model_rows, scnn_archs[0], dcnn_archs[0])
            print(f"{write_table(relative, args.out, 'density_sweep')}")
            print(relative.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            for path in save_figure(figure, Path(args.out) / "density_sweep"):
                print(path)
            continue
        if scnn_archs and dcnn_archs:
            table = layer_table(model_rows, scnn_archs[0], dcnn_archs[0])
            print(f"\n{model}: {write_table(table, args.out, f'{model}_layers')}")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if len(scnn_archs) > 1:
            table = contention_table(model_rows, scnn_archs)
            print(f"\n{model}: {write_table(table, args.out, f'{model}_contention')}")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
