"""Figures from a results table alone (no re-simulation), as PNG and SVG.

Every figure keeps one colour per variant and one per energy component, so
figures can sit side by side in a paper. Each function returns a
matplotlib.figure.Figure, made without pyplot; `write_plots` saves them all.
Importing or calling this module selects no backend and leaves rcParams as
they were: a notebook that uses it keeps its own settings.
"""

import zlib
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..core.files import atomic_file
from ..defaults import TOTAL_ROW
from .results import FIGURE_MARK, check_replaceable
from .summary import summarize

VARIANT_COLORS = {"dense": "#7f7f7f", "wp": "#1f77b4", "wp-mac": "#17becf", "jp": "#d62728",
                  "static-act": "#2ca02c", "synthetic": "#9467bd"}
# tab10's colours that no variant above uses.
OTHER_VARIANT_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#bcbd22")
VARIANT_HATCHES = {"dense": "", "wp": "//", "wp-mac": "--", "jp": "..", "static-act": "xx",
                   "synthetic": "\\\\"}
FIXED_COMPONENT_COLORS = {"mac": "#d62728", "rf": "#ff7f0e", "dram": "#2f2f2f",
                          "leakage": "#bcbd22", "logic_static": "#8c564b"}
# Applied with matplotlib.rc_context while figures are made and saved, and restored after.
STYLE = {"font.size": 9, "axes.titlesize": 10, "figure.dpi": 150, "savefig.bbox": "tight"}


def variant_color(variant):
    """A variant's colour, the same in every figure and run: a fixed one for the known
    variants, else one picked by a stable hash of the name (crc32, not the salted hash())."""
    if variant in VARIANT_COLORS:
        return VARIANT_COLORS[variant]
    return OTHER_VARIANT_COLORS[zlib.crc32(variant.encode()) % len(OTHER_VARIANT_COLORS)]


def component_colors(components):
    """Fixed colours for MAC/RF/DRAM/static, shades of blue for the on-chip buffers (by name)."""
    srams = sorted(c for c in components if c.startswith("buffer_"))
    blues = matplotlib.colormaps["Blues"](np.linspace(0.35, 0.85, max(1, len(srams))))
    colors = dict(FIXED_COMPONENT_COLORS)
    colors.update({name: blues[i] for i, name in enumerate(srams)})
    grays = matplotlib.colormaps["Greens"](np.linspace(0.4, 0.8, 4))
    for i, name in enumerate(sorted(c for c in components if c not in colors)):
        colors[name] = grays[i % len(grays)]
    return colors


def _layers(table):
    return table[table["layer"] != TOTAL_ROW]


def _variants(table):
    return list(dict.fromkeys(table["variant"]))


def _one_model(rows):
    models = list(dict.fromkeys(rows["model"]))
    if len(models) > 1:
        raise ValueError(f"a per-layer figure shows one model; this table has {models}")
    return rows


def _layer_order(rows):
    return list(dict.fromkeys(rows["layer"]))


def _grouped_axes_labels(ax, layer_names, ylabel, title):
    ax.set_xticks(range(len(layer_names)))
    ax.set_xticklabels(layer_names, rotation=45 if len(layer_names) > 6 else 0, ha="right"
                       if len(layer_names) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def energy_breakdown(table, arch):
    """Stacked energy per component, one group per layer, one bar per variant (one model)."""
    rows = _one_model(_layers(table[table["arch"] == arch]))
    components = [c[len("energy_"):-len("_pj")] for c in rows.columns
                  if c.startswith("energy_") and c.endswith("_pj") and c != "energy_pj"
                  and rows[c].fillna(0).sum() > 0]
    colors = component_colors(components)
    layer_names, variants = _layer_order(rows), _variants(rows)
    width = 0.8 / len(variants)
    fig = Figure(figsize=(max(5, 0.9 * len(layer_names) * len(variants) ** 0.5), 3.4))
    ax = fig.subplots()
    for v, variant in enumerate(variants):
        part = rows[rows["variant"] == variant].set_index("layer").reindex(layer_names)
        x = np.arange(len(layer_names)) - 0.4 + width * (v + 0.5)
        bottom = np.zeros(len(layer_names))
        for component in components:
            values = part[f"energy_{component}_pj"].fillna(0).to_numpy() / 1e6
            ax.bar(x, values, width, bottom=bottom, color=colors[component],
                   hatch=VARIANT_HATCHES.get(variant, ""), edgecolor="white", linewidth=0.4,
                   label=component if v == 0 else None)
            bottom += values
    _grouped_axes_labels(ax, layer_names, "energy per inference (µJ)",
                         f"{rows['model'].iloc[0]}: energy breakdown on {arch} "
                         f"(bars: {', '.join(variants)})")
    handles, labels = ax.get_legend_handles_labels()
    handles += [Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="black",
                              hatch=VARIANT_HATCHES.get(v, "")) for v in variants]
    labels += variants
    ax.legend(handles, labels, fontsize=7, ncol=2, frameon=False, loc="upper right")
    return fig


