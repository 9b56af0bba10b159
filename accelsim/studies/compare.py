"""The everyday pipeline, stage by stage: checkpoint -> trace -> results -> summary and plots.

The CLI calls these; each stage can also be used alone from Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import pandas as pd

from ..core.inputs import list_of
from ..core.progress import Progress
from ..core.resources import Limits
from ..defaults import QUICK_TRAINING, SAMPLES, TOTAL_ROW
from ..errors import AccelsimError
from ..report.results import (
    check_figure_directory,
    check_figures,
    check_output_directory,
    check_results_path,
    provenance,
    read_results,
    write_results,
)

if TYPE_CHECKING:
    from ..sim.config import ArchConfig
    from ..workload.trace import Trace

DEMO_METHODS = {"dense": {}, "wp": {"weight_budget": 0.1}, "jp": {}}


def check_distinct(what, sources, keys, fix=""):
    """Tables, sidecars and summaries key machines by name and traces by model/variant: two
    inputs may not share a key. fix: how to tell them apart, for the message."""
    seen = {}
    for source, key in zip(sources, keys):
        if key in seen:
            raise AccelsimError(f"{what} {seen[key]} and {source} are both {key}; "
                                f"a table holds one of each{fix}")
        seen[key] = source


def _label(source, index):
    """How an input is named in messages: its path, never an object's repr (a Trace's holds
    its arrays)."""
    if isinstance(source, (str, Path)):
        return str(source)
    path = getattr(source, "path", None)
    return str(path) if path else f"#{index + 1} ({type(source).__name__})"


def load_archs(archs):
    """Machine configs (objects, paths or bundled names) loaded and checked for distinct names."""
    from ..sim.config import load_arch

    archs = list_of(archs, "archs", "machine configs, paths or bundled names such as 'eie'")
    sources = [_label(a, i) for i, a in enumerate(archs)]
    archs = [load_arch(a) for a in archs]
    check_distinct("arch configs", sources, [f"named '{arch.name}'" for arch in archs],
                   " (give each config its own name: key)")
    return archs


def simulate_all(archs, traces, per_sample=False, progress=None, limits=None):
    """Every trace on every machine, one table (archs: see `load_archs`; traces: objects or
    paths). limits: a core.resources.Limits the run's estimate must stay within."""
    from ..sim.simulator import simulate, simulation_estimate
    from ..workload.trace import Trace, check_trace, load_trace

    archs = load_archs(archs)
    traces = list_of(traces, "traces", "Trace objects or trace directories")
    sources = [_label(t, i) for i, t in enumerate(traces)]
    traces = [check_trace(t) if isinstance(t, Trace) else load_trace(t) for t in traces]
    check_distinct("traces", sources, [f"{trace.model}/{trace.variant}" for trace in traces],
                   " (trace them again with accelsim trace --model-name or --variant; a model "
                   "file's traces are named after the file)")
    if limits is not None:
        limits.check("simulation", *simulation_estimate(archs, traces),
                     how=f" ({len(traces)} trace(s) on {len(archs)} machine(s))")
    tables = [simulate(arch, trace, per_sample=per_sample, progress=progress)
              for arch in archs for trace in traces]
    table = pd.concat(tables, ignore_index=True)
    energy_columns = [c for c in table.columns if c.startswith("energy_")]
    table[energy_columns] = table[energy_columns].fillna(0.0)
    return table, archs, traces


REPORT_TABLES = ("results.csv", "results.parquet", "summary.csv")


@dataclass
class CompareResult:
    """What `compare` and `run_demo` computed and wrote.

    table    the results: one row per layer, trace and machine, plus their TOTAL rows
    summary  per trace and machine: speedup and energy saving over the dense model and machine
    plots    the figure files written (PNG and SVG)
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    plots: list[Path]


def report(table, out_dir, archs, traces, command=""):
    """results.csv, results.parquet, summary.csv and plots/ under out_dir -> (summary, plot
    paths). command: the command line recorded in the tables' provenance sidecars."""
    from ..report.plots import write_plots
    from ..report.summary import summarize

    out_dir = Path(out_dir)
    meta = provenance(archs, traces, command)
    write_results(table, out_dir / "results.csv", meta)
    write_results(table, out_dir / "results.parquet", meta)
    summary = summarize(table)
    write_results(summary, out_dir / "summary.csv", meta)
    plots = write_plots(table, out_dir / "plots")
    return summary, plots


def check_report_paths(out_dir):
    """Where `report` writes can be written, and replaces no user file."""
    check_output_directory(out_dir, "output directory")
    for name in REPORT_TABLES:
        check_results_path(Path(out_dir) / name)
    check_figure_directory(Path(out_dir) / "plots")


