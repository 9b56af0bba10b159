"""Hardware sweeps: config overrides x traces -> one Parquet table.

A sweep file:

    arch: arch_configs/eie.yaml          # relative to the sweep file, or a bundled name (eie)
    traces: [../traces/generated/eie]    # idem
    grid:                                # cartesian product of dotted overrides
      eie.pes: [1, 2, 4, 8, 16, 32, 64, 128, 256]
    # or, instead of / besides grid, an explicit list:
    # points: [{eie.pes: 64, eie.fifo_depth: 4}, ...]

Override values are numbers, strings or booleans. A sweep runs at most
MAX_JOBS (points x traces); the size is checked before the grid is expanded.

Every (point, trace) is simulated on its own by a worker that gets paths,
not arrays (accelsim/studies/runner.py runs them and sets their threads). Each result is written
atomically to `OUT.parts/<key>.parquet` as soon as it arrives; points whose
part exists are skipped, so a killed sweep loses at most the points in
flight. The key is a hash of the point's content: its resolved machine
config (every value, after the overrides) and the trace's manifest (which
holds every array's sha256); a config or trace edited since is a new key,
so a stale result is never reused. The combined table (override values as
columns) is rewritten atomically at the end, as Parquet or CSV with a
provenance sidecar. Schedulers: local processes (default), a Dask
LocalCluster ("local") or an existing Dask cluster ("tcp://HOST:PORT").
"""

import functools
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from ..core.files import content_key
from ..core.inputs import load_yaml, read_text, shown
from ..core.progress import Progress
from ..core.schema import build, spec
from ..core.threads import cores_given
from ..errors import AccelsimError, ConfigError
from ..report.results import check_figures, check_results_path, read_part, write_part, write_results
from ..sim.config import arch_from_dict, arch_path, load_arch
from ..sim.simulator import (
    ADDITIVE,
    COLUMNS,
    FLAG_COLUMNS,
    NOTES_COLUMN,
    TEXT_COLUMNS,
    simulate,
    simulation_estimate,
)
from ..workload.trace import MANIFEST, load_trace
from .runner import check_scheduler, run_jobs

MAX_JOBS = 10_000


@dataclass(frozen=True)
class SweepSpec:
    arch: str = spec(doc="machine config YAML, relative to the sweep file, or the name of a "
                     "bundled config (eie)")
    traces: list[str] = spec(doc="trace directories, relative to the sweep file")
    grid: dict = spec(factory=dict, doc="dotted key -> list of values (cartesian product)")
    points: list[dict] = spec(factory=list, doc="explicit override sets")


@dataclass
class Sweep:
    arch: Path
    traces: list
    points: list = field(default_factory=list)
    # Per point, the resolved config; per trace, its manifest's text: what a result depends on.
    resolved: list = field(default_factory=list)
    manifests: list = field(default_factory=list)


def _check_override(key, value, where):
    if not isinstance(key, str):
        raise ConfigError(f"{where}override key {shown(key)} is not a string")
    if not isinstance(value, (int, float, str, bool)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"{where}{key} = {shown(value)} is invalid: an override value must be "
                          "a finite number, a string or true/false")


def load_sweep(path: Union[str, Path]) -> Sweep:
    """Read and check a sweep YAML (arch, traces, grid and/or points) -> Sweep: every
    point's overrides applied to the config and validated, every trace found, before any
    simulation (docs/studies.md describes the file)."""
    path = Path(path)
    where = f"sweep {path}: "
    raw = load_yaml(path, where, ConfigError)
    sweep_spec = build(SweepSpec, raw, where)
    if not sweep_spec.traces:
        raise ConfigError(f"{where}traces is empty: list at least one trace directory")
    for key, values in sweep_spec.grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}grid.{shown(key)} = {shown(values)} is invalid: "
                              "must be a non-empty list")
        for value in values:
            _check_override(key, value, f"{where}grid: ")
    for i, point in enumerate(sweep_spec.points):
        for key, value in point.items():
            _check_override(key, value, f"{where}points[{i}]: ")
    grid_size = math.prod(len(v) for v in sweep_spec.grid.values()) if sweep_spec.grid else 0
    jobs = (grid_size + len(sweep_spec.points)) * len(sweep_spec.traces)
    if jobs > MAX_JOBS:
        raise ConfigError(f"{where}{jobs} (point, trace) jobs; the limit is {MAX_JOBS}: "
                          "split the sweep")
    keys = list(sweep_spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(
        *(sweep_spec.grid[k] for k in keys))] if keys else []
    points += [dict(point) for point in sweep_spec.points]
    if not points:
        raise ConfigError(f"{where}needs a non-empty grid or points")
    base = path.parent
    arch = base / sweep_spec.arch
    if not arch.exists() and not Path(sweep_spec.arch).suffix and "/" not in sweep_spec.arch:
        arch = arch_path(sweep_spec.arch)  # a bundled config's name
    sweep = Sweep(arch=arch, traces=[base / t for t in sweep_spec.traces],
                  points=points)
    # Every point must give a valid config before anything runs; the YAML is read once.
    arch_where = f"arch config {sweep.arch}: "
    arch_raw = load_yaml(sweep.arch, arch_where, ConfigError)
    sweep.resolved = [arch_from_dict(arch_raw, arch_where, sweep.arch.parent, point).to_dict()
                      for point in points]
    sweep.manifests = [read_text(Path(t) / MANIFEST, f"{where}trace {t}: {MANIFEST}: ", ConfigError)
                       for t in sweep.traces]
    return sweep


