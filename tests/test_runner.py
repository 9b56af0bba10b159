"""The job runner shared by sweep and pareto: results saved as they come, failures reported
at the end, workers and threads by one rule, the caller's thread settings left alone."""

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass

import numba
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accelsim.core.threads import cores_given, worker_threads
from accelsim.errors import AccelsimError
from accelsim.studies.runner import check_scheduler, probe_dask_scheduler, run_jobs


@dataclass(frozen=True)
class Job:
    value: int

    @property
    def name(self):
        return f"job {self.value}"


def square_or_fail(job, progress):
    if job.value < 0:
        raise ValueError("negative")
    return job.value ** 2, numba.get_num_threads(), os.getpid()


@pytest.mark.parametrize("workers", [1, 2])
def test_every_result_is_saved_and_the_first_failure_named_at_the_end(workers):
    saved = {}
    jobs = [Job(3), Job(-1), Job(4), Job(-2)]
    with pytest.raises(AccelsimError, match=r"2 thing\(s\) failed .*: job -[12]: negative"):
        run_jobs(jobs, square_or_fail, lambda job, result: saved.update({job.value: result}),
                 workers=workers, what="thing")
    assert {value: result[0] for value, result in saved.items()} == {3: 9, 4: 16}
    pids = {result[2] for result in saved.values()}
    # One worker runs in this process with every core's threads; two get their own processes
    # with cores // 2 threads each.
    if workers == 1:
        assert pids == {os.getpid()}
        assert {result[1] for result in saved.values()} == {min(cores_given(),
                                                                numba.config.NUMBA_NUM_THREADS)}
    else:
        assert os.getpid() not in pids
        assert {result[1] for result in saved.values()} == {max(1, cores_given() // 2)}


def test_the_callers_thread_settings_survive_a_run():
    numba.set_num_threads(1)
    try:
        run_jobs([Job(2)], square_or_fail, lambda job, result: None, workers=1)
        assert numba.get_num_threads() == 1
        with worker_threads(numba.config.NUMBA_NUM_THREADS):
            pass
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_a_failed_save_is_a_failure_too():
    def save(job, result):
        raise OSError("disk full")
    with pytest.raises(AccelsimError, match=r"1 job\(s\) failed .*job 2: disk full"):
        run_jobs([Job(2)], square_or_fail, save, workers=1)


@pytest.mark.parametrize("scheduler, workers, message", [
    ("threads", None, "--scheduler 'threads' is invalid"),
    ("processes", 0, "--workers 0 is invalid"),
])
def test_bad_scheduler_or_workers_fail_before_any_work(scheduler, workers, message):
    ran = []
    with pytest.raises(AccelsimError, match=message):
        run_jobs([Job(1)], lambda job, progress: ran.append(job), lambda job, result: None,
                 scheduler=scheduler, workers=workers)
    assert not ran


@contextlib.contextmanager
def fake_service(greeting):
    """A TCP service on localhost that sends `greeting` (nothing: it waits for a request, as
    HTTP does) to each connection and then holds it open."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                connection, _ = server.accept()
                held.append(connection)
                connection.sendall(greeting)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


@settings(max_examples=25, deadline=None)
@given(greeting=st.one_of(st.just(b"SSH-2.0-OpenSSH_9.2p1\r\n"),
                          st.just(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
                          st.binary(min_size=24, max_size=64)))
@example(greeting=b"")  # silent, as an HTTP server is until it gets a request: the 5 s wait
def test_a_service_that_is_not_a_dask_scheduler_is_refused_in_one_line(greeting):
    with fake_service(greeting) as address:
        started = time.monotonic()
        with pytest.raises(AccelsimError, match="--scheduler") as refused:
            run_jobs([Job(1)], square_or_fail, lambda job, result: None, scheduler=address)
        assert time.monotonic() - started < 10 and "\n" not in str(refused.value)


@settings(max_examples=40, deadline=None)
@given(address=st.one_of(
    st.text(max_size=30).map(lambda text: "tcp://" + text),
    st.builds("tcp://{}:{}".format, st.sampled_from(["127.0.0.1", "no-such-host.invalid", "",
                                                     "[::1", "a b"]),
              st.one_of(st.integers(-5, 70000).map(str), st.text(max_size=6)))))
def test_garbage_and_unreachable_scheduler_addresses_are_refused_within_10_s(address):
    started = time.monotonic()
    with pytest.raises(AccelsimError, match="--scheduler") as refused:
        check_scheduler(address, None)
    assert time.monotonic() - started < 10 and "\n" not in str(refused.value)


def test_a_real_dask_scheduler_passes_the_probe():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        probe_dask_scheduler(cluster.scheduler_address)