def compare(archs: Sequence[Union[ArchConfig, str, Path]], traces: Sequence[Union[Trace, str, Path]],
            out_dir: Union[str, Path], progress: Optional[Progress] = None,
            command: str = "", limits: Optional[Limits] = None) -> CompareResult:
    """Every trace on every machine config -> CompareResult (table, summary, plots).

    archs: configs, paths or bundled names; traces: Trace objects or trace directories.
    Writes out_dir/results.csv and .parquet (one row per layer, sample average, and a
    TOTAL row per trace and machine), summary.csv (speedup and energy saving over the
    dense model and the dense machine) and plots/ (PNG and SVG), as `accelsim compare`.
    command: the command line to record in the tables' sidecars (the CLI passes its own).
    limits: an accelsim.core.resources.Limits that the run's estimated memory and work must
    stay within (the CLI passes --max-memory and --max-work); None: no check.

        result = accelsim.compare(["dense", "eie"], ["traces/mlp3-wp", "traces/mlp3-jp"], "out")
        print(result.summary)
    """
    check_report_paths(out_dir)  # before any simulation
    table, archs, traces = simulate_all(archs, traces, progress=progress, limits=limits)
    summary, plots = report(table, out_dir, archs, traces, command)
    return CompareResult(table, summary, plots)


def plot_results(results_path, out_dir):
    from ..report.plots import write_plots
    from ..sim.machines import MACHINES
    from ..sim.simulator import ADDITIVE, COLUMNS, FLAG_COLUMNS, TEXT_COLUMNS, figure_columns

    check_figure_directory(out_dir)
    table = read_results(results_path, required=COLUMNS)
    where = f"results file {results_path}: "
    check_figures(table, figure_columns(table), ADDITIVE, where, FLAG_COLUMNS)
    for column in TEXT_COLUMNS[:5]:  # kind is empty on TOTAL rows
        if table[column].isna().any():
            raise AccelsimError(f"{where}column {column} has empty values")
        table[column] = table[column].astype(str)
    if not (table["layer"] == TOTAL_ROW).any():
        raise AccelsimError(f"{where}has no {TOTAL_ROW} row")
    # A known machine's own columns (its efficiency fractions and figures), on its rows; the
    # plots skip a machine this process does not know.
    for machine in set(table["machine"]) & set(MACHINES):
        entry = MACHINES[machine]
        own = sorted({c for c, _ in entry.efficiency} | {c for c, _ in entry.figures})
        missing = [c for c in own if c not in table]
        if missing:
            raise AccelsimError(f"{where}rows of machine {machine} need column {missing[0]}")
        check_figures(table[table["machine"] == machine], own, own, where)
    return write_plots(table, out_dir)


def run_demo(out_dir, archs, models=("mlp3",), samples=SAMPLES, retrain=False, quick=False,
             log=print, progress=None, command=""):
    """Train dense, WP and JP models on MNIST, trace them, simulate every trace on every
    machine and write the report. `quick`: a smoke run (defaults.QUICK_TRAINING).

    Checkpoints are cached under out_dir/checkpoints, named by a hash of their training
    config and of the checkpoint they start from (`training_key`): a rerun reuses them
    while the settings are the same, and trains again what a changed default or a
    retrained dense model makes stale."""
    # Before minutes of training: every machine config loads, and the report can be written.
    archs = load_archs(archs)
    check_report_paths(out_dir)
    from ..core.files import sha256_of_file
    from ..training.checkpoint import save_checkpoint
    from ..training.methods import resolved, train
    from ..training.tracing import trace_from_checkpoint
    from ..training.train_config import TrainConfig, training_key

    if not models:
        raise AccelsimError("models: name at least one (for example mlp3)")
    if samples < 1:
        raise AccelsimError(f"samples {samples}: must be at least 1")
    # Every model name and setting is checked before the first model trains.
    configs = {(model, method): resolved(TrainConfig(model=model, method=method, **settings,
                                                     **(QUICK_TRAINING if quick else {})))
               for model in models for method, settings in DEMO_METHODS.items()}
    out_dir = Path(out_dir)
    traces = []
    for model in models:
        dense = None
        for method in DEMO_METHODS:
            config = configs[model, method]
            start_from = None if method == "dense" else dense
            key = training_key(config, start_from and sha256_of_file(start_from))
            checkpoint = out_dir / "checkpoints" / f"{model}-{method}-{key}.pt"
            if method == "dense":
                dense = checkpoint
            if retrain or not checkpoint.exists():
                log(f"training {model} {method} ...")
                result = train(config, start_from=start_from, progress=progress)
                save_checkpoint(result, checkpoint)
                log(f"  test accuracy {100 * result.test_accuracy:.2f} % ({result.seconds:.0f} s)")
            else:
                log(f"using cached {checkpoint}")
            trace_dir = out_dir / "traces" / f"{model}-{method}"
            trace_from_checkpoint(checkpoint, samples, trace_dir, overwrite=True)
            traces.append(trace_dir)
    log("simulating ...")
    return compare(archs, traces, out_dir, progress=progress, command=command)
