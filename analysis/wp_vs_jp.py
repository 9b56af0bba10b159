"""JPnet Fig. 2: non-zero activation % and MAC % of dense, WP and JP models.

    python analysis/wp_vs_jp.py TRACE [TRACE ...] --out results/analysis

Reads only traces (real ones from `accelsim trace`, synthetic ones from
`accelsim synth`); groups them by model and variant. Writes wp_vs_jp.csv
and wp_vs_jp.png/.svg.
"""

import argparse

import numpy as np
import pandas as pd
from _common import plt, save_figure, variant_color, write_table

from accelsim import load_trace
from accelsim.workload.inspect_trace import summary_totals, trace_summary


def table_of(trace_paths):
    rows = []
    for path in trace_paths:
        trace = load_trace(path, verify=False)
        totals = summary_totals(trace_summary(trace))
        act = totals["output_activation_density"]
        rows.append({"model": trace.model, "variant": trace.variant,
                     "activation_percent": 100 * (act if act is not None else totals["activation_density"]),
                     "weight_percent": 100 * totals["weight_density"],
                     "mac_percent": 100 * totals["mac_fraction"], "trace": str(path)})
    return pd.DataFrame(rows)


def figure(table):
    models = list(dict.fromkeys(table["model"]))
    variants = list(dict.fromkeys(table["variant"]))
    width = 0.8 / len(variants)
    fig, axes = plt.subplots(1, 2, figsize=(max(6, 2.2 * len(models)), 3))
    for ax, column, title in ((axes[0], "activation_percent", "(a) non-zero activations"),
                              (axes[1], "mac_percent", "(b) MACs")):
        for v, variant in enumerate(variants):
            part = table[table["variant"] == variant].set_index("model").reindex(models)
            ax.bar(np.arange(len(models)) - 0.4 + width * (v + 0.5), part[column], width,
                   color=variant_color(variant), label=variant)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models)
        ax.set_ylabel("% of dense")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="+")
    parser.add_argument("--out", default="results/analysis")
    args = parser.parse_args(argv)
    table = table_of(args.traces)
    print(table.drop(columns="trace").round(2).to_string(index=False))
    write_table(table, args.out, "wp_vs_jp")
    save_figure(figure(table), f"{args.out}/wp_vs_jp")
    return table


if __name__ == "__main__":
    main()
