"""Training and pruning: dense, WP (Han et al.), JP (JPnet) and static-act.

- dense: Adam, cross-entropy, step learning-rate decay.
- wp: per-layer weight sensitivity on the validation split picks each layer's
  density (the smallest whose pruning alone, without retraining, costs at most
  `tolerance` validation accuracy); then `prune_steps` rounds of magnitude
  pruning towards those densities (geometric schedule), each followed by
  retraining with the masks fixed.
- jp: activation sensitivity picks each masked layer's winner rate the same
  way (`activation_tolerance`); weights are pruned by the same sensitivity rule but through L1
  regularization plus threshold pruning into static masks during fine-tuning;
  dynamic top-k activation masks are on throughout; dropout before a masked
  layer becomes C_d * sqrt(rate); `warmup_epochs` with Adam at
  `finetune_lr_scale` x the learning rate, then Adadelta at `adadelta_lr`.
- static-act: as jp, with static per-layer thresholds calibrated on the
  validation split to the same rates instead of dynamic top-k.
The first layer's input (the image) is never masked. Seeded: the same
settings give the same checkpoint.
"""

import dataclasses
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from tqdm import tqdm

from .data import load_dataset
from .errors import AccelsimError
from .files import atomic_file, write_text_atomic
from .models import build_model, dataset_of, maskable_layers
from .pruning import (activation_masks, attach_weight_masks, calibrate_static_thresholds,
                      install_activation_masks, prune_to_density, raw_weight, rescale_dropout,
                      set_inference_mode, weight_density, weight_mask)

METHODS = ("dense", "wp", "jp", "static-act")
RATE_GRID = (1.0, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03,
             0.02)
CHECKPOINT_FORMAT = "accelsim-checkpoint"


@dataclass
class TrainConfig:
    model: str
    method: str = "dense"
    epochs: int = 12              # dense: training epochs; jp/static-act: fine-tuning epochs
    batch_size: int = 128
    lr: float = 1e-3
    lr_decay_every: int = 4       # dense: halve the learning rate every N epochs
    seed: int = 0
    validation: int = 5000
    limit: Optional[int] = None   # use only the first N images of each split (tests)
    # Validation accuracy that pruning one layer alone (before retraining) may cost.
    weight_tolerance: float = 0.03
    activation_tolerance: float = 0.01
    winner_rates: dict = field(default_factory=dict)      # overrides the sensitivity analysis
    weight_densities: dict = field(default_factory=dict)  # idem
    prune_steps: int = 4          # wp rounds
    retrain_epochs: int = 2       # wp retraining epochs per round
    l1: float = 2e-5              # jp: L1 strength on weights
    warmup_epochs: int = 2        # jp: Adam epochs before Adadelta
    prune_fraction: float = 0.6   # jp: share of the fine-tuning epochs that prune weights
    finetune_lr_scale: float = 0.1
    adadelta_lr: float = 0.1
    dropout: Optional[float] = None  # C_d; default: the model's own
    inference: str = "topk"       # jp at inference: topk or threshold
    epsilon: float = 0.25         # threshold prediction down-sampling rate


@dataclass
class TrainResult:
    model: nn.Module
    config: TrainConfig
    test_accuracy: float
    validation_accuracy: float
    history: list
    sensitivity: dict
    seconds: float


def _progress(items, description, total=None):
    return tqdm(items, desc=description, total=total, disable=None, leave=False)


def set_seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def evaluate(model, images, labels, batch_size=1000):
    model.eval()
    set_inference_mode(model, False)
    correct = 0
    for start in range(0, len(labels), batch_size):
        logits = model(images[start:start + batch_size])
        correct += int((logits.argmax(1) == labels[start:start + batch_size]).sum())
    set_inference_mode(model, True)
    return correct / max(1, len(labels))


def _l1_penalty(model):
    return sum(module.weight.abs().sum() for _, module in maskable_layers(model))


