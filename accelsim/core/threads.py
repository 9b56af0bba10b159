"""How many cores this process has, and how many threads Numba and torch use on them.

torch sizes its pool from the machine's cores, so processes that share the cores
oversubscribe them and their OpenMP threads spin waiting for each other (two MLP-3
trainings on 2 cores took 624 s instead of 35 s). Whoever runs work side by side gives
each worker cores // workers threads, and a library call leaves the caller's settings as
it found them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def cores_given() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's), or
    OMP_NUM_THREADS when that is set and smaller."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores or 1, int(limit)) if limit.isdigit() else cores or 1)


def set_threads(threads: int) -> None:
    """Numba (in this thread) and torch (in this process, if loaded) run `threads` threads."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


@contextlib.contextmanager
def worker_threads(threads: int) -> Iterator[None]:
    """Numba (and torch, once loaded) run `threads` threads inside; restored on exit.

    Numba's setting is per thread, torch's per process: both are put back, so a caller
    that runs jobs in its own process finds its settings as they were.
    """
    import numba

    numba_before = numba.get_num_threads()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    set_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(numba_before)
        if torch_before is not None:
            torch.set_num_threads(torch_before)
