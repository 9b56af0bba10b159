"""One job runner for every study (sweep, pareto): local worker processes or a Dask cluster.

`run_jobs(jobs, work, save, ...)` runs `work(job, progress)` for every job and calls
`save(job, result)` in the calling process as each result arrives, so a killed study
loses only the jobs in flight. A job that fails is reported once all the others are
done and saved (one AccelsimError naming the first failure); `job.name` says which.

Workers and threads, one rule for both studies:
- workers: the cores this process was given (`cores_given`), unless told otherwise;
- threads: each worker gets cores // workers Numba and torch threads (one on Dask, whose
  workers share machines we cannot see). They are set inside the worker; one local
  worker runs the jobs in the calling process, its threads restored afterwards.
Local workers die with the process that started them (see `_die_with_parent`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Optional, TypeVar

from ..core.inputs import shown
from ..core.progress import Counted, Progress, no_progress
from ..core.threads import cores_given, set_threads, worker_threads
from ..errors import AccelsimError

SCHEDULERS = ("processes", "local", "tcp://HOST:PORT")
MAX_WORKERS = 1024

Job = TypeVar("Job")


def check_scheduler(scheduler: str, workers: Optional[int], probe: bool = True) -> None:
    """Before any work: the scheduler is one we know (with probe, a tcp:// one answers as a
    Dask scheduler does) and the worker count is sane."""
    if not (scheduler in SCHEDULERS[:2] or str(scheduler).startswith("tcp://")):
        raise AccelsimError(f"--scheduler {shown(scheduler)} is invalid: must be one of "
                            f"{', '.join(SCHEDULERS)}")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise AccelsimError(f"--workers {workers} is invalid: must be in 1..{MAX_WORKERS}")
    if probe and scheduler.startswith("tcp://"):
        probe_dask_scheduler(scheduler)


def _lookup(host, port):
    """(address, port) of `host`'s first stream address, or why there is none (text)."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][:2]
    except (OSError, UnicodeError, ValueError) as exc:  # unknown host, a bad IDNA label
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe_dask_scheduler(address: str, timeout: float = 5.0) -> None:
    """Check that a Dask scheduler listens at tcp://HOST:PORT, within `timeout` seconds per
    step, before Dask itself connects: Dask trusts its peer, so a service that speaks
    another protocol would hang it (an HTTP server waits for a request) or make it allocate
    whatever length the first bytes spell (an SSH banner read as a frame length is 2.8 EiB).

    On accepting a connection a Dask scheduler speaks first: its handshake, a message framed
    as distributed.comm.tcp writes every message (an 8-byte little-endian length, then that
    many bytes, which begin with the 8-byte count of the frames that follow). The probe reads
    that much and checks that the lengths are those of a handshake (a few hundred bytes).
    """
    import struct
    from urllib.parse import urlsplit

    where = f"--scheduler {shown(address)}: "
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise AccelsimError(f"{where}not tcp://HOST:PORT ({exc})") from None
    if not host or port is None or parts.path not in ("", "/") or parts.query:
        raise AccelsimError(f"{where}not tcp://HOST:PORT")

    def read_exactly(connection, count):
        data = b""
        while len(data) < count:
            chunk = connection.recv(count - len(data))
            if not chunk:
                break
            data += chunk
        return data

    # The name lookup has no timeout of its own: it runs in a thread that is given one.
    found: list = []
    lookup = threading.Thread(target=lambda: found.append(_lookup(host, port)), daemon=True)
    lookup.start()
    lookup.join(timeout)
    if not found:
        raise AccelsimError(f"{where}looking up {shown(host)} took over {timeout:g} s")
    if isinstance(found[0], str):
        raise AccelsimError(f"{where}cannot look up {shown(host)} ({found[0]})")
    try:
        connection = socket.create_connection(found[0], timeout=timeout)
    except OSError as exc:  # refused, unreachable, timed out
        raise AccelsimError(f"{where}cannot connect ({exc.strerror or exc})") from None
    try:
        with connection:
            prefix = read_exactly(connection, 8)
            (length,) = struct.unpack("<Q", prefix) if len(prefix) == 8 else (0,)
            body = read_exactly(connection, 16) if 16 <= length <= 1 << 20 else b""
    except TimeoutError:
        raise AccelsimError(f"{where}the service there sent nothing within {timeout:g} s; a "
                            "Dask scheduler greets at once (is this its address?)") from None
    except OSError as exc:
        raise AccelsimError(f"{where}the connection failed ({exc.strerror or exc})") from None
    frames = struct.unpack("<Q", body[:8])[0] if len(body) >= 8 else 0
    if not 1 <= frames <= 64:
        raise AccelsimError(f"{where}the service there is not a Dask scheduler (it began "
                            f"with {shown(prefix)})")