@dataclass(frozen=True)
class SweepJob:
    overrides: dict
    trace: Path
    part: Path                   # where its result is kept

    @property
    def name(self):
        return f"{self.overrides} on {self.trace}"


def sweep_estimate(sweep, workers=None):
    """(peak bytes, seconds) of running `sweep` on `workers` local processes: each worker
    holds one (point, trace) job at a time (simulator.simulation_estimate of its trace), and
    the points share the work."""
    workers = min(workers or cores_given(), len(sweep.points) * len(sweep.traces))
    arch = load_arch(sweep.arch)
    per_trace = [simulation_estimate([arch], [load_trace(t, verify=False)])
                 for t in sweep.traces]
    return (max(memory for memory, _ in per_trace) * workers,
            len(sweep.points) * sum(seconds for _, seconds in per_trace) / workers)


def run_point(arch_path, job, progress=None):
    """Worker: simulate one (override set, trace); returns the result rows."""
    table = simulate(load_arch(arch_path, job.overrides), job.trace)
    for key, value in job.overrides.items():
        table.insert(0, key, value)
    table.insert(0, "trace", str(job.trace))
    return table


def run_sweep(sweep: Sweep, out: Union[str, Path], scheduler: str = "processes",
              workers: Optional[int] = None, progress: Optional[Progress] = None,
              command: str = "") -> pd.DataFrame:
    """Run the missing points of `sweep`; write and return the combined table."""
    check_scheduler(scheduler, workers)
    out = check_results_path(out)
    parts = Path(f"{out}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    jobs = [SweepJob(point, trace, parts / f"{content_key(resolved, manifest)}.parquet")
            for point, resolved in zip(sweep.points, sweep.resolved)
            for trace, manifest in zip(sweep.traces, sweep.manifests)]
    todo = [job for job in jobs if not job.part.exists()]
    run_jobs(todo, functools.partial(run_point, str(sweep.arch)),
             lambda job, table: write_part(table, job.part), scheduler=scheduler,
             workers=workers, progress=progress,
             description=f"sweep ({len(jobs) - len(todo)} of {len(jobs)} points reused)",
             what="sweep point")

    def part_of(point):
        def check(part, where):
            figures = [c for c in part.columns
                       if c not in {*TEXT_COLUMNS, NOTES_COLUMN, "trace", *point}]
            check_figures(part, figures, ADDITIVE, where, FLAG_COLUMNS)
            for column in TEXT_COLUMNS:
                if not part[column].map(type).eq(str).all():
                    raise AccelsimError(f"{where}column {column} must hold text")
            if any(part[key].tolist() != [value] * len(part) for key, value in point.items()):
                raise AccelsimError(f"{where}is not the part of point {point}")
        return check

    # A part is keyed by its trace's content, not its path: the path is relabelled here.
    table = pd.concat([read_part(job.part, [*job.overrides, *COLUMNS], part_of(job.overrides))
                       .assign(trace=str(job.trace)) for job in jobs], ignore_index=True)
    write_results(table, out, {"command": command, "sweep_arch": str(sweep.arch),
                               "points": len(sweep.points),
                               "traces": [str(t) for t in sweep.traces]})
    return table
