"""Resource limits, checked before a run allocates: its peak memory and its work, estimated
from the geometry alone, against --max-memory and --max-work.

The estimates are upper bounds of the usual case, not measurements: each caller states
how it counts (workload.synth.synthesis_estimate, sim.simulator.simulation_estimate).
Defaults: the memory this process may still take (MemAvailable, or a lower RLIMIT_AS /
RLIMIT_DATA), and an hour of work. A refusal is one line with both estimates and the
option that lifts it.
"""

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import AccelsimError

DEFAULT_MAX_WORK_SECONDS = 3600.0
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def available_memory() -> Optional[int]:
    """Bytes this process may still allocate, or None where the system does not say."""
    import resource

    limits = []
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    for kind in ("RLIMIT_AS", "RLIMIT_DATA"):
        soft = resource.getrlimit(getattr(resource, kind))[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limits) if limits else None


def parse_size(text: str) -> int:
    """'8G', '500M', '1.5g', '4096' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
    if not match:
        raise AccelsimError(f"--max-memory {text!r}: give a size such as 8G, 500M or 4096")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def parse_seconds(text: str) -> float:
    """'90', '90s', '10m', '2h', '1d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text), re.IGNORECASE)
    if not match:
        raise AccelsimError(f"--max-work {text!r}: give a duration such as 600, 10m or 2h")
    return float(match[1]) * _SECONDS[match[2].lower()]


def _bytes(count):
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def _duration(seconds):
    return (f"{seconds / 3600:.1f} h" if seconds >= 3600 else
            f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s")


@dataclass(frozen=True)
class Limits:
    """max_memory in bytes (None: what the machine has free), max_work in seconds;
    announce(line), if given, hears the estimate of a run that passes but takes a minute
    or more (the CLI prints it)."""
    max_memory: Optional[int] = None
    max_work: float = DEFAULT_MAX_WORK_SECONDS
    announce: Optional[Callable[[str], None]] = None

    @classmethod
    def from_options(cls, max_memory: Optional[str], max_work: Optional[str],
                     announce: Optional[Callable[[str], None]] = None) -> "Limits":
        return cls(None if max_memory is None else parse_size(max_memory),
                   DEFAULT_MAX_WORK_SECONDS if max_work is None else parse_seconds(max_work),
                   announce)

    def check(self, what: str, memory: int, seconds: float, how: str = "") -> None:
        """Refuse `what` if its estimated peak `memory` (bytes) or work (`seconds`) is over
        the limits; `how` says what the work estimate counts."""
        limit = self.max_memory if self.max_memory is not None else available_memory()
        if limit is not None and memory > limit:
            source = "--max-memory" if self.max_memory is not None else "the memory free here"
            raise AccelsimError(f"{what}: needs about {_bytes(memory)} at its peak, over "
                                f"{source} ({_bytes(limit)}); pass --max-memory to raise it, "
                                "or use fewer samples or smaller layers")
        if seconds > self.max_work:
            raise AccelsimError(f"{what}: about {_duration(seconds)} of work{how}, over "
                                f"--max-work ({_duration(self.max_work)}); pass --max-work "
                                f"{max(1, int(seconds * 2))} to run it")
        if self.announce is not None and seconds >= 60:
            self.announce(f"{what}: estimated {_duration(seconds)} of work{how} at most, "
                          f"about {_bytes(memory)} of memory")
