"""Trace capture: record exactly what each conv/linear layer multiplies.

Forward pre-hooks on every maskable layer, registered after the activation
masks (hooks run in registration order), copy the layer's input as it enters
the multiplication: after the previous activation function, pooling, residual
adds and the activation mask. Inputs are cloned at once, so a later in-place
ReLU cannot change them; a module called twice records each call (`name`,
`name#2`, ...). Weights are taken as used (`layer.weight`, masks applied).
"""

import numpy as np
import torch
from torch import nn

from .errors import AccelsimError
from .models import maskable_layers
from .trace import Layer, Trace


def _geometry(module):
    if isinstance(module, nn.Linear):
        return "linear", {}
    if isinstance(module.padding, str):
        raise AccelsimError(f"conv padding {module.padding!r} is not supported in traces; "
                            f"use explicit integer padding")
    if module.padding_mode != "zeros":
        raise AccelsimError(f"conv padding_mode {module.padding_mode!r}: traces assume zero padding")
    return "conv2d", {"stride": module.stride, "padding": module.padding,
                      "dilation": module.dilation, "groups": module.groups}


@torch.no_grad()
def capture_layers(model, images):
    """[Layer] for one forward pass of `images` (N x C x H x W), in call order."""
    calls, handles = [], []
    for name, module in maskable_layers(model):
        def record(mod, args, name=name):
            calls.append((name, mod, args[0].detach().clone()))
        handles.append(module.register_forward_pre_hook(record))
    model.eval()
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
    seen, layers = {}, []
    for name, module, inputs in calls:
        seen[name] = seen.get(name, 0) + 1
        kind, geometry = _geometry(module)
        layers.append(Layer(
            name=name if seen[name] == 1 else f"{name}#{seen[name]}", kind=kind,
            weight=module.weight.detach().numpy().astype(np.float32),
            activations=inputs.numpy().astype(np.float32).reshape(
                inputs.shape[0], -1) if kind == "linear" else inputs.numpy().astype(np.float32),
            **geometry))
    return layers


def capture_trace(model, images, model_name, variant, dataset, metadata=None, source=""):
    return Trace(layers=capture_layers(model, images), model=model_name, variant=variant,
                 dataset=dataset, source=source, metadata=metadata or {})