def cycles_per_layer(table, arch):
    """Cycles per layer, one bar per variant (one model)."""
    rows = _one_model(_layers(table[table["arch"] == arch]))
    layer_names, variants = _layer_order(rows), _variants(rows)
    width = 0.8 / len(variants)
    fig = Figure(figsize=(max(5, 0.9 * len(layer_names) * len(variants) ** 0.5), 3.2))
    ax = fig.subplots()
    clock = None
    for v, variant in enumerate(variants):
        part = rows[rows["variant"] == variant].set_index("layer").reindex(layer_names)
        x = np.arange(len(layer_names)) - 0.4 + width * (v + 0.5)
        ax.bar(x, part["cycles_total"], width, color=variant_color(variant), label=variant)
        clock = (part["cycles_total"] / part["latency_us"]).dropna()
    ax.set_yscale("log")
    _grouped_axes_labels(ax, layer_names, "cycles per inference (log)",
                         f"{rows['model'].iloc[0]}: cycles per layer on {arch}")
    if clock is not None and len(clock):
        mhz = float(clock.iloc[0])
        secondary = ax.secondary_yaxis("right", functions=(lambda c: c / mhz, lambda u: u * mhz))
        secondary.set_ylabel("latency (µs)")
    ax.legend(fontsize=7, frameon=False)
    return fig


def speedup_and_saving(table):
    """Speedup and energy saving of each variant over the dense model on the same machine."""
    summary = summarize(table)
    groups = list(dict.fromkeys(zip(summary["model"], summary["arch"])))
    variants = _variants(summary)
    width = 0.8 / len(variants)
    fig = Figure(figsize=(max(6, 1.2 * len(groups) * 2), 3.2))
    axes = fig.subplots(1, 2)
    for ax, column, label in ((axes[0], "speedup_vs_dense_model", "speedup over dense model (x)"),
                              (axes[1], "energy_saving_vs_dense_model",
                               "energy saving over dense model (x)")):
        for v, variant in enumerate(variants):
            part = summary[summary["variant"] == variant].set_index(["model", "arch"]).reindex(groups)
            x = np.arange(len(groups)) - 0.4 + width * (v + 0.5)
            ax.bar(x, part[column], width, color=variant_color(variant), label=variant)
        ax.axhline(1.0, color="black", linewidth=0.6)
        _grouped_axes_labels(ax, [f"{m}\n{a}" for m, a in groups], label, label.split(" (")[0])
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def machine_efficiency(table):
    """The per-layer fractions each machine in the table names in its registry entry
    (EIE's load efficiency, Cnvlutin's lane utilization, ...), per variant (one model)."""
    from ..sim.machines import MACHINES

    panels = [(machine, column, label)
              for machine in dict.fromkeys(table["machine"]) if machine in MACHINES
              for column, label in MACHINES[machine].efficiency]
    if not panels:
        return None
    fig = Figure(figsize=(7, 2.8 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (machine, column, label) in zip(axes[:, 0], panels):
        rows = _one_model(_layers(table[table["machine"] == machine]))
        rows = rows[rows["arch"] == rows["arch"].iloc[0]]
        layer_names, variants = _layer_order(rows), _variants(rows)
        width = 0.8 / len(variants)
        for v, variant in enumerate(variants):
            part = rows[rows["variant"] == variant].set_index("layer").reindex(layer_names)
            x = np.arange(len(layer_names)) - 0.4 + width * (v + 0.5)
            ax.bar(x, part[column], width, color=variant_color(variant), label=variant)
        ax.set_ylim(0, 1.05)
        _grouped_axes_labels(ax, layer_names, "fraction",
                             f"{label} ({rows['model'].iloc[0]} on {rows['arch'].iloc[0]})")
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def all_figures(table):
    """{file stem: Figure} for everything a results table can show.

    Per-layer figures show one model each (two models' layers share names like fc1 and
    differ in scale by orders of magnitude): with several models in the table, their
    stems end in _<model>.
    """
    figures = {}
    models = list(dict.fromkeys(table["model"]))
    for model in models:
        rows = table[table["model"] == model]
        suffix = f"_{model}" if len(models) > 1 else ""
        for arch in dict.fromkeys(rows["arch"]):
            figures[f"energy_breakdown_{arch}{suffix}"] = energy_breakdown(rows, arch)
            figures[f"cycles_{arch}{suffix}"] = cycles_per_layer(rows, arch)
        efficiency = machine_efficiency(rows)
        if efficiency is not None:
            figures[f"machine_efficiency{suffix}"] = efficiency
    if summarize(table)["speedup_vs_dense_model"].notna().any():  # else there is no bar to draw
        figures["speedup_energy_saving"] = speedup_and_saving(table)
    return figures


def save_figure(fig, path_stem):
    """PNG and SVG, each marked as accelsim's in its metadata: only a file with that mark is
    ever replaced (a user's own figure of the same name is refused)."""
    paths = [check_replaceable(Path(f"{path_stem}{suffix}"), "figure") for suffix in (".png", ".svg")]
    for path in paths:
        mark = {"Software" if path.suffix == ".png" else "Creator": FIGURE_MARK}
        with atomic_file(path) as handle, matplotlib.rc_context(STYLE):
            fig.savefig(handle, format=path.suffix[1:], metadata=mark)
    return paths


def write_plots(table, out_dir):
    out_dir = Path(out_dir)
    paths = []
    with matplotlib.rc_context(STYLE):
        figures = all_figures(table)
    for stem, fig in figures.items():
        paths += save_figure(fig, out_dir / stem)
    return paths
