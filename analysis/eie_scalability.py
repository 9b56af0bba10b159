"""EIE Fig. 11 and Fig. 8: speedup vs PEs, and load efficiency vs FIFO depth.

    accelsim sweep analysis/sweeps/eie_pes.yaml --out results/eie_pes.parquet
    accelsim sweep analysis/sweeps/eie_fifo.yaml --out results/eie_fifo.parquet
    python analysis/eie_scalability.py --pes results/eie_pes.parquet \
        [--fifo results/eie_fifo.parquet] --out results/analysis

Speedup of a layer on N PEs = its compute cycles on 1 PE / on N PEs: the PE
array's scaling, as in the EIE paper (memory stalls excluded). Per-PE SRAM
grows with N, so with few PEs a big layer's weights do not fit and would
stream from DRAM: those points are drawn hollow and flagged in the table
(`weights_on_chip`).
Writes eie_scalability.csv/.png/.svg and eie_fifo.csv/.png/.svg.
"""

import argparse

import numpy as np
import pandas as pd
from _common import plt, save_figure, write_table

from accelsim.defaults import TOTAL_ROW


def scalability(sweep):
    layers = sweep[sweep["layer"] != TOTAL_ROW]
    one = layers[layers["eie.pes"] == layers["eie.pes"].min()].set_index("layer")["cycles_compute"]
    table = layers[["layer", "eie.pes", "cycles_compute", "cycles_total", "load_efficiency",
                    "weights_on_chip"]].copy()
    table["weights_on_chip"] = table["weights_on_chip"].astype(bool)
    table["speedup"] = table["layer"].map(one) / table["cycles_compute"]
    return table.sort_values(["layer", "eie.pes"])


def _line_per_layer(ax, table, x, y):
    colors = plt.get_cmap("tab10").colors
    for i, (layer, part) in enumerate(table.groupby("layer", sort=False)):
        part = part.sort_values(x)
        color = colors[i % 10]
        ax.plot(part[x], part[y], marker="o", markersize=3, label=layer, color=color)
        if "weights_on_chip" in part:
            spilled = part[~part["weights_on_chip"].astype(bool)]
            ax.plot(spilled[x], spilled[y], "o", markersize=5, markerfacecolor="white",
                    color=color)


def scalability_figure(table):
    fig, ax = plt.subplots(figsize=(5, 3.4))
    _line_per_layer(ax, table, "eie.pes", "speedup")
    pes = np.array(sorted(table["eie.pes"].unique()))
    ax.plot(pes, pes / pes.min(), "k--", linewidth=0.8, label="linear")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("number of PEs")
    ax.set_ylabel("speedup over 1 PE (compute cycles)")
    ax.set_title("EIE scalability (hollow: weights exceed on-chip SRAM)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2, frameon=False)
    return fig


def fifo_figure(sweep):
    fig, ax = plt.subplots(figsize=(5, 3.2))
    _line_per_layer(ax, sweep[sweep["layer"] != TOTAL_ROW], "eie.fifo_depth", "load_efficiency")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("activation FIFO depth")
    ax.set_ylabel("load efficiency")
    ax.set_title("EIE load efficiency vs FIFO depth")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2, frameon=False)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pes", required=True, help="sweep table over eie.pes")
    parser.add_argument("--fifo", help="sweep table over eie.fifo_depth")
    parser.add_argument("--out", default="results/analysis")
    args = parser.parse_args(argv)
    table = scalability(pd.read_parquet(args.pes))
    print(table.pivot(index="layer", columns="eie.pes", values="speedup").round(1).to_string())
    write_table(table, args.out, "eie_scalability")
    save_figure(scalability_figure(table), f"{args.out}/eie_scalability")
    if args.fifo:
        fifo = pd.read_parquet(args.fifo)
        efficiency = fifo[fifo["layer"] != TOTAL_ROW][["layer", "eie.fifo_depth", "load_efficiency"]]
        print(efficiency.pivot(index="layer", columns="eie.fifo_depth",
                               values="load_efficiency").round(3).to_string())
        write_table(efficiency, args.out, "eie_fifo")
        save_figure(fifo_figure(fifo), f"{args.out}/eie_fifo")
    return table


if __name__ == "__main__":
    main()
