"""`accelsim pareto`: pruning methods compared at equal accuracy, from training to joules.

For one model and each of `seeds` seeds: a dense model (the seed also draws the
validation split), then each method at every budget of its ladder from that seed's dense
checkpoint: the whole chain per seed. Each point is traced on the first `samples` test
images (held out: no choice is made on them) and simulated on every machine config.
Written under OUT:

- pareto.csv (+ .meta.json): one row per point and seed, the dense models included:
  model, method, budget, seed, accuracy_percent (test set), weight_percent,
  activation_percent (non-zero inputs of every layer but the first: JPnet's "Acti %"),
  mac_percent, then cycles_<arch>, latency_us_<arch> and energy_uj_<arch> per machine
  config, and train_seconds.
- pareto_summary.csv: one row per point: accuracy's mean, std, min and max over the
  seeds, and every other figure's mean.
- iso_accuracy.csv: at each seed's dense accuracy minus 0.1, 0.3 and 1.0 points, each
  method's MAC %, latency and energy per machine on that seed's Pareto front (see
  `cost_at_accuracy`), the median over seeds; WP/JP and wp-mac/JP as the median of the
  per-seed ratios with a 95 % bootstrap interval, the sign test's p-value and a verdict
  (intervals.py); "not reached" where a method's front never gets that accurate.
- plots/: accuracy against MAC %, and against latency and energy per machine: every run,
  and each method's front of the points' means with a band of their accuracy's std.

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

Resumable, like `accelsim sweep`, and seeds are jobs like points: each seed's dense
checkpoint and sensitivity tables (JSON, with the checkpoint's sha256), then each point's
checkpoint and result row, are files named by a hash of their inputs, not by path: the
full training config (its seed included) and the dense checkpoint's sha256; the row adds
the trace's sample count and every machine config as resolved. A rerun reuses what is
there and redoes a point whose inputs changed. The code is not an input: use a fresh OUT
after changing accelsim. Jobs run in local worker processes or on a Dask cluster (whose
workers must see OUT at the same path), through accelsim/studies/runner.py, which also
sets each worker's threads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np
import pandas as pd

from ..core.files import content_key, sha256_of_file, write_text_atomic
from ..core.progress import Progress, no_progress
from ..core.threads import cores_given
from ..defaults import QUICK_TRAINING, SAMPLES, SEEDS, TOTAL_ROW
from ..errors import AccelsimError
from ..report.results import (
    check_figure_directory,
    check_figures,
    check_output_directory,
    check_results_path,
    provenance,
    read_part,
    write_part,
    write_results,
)
from ..sim.config import arch_path, bundled_configs
from ..training.train_config import TrainConfig, training_key
from .compare import load_archs
from .intervals import median_interval, sign_test_p, verdict
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
            f" {self.budget:g}" if self.budget is not None else "") + f" seed {self.config.seed}"


@dataclass
class DenseJob:
    """One seed's dense model and its sensitivity analysis, which every point of that seed
    starts from."""
    config: TrainConfig
    checkpoint: Path
    tables: Path                 # the sensitivity tables, JSON

    @property
    def name(self):
        return f"{self.config.model} dense seed {self.config.seed}"


@dataclass
class ParetoResult:
    """What `run_pareto` computed and wrote.

    table     one row per point and seed (dense and each method's budgets): accuracy,
              weight, activation and MAC percentages, and cycles, latency and energy per
              machine
    summary   one row per point: the mean and std of accuracy over seeds, its range, and
              the mean of every other figure
    iso       the iso-accuracy table: each method's cost at the dense accuracy minus 0.1,
              0.3 and 1.0 pp, and the WP/JP and wp-mac/JP ratios
    plots     the figure files written (PNG and SVG)
    computed  the names of the points this run (re)computed; the others were reused
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    iso: pd.DataFrame
    plots: list[Path]
    computed: list[str]


def point_configs(model, methods, quick=False, seed=0):
    """(dense TrainConfig, [(method, budget, TrainConfig)]) of the study.

    The epochs are resolved here, not left to `train`: a point's files are named by the
    hash of its config, so when a default changes (a model's epochs for a method), the
    name must change with it, or the point trained with the old default is reused.
    """
    from ..training.methods import resolved

    def config(method, **settings):
        return resolved(TrainConfig(model=model, method=method, seed=seed,
                                    **(QUICK_TRAINING if quick else {}), **settings))

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
    return f"{name}-seed{config.seed}-{training_key(config, dense_hash)}"


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
           "budget": job.budget if job.budget is not None else np.nan, "seed": job.config.seed,
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
                or row["method"].iloc[0] != job.method or row["seed"].iloc[0] != job.config.seed \
                or not pd.api.types.is_numeric_dtype(row["budget"]) \
                or not (pd.isna(budget) if job.budget is None else budget == job.budget):
            raise AccelsimError(f"{where}is not the row of {job.name}")
    return read_part(job.row, ["model", "method", "budget", "seed", *figures], check)


def run_dense(job, progress=None):
    """Worker: train one seed's dense model (unless its checkpoint exists) and measure its
    sensitivity; returns the tables, which the caller writes."""
    from ..training.checkpoint import save_checkpoint
    from ..training.methods import sensitivity_tables, train
    if not job.checkpoint.exists():
        save_checkpoint(train(job.config, progress=progress), job.checkpoint)
    return sensitivity_tables(job.config, job.checkpoint, progress)


def _save_tables(job, tables):
    # JSON keys are strings: settings are written as their repr and read back as floats.
    # The checkpoint's sha256 goes with them: tables of another model are never reused.
    plain = {kind: {"baseline": t["baseline"], "accuracy": {
        layer: {repr(setting): accuracy for setting, accuracy in by_setting.items()}
        for layer, by_setting in t["accuracy"].items()}} for kind, t in tables.items()}
    write_text_atomic(job.tables, json.dumps(
        {"checkpoint_sha256": sha256_of_file(job.checkpoint), "tables": plain}, indent=1))


def _load_tables(path, checkpoint_sha256):
    """The sensitivity tables at `path`, or None when they are another checkpoint's."""
    try:
        saved = json.loads(path.read_text())
        if saved["checkpoint_sha256"] != checkpoint_sha256:
            return None
        return {kind: {"baseline": float(t["baseline"]), "accuracy": {
            layer: {float(setting): float(accuracy) for setting, accuracy in by_setting.items()}
            for layer, by_setting in t["accuracy"].items()}} for kind, t in saved["tables"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AccelsimError(f"{path}: not a sensitivity table accelsim wrote ({exc}); "
                            f"remove it to measure again") from None


def _dense_done(job):
    return job.checkpoint.exists() and job.tables.exists() and _load_tables(
        job.tables, sha256_of_file(job.checkpoint)) is not None


def run_pareto(model: str, methods: Sequence[str], out: Union[str, Path],
               archs: Optional[Sequence[Union[ArchConfig, str, Path]]] = None,
               scheduler: str = "processes", workers: Optional[int] = None,
               samples: int = SAMPLES, quick: bool = False, progress: Optional[Progress] = None,
               command: str = "", seeds: int = SEEDS) -> ParetoResult:
    """Train, trace and simulate the missing points of every seed; write and return the
    tables and plots."""
    unknown = [m for m in methods if m not in LADDERS]
    if unknown or not methods:
        raise AccelsimError(f"methods {','.join(methods)!r}: each must be one of "
                            f"{', '.join(LADDERS)}")
    if samples < 1:
        raise AccelsimError(f"--samples {samples}: must be at least 1")
    out = Path(out)
    check_output_directory(out, "output directory")  # before minutes of training
    for name in ("pareto.csv", "pareto_summary.csv", "iso_accuracy.csv"):
        check_results_path(out / name)
    check_figure_directory(out / "plots")
    # Paths, for the workers: a name becomes its bundled file.
    archs = [arch_path(a) for a in archs] if archs else list(bundled_configs().values())
    configs = load_archs(archs)  # every config must load before anything trains
    names = [c.name for c in configs]
    check_scheduler(scheduler, workers)
    if seeds < 1:
        raise AccelsimError(f"--seeds {seeds}: must be at least 1")
    progress = progress or no_progress

    # First each seed's dense model and sensitivity analysis (jobs, resumable), then every
    # point of every seed from its own seed's dense model: the whole chain per seed.
    # (point_configs imports the training code: without torch this fails here, before any
    # work, not in a worker.)
    studies = {seed: point_configs(model, methods, quick, seed) for seed in range(seeds)}
    dense_jobs = []
    for dense_config, _ in studies.values():
        stem = _stem("dense", None, dense_config, None)
        dense_jobs.append(DenseJob(dense_config, out / "checkpoints" / f"{stem}.pt",
                                   out / "checkpoints" / f"{stem}.sensitivity.json"))
    todo_dense = [job for job in dense_jobs if not _dense_done(job)]
    # Fewer seeds than workers: each dense model gets more threads.
    dense_workers = min(workers or cores_given(), max(1, len(todo_dense)))
    run_jobs(todo_dense, run_dense, _save_tables, scheduler=scheduler, workers=dense_workers,
             progress=progress, description=f"pareto dense models ({len(dense_jobs)} seeds)",
             what="pareto dense model")
    row_inputs = {"samples": samples, "archs": [config.to_dict() for config in configs]}
    jobs, dense_hashes = [], {}
    for (seed, (dense_config, points)), dense in zip(studies.items(), dense_jobs):
        dense_hash = dense_hashes[seed] = sha256_of_file(dense.checkpoint)
        jobs.append(_job(out, "dense", None, dense_config, None, None, archs,
                         {**row_inputs, "dense_sha256": dense_hash}))
        seed_jobs = [_job(out, method, budget, config, dense.checkpoint, dense_hash, archs,
                          row_inputs) for method, budget, config in points]
        if any(not job.checkpoint.exists() for job in seed_jobs):
            tables = _load_tables(dense.tables, dense_hash)  # one analysis per seed
            for job in seed_jobs:
                job.tables = tables
        jobs += seed_jobs
    todo = [job for job in jobs if not job.row.exists()]
    run_jobs(todo, run_point, lambda job, row: write_part(pd.DataFrame([row]), job.row),
             scheduler=scheduler, workers=workers, progress=progress,
             description=f"pareto ({len(jobs) - len(todo)} of {len(jobs)} points reused)",
             what="pareto point")
    computed = [job.name for job in todo_dense + todo]

    figures = ["accuracy_percent", "weight_percent", "activation_percent", "mac_percent",
               "train_seconds",
               *(f"{kind}_{name}" for name in names for kind in ("cycles", "latency_us",
                                                                 "energy_uj"))]
    table = pd.concat([_read_row(job, figures) for job in jobs], ignore_index=True)
    meta = provenance(configs, [], command)
    meta.update(ladders={m: {"knob": LADDERS[m].knob, "budgets": list(LADDERS[m].budgets)}
                         for m in methods},
                quick=quick, samples=samples, seeds=seeds,
                dense_checkpoints={seed: str(job.checkpoint) for seed, job in
                                   zip(studies, dense_jobs)},
                dense_sha256=dense_hashes)
    write_results(table, out / "pareto.csv", meta)
    summary = point_summary(table, figures)
    write_results(summary, out / "pareto_summary.csv", meta)
    iso = iso_accuracy(table, names)
    write_results(iso, out / "iso_accuracy.csv", meta)
    plots = write_pareto_plots(table, names, out / "plots")
    return ParetoResult(table, summary, iso, plots, computed)


def point_summary(table, figures):
    """One row per point (method, budget): accuracy's mean, std (n - 1), min and max over
    the seeds, and every other figure's mean."""
    grouped = table.groupby(["model", "method", "budget"], sort=False, dropna=False)
    summary = grouped[[f for f in figures if f != "accuracy_percent"]].mean()
    accuracy = grouped["accuracy_percent"]
    summary.insert(0, "seeds", grouped["seed"].nunique())
    summary.insert(1, "accuracy_percent_mean", accuracy.mean())
    summary.insert(2, "accuracy_percent_std", accuracy.std().fillna(0.0))
    summary.insert(3, "accuracy_percent_min", accuracy.min())
    summary.insert(4, "accuracy_percent_max", accuracy.max())
    return summary.reset_index()


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
    """One row per (accuracy drop, metric). Each seed is its own study: its methods' fronts
    are read at its own dense model's accuracy minus the drop. A method's cost is the
    median over the seeds whose front reaches that accuracy. WP/JP and wp-mac/JP are the
    median of the per-seed ratios, with a 95 % bootstrap interval over seeds, the sign
    test's p-value and the verdict (intervals.py): "JP better" only when the interval lies
    wholly above 1 and p <= 0.05, which takes at least 6 seeds."""
    seeds = sorted(table["seed"].unique())
    methods = [m for m in dict.fromkeys(table["method"]) if m != "dense"]
    metrics = ["mac_percent"] + [f"{kind}_{arch}" for arch in archs
                                 for kind in ("latency_us", "energy_uj")]
    dense = table[table["method"] == "dense"].set_index("seed")["accuracy_percent"].astype(float)
    rows = []
    for drop in ISO_DROPS_PP:
        for metric in metrics:
            row = {"model": table["model"].iloc[0], "drop_pp": drop,
                   "target_accuracy_percent": round(float((dense - drop).mean()), 4),
                   "metric": metric, "seeds": len(seeds)}
            costs, bounds = {}, []
            for method in methods:
                costs[method] = {}
                for seed in seeds:
                    points = table[(table["method"] == method) & (table["seed"] == seed)]
                    costs[method][seed], how = cost_at_accuracy(
                        pareto_front(points, metric), metric, dense[seed] - drop)
                    if how == "cheapest point":
                        bounds.append(method)
                reached = [v for v in costs[method].values() if v is not None]
                row[method] = float(np.median(reached)) if reached else "not reached"
                row[f"{method} seeds"] = len(reached)
            for opponent in ("wp", "wp-mac"):
                if opponent in costs and "jp" in costs:
                    _ratio_columns(row, f"{opponent}/jp", opponent, [
                        costs[opponent][seed] / costs["jp"][seed] for seed in seeds
                        if costs[opponent][seed] is not None and costs["jp"][seed] is not None])
            # These methods' values are their cheapest point's on some seed: upper bounds.
            row["upper_bound_for"] = ",".join(dict.fromkeys(bounds))
            rows.append(row)
    return pd.DataFrame(rows)


def _ratio_columns(row, name, opponent, ratios):
    median, low, high = median_interval(ratios)
    row[name] = median if ratios else "not reached"
    row[f"{name} low"], row[f"{name} high"] = low, high
    row[f"{name} p"] = sign_test_p(ratios)
    row[f"{name} verdict"] = verdict(ratios, "JP better", f"{opponent} better")


# ---------------------------------------------------------------- plots

MARKERS = {"wp": "s", "wp-mac": "D", "jp": "o", "static-act": "^"}


def _point_means(table, cost):
    """Per point (method, budget): the mean cost and accuracy over seeds, and the accuracy's
    std (0 with one seed)."""
    grouped = table.groupby(["method", "budget"], sort=False, dropna=False)
    means = grouped[[cost, "accuracy_percent"]].mean()
    means["spread"] = grouped["accuracy_percent"].std().fillna(0.0)
    return means.reset_index()


def _front_panel(ax, table, cost, xlabel):
    from matplotlib.ticker import FuncFormatter

    from ..report.plots import variant_color

    means = _point_means(table, cost)
    dense = means[means["method"] == "dense"]
    dense_accuracy = float(dense["accuracy_percent"].iloc[0])
    for drop in ISO_DROPS_PP:
        ax.axhline(dense_accuracy - drop, color="#bbbbbb", linewidth=0.6, linestyle=":")
    for method in dict.fromkeys(table["method"]):
        if method == "dense":
            continue
        runs = table[table["method"] == method]
        color, marker = variant_color(method), MARKERS.get(method, "D")
        ax.scatter(runs[cost], runs["accuracy_percent"], s=12, marker=marker,
                   facecolors="none", edgecolors=color, linewidths=0.6, alpha=0.6)
        front = pareto_front(means[means["method"] == method], cost)
        ax.fill_between(front[cost], front["accuracy_percent"] - front["spread"],
                        front["accuracy_percent"] + front["spread"], color=color, alpha=0.15,
                        linewidth=0)
        ax.plot(front[cost], front["accuracy_percent"], marker=marker, markersize=4,
                color=color, linewidth=1.2, label=f"{method} (front of means)")
    ax.errorbar(dense[cost], dense["accuracy_percent"], yerr=dense["spread"], fmt="*",
                markersize=9, color="black", label="dense", zorder=3)
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

    Hollow markers are every run (point and seed); the line joins each method's Pareto
    front of the points' means over seeds, the band is their accuracy's std; dotted lines
    mark the iso-accuracy levels below the dense model's mean. Made without pyplot: no
    global state.
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
