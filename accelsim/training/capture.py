"""Trace capture: record exactly what each conv/linear layer multiplies, in any nn.Module.

Supported layers: every `nn.Conv2d` (integer padding, padding_mode 'zeros', any
stride, dilation and groups) and `nn.Linear` the forward pass calls is recorded.
Every other layer (pooling, normalization, activation functions, ...) runs
normally but is not simulated, and so are functional calls (`F.conv2d`,
`F.linear`, `x @ w`) and layers that use their weights directly instead of
calling a Linear (`nn.MultiheadAttention`). Refused, by name, before anything
runs: Conv2d with string padding ('same', 'valid') or a non-zero padding mode,
ConvTranspose1d/2d/3d, Conv1d and Conv3d. A Conv2d must get N x C x H x W
input and a Linear N x features.

Forward pre-hooks on every recorded layer, registered after the activation
masks (hooks run in registration order), copy the layer's input as it enters
the multiplication: after the previous activation function, pooling, residual
adds and the activation mask. Inputs are cloned at once, so a later in-place
ReLU cannot change them; a module called twice records each call (`name`,
`name#2`, ...). Weights are taken as used (`layer.weight`, masks applied).
"""

import torch
from torch import nn

from ..errors import AccelsimError
from ..workload.trace import Layer, Trace, check_trace
from .models import maskable_layers
from .user_model import brief, tensor_problem

SUPPORTED = ("traces record Conv2d (integer padding, padding_mode 'zeros') and Linear layers; "
             "other layers run but are not simulated")
# Layers that look simulated but are not Conv2d or Linear: refused rather than skipped.
UNSUPPORTED = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _refuse(name, module, problem):
    raise AccelsimError(f"layer '{name}' ({type(module).__name__}): {problem}; {SUPPORTED}")


def _geometry(name, module):
    if isinstance(module, nn.Linear):
        return "linear", {}
    if isinstance(module.padding, str):
        _refuse(name, module, f"padding {module.padding!r} is not supported, give integer "
                              f"padding ('valid' is 0, 'same' with an odd kernel is "
                              f"dilation * (kernel - 1) // 2)")
    if module.padding_mode != "zeros":
        _refuse(name, module, f"padding_mode {module.padding_mode!r} is not supported "
                              f"(traces assume zero padding)")
    return "conv2d", {"stride": module.stride, "padding": module.padding,
                      "dilation": module.dilation, "groups": module.groups}


def check_supported(model):
    """Raise AccelsimError naming the first layer a trace cannot record faithfully."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, module in model.named_modules():
        if isinstance(module, UNSUPPORTED):
            _refuse(name, module, "not supported")
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            _geometry(name, module)
            problem = tensor_problem(module.weight)
            if problem:
                raise AccelsimError(f"layer '{_layer_name(name, module)}' "
                                    f"({type(module).__name__}): its weight {problem}")


def _layer_name(name, module):
    """The qualified module name; a model that is itself one layer is named after its class
    ("linear"), as a layer name must not be empty."""
    return name or type(module).__name__.lower()


def _check_input(name, module, inputs):
    expected = 4 if isinstance(module, nn.Conv2d) else 2
    if inputs.ndim != expected:
        what = "N x C x H x W" if expected == 4 else "N x features"
        raise AccelsimError(f"layer '{name}' ({type(module).__name__}): its input has shape "
                            f"{tuple(inputs.shape)}; a trace needs {what} (a batch of samples)")


def _as_numpy(tensor):
    # .float() first: bfloat16 has no NumPy type; .cpu() for a model on a GPU.
    return tensor.detach().cpu().float().numpy()


def _run_recording(model, images, record):
    """One forward pass of `images` in eval mode, calling record(layer name, module, input)
    as each Conv2d and Linear is entered; the user's exceptions become one AccelsimError."""
    handles = []
    for name, module in maskable_layers(model):
        name = _layer_name(name, module)
        handles.append(module.register_forward_pre_hook(
            lambda mod, args, name=name: record(name, mod, args[0])))
    model.eval()
    try:
        model(images)
    except AccelsimError:
        raise
    except Exception as exc:  # the user's model: whatever its forward raises
        raise AccelsimError(f"the model's forward pass on images of shape "
                            f"{tuple(images.shape)} failed ({brief(exc)})") from exc
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def capture_layers(model, images):
    """[Layer] for one forward pass of `images` (N x C x H x W or N x features), in call order."""
    check_supported(model)
    calls = []

    def record(name, module, inputs):
        _check_input(name, module, inputs)
        calls.append((name, module, inputs.detach().clone()))
    _run_recording(model, images, record)
    if not calls:
        raise AccelsimError(f"the model called no Conv2d or Linear layer: nothing to trace; "
                            f"{SUPPORTED}")
    seen, layers = {}, []
    for name, module, inputs in calls:
        if inputs.is_floating_point() and not torch.isfinite(inputs).all():
            raise AccelsimError(f"layer '{name}' ({type(module).__name__}): its input holds NaN "
                                "or infinite values (an overflow in the layers before it?)")
        seen[name] = seen.get(name, 0) + 1
        kind, geometry = _geometry(name, module)
        layers.append(Layer(
            name=name if seen[name] == 1 else f"{name}#{seen[name]}", kind=kind,
            weight=_as_numpy(module.weight), activations=_as_numpy(inputs), **geometry))
    return layers


