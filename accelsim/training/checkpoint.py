"""Checkpoints: a trained model's weights, masks and settings, and its readable metadata.

One .pt file, read with torch.load(weights_only=True) so that a checkpoint can hold no
code, plus `<path>.json` with the same metadata for people and for `accelsim pareto`'s
bookkeeping. Loading rebuilds the zoo model, reinstalls its weight and activation masks
and dropout rates, and checks the metadata tracing relies on. Kept apart from training
so that tracing a checkpoint does not load the training stack.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..core.files import atomic_file, write_text_atomic
from ..errors import AccelsimError
from .models import build_model, dataset_of, maskable_layers
from .pruning import (
    activation_masks,
    attach_weight_masks,
    install_activation_masks,
    raw_weight,
    weight_density,
    weight_mask,
)
from .train_config import TrainConfig

CHECKPOINT_FORMAT = "accelsim-checkpoint"

if TYPE_CHECKING:
    from .methods import TrainResult


def _plain(obj):
    return json.loads(json.dumps(obj, default=lambda o: float(o) if hasattr(o, "__float__") else str(o)))


def checkpoint_metadata(result):
    model = result.model
    return _plain({
        "format": CHECKPOINT_FORMAT, "format_version": 1,
        "model": result.config.model, "method": result.config.method,
        "dataset": dataset_of(result.config.model),
        "test_accuracy": result.test_accuracy,
        "validation_accuracy": result.validation_accuracy,
        "train_seconds": result.seconds,
        "config": dataclasses.asdict(result.config),
        "weight_density": {n: weight_density(m) for n, m in maskable_layers(model)},
        "activation_masks": {n: m.settings() for n, m in activation_masks(model).items()},
        "dropout": {n: m.p for n, m in model.named_modules() if isinstance(m, nn.Dropout)},
        "sensitivity": result.sensitivity,
        "history": result.history,
    })


def save_checkpoint(result: TrainResult, path: Union[str, Path]) -> Path:
    """Write a TrainResult as one .pt file (weights, masks, settings) plus `path.json` with
    the readable metadata, both atomically (the .json first). Returns `path`."""
    if not isinstance(getattr(result, "config", None), TrainConfig):
        raise TypeError(f"result must be the TrainResult of accelsim.train, got "
                        f"{type(result).__name__}")
    path = Path(path)
    meta = checkpoint_metadata(result)
    model = result.model
    weights = {n: (raw_weight(m) if parametrize.is_parametrized(m, "weight") else m.weight)
               .detach().clone() for n, m in maskable_layers(model)}
    masks = {n: weight_mask(m).bool().clone() for n, m in maskable_layers(model)
             if parametrize.is_parametrized(m, "weight")}
    others = {k: v for k, v in model.state_dict().items() if "parametrizations.weight" not in k}
    buffer = io.BytesIO()
    torch.save({"meta": meta, "weights": weights, "weight_masks": masks, "state": others}, buffer)
    # The readable copy first: a checkpoint that exists always has its .json beside it.
    write_text_atomic(Path(f"{path}.json"), json.dumps(meta, indent=2) + "\n")
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())
    return path


def load_checkpoint(path: Union[str, Path]) -> tuple[nn.Module, dict[str, Any]]:
    """Read a checkpoint -> (model in eval mode with its weight and activation masks and
    dropout rates installed, metadata dict). Only tensors and plain containers are read
    (torch.load weights_only): a checkpoint cannot run code. Errors are AccelsimError."""
    path = Path(path)
    if not path.is_file():
        raise AccelsimError(f"checkpoint {path}: not found")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        meta = saved["meta"]
    except Exception as exc:  # a truncated or foreign file: any unpickling error
        raise AccelsimError(f"checkpoint {path}: not a readable accelsim checkpoint ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise AccelsimError(f"checkpoint {path}: not an accelsim checkpoint")
    try:
        return _restore(saved, meta)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
        # torch.load(weights_only) allows only tensors and plain containers; what is left to
        # go wrong is their structure (missing keys, wrong shapes, wrong types).
        raise AccelsimError(f"checkpoint {path}: its contents do not fit an accelsim model "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


META_TYPES = {"model": str, "method": str, "dataset": str, "test_accuracy": (int, float),
              "validation_accuracy": (int, float), "train_seconds": (int, float),
              "config": dict, "weight_density": dict, "activation_masks": dict, "dropout": dict}
META_RANGES = {"test_accuracy": (0, 1), "validation_accuracy": (0, 1),
               "train_seconds": (0, sys.float_info.max)}


def _check_meta(meta):
    """The metadata tracing reads: present, of the right type, and consistent."""
    for key, kind in META_TYPES.items():
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise TypeError(f"meta.{key} = {meta[key]!r:.60} has the wrong type")
    for key, (low, high) in META_RANGES.items():
        if not low <= meta[key] <= high:  # NaN fails too
            raise ValueError(f"meta.{key} = {meta[key]!r:.60} must be in [{low}, {high:.3g}]")
    for key in ("validation", "seed"):
        value = meta["config"][key]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
            raise ValueError(f"meta.config.{key} = {value!r:.60} must be an integer >= 0")
    for name, p in meta["dropout"].items():
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
            raise ValueError(f"meta.dropout.{name} = {p!r:.60} must be in [0, 1)")
    if meta["dataset"] != dataset_of(meta["model"]):
        raise ValueError(f"meta.dataset {meta['dataset']!r:.60} is not {meta['model']}'s")


def _restore(saved, meta):
    _check_meta(meta)
    model = build_model(meta["model"])
    model.load_state_dict(saved["state"], strict=False)
    layers = dict(maskable_layers(model))
    with torch.no_grad():
        for name, weight in saved["weights"].items():
            layers[name].weight.copy_(weight)
    if saved["weight_masks"]:
        attach_weight_masks(model)
        with torch.no_grad():
            for name, mask in saved["weight_masks"].items():
                weight_mask(layers[name]).copy_(mask.float())
    install_activation_masks(model, meta["activation_masks"])
    for name, module in model.named_modules():
        if name in meta["dropout"]:
            module.p = meta["dropout"][name]
    model.eval()
    return model, meta
