"""`accelsim pareto`: pruning methods compared at equal accuracy, from training to joules.

For one model, each method is trained at every budget of its ladder, all from one
dense checkpoint (trained once). Each point is traced on the first `samples` test
images (held out: no choice is made on them) and simulated on every machine config.
Written under OUT:

- pareto.csv (+ .meta.json): one row per point, the dense model included: model,
  method, budget, accuracy_percent (test set), weight_percent, activation_percent
  (non-zero inputs of every layer but the first: JPnet's "Acti %"), mac_percent, then
  cycles_<arch>, latency_us_<arch> and energy_uj_<arch> per machine config, and
  train_seconds.
- iso_accuracy.csv: at the dense accuracy minus 0.1, 0.3 and 1.0 points, each method's
  MAC %, latency and energy per machine on its Pareto front (see `cost_at_accuracy`),
  and the WP/JP and wp-mac/JP ratios; "not reached" where a method's front never gets
  that accurate.
- plots/: accuracy against MAC %, and against latency and energy per machine, each
  method's Pareto front drawn as a line (PNG and SVG).

The ladders, mild to aggressive (`budget` is the knob each method is swept along):
- wp: `weight_budget`, the fraction of all weights kept, allocated greedily from the
  weight sensitivity: 0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03.
- wp-mac: the same budgets, as fractions of the dense MACs (weight side) kept.
- jp and static-act: a scale on both tolerances of the sensitivity analysis (at 1,
  TrainConfig's weight_tolerance and activation_tolerance): 0.25, 0.5, 1, 2, 4, 8.
  JP's MACs fall with its winner rates and weight densities together, and the two
  tolerances set both. static-act (fixed per-layer thresholds calibrated to the same
  winner rates) takes the same ladder, so the two compare setting for setting.
`quick` (tests, smoke runs): defaults.QUICK_TRAINING, each ladder's two ends.

Resumable, like `accelsim sweep`: each point's checkpoint and result row are files
named by a hash of their inputs, not by path: the full training config and the dense
checkpoint's sha256; the row adds the trace's sample count and every machine config as
resolved. A rerun reuses what is there and redoes a point whose inputs changed. The
code is not an input: use a fresh OUT after changing accelsim. Points run in local
worker processes or on a Dask cluster (whose workers must see OUT at the same path),
through accelsim/studies/runner.py, which also sets each worker's threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np
import pandas as pd

from ..core.files import content_key, sha256_of_file
from ..core.progress import Progress, no_progress
from ..core.threads import cores_given, worker_threads
from ..defaults import QUICK_TRAINING, SAMPLES, TOTAL_ROW
from ..errors import AccelsimError
from ..report.results import check_figures, provenance, read_part, write_part, write_results
from ..sim.config import arch_path, bundled_configs
from ..training.train_config import TrainConfig, training_key
from .compare import load_archs
from .runner import check_scheduler, run_jobs

if TYPE_CHECKING:
    from ..sim.config import ArchConfig

# Training (and so torch) is imported in the functions that train: after the machine
# configs are checked, so that a bad --arch fails at once, not after torch has loaded.

ISO_DROPS_PP = (0.1, 0.3, 1.0)  # accuracy below the dense model's, in percentage points


@dataclass(frozen=True)
class Ladder:
    knob: str                    # what a budget is
    budgets: tuple               # mild to aggressive
    settings: Callable           # budget -> TrainConfig fields


def _scaled_tolerances(scale):
    return {"weight_tolerance": TrainConfig.weight_tolerance * scale,
            "activation_tolerance": TrainConfig.activation_tolerance * scale}


TOLERANCE_LADDER = Ladder("tolerance scale", (0.25, 0.5, 1, 2, 4, 8), _scaled_tolerances)
LADDERS = {
    "wp": Ladder("weight budget", (0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03),
                 lambda budget: {"weight_budget": budget}),
    "wp-mac": Ladder("MAC budget", (0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03),
                     lambda budget: {"weight_budget": budget}),
    "jp": TOLERANCE_LADDER,
    "static-act": TOLERANCE_LADDER,
}


@dataclass
class PointJob:
    """Everything a worker needs for one point (paths, not arrays)."""
    method: str
    budget: Optional[float]      # None: the dense model
    config: TrainConfig
    checkpoint: Path
    start_from: Optional[Path]
    trace: Path
    row: Path
    archs: list
    samples: int
    tables: Optional[dict] = None  # the dense model's sensitivity, measured once for all points

    @property
    def name(self):
        return f"{self.config.model} {self.method}" + (
            f" {self.budget:g}" if self.budget is not None else "")


@dataclass
class ParetoResult:
    """What `run_pareto` computed and wrote.

    table     one row per point (dense and each method's budgets): accuracy, weight,
              activation and MAC percentages, and cycles, latency and energy per machine
    iso       the iso-accuracy table: each method's cost at the dense accuracy minus 0.1,
              0.3 and 1.0 pp, and the WP/JP and wp-mac/JP ratios
    plots     the figure files written (PNG and SVG)
    computed  the names of the points this run (re)computed; the others were reused
    """

    table: pd.DataFrame
    iso: pd.DataFrame
    plots: list[Path]
    computed: list[str]


def point_configs(model, methods, quick=False):
    """(dense TrainConfig, [(method, budget, TrainConfig)]) of the study.

    The epochs are resolved here, not left to `train`: a point's files are named by the
    hash of its config, so when a default changes (a model's epochs for a method), the
    name must change with it, or the point trained with the old default is reused.
    """
    from ..training.methods import resolved

    def config(method, **settings):
        return resolved(TrainConfig(model=model, method=method, **(QUICK_TRAINING if quick else {}),
                                    **settings))

    points = []
    for method in methods:
        ladder = LADDERS[method]
        budgets = dict.fromkeys((ladder.budgets[0], ladder.budgets[-1])) if quick \
            else ladder.budgets
        points += [(method, budget, config(method, **ladder.settings(budget)))
                   for budget in budgets]
    return config("dense"), points


def _stem(method, budget, config, dense_hash):
    """A point's file name: readable, then the hash of its training inputs."""
    name = f"{config.model}-{method}" + (f"-{budget:g}" if budget is not None else "")
    return f"{name}-{training_key(config, dense_hash)}"


def _job(out, method, budget, config, dense, dense_hash, archs, row_inputs):
    """dense: the dense checkpoint a point starts from (None for the dense model itself);
    row_inputs: what its row depends on besides training (samples, machine configs)."""
    stem = _stem(method, budget, config, dense_hash)
    return PointJob(method, budget, config, out / "checkpoints" / f"{stem}.pt", dense,
                    out / "traces" / stem, out / "points" / f"{stem}-{content_key(row_inputs)}.parquet",
                    [str(a) for a in archs], row_inputs["samples"])


def run_point(job, progress=None):
    """Worker: train the point (unless its checkpoint exists), trace it, simulate the trace
    on every machine; returns its row."""
    from ..training.checkpoint import save_checkpoint
    from ..training.methods import train
    from ..training.tracing import trace_from_checkpoint
    from ..workload.inspect_trace import summary_totals, trace_summary
    from .compare import simulate_all
    if not job.checkpoint.exists():
        save_checkpoint(train(job.config, start_from=job.start_from, progress=progress,
                              tables=job.tables), job.checkpoint)
    trace = trace_from_checkpoint(job.checkpoint, job.samples, job.trace, overwrite=True)
    totals = summary_totals(trace_summary(trace))
    activation = totals["output_activation_density"]
    row = {"model": job.config.model, "method": job.method,
           "budget": job.budget if job.budget is not None else np.nan,
           "accuracy_percent": 100 * trace.metadata["test_accuracy"],
           "weight_percent": 100 * totals["weight_density"],
           "activation_percent": 100 * (activation if activation is not None
                                        else totals["activation_density"]),
           "mac_percent": 100 * totals["mac_fraction"]}
    table, _, _ = simulate_all(job.archs, [trace], progress=progress)
    for _, total in table[table["layer"] == TOTAL_ROW].iterrows():
        row[f"cycles_{total['arch']}"] = float(total["cycles_total"])
        row[f"latency_us_{total['arch']}"] = float(total["latency_us"])
        row[f"energy_uj_{total['arch']}"] = float(total["energy_pj"]) / 1e6
    row["train_seconds"] = trace.metadata["train_seconds"]
    return row


def _read_row(job, figures):
    """A finished point's row, checked to be that point's."""
    def check(row, where):
        check_figures(row, figures, figures, where)
        budget = row["budget"].iloc[0]
        if len(row) != 1 or row["model"].iloc[0] != job.config.model \
                or row["method"].iloc[0] != job.method \
                or not pd.api.types.is_numeric_dtype(row["budget"]) \
                or not (pd.isna(budget) if job.budget is None else budget == job.budget):
            raise AccelsimError(f"{where}is not the row of {job.name}")
    return read_part(job.row, ["model", "method", "budget", *figures], check)


def run_pareto(model: str, methods: Sequence[str], out: Union[str, Path],
               archs: Optional[Sequence[Union[ArchConfig, str, Path]]] = None,
               scheduler: str = "processes", workers: Optional[int] = None,
               samples: int = SAMPLES, quick: bool = False, progress: Optional[Progress] = None,
               command: str = "") -> ParetoResult:
    """Train, trace and simulate the missing points; write and return the tables and plots."""
    unknown = [m for m in methods if m not in LADDERS]
    if unknown or not methods:
        raise AccelsimError(f"methods {','.join(methods)!r}: each must be one of "
                            f"{', '.join(LADDERS)}")
    if samples < 1:
        raise AccelsimError(f"--samples {samples}: must be at least 1")
    out = Path(out)
    # Paths, for the workers: a name becomes its bundled file.
    archs = [arch_path(a) for a in archs] if archs else list(bundled_configs().values())
    configs = load_archs(archs)  # every config must load before anything trains
    names = [c.name for c in configs]
    check_scheduler(scheduler, workers)
    from ..training.checkpoint import save_checkpoint
    from ..training.methods import sensitivity_tables, train

    progress = progress or no_progress

    dense_config, points = point_configs(model, methods, quick)
    dense_checkpoint = out / "checkpoints" / f"{_stem('dense', None, dense_config, None)}.pt"
    # The dense model and its sensitivity analysis, which every point starts from, are
    # computed here first, with every core.
    with worker_threads(cores_given()):
        if not dense_checkpoint.exists():
            save_checkpoint(train(dense_config, progress=progress), dense_checkpoint)
        dense_hash = sha256_of_file(dense_checkpoint)
        row_inputs = {"samples": samples, "archs": [config.to_dict() for config in configs]}
        jobs = [_job(out, "dense", None, dense_config, None, None, archs,
                     {**row_inputs, "dense_sha256": dense_hash})]
        jobs += [_job(out, method, budget, config, dense_checkpoint, dense_hash, archs,
                      row_inputs) for method, budget, config in points]
        todo = [job for job in jobs if not job.row.exists()]
        untrained = [job for job in todo if not job.checkpoint.exists()]
        if untrained:  # one sensitivity analysis serves every point
            tables = sensitivity_tables(dense_config, dense_checkpoint, progress)
            for job in untrained:
                job.tables = tables
    run_jobs(todo, run_point, lambda job, row: write_part(pd.DataFrame([row]), job.row),
             scheduler=scheduler, workers=workers, progress=progress,
             description=f"pareto ({len(jobs) - len(todo)} of {len(jobs)} points reused)",
             what="pareto point")
    computed = [job.name for job in todo]

    figures = ["accuracy_percent", "weight_percent", "activation_percent", "mac_percent",
               "train_seconds",
               *(f"{kind}_{name}" for name in names for kind in ("cycles", "latency_us",
                                                                 "energy_uj"))]
    table = pd.concat([_read_row(job, figures) for job in jobs], ignore_index=True)
    meta = provenance(configs, [], command)
    meta.update(ladders={m: {"knob": LADDERS[m].knob, "budgets": list(LADDERS[m].budgets)}
                         for m in methods},
                quick=quick, samples=samples, dense_checkpoint=str(dense_checkpoint),
                dense_sha256=dense_hash)
    write_results(table, out / "pareto.csv", meta)
    iso = iso_accuracy(table, names)
    write_results(iso, out / "iso_accuracy.csv", meta)
    plots = write_pareto_plots(table, names, out / "plots")
    return ParetoResult(table, iso, plots, computed)


# ---------------------------------------------------------------- fronts and iso-accuracy


def pareto_front(points, cost):
    """The rows of `points` no other row beats: by ascending cost, each one more accurate
    than every cheaper one."""
    ordered = points.sort_values([cost, "accuracy_percent"], ascending=[True, False])
    best = ordered["accuracy_percent"].astype(float).cummax().shift(fill_value=-math.inf)
    return ordered[ordered["accuracy_percent"] > best]


def cost_at_accuracy(front, cost, target):
    """(cost on the front at accuracy `target`, how it was found).

    Between the two front points around the target, the cost is interpolated linearly in
    accuracy on a log scale (the plots' axis). When even the front's cheapest point is
    more accurate than the target, that point's cost is given: an upper bound. None when
    no point reaches the target.
    """
    accuracy = front["accuracy_percent"].to_numpy()
    if not len(front) or target > accuracy.max():
        return None, "not reached"
    logs = np.log(front[cost].to_numpy())
    value = float(np.exp(np.interp(target, accuracy, logs)))
    return value, "cheapest point" if target <= accuracy.min() else "interpolated"


def iso_accuracy(table, archs):
    """One row per (accuracy drop, metric): each method's cost at that accuracy, and WP/JP
    and wp-mac/JP."""
    dense_accuracy = float(table.loc[table["method"] == "dense", "accuracy_percent"].iloc[0])
    methods = [m for m in dict.fromkeys(table["method"]) if m != "dense"]
    metrics = ["mac_percent"] + [f"{kind}_{arch}" for arch in archs
                                 for kind in ("latency_us", "energy_uj")]
    rows = []
    for drop in ISO_DROPS_PP:
        target = dense_accuracy - drop
        for metric in metrics:
            row = {"model": table["model"].iloc[0], "drop_pp": drop,
                   "target_accuracy_percent": round(target, 4), "metric": metric}
            values, bounds = {}, []
            for method in methods:
                points = table[table["method"] == method]
                values[method], how = cost_at_accuracy(pareto_front(points, metric), metric,
                                                       target)
                row[method] = values[method] if values[method] is not None else "not reached"
                if how == "cheapest point":
                    bounds.append(method)
            for opponent in ("wp", "wp-mac"):
                if opponent in values and "jp" in values:
                    row[f"{opponent}/jp"] = (
                        values[opponent] / values["jp"]
                        if values[opponent] is not None and values["jp"] is not None
                        else "not reached")
            # These methods' values are their cheapest point's: upper bounds.
            row["upper_bound_for"] = ",".join(bounds)
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- plots

MARKERS = {"wp": "s", "wp-mac": "D", "jp": "o", "static-act": "^"}


def _front_panel(ax, table, cost, xlabel):
    from matplotlib.ticker import FuncFormatter

    from ..report.plots import variant_color

    dense = table[table["method"] == "dense"]
    dense_accuracy = float(dense["accuracy_percent"].iloc[0])
    for drop in ISO_DROPS_PP:
        ax.axhline(dense_accuracy - drop, color="#bbbbbb", linewidth=0.6, linestyle=":")
    for method in dict.fromkeys(table["method"]):
        if method == "dense":
            continue
        points = table[table["method"] == method]
        color, marker = variant_color(method), MARKERS.get(method, "D")
        ax.scatter(points[cost], points["accuracy_percent"], s=18, marker=marker,
                   facecolors="none", edgecolors=color, linewidths=0.8)
        front = pareto_front(points, cost)
        ax.plot(front[cost], front["accuracy_percent"], marker=marker, markersize=4,
                color=color, linewidth=1.2, label=f"{method} (front)")
    ax.scatter(dense[cost], dense["accuracy_percent"], marker="*", s=80, color="black",
               label="dense", zorder=3)
    ax.set_xscale("log")
    # Plain numbers (0.5, not 5x10^-1); minor ticks labelled when the axis spans under a decade.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(
        lambda value, _: f"{value:g}" if np.divide(*ax.get_xlim()[::-1]) < 10 else ""))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    # The interesting band: from 2 points under the dense model up.
    top = max(table["accuracy_percent"].max(), dense_accuracy)
    ax.set_ylim(min(dense_accuracy - 2, top - 0.5), top + 0.2)
    ax.grid(alpha=0.3, which="both", linewidth=0.4)
    ax.legend(fontsize=7, frameon=False, loc="lower right")


