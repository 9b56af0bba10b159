"""A user's own model for `accelsim trace --model-file FILE.py:FUNCTION`.

The model file is Python the user names on purpose, so it is run: FUNCTION()
must return the torch.nn.Module. Its weights come from a state_dict saved with
torch.save (read with weights_only=True, so the weights file holds no code)
and must match the module exactly; the input images from a .npy file (no
pickles). Every bad input is one AccelsimError naming the file.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.inputs import shown
from ..errors import AccelsimError


def brief(exc):
    """An exception as one short line: the user's code may raise messages of kilobytes."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _run_model_file(path):
    """Import the file as a fresh module; its directory is importable meanwhile, as it is for
    `python FILE.py`, so that it can import its neighbours."""
    name = f"_accelsim_model_file_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:  # no loader for the suffix
        raise AccelsimError(f"model file {path}: not a Python file (.py)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's code: whatever it raises, exit too
        sys.modules.pop(name, None)
        raise AccelsimError(f"model file {path}: running it failed ({brief(exc)})") from exc
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def build_model(model_file):
    """The nn.Module that FUNCTION in FILE.py builds, from 'FILE.py:FUNCTION'."""
    file_text, _, function = str(model_file).rpartition(":")
    if not file_text or not function.isidentifier():
        raise AccelsimError(f"--model-file {shown(str(model_file))}: expected FILE.py:FUNCTION")
    path = Path(file_text)
    if not path.is_file():
        raise AccelsimError(f"model file {path}: file not found")
    builder = getattr(_run_model_file(path), function, None)
    if not callable(builder):
        raise AccelsimError(f"model file {path}: no function '{function}'")
    try:
        model = builder()
    except (Exception, SystemExit) as exc:  # the user's code
        raise AccelsimError(f"model file {path}: {function}() raised {brief(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise AccelsimError(f"model file {path}: {function}() returned "
                            f"{type(model).__name__}, not a torch.nn.Module")
    return model


def tensor_problem(tensor, parameter=True):
    """Why a tensor cannot be traced, or None: it must hold real values, densely, and a
    parameter finite ones (a buffer, such as an attention mask, may hold -inf)."""
    if tensor.device.type == "meta":
        return "is on the meta device: it holds no values (load the weights first)"
    if tensor.layout != torch.strided:
        return f"is a {tensor.layout} tensor; save dense tensors (tensor.to_dense())"
    if tensor.is_complex():
        return "is complex; accelsim simulates real-valued multiplies"
    if parameter and tensor.is_floating_point() and not torch.isfinite(tensor).all():
        return "holds NaN or infinite values"
    return None


def load_weights(model, weights):
    """Load a state_dict file into `model`, strictly: every key, every shape."""
    where = f"weights {weights}: "
    if not Path(weights).is_file():
        raise AccelsimError(f"{where}file not found")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: any unpickling error
        # torch's own message suggests weights_only=False, which would run the file's code.
        raise AccelsimError(f"{where}not a state_dict saved with torch.save (torch.load with "
                            f"weights_only=True refused it: {type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise AccelsimError(f"{where}holds a {type(state).__name__}, not a state_dict "
                            f"(save model.state_dict())")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise AccelsimError(f"{where}does not match the model: missing keys {shown(missing)}, "
                            f"unexpected keys {shown(unexpected)}")
    parameters = dict(model.named_parameters())
    for key, tensor in state.items():
        problem = tensor_problem(tensor, parameter=key in parameters)
        if problem:
            raise AccelsimError(f"{where}key '{key}' {problem}")
        if tensor.shape != expected[key].shape:
            raise AccelsimError(f"{where}key '{key}' has shape {list(tensor.shape)}, "
                                f"the model's is {list(expected[key].shape)}")
    model.load_state_dict(state, strict=True)


def load_images(path, samples=None):
    """The first `samples` images (all if None) of a .npy file: float, N x C x H x W or
    N x features, finite."""
    where = f"images {path}: "
    if not Path(path).is_file():
        raise AccelsimError(f"{where}file not found")
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # not .npy, truncated, or pickled objects
        raise AccelsimError(f"{where}not a readable .npy array "
                            f"({type(exc).__name__}: {exc})") from None
    if images.dtype.kind != "f":
        raise AccelsimError(f"{where}dtype {images.dtype}; give floating-point images, scaled "
                            f"as the model expects")
    if images.ndim not in (2, 4) or images.shape[0] < 1:
        raise AccelsimError(f"{where}shape {list(images.shape)}; give N x C x H x W or "
                            f"N x features with N >= 1")
    count = len(images) if samples is None else samples
    if not 1 <= count <= len(images):
        raise AccelsimError(f"--samples {count}: must be in 1..{len(images)} "
                            f"(the images in {path})")
    images = np.array(images[:count])
    if not np.isfinite(images).all():
        raise AccelsimError(f"{where}the first {count} images hold NaN or infinite values")
    return images