def as_model_input(model, images):
    """`images` (tensor or array) as a tensor of the model's parameter dtype, on its device."""
    try:
        images = torch.as_tensor(images)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"images must be a torch tensor or a NumPy array, got "
                        f"{type(images).__name__}") from None
    if not images.is_floating_point():
        raise AccelsimError(f"images have dtype {images.dtype}; give floating-point images, "
                            f"scaled as the model expects")
    if images.ndim < 2 or images.shape[0] < 1:
        raise AccelsimError(f"images have shape {tuple(images.shape)}; give N x C x H x W "
                            f"or N x features with N >= 1")
    parameter = next(model.parameters(), None)
    if parameter is None:
        return images
    return images.to(dtype=parameter.dtype, device=parameter.device)


# Bytes held per element of a recorded layer input, for every sample, until the trace is
# written (counted, not measured): its clone (4 B, float32), the NumPy float32 copy the trace
# keeps (4 B) and the forward pass's own activations of the batch (4 B).
CAPTURE_BYTES_PER_ELEMENT = 12
BASE_BYTES = 400 * 2**20  # the interpreter with torch, NumPy and accelsim imported


@torch.no_grad()
def capture_estimate(model, images):
    """(peak bytes, seconds) of capturing all of `images`, from a dry run on the first one:
    the recorded layers' input sizes are known only once the model has run."""
    import time

    per_sample = []
    started = time.perf_counter()
    _run_recording(model, images[:1], lambda name, module, inputs: per_sample.append(
        inputs.numel()))
    seconds = (time.perf_counter() - started) * len(images)
    weights = sum(module.weight.numel() for _, module in maskable_layers(model))
    return (BASE_BYTES + CAPTURE_BYTES_PER_ELEMENT * sum(per_sample) * len(images)
            + 8 * weights, seconds)


def capture_trace(model, images, model_name="model", variant="dense", dataset="",
                  metadata=None, source="", limits=None):
    """The Trace of one forward pass (see accelsim.capture_trace). limits: a
    core.resources.Limits its estimate (capture_estimate) must stay within."""
    check_supported(model)  # before as_model_input reads its parameters
    images = as_model_input(model, images)
    if limits is not None:
        limits.check("trace", *capture_estimate(model, images),
                     how=f" (a forward pass of {len(images)} sample(s))")
    return check_trace(Trace(layers=capture_layers(model, images),
                             model=model_name, variant=variant, dataset=dataset, source=source,
                             metadata=metadata or {}))