def _in_worker(work: Callable, job: Any, threads: int) -> Any:
    """A worker process's side of a job: its thread counts, then the work.

    OMP_NUM_THREADS reaches torch when the work is the first to import it; Numba and an
    already-loaded torch are set directly. Nothing is restored: the process is ours.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    set_threads(threads)
    return work(job, None)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it ends.

    A worker busy with a job (minutes of training in `accelsim pareto`) would otherwise
    run on after its parent is killed (SIGTERM, SIGKILL, a closed terminal) and finish
    work nobody collects, on the cores the next run needs. On Linux the kernel sends the
    worker SIGTERM when its parent dies (PR_SET_PDEATHSIG); elsewhere it is not available
    and a worker ends when it next looks for work.
    """
    import ctypes
    import signal
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request above was made
        os._exit(1)


@contextlib.contextmanager
def dask_client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client: a LocalCluster of `workers` one-thread processes ("local") or an
    existing scheduler ("tcp://HOST:PORT"); closed, with a cluster it started, on exit."""
    from dask.distributed import Client, LocalCluster
    if scheduler == "local":
        client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=None))
    else:
        probe_dask_scheduler(scheduler)  # Dask would hang on, or trust, another service
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise AccelsimError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                                ) from None
    try:
        yield client
    finally:
        cluster = client.cluster if scheduler == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


def run_jobs(jobs: Sequence[Job], work: Callable[[Job, Optional[Progress]], Any],
             save: Callable[[Job, Any], None], *, scheduler: str = "processes",
             workers: Optional[int] = None, progress: Optional[Progress] = None,
             description: str = "jobs", what: str = "job") -> None:
    """Run `work(job, progress)` for every job; `save(job, result)` each result here.

    work must be picklable (a module-level function) unless one local worker runs the
    jobs; it gets a progress reporter only then (bars from parallel workers would garble
    each other). scheduler: "processes" (default), "local" (a Dask LocalCluster) or
    "tcp://HOST:PORT" (an existing Dask scheduler); workers: default `cores_given()`.
    description labels the progress bar; what names a job in the error: an error in
    `work` or `save` does not stop the others; the first is raised at the end as an
    AccelsimError, with how many `what`s failed.
    """
    check_scheduler(scheduler, workers, probe=False)  # dask_client probes when it connects
    progress = progress or no_progress
    cores = cores_given()
    workers = workers or cores
    threads = max(1, cores // workers) if scheduler == "processes" else 1
    failures = []

    def record(job, result):
        try:
            save(job, result())
        except Exception as exc:  # noqa: BLE001 - any job's error is reported with its name
            message = str(exc).splitlines()[0] if str(exc) else repr(exc)
            failures.append(f"{getattr(job, 'name', job)}: {message}")

    def collect(futures, completed):
        for future in progress(Counted(completed(futures), len(futures)), description):
            record(futures[future], future.result)

    if not jobs:
        return
    if scheduler == "processes" and workers == 1:
        # Here: a worker process would only add seconds of imports.
        with worker_threads(threads):
            for job in progress(jobs, description):
                record(job, lambda: work(job, progress))  # noqa: B023 (called at once)
    elif scheduler == "processes":
        with ProcessPoolExecutor(max_workers=workers,
                                 mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            collect({pool.submit(_in_worker, work, job, threads): job for job in jobs},
                    as_completed)
    else:
        from dask.distributed import as_completed as dask_completed
        with dask_client(scheduler, workers) as client:
            collect({client.submit(_in_worker, work, job, threads, pure=False): job
                     for job in jobs}, dask_completed)
    if failures:
        raise AccelsimError(f"{len(failures)} {what}(s) failed (the others are saved; rerun "
                            f"to retry): {failures[0]}")