def train_epochs(model, data, epochs, optimizer, config, phase, history, l1=0.0,
                 after_epoch=None, scheduler=None):
    images, labels = data["train"]
    generator = torch.Generator().manual_seed(config.seed + len(history))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        total, batches = 0.0, range(0, len(labels), config.batch_size)
        for start in _progress(batches, f"{phase} {epoch + 1}/{epochs}"):
            index = order[start:start + config.batch_size]
            loss = loss_fn(model(images[index]), labels[index])
            if l1:
                loss = loss + l1 * _l1_penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        if scheduler is not None:
            scheduler.step()
        if after_epoch is not None:
            after_epoch(epoch)
        history.append({
            "phase": phase, "epoch": epoch + 1, "train_loss": total / len(labels),
            "validation_accuracy": evaluate(model, *data["validation"]),
            "weight_density": {n: weight_density(m) for n, m in maskable_layers(model)},
        })
    return history


def _choose(accuracies, baseline, tolerance):
    """Smallest setting whose accuracy stays within tolerance of the baseline."""
    good = [setting for setting, accuracy in accuracies.items() if accuracy >= baseline - tolerance]
    return min(good) if good else 1.0


@torch.no_grad()
def weight_sensitivity(model, data, tolerance, grid=RATE_GRID):
    """{layer: {density: validation accuracy}} pruning one layer at a time, no retraining."""
    baseline = evaluate(model, *data["validation"])
    table, chosen = {}, {}
    for name, module in _progress(maskable_layers(model), "weight sensitivity"):
        saved = weight_mask(module).clone()
        table[name] = {}
        for density in grid:
            prune_to_density(module, density)
            table[name][density] = evaluate(model, *data["validation"])
            weight_mask(module).copy_(saved)
        chosen[name] = _choose(table[name], baseline, tolerance)
    return baseline, table, chosen


@torch.no_grad()
def activation_sensitivity(model, data, tolerance, grid=RATE_GRID):
    """{layer: {winner rate: validation accuracy}} masking one layer's input at a time."""
    baseline = evaluate(model, *data["validation"])
    table, chosen = {}, {}
    for name, _ in _progress(maskable_layers(model)[1:], "activation sensitivity"):
        table[name] = {}
        for rate in grid:
            install_activation_masks(model, {name: {"rate": rate}})
            table[name][rate] = evaluate(model, *data["validation"])
        chosen[name] = _choose(table[name], baseline, tolerance)
    install_activation_masks(model, {})
    return baseline, table, chosen


def _load_data(config, name):
    data = load_dataset(name, validation=config.validation, seed=config.seed, limit=config.limit)
    as_tensors = lambda split: (torch.from_numpy(split.images), torch.from_numpy(split.labels))  # noqa: E731
    return {"train": as_tensors(data.train), "validation": as_tensors(data.validation),
            "test": as_tensors(data.test)}


def _check_names(settings, model, what):
    names = [n for n, _ in maskable_layers(model)]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise AccelsimError(f"{what}: unknown layer(s) {', '.join(unknown)}; layers: {', '.join(names)}")


def _train_dense(model, data, config, history, sensitivity):
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_decay_every, 0.5)
    train_epochs(model, data, config.epochs, optimizer, config, "dense", history,
                 scheduler=scheduler)


def _weight_targets(model, data, config, sensitivity):
    _check_names(config.weight_densities, model, "weight densities")
    baseline, table, chosen = weight_sensitivity(model, data, config.weight_tolerance)
    sensitivity["weight"] = {"baseline": baseline, "accuracy": table, "chosen": chosen}
    return {**chosen, **config.weight_densities}


def _train_wp(model, data, config, history, sensitivity):
    attach_weight_masks(model)
    targets = _weight_targets(model, data, config, sensitivity)
    layers = dict(maskable_layers(model))
    for step in range(1, config.prune_steps + 1):
        for name, target in targets.items():
            prune_to_density(layers[name], target ** (step / config.prune_steps))
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr * config.finetune_lr_scale)
        train_epochs(model, data, config.retrain_epochs, optimizer, config, f"wp round {step}",
                     history)


