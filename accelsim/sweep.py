"""Hardware sweeps: config overrides x traces -> one Parquet table.

A sweep file:

    arch: arch_configs/eie.yaml          # relative to the sweep file
    traces: [../traces/generated/eie]    # idem
    grid:                                # cartesian product of dotted overrides
      eie.pes: [1, 2, 4, 8, 16, 32, 64, 128, 256]
    # or, instead of / besides grid, an explicit list:
    # points: [{eie.pes: 64, eie.fifo_depth: 4}, ...]

Override values are numbers, strings or booleans. A sweep runs at most
MAX_JOBS (points x traces); the size is checked before the grid is expanded.

Every (point, trace) is simulated on its own by a worker that gets paths,
not arrays, and runs Numba single-threaded. Each result is written
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

import hashlib
import itertools
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import arch_from_dict, load_arch
from .errors import AccelsimError, ConfigError
from .inputs import load_yaml, read_text, shown
from .progress import Counted, no_progress
from .results import check_figures, check_results_path, read_part, write_part, write_results
from .schema import build, spec
from .simulator import ADDITIVE, COLUMNS, FLAG_COLUMNS, TEXT_COLUMNS, simulate
from .trace import MANIFEST

MAX_JOBS = 10_000
SCHEDULERS = ("processes", "local", "tcp://HOST:PORT")


@dataclass(frozen=True)
class SweepSpec:
    arch: str = spec(doc="machine config YAML, relative to the sweep file")
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


def load_sweep(path):
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
    sweep = Sweep(arch=base / sweep_spec.arch, traces=[base / t for t in sweep_spec.traces],
                  points=points)
    # Every point must give a valid config before anything runs; the YAML is read once.
    arch_where = f"arch config {sweep.arch}: "
    arch_raw = load_yaml(sweep.arch, arch_where, ConfigError)
    sweep.resolved = [arch_from_dict(arch_raw, arch_where, sweep.arch.parent, point).to_dict()
                      for point in points]
    sweep.manifests = [read_text(Path(t) / MANIFEST, f"{where}trace {t}: {MANIFEST}: ", ConfigError)
                       for t in sweep.traces]
    return sweep


def point_key(resolved_config, manifest_text):
    """Content key of a (point, trace): the resolved config and the trace's manifest."""
    text = json.dumps([resolved_config, manifest_text], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_point(arch_path, overrides, trace_path):
    """Worker: simulate one (override set, trace); returns the result rows."""
    import numba

    numba.set_num_threads(1)  # parallelism comes from the workers (the call is per thread)
    table = simulate(load_arch(arch_path, overrides), trace_path)
    for key, value in overrides.items():
        table.insert(0, key, value)
    table.insert(0, "trace", str(trace_path))
    return table


def _die_with_parent(parent):
    """Worker initializer: end this worker when the process that started it ends.

    A worker busy with a point (minutes of training in `accelsim pareto`) would otherwise
    run on after its parent is killed (SIGTERM, SIGKILL, a closed terminal) and finish
    work nobody collects, on the cores the next run needs. On Linux the kernel sends the
    worker SIGTERM when its parent dies (PR_SET_PDEATHSIG); elsewhere it is not available
    and a worker ends when it next looks for work.
    """
    import ctypes
    import signal
    import sys
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request above was made
        os._exit(1)


def local_executor(workers):
    import multiprocessing
    if workers == 1:  # one point after the other in this process: no start-up cost
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def dask_client(scheduler, workers):
    from dask.distributed import Client, LocalCluster
    if scheduler == "local":
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None))
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise AccelsimError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                            ) from None


def check_scheduler(scheduler, workers):
    if not (scheduler in SCHEDULERS[:2] or str(scheduler).startswith("tcp://")):
        raise AccelsimError(f"--scheduler {shown(scheduler)} is invalid: must be one of "
                            f"{', '.join(SCHEDULERS)}")
    if workers is not None and not 1 <= workers <= 1024:
        raise AccelsimError(f"--workers {workers} is invalid: must be in 1..1024")


def run_sweep(sweep, out, scheduler="processes", workers=None, progress=None, command=""):
    """Run the missing points of `sweep`; write and return the combined table."""
    check_scheduler(scheduler, workers)
    out = check_results_path(out)
    parts = Path(f"{out}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    workers = workers or max(1, os.cpu_count() or 1)
    # (overrides, trace, its part file) for every job
    jobs = [(point, trace, parts / f"{point_key(resolved, manifest)}.parquet")
            for point, resolved in zip(sweep.points, sweep.resolved)
            for trace, manifest in zip(sweep.traces, sweep.manifests)]
    todo = [job for job in jobs if not job[2].exists()]
    description = f"sweep ({len(jobs) - len(todo)} of {len(jobs)} points reused)"
    progress = progress or no_progress
    failures = []

    def collect(futures, completed):
        # A failed point is reported at the end; the others still land on disk.
        for future in progress(Counted(completed(futures), len(futures)), description):
            job = futures[future]
            try:
                table = future.result()
            except Exception as exc:  # noqa: BLE001 - any worker error is reported with its point
                failures.append(f"{job[0]} on {job[1]}: {str(exc).splitlines()[0]}")
                continue
            write_part(table, job[2])

    if todo and scheduler == "processes":
        with local_executor(workers) as pool:
            collect({pool.submit(run_point, str(sweep.arch), job[0], str(job[1])): job
                     for job in todo}, as_completed)
    elif todo:
        from dask.distributed import as_completed as dask_completed
        client = dask_client(scheduler, workers)
        try:
            collect({client.submit(run_point, str(sweep.arch), job[0], str(job[1]), pure=False): job
                     for job in todo}, dask_completed)
        finally:
            cluster = getattr(client, "cluster", None)
            client.close()
            if scheduler == "local" and cluster is not None:
                cluster.close()
    if failures:
        raise AccelsimError(f"{len(failures)} sweep point(s) failed (the others are saved; "
                            f"rerun to retry): {failures[0]}")
    def part_of(point):
        def check(part, where):
            figures = [c for c in part.columns if c not in {*TEXT_COLUMNS, "trace", *point}]
            check_figures(part, figures, ADDITIVE, where, FLAG_COLUMNS)
            for column in TEXT_COLUMNS:
                if not part[column].map(type).eq(str).all():
                    raise AccelsimError(f"{where}column {column} must hold text")
            if any(part[key].tolist() != [value] * len(part) for key, value in point.items()):
                raise AccelsimError(f"{where}is not the part of point {point}")
        return check

    # A part is keyed by its trace's content, not its path: the path is relabelled here.
    table = pd.concat([read_part(job[2], [*job[0], *COLUMNS], part_of(job[0]))
                       .assign(trace=str(job[1])) for job in jobs], ignore_index=True)
    write_results(table, out, {"command": command, "sweep_arch": str(sweep.arch),
                               "points": len(sweep.points),
                               "traces": [str(t) for t in sweep.traces]})
    return table
