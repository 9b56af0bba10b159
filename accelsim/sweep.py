"""Hardware sweeps: config overrides x traces -> one Parquet table.

A sweep file:

    arch: arch_configs/eie.yaml          # relative to the sweep file
    traces: [../traces/generated/eie]    # idem
    grid:                                # cartesian product of dotted overrides
      eie.pes: [1, 2, 4, 8, 16, 32, 64, 128, 256]
    # or, instead of / besides grid, an explicit list:
    # points: [{eie.pes: 64, eie.fifo_depth: 4}, ...]

Every (point, trace) is simulated on its own by a worker that gets paths,
not arrays, and runs Numba single-threaded. Each result is written
atomically to `OUT.parts/<key>.parquet` as soon as it arrives; points whose
part exists are skipped, so a killed sweep loses at most the points in
flight. The combined table (override values as columns) is rewritten
atomically at the end. Schedulers: local processes (default), a Dask
LocalCluster ("local") or an existing Dask cluster ("tcp://HOST:PORT").
"""

import hashlib
import io
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from tqdm import tqdm

from .config import load_arch
from .errors import AccelsimError, ConfigError
from .files import atomic_file
from .schema import build, spec


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


def load_sweep(path):
    path = Path(path)
    where = f"sweep {path}: "
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{where}file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}not valid YAML ({str(exc).splitlines()[0]})") from None
    sweep_spec = build(SweepSpec, raw, where)
    for key, values in sweep_spec.grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}grid.{key} = {values!r} is invalid: must be a non-empty list")
    keys = list(sweep_spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(
        *(sweep_spec.grid[k] for k in keys))] if keys else []
    points += [dict(point) for point in sweep_spec.points]
    if not points:
        raise ConfigError(f"{where}needs a non-empty grid or points")
    base = path.parent
    sweep = Sweep(arch=base / sweep_spec.arch, traces=[base / t for t in sweep_spec.traces],
                  points=points)
    for point in points:  # every point must give a valid config before anything runs
        load_arch(sweep.arch, point)
    return sweep


def point_key(arch, overrides, trace):
    text = json.dumps([str(arch), sorted(overrides.items()), str(trace)], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_point(arch_path, overrides, trace_path):
    """Worker: simulate one (override set, trace); returns the result rows."""
    import numba

    from .simulator import simulate
    numba.set_num_threads(1)  # parallelism comes from the workers
    table = simulate(load_arch(arch_path, overrides), trace_path)
    for key, value in overrides.items():
        table.insert(0, key, value)
    table.insert(0, "trace", str(trace_path))
    return table


def _write_part(table, path):
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def _local_executor(workers):
    import multiprocessing
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _dask_client(scheduler, workers):
    from dask.distributed import Client, LocalCluster
    if scheduler == "local":
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None))
    return Client(scheduler)


def run_sweep(sweep, out, scheduler="processes", workers=None, progress=True):
    """Run the missing points of `sweep`; write and return the combined table."""
    out = Path(out)
    parts = Path(f"{out}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    workers = workers or max(1, os.cpu_count() or 1)
    jobs = [(point, trace) for point in sweep.points for trace in sweep.traces]
    todo = [(p, t) for p, t in jobs if not (parts / f"{point_key(sweep.arch, p, t)}.parquet").exists()]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="sweep", unit="point",
               disable=None if progress else True)
    failures = []

    def collect(futures, completed):
        # A failed point is reported at the end; the others still land on disk.
        for future in completed(futures):
            point, trace = futures[future]
            try:
                table = future.result()
            except Exception as exc:  # noqa: BLE001 - any worker error is reported with its point
                failures.append(f"{point} on {trace}: {str(exc).splitlines()[0]}")
                continue
            _write_part(table, parts / f"{point_key(sweep.arch, point, trace)}.parquet")
            bar.update()

    if todo and scheduler == "processes":
        with _local_executor(workers) as pool:
            collect({pool.submit(run_point, str(sweep.arch), p, str(t)): (p, t) for p, t in todo},
                    as_completed)
    elif todo:
        from dask.distributed import as_completed as dask_completed
        client = _dask_client(scheduler, workers)
        try:
            collect({client.submit(run_point, str(sweep.arch), p, str(t), pure=False): (p, t)
                     for p, t in todo}, dask_completed)
        finally:
            cluster = getattr(client, "cluster", None)
            client.close()
            if scheduler == "local" and cluster is not None:
                cluster.close()
    bar.close()
    if failures:
        raise AccelsimError(f"{len(failures)} sweep point(s) failed (the others are saved; "
                            f"rerun to retry): {failures[0]}")
    table = pd.concat([pd.read_parquet(parts / f"{point_key(sweep.arch, p, t)}.parquet")
                       for p, t in jobs], ignore_index=True)
    _write_part(table, out)
    return table
