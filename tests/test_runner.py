"""The job runner shared by sweep and pareto: results saved as they come, failures reported
at the end, workers and threads by one rule, the caller's thread settings left alone."""

import os
from dataclasses import dataclass

import numba
import pytest

from accelsim.core.threads import cores_given, worker_threads
from accelsim.errors import AccelsimError
from accelsim.studies.runner import run_jobs


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
