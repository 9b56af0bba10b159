"""accelsim: what does a pruned model really cost on a zero-skipping accelerator?"""

from .config import ArchConfig, load_arch
from .errors import AccelsimError, ConfigError, TraceError
from .macs import layer_macs
from .synth import synthetic_trace
from .trace import Layer, Trace, load_trace, save_trace


def simulate(arch, trace, per_sample=False, progress=None):
    """Simulate a trace on a machine config (objects or paths) -> pandas.DataFrame.

    Imported lazily so that reading traces does not compile Numba kernels.
    """
    from .simulator import simulate as run
    return run(arch, trace, per_sample=per_sample, progress=progress)


__version__ = "0.1.0"

__all__ = [
    "AccelsimError", "ArchConfig", "ConfigError", "Layer", "Trace", "TraceError",
    "layer_macs", "load_arch", "load_trace", "save_trace", "simulate", "synthetic_trace",
]
