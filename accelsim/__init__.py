"""accelsim: what does a pruned model really cost on a zero-skipping accelerator?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from .core.progress import Progress, no_progress, tqdm_progress
from .defaults import VERSION
from .errors import AccelsimError, ConfigError, DataError, TraceError
from .sim.config import ArchConfig, load_arch
from .training.train_config import TrainConfig
from .workload.macs import LayerMacs
from .workload.macs import layer_macs as _layer_macs
from .workload.synth import synthetic_trace
from .workload.trace import Layer, Trace, check_layer, load_trace, save_trace

if TYPE_CHECKING:
    import pandas as pd

# Public names whose modules import torch, pandas or the simulator's Numba kernels:
# imported on first use, so that `import accelsim` stays light and torch-free.
_LAZY = {"train": "training.methods", "load_checkpoint": "training.checkpoint",
         "save_checkpoint": "training.checkpoint", "compare": "studies.compare",
         "CompareResult": "studies.compare", "read_results": "report.results",
         "load_sweep": "studies.sweep", "run_sweep": "studies.sweep",
         "run_pareto": "studies.pareto", "ParetoResult": "studies.pareto",
         "register": "sim.machines", "Machine": "sim.machines"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")


def simulate(arch: Union[ArchConfig, str, Path], trace: Union[Trace, str, Path],
             per_sample: bool = False, reference: bool = False,
             progress: Optional[Progress] = None) -> pd.DataFrame:
    """Simulate a trace on a machine config -> pandas.DataFrame, one row per layer plus a
    TOTAL row (per sample with per_sample=True; else the average over samples).

    arch: an ArchConfig, a YAML path or a bundled name ("eie"); trace: a Trace or a trace
    directory. Columns: model, variant, arch, machine, layer, kind, samples, densities,
    macs_dense and macs_effective (exact), cycles_ideal/compute/memory_stall/total,
    latency_us, utilization, DRAM bytes, energy_pj and its energy_<component>_pj parts.
    Cycle and MAC counts are deterministic for a given trace and config.

        table = accelsim.simulate("eie", accelsim.load_trace("traces/generated/alexnet-jp"))
        print(table[table.layer == "TOTAL"][["cycles_total", "energy_pj"]])

    reference=True runs each machine's plain-Python reference instead of its Numba kernel:
    the same counts, far slower (for checking a kernel). progress: None (silent) or a
    reporter progress(items, description) -> items, such as accelsim.tqdm_progress.
    Imported lazily so that reading traces does not compile Numba kernels.
    """
    from .sim.simulator import simulate as run
    return run(arch, trace, per_sample=per_sample, reference=reference, progress=progress)


def layer_macs(layer: Layer, threshold: float = 0.0) -> LayerMacs:
    return _layer_macs(check_layer(layer), threshold)  # a Layer built in Python is checked


layer_macs.__doc__ = _layer_macs.__doc__


def capture_trace(model: Any, images: Any, model_name: str = "model", variant: str = "dense",
                  dataset: str = "", metadata: Optional[dict] = None) -> Trace:
    """Trace any torch nn.Module: one forward pass of `images`, every Conv2d and Linear call
    recorded (weights as used, inputs as multiplied) -> Trace.

    images: a torch tensor or NumPy array, N x C x H x W (or N x features for an MLP), cast
    to the model's parameter dtype. Conv2d needs integer padding and padding_mode 'zeros';
    Conv1d, Conv3d and ConvTranspose layers are refused by name (AccelsimError); other layers
    run but are not simulated (see accelsim/training/capture.py). The model is put in eval mode.

        import torch, accelsim
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                    torch.nn.Flatten(), torch.nn.Linear(8 * 28 * 28, 10))
        trace = accelsim.capture_trace(model, torch.rand(4, 1, 28, 28), model_name="tiny")
        accelsim.save_trace(trace, "traces/generated/tiny")
        table = accelsim.simulate("eie", trace)  # a bundled config, or a YAML path

    Imported lazily so that `import accelsim` does not import torch.
    """
    from .training.capture import capture_trace as capture
    return capture(model, images, model_name, variant, dataset, metadata)


__version__ = VERSION

__all__ = [
    # the data: traces, machine configs, training settings
    "ArchConfig", "Layer", "Trace", "TrainConfig", "load_arch", "load_trace", "save_trace",
    "synthetic_trace", "capture_trace", "layer_macs",
    # training and checkpoints (the train extra)
    "train", "load_checkpoint", "save_checkpoint",
    # simulation and studies
    "simulate", "compare", "CompareResult", "load_sweep", "run_sweep", "run_pareto",
    "ParetoResult", "read_results",
    # machine models
    "Machine", "register",
    # progress reporters
    "Progress", "no_progress", "tqdm_progress",
    # errors
    "AccelsimError", "ConfigError", "DataError", "TraceError",
]
