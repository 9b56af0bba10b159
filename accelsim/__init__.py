"""accelsim: what does a pruned model really cost on a zero-skipping accelerator?"""

from .config import ArchConfig, load_arch
from .errors import AccelsimError, ConfigError, TraceError
from .macs import layer_macs
from .synth import synthetic_trace
from .trace import Layer, Trace, load_trace, save_trace


def simulate(arch, trace, per_sample=False, progress=None):
    """Simulate a trace on a machine config (objects or paths) -> pandas.DataFrame.

    progress: None (silent) or a reporter progress(items, description) -> items, such as
    accelsim.progress.tqdm_progress. Imported lazily so that reading traces does not
    compile Numba kernels.
    """
    from .simulator import simulate as run
    return run(arch, trace, per_sample=per_sample, progress=progress)


def capture_trace(model, images, model_name="model", variant="dense", dataset="", metadata=None):
    """Trace any torch nn.Module: one forward pass of `images`, every Conv2d and Linear call
    recorded (weights as used, inputs as multiplied) -> Trace.

    images: a torch tensor or NumPy array, N x C x H x W (or N x features for an MLP), cast
    to the model's parameter dtype. Conv2d needs integer padding and padding_mode 'zeros';
    Conv1d, Conv3d and ConvTranspose layers are refused by name (AccelsimError); other layers
    run but are not simulated (see accelsim/capture.py). The model is put in eval mode.

        import torch, accelsim
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                    torch.nn.Flatten(), torch.nn.Linear(8 * 28 * 28, 10))
        trace = accelsim.capture_trace(model, torch.rand(4, 1, 28, 28), model_name="tiny")
        accelsim.save_trace(trace, "traces/generated/tiny")
        table = accelsim.simulate("arch_configs/eie.yaml", trace)

    Imported lazily so that `import accelsim` does not import torch.
    """
    from .capture import capture_trace as capture
    return capture(model, images, model_name, variant, dataset, metadata)


__version__ = "0.1.0"

__all__ = [
    "AccelsimError", "ArchConfig", "ConfigError", "Layer", "Trace", "TraceError",
    "capture_trace", "layer_macs", "load_arch", "load_trace", "save_trace", "simulate",
    "synthetic_trace",
]
