"""Cnvlutin speedup over the dense machine vs the layer's activation density.

    accelsim simulate --arch arch_configs/dense.yaml --arch arch_configs/cnvlutin.yaml \
        --trace T1 --trace T2 ... --out results/cnv.csv
    python analysis/cnvlutin_speedup.py results/cnv.csv --out results/analysis

One point per (trace, layer): compute cycles on dense / compute cycles on
Cnvlutin (memory stalls excluded: this is the PE array's speedup, as in the
Cnvlutin paper), against the fraction of non-zero input activations.
Writes cnvlutin_speedup.csv/.png/.svg.
"""

import argparse

from _common import plt, save_figure, variant_color, write_table

from accelsim.defaults import TOTAL_ROW
from accelsim.report.results import read_results


def speedups(results, kinds=("conv2d",)):
    layers = results[(results["layer"] != TOTAL_ROW) & results["kind"].isin(kinds)]
    keys = ["model", "variant", "layer"]
    dense = layers[layers["machine"] == "dense"].set_index(keys)["cycles_compute"]
    cnv = layers[layers["machine"] == "cnvlutin"].set_index(keys)
    table = cnv[["activation_density", "cycles_compute"]].join(dense.rename("dense_cycles"),
                                                                 how="inner")
    table["speedup"] = table["dense_cycles"] / table["cycles_compute"]
    return table.reset_index()


def figure(table):
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for variant, part in table.groupby("variant", sort=False):
        ax.scatter(100 * part["activation_density"], part["speedup"], s=18,
                   color=variant_color(variant), label=variant)
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_xlabel("non-zero input activations (%)")
    ax.set_ylabel("Cnvlutin speedup over dense (x)")
    ax.set_title("Cnvlutin speedup vs activation density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results table with dense and cnvlutin rows")
    parser.add_argument("--out", default="results/analysis")
    parser.add_argument("--kinds", default="conv2d", help="layer kinds, comma-separated")
    args = parser.parse_args(argv)
    table = speedups(read_results(args.results), tuple(args.kinds.split(",")))
    if table.empty:
        raise SystemExit("no layer simulated on both a dense and a cnvlutin machine")
    print(table.round(3).to_string(index=False))
    write_table(table, args.out, "cnvlutin_speedup")
    save_figure(figure(table), f"{args.out}/cnvlutin_speedup")
    return table


if __name__ == "__main__":
    main()