def pareto_figures(table, archs):
    """{file stem: Figure}: accuracy against MAC %, and against latency and energy per machine.

    Hollow markers are every point; the line joins each method's Pareto front; dotted
    lines mark the iso-accuracy levels. Made without pyplot: no global state.
    """
    from matplotlib.figure import Figure

    model = table["model"].iloc[0]
    fig = Figure(figsize=(4.2, 3.2))
    ax = fig.subplots()
    _front_panel(ax, table, "mac_percent", "MACs (% of dense, log)")
    ax.set_title(f"{model}: accuracy against MACs")
    figures = {"accuracy_vs_macs": fig}
    for arch in archs:
        fig = Figure(figsize=(8, 3.2))
        left, right = fig.subplots(1, 2)
        _front_panel(left, table, f"latency_us_{arch}", "latency per inference (µs, log)")
        _front_panel(right, table, f"energy_uj_{arch}", "energy per inference (µJ, log)")
        fig.suptitle(f"{model} on {arch}: accuracy against latency and energy")
        fig.tight_layout()
        figures[f"accuracy_vs_cost_{arch}"] = fig
    return figures


def write_pareto_plots(table, archs, out_dir):
    import matplotlib

    from ..report.plots import STYLE, save_figure

    with matplotlib.rc_context(STYLE):
        figures = pareto_figures(table, archs)
    return [path for stem, fig in figures.items() for path in save_figure(fig, Path(out_dir) / stem)]
