"""Weight and activation masks, attached to a model from outside.

- Weight masks (static): a parametrization multiplies each maskable layer's
  weight by a 0/1 buffer, so `layer.weight` is the weight as used, the raw
  values stay apart (as in torch.ao.pruning), and pruned weights get no
  gradient (the mask multiplies them in the graph).
- Activation masks (JPnet, dynamic): a forward pre-hook on a maskable layer
  keeps, per sample, the `winner rate` fraction of its input with the largest
  magnitude and zeroes the rest. Because it multiplies by the mask, the
  backward pass is masked like the forward pass (paper Eq. 9). At inference
  the winners are exact top-k or predicted by a threshold taken from an
  epsilon-down-sampled subset (paper Sec. III.E). Training or inference is
  the hooked layer's own `training` flag (`model.train()` / `model.eval()`),
  so whoever runs the model in eval mode (evaluation, trace capture) gets
  what inference does. `static` masks keep |a| > a
  fixed per-layer threshold instead (the comparison of Sec. V.B).
- Dropout before a masked layer is rescaled to C_d * sqrt(winner rate) (Eq. 10).
"""

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from .models import maskable_layers
from .train_config import JP_INFERENCE_MODES

ACTIVATION_MODES = JP_INFERENCE_MODES + ("static",)


class WeightMask(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.register_buffer("mask", torch.ones(shape))

    def forward(self, weight):
        return weight * self.mask


def attach_weight_masks(model):
    for _, module in maskable_layers(model):
        if not parametrize.is_parametrized(module, "weight"):
            parametrize.register_parametrization(module, "weight", WeightMask(module.weight.shape))


def weight_mask(module):
    return module.parametrizations.weight[0].mask


def raw_weight(module):
    return module.parametrizations.weight.original


@torch.no_grad()
def prune_to_density(module, density):
    """Keep the round(density * n) largest-magnitude weights among those still kept."""
    mask = weight_mask(module)
    magnitude = (raw_weight(module).abs() * mask).flatten()
    keep = min(int(round(density * magnitude.numel())), int(mask.sum().item()))
    new_mask = torch.zeros_like(magnitude)
    if keep > 0:
        new_mask[magnitude.topk(keep).indices] = 1
    mask.copy_(new_mask.view_as(mask))


def weight_density(module):
    return float(weight_mask(module).mean()) if parametrize.is_parametrized(module, "weight") \
        else float((module.weight != 0).float().mean())


class ActivationMask:
    """Forward pre-hook that prunes a layer's input per sample (see module docstring)."""

    def __init__(self, rate, mode="topk", epsilon=1.0, threshold=0.0):
        if mode not in ACTIVATION_MODES:
            raise ValueError(f"activation mode {mode!r:.40}: must be one of {ACTIVATION_MODES}")
        for name, value, low, high in (("rate", rate, 0, 1), ("epsilon", epsilon, 0, 1),
                                       ("threshold", threshold, 0, math.inf)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not (
                    low < value <= high or name == "threshold" and value == 0):
                raise ValueError(f"activation mask {name} {value!r:.40}: must be a number in "
                                 f"({low}, {high}]")
        self.rate, self.mode, self.epsilon, self.threshold = rate, mode, epsilon, threshold

    def winners(self, x, training=True):
        flat = x.reshape(x.shape[0], -1)
        magnitude = flat.abs()
        if self.mode == "static":
            return (magnitude > self.threshold).to(x.dtype).view_as(x)
        k = max(1, int(round(self.rate * flat.shape[1])))
        if self.mode == "threshold" and not training:
            # Predict the k-th magnitude from every (1/epsilon)-th element.
            stride = max(1, int(round(1 / self.epsilon)))
            sample = magnitude[:, ::stride]
            k_sample = max(1, min(sample.shape[1], int(round(k * sample.shape[1] / flat.shape[1]))))
            theta = sample.topk(k_sample, dim=1).values[:, -1:]
            return (magnitude >= theta).to(x.dtype).view_as(x)
        mask = torch.zeros_like(flat)
        mask.scatter_(1, magnitude.topk(k, dim=1).indices, 1.0)
        return mask.view_as(x)

    def __call__(self, module, args):
        if self.rate >= 1.0 and self.mode != "static":
            return None
        x = args[0]
        return (x * self.winners(x.detach(), module.training), *args[1:])

    def settings(self):
        return {"rate": self.rate, "mode": self.mode, "epsilon": self.epsilon,
                "threshold": self.threshold}


def install_activation_masks(model, settings):
    """settings: {layer name: ActivationMask kwargs}. Returns {name: ActivationMask}."""
    remove_activation_masks(model)
    layers = dict(maskable_layers(model))
    masks, handles = {}, []
    for name, kwargs in settings.items():
        masks[name] = ActivationMask(**kwargs)
        handles.append(layers[name].register_forward_pre_hook(masks[name]))
    model._activation_masks = masks
    model._activation_mask_handles = handles
    return masks


def remove_activation_masks(model):
    for handle in getattr(model, "_activation_mask_handles", []):
        handle.remove()
    model._activation_masks, model._activation_mask_handles = {}, []


def activation_masks(model):
    return getattr(model, "_activation_masks", {})


def dropout_before(model):
    """{maskable layer name: the Dropout module that feeds it (directly, since the previous layer)}."""
    found, pending = {}, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout):
            pending = module
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            if pending is not None:
                found[name] = pending
            pending = None
    return found


def rescale_dropout(model, rates, base_rate):
    """Paper Eq. 10: dropout after an activation mask becomes C_d * sqrt(winner rate)."""
    applied = {}
    for name, dropout in dropout_before(model).items():
        dropout.p = base_rate * math.sqrt(rates.get(name, 1.0))
        applied[name] = dropout.p
    return applied


@torch.no_grad()
def calibrate_static_thresholds(model, images, rates, batch_size=1000):
    """Per-layer |a| thresholds that keep `rate` of the inputs on average over `images`."""
    layers = dict(maskable_layers(model))
    samples = {name: [] for name in rates}
    hooks = [layers[name].register_forward_pre_hook(
        lambda mod, args, name=name: samples[name].append(args[0].abs().flatten().float()))
        for name in rates]
    model.eval()
    for start in range(0, len(images), batch_size):
        model(images[start:start + batch_size])
    for handle in hooks:
        handle.remove()
    thresholds = {}
    for name, rate in rates.items():
        values = torch.cat(samples[name])
        if len(values) > 2_000_000:
            values = values[torch.randperm(len(values), generator=torch.Generator().manual_seed(0))[:2_000_000]]
        thresholds[name] = float(torch.quantile(values, 1 - rate)) if rate < 1 else 0.0
    return thresholds