def _train_joint(model, data, config, history, sensitivity, static):
    attach_weight_masks(model)
    _check_names(config.winner_rates, model, "winner rates")
    baseline, table, chosen = activation_sensitivity(model, data, config.activation_tolerance)
    sensitivity["activation"] = {"baseline": baseline, "accuracy": table, "chosen": chosen}
    rates = {**chosen, **config.winner_rates}
    targets = _weight_targets(model, data, config, sensitivity)
    if static:
        thresholds = calibrate_static_thresholds(model, data["validation"][0], rates)
        install_activation_masks(model, {n: {"rate": r, "mode": "static", "threshold": thresholds[n]}
                                         for n, r in rates.items()})
    else:
        install_activation_masks(model, {n: {"rate": r, "mode": config.inference,
                                             "epsilon": config.epsilon} for n, r in rates.items()})
    base_dropout = config.dropout if config.dropout is not None else max(
        [m.p for m in model.modules() if isinstance(m, nn.Dropout)], default=0.0)
    rescale_dropout(model, rates, base_dropout)
    layers = dict(maskable_layers(model))
    # Prune over the first `prune_fraction` of the epochs; the rest recover with final masks.
    prune_epochs = max(1, round(config.prune_fraction * config.epochs))

    def threshold_prune(epoch):
        # L1 drives small weights towards zero; the threshold then removes the weights below
        # the magnitude that reaches this epoch's scheduled density.
        fraction = min(1.0, (epoch + 1) / prune_epochs)
        for name, target in targets.items():
            prune_to_density(layers[name], target ** fraction)

    warmup = min(config.warmup_epochs, config.epochs)
    adam = torch.optim.Adam(model.parameters(), lr=config.lr * config.finetune_lr_scale)
    train_epochs(model, data, warmup, adam, config, "jp warm-up", history, l1=config.l1,
                 after_epoch=threshold_prune)
    adadelta = torch.optim.Adadelta(model.parameters(), lr=config.adadelta_lr)
    offset = warmup
    train_epochs(model, data, config.epochs - warmup, adadelta, config, "jp adadelta", history,
                 l1=config.l1, after_epoch=lambda epoch: threshold_prune(epoch + offset))


def train(config, start_from=None, progress=True):
    """Train or prune a model; `start_from` is a checkpoint path (dense model to prune)."""
    if config.method not in METHODS:
        raise AccelsimError(f"method {config.method!r} is invalid: must be one of {', '.join(METHODS)}")
    started = time.time()
    set_seed(config.seed)
    if start_from is not None:
        model, info = load_checkpoint(start_from)
        if info["model"] != config.model:
            raise AccelsimError(f"--from checkpoint holds {info['model']}, not {config.model}")
        history = list(info["history"])
    else:
        if config.method != "dense":
            raise AccelsimError(f"method {config.method} prunes a trained model: "
                                f"give --from DENSE_CHECKPOINT")
        model, history = build_model(config.model), []
    data = _load_data(config, dataset_of(config.model))
    sensitivity = {}
    if config.method == "dense":
        _train_dense(model, data, config, history, sensitivity)
    elif config.method == "wp":
        _train_wp(model, data, config, history, sensitivity)
    else:
        _train_joint(model, data, config, history, sensitivity, static=config.method == "static-act")
    return TrainResult(model, config, evaluate(model, *data["test"]),
                       evaluate(model, *data["validation"]), history, sensitivity,
                       time.time() - started)


# ---------------------------------------------------------------- checkpoints


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


def save_checkpoint(result, path):
    """One .pt file (weights, masks, settings) plus `path.json` with the readable metadata."""
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
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())
    write_text_atomic(Path(f"{path}.json"), json.dumps(meta, indent=2) + "\n")
    return path


def load_checkpoint(path):
    """(model with its masks installed, metadata dict)."""
    path = Path(path)
    if not path.is_file():
        raise AccelsimError(f"checkpoint {path}: not found")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        meta = saved["meta"]
    except Exception as exc:  # a truncated or foreign file: any unpickling error
        raise AccelsimError(f"checkpoint {path}: not a readable accelsim checkpoint ({exc})") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise AccelsimError(f"checkpoint {path}: not an accelsim checkpoint")
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
