"""Traces of trained models: a zoo checkpoint on its test images, or the user's own model
file on their images (both import torch)."""

from pathlib import Path

import torch

from ..errors import AccelsimError
from ..workload.trace import save_trace
from .capture import capture_trace
from .checkpoint import load_checkpoint
from .data import load_dataset
from .user_model import build_model, load_images, load_weights


def trace_from_checkpoint(checkpoint, samples, out, overwrite=False, limits=None):
    """Run the first `samples` test images through a checkpoint and save the trace
    (limits: see capture_trace)."""
    model, meta = load_checkpoint(checkpoint)
    data = load_dataset(meta["dataset"], validation=meta["config"]["validation"],
                        seed=meta["config"]["seed"])
    if not 1 <= samples <= len(data.test.labels):
        raise AccelsimError(f"--samples {samples}: must be in 1..{len(data.test.labels)}")
    metadata = {key: meta[key] for key in ("method", "test_accuracy", "validation_accuracy",
                                           "train_seconds", "weight_density",
                                           "activation_masks", "dropout")}
    metadata.update(checkpoint=str(checkpoint), samples_from="first N test images")
    trace = capture_trace(model, torch.from_numpy(data.test.images[:samples]), meta["model"],
                          meta["method"], meta["dataset"], metadata,
                          source=f"accelsim trace --checkpoint {checkpoint}", limits=limits)
    save_trace(trace, out, overwrite=overwrite)
    return trace


def trace_from_model_file(model_file, images, out, weights=None, samples=None, model_name=None,
                          variant="dense", overwrite=False, limits=None):
    """Build the model FILE.py:FUNCTION names, load its weights (a state_dict file; none: the
    module as built), run the first `samples` images of a .npy file (all if None) through it
    and save the trace."""
    model = build_model(model_file)
    if weights is not None:
        load_weights(model, weights)
    array = load_images(images, samples)
    file_path = Path(str(model_file).rpartition(":")[0])
    metadata = {"model_file": str(model_file), "weights": None if weights is None else str(weights),
                "images": str(images), "samples_from": f"first {len(array)} images"}
    command = f"accelsim trace --model-file {model_file}" + (
        f" --weights {weights}" if weights is not None else "") + f" --images {images}"
    try:
        trace = capture_trace(model, array, model_name or file_path.stem, variant,
                              Path(images).name, metadata, source=command, limits=limits)
    except AccelsimError as exc:  # a layer it cannot trace, or its forward pass failed
        raise AccelsimError(f"model file {file_path}: {exc}") from exc
    save_trace(trace, out, overwrite=overwrite)
    return trace
