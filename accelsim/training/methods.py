"""Training and pruning: dense, WP (Han et al.) and wp-mac, JP (JPnet) and static-act.

- dense: Adam, cross-entropy, step learning-rate decay.
- Sensitivity analysis (validation split only): prune one layer at a time,
  without retraining, over a grid of densities (or winner rates). A layer's
  setting is the last one, walking down from dense, whose accuracy loss stays
  within tolerance x (the layer's MACs / the largest layer's MACs): a layer may
  cost accuracy in proportion to what it can save. With `weight_budget`,
  weights are instead allocated greedily (most weights removed per point of
  accuracy lost) until that fraction of all weights remains.
- wp: weight sensitivity picks the densities; then `prune_steps` rounds of
  magnitude pruning towards them (geometric schedule), each followed by
  retraining with the masks fixed (`epochs` shared out over the rounds).
- wp-mac: wp whose `weight_budget` counts MACs, not weights: the greedy
  allocation keeps that fraction of the network's dense MACs on the weight
  side (each layer's density x its dense MACs), removing the most MACs per
  point of accuracy lost. It prunes where the MACs are (LeNet-4's conv2:
  75 % of the MACs, 6 % of the weights), the fairer opponent on machines
  whose time follows MACs; wp prunes where the weights are.
- jp: activation sensitivity picks each masked layer's winner rate; weight
  sensitivity the densities, reached through L1 regularization plus threshold
  pruning into static masks during the first `prune_fraction` of fine-tuning
  (cubic schedule, every `prune_interval` steps); dynamic top-k activation
  masks are on throughout; dropout before a masked layer becomes
  C_d * sqrt(rate); `warmup_epochs` with Adam at `finetune_lr_scale` x the
  learning rate, then Adadelta at `adadelta_lr`.
- static-act: as jp, with static per-layer thresholds calibrated on the
  validation split to the same rates instead of dynamic top-k.
The first layer's input (the image) is never masked. Seeded: the same
settings give the same checkpoint. Methods are registered in `METHODS`; their
settings are `TrainConfig` (train_config.py) and checkpoints are checkpoint.py's.
"""

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from ..core.progress import Progress, no_progress
from ..core.threads import cores_given
from ..errors import AccelsimError
from .checkpoint import load_checkpoint
from .data import load_dataset
from .models import (
    build_model,
    count_dense_macs,
    dataset_of,
    input_shape,
    maskable_layers,
    zoo_model,
)
from .pruning import (
    attach_weight_masks,
    calibrate_static_thresholds,
    install_activation_masks,
    prune_to_density,
    rescale_dropout,
    weight_density,
    weight_mask,
)
from .train_config import TrainConfig

RATE_GRID = (1.0, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03,
             0.02)


@dataclass
class TrainResult:
    model: nn.Module
    config: TrainConfig
    test_accuracy: float
    validation_accuracy: float
    history: list
    sensitivity: dict
    seconds: float


def cap_torch_threads(threads=None):
    """Give torch `threads` intra-op threads (default: `cores_given()`, not the machine's
    cores: see accelsim/core/threads.py). Commands that train call it once."""
    threads = max(1, threads or cores_given())
    torch.set_num_threads(threads)
    return threads


def set_seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def _batches(images, size=1000):
    return [images[start:start + size] for start in range(0, len(images), size)]


@torch.no_grad()
def _accuracy(model, batches, labels):
    model.eval()
    predicted = torch.cat([model(batch).argmax(1) for batch in batches]) if batches else labels
    return int((predicted == labels).sum()) / max(1, len(labels))


def evaluate(model, images, labels):
    return _accuracy(model, _batches(images), labels)


def _l1_penalty(model):
    return sum(module.weight.abs().sum() for _, module in maskable_layers(model))


def train_epochs(model, data, epochs, optimizer, config, phase, history, l1=0.0,
                 after_step=None, scheduler=None, progress=None):
    images, labels = data["train"]
    generator = torch.Generator().manual_seed(config.seed + len(history))
    loss_fn = nn.CrossEntropyLoss()
    progress = progress or no_progress
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        total, batches = 0.0, range(0, len(labels), config.batch_size)
        for start in progress(batches, f"{phase} {epoch + 1}/{epochs}"):
            index = order[start:start + config.batch_size]
            loss = loss_fn(model(images[index]), labels[index])
            if l1:
                loss = loss + l1 * _l1_penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach()) * len(index)
        if scheduler is not None:
            scheduler.step()
        history.append({
            "phase": phase, "epoch": epoch + 1, "train_loss": total / len(labels),
            "validation_accuracy": evaluate(model, *data["validation"]),
            "weight_density": {n: weight_density(m) for n, m in maskable_layers(model)},
        })
    return history


def _choose(accuracies, baseline, tolerance):
    """Walking down from dense, the last setting before accuracy first leaves the tolerance.

    Stopping at the first failure (not taking the smallest passing setting) keeps a noisy,
    non-monotone curve from jumping past a setting that already failed.
    """
    chosen = 1.0
    for setting in sorted(accuracies, reverse=True):
        if accuracies[setting] < baseline - tolerance:
            break
        chosen = setting
    return chosen


def layer_shares(model, shape):
    """{layer: dense MACs / the largest layer's}: how much pruning a layer can save."""
    macs = count_dense_macs(model, shape)
    largest = max(macs.values())
    return {name: value / largest for name, value in macs.items()}


def _split_at(model, name):
    """(the layers before `name`, the rest) when `name` is a direct child of a Sequential."""
    if not isinstance(model, nn.Sequential) or name not in model._modules:
        return None
    index = list(model._modules).index(name)
    return model[:index], model[index:]


@torch.no_grad()
def _sensitivity(model, data, names, apply, restore, grid, description, progress):
    """{layer: {setting: validation accuracy}} changing one layer at a time."""
    images, labels = data["validation"]
    table = {}
    for name in (progress or no_progress)(names, description):
        # While one layer is varied, the layers before it compute the same thing: their
        # output is computed once, and each setting runs only the rest of the network on
        # it. Same batches, same operations: the same accuracies to the last bit.
        split = _split_at(model, name)
        if split:
            split[0].eval()
            run, batches = split[1], [split[0](batch) for batch in _batches(images)]
        else:
            run, batches = model, _batches(images)
        table[name] = {}
        for setting in grid:
            apply(name, setting)
            table[name][setting] = _accuracy(run, batches, labels)
            restore(name)
    return table


@torch.no_grad()
def weight_sensitivity(model, data, grid=RATE_GRID, progress=None):
    layers = dict(maskable_layers(model))
    saved = {n: weight_mask(m).clone() for n, m in layers.items()}
    return _sensitivity(model, data, list(layers),
                        lambda n, d: prune_to_density(layers[n], d),
                        lambda n: weight_mask(layers[n]).copy_(saved[n]), grid,
                        "weight sensitivity", progress)


@torch.no_grad()
def activation_sensitivity(model, data, grid=RATE_GRID, progress=None):
    names = [n for n, _ in maskable_layers(model)][1:]  # the image is never masked
    table = _sensitivity(model, data, names,
                         lambda n, r: install_activation_masks(model, {n: {"rate": r}}),
                         lambda n: install_activation_masks(model, {}), grid,
                         "activation sensitivity", progress)
    return table


def choose_by_tolerance(table, baseline, tolerance, shares):
    """Per layer, the setting chosen with tolerance x that layer's MAC share."""
    return {name: _choose(accuracies, baseline, tolerance * shares[name])
            for name, accuracies in table.items()}


def choose_by_budget(table, baseline, sizes, budget):
    """Greedy: lower the layer that removes the most weights per point of accuracy lost
    until at most `budget` of all weights remain."""
    settings = {name: 1.0 for name in table}
    total = sum(sizes.values())
    while sum(sizes[n] * settings[n] for n in table) > budget * total:
        best, best_value = None, -1.0
        for name, accuracies in table.items():
            lower = [d for d in accuracies if d < settings[name]]
            if not lower:
                continue
            step = max(lower)
            lost = max(accuracies[settings[name]] - accuracies[step], 0.0) + 1e-4
            value = sizes[name] * (settings[name] - step) / lost
            if value > best_value:
                best, best_value = name, value
        if best is None:
            break
        settings[best] = max(d for d in table[best] if d < settings[best])
    return settings


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


def _train_dense(model, data, config, history, sensitivity, tables, progress):
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    decay_every = config.lr_decay_every or max(1, round(config.epochs / 3))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, decay_every, 0.5)
    train_epochs(model, data, config.epochs, optimizer, config, "dense", history,
                 scheduler=scheduler, progress=progress)


def _measured(tables, kind, model, data, measure, progress):
    """{"baseline", "accuracy"}: the shared table of `kind` if given, else measured now."""
    return tables.get(kind) or {"baseline": evaluate(model, *data["validation"]),
                                "accuracy": measure(model, data, progress=progress)}


def sensitivity_tables(config, start_from, progress=None):
    """The weight and activation sensitivity of checkpoint `start_from` on `config`'s
    validation split: what every pruning run from it begins with, measured once so that
    many runs can share it (`train(..., tables=...)`; accelsim pareto does)."""
    model, _ = load_checkpoint(start_from)
    attach_weight_masks(model)
    data = _load_data(config, dataset_of(config.model))
    return {"weight": _measured({}, "weight", model, data, weight_sensitivity, progress),
            "activation": _measured({}, "activation", model, data, activation_sensitivity,
                                    progress)}


def _weight_targets(model, data, config, sensitivity, tables, progress, budget_counts="weights"):
    """Per layer, the weight density to prune to. budget_counts: what `weight_budget` is a
    fraction of, "weights" or "macs" (each layer's dense MACs)."""
    _check_names(config.weight_densities, model, "weight densities")
    measured = _measured(tables, "weight", model, data, weight_sensitivity, progress)
    baseline, table = measured["baseline"], measured["accuracy"]
    if config.weight_budget is not None:
        sizes = ({n: m.weight.numel() for n, m in maskable_layers(model)}
                 if budget_counts == "weights"
                 else count_dense_macs(model, input_shape(config.model)))
        chosen = choose_by_budget(table, baseline, sizes, config.weight_budget)
    else:
        chosen = choose_by_tolerance(table, baseline, config.weight_tolerance,
                                     layer_shares(model, input_shape(config.model)))
    sensitivity["weight"] = {"baseline": baseline, "accuracy": table, "chosen": chosen}
    return {**chosen, **config.weight_densities}


def _train_wp(model, data, config, history, sensitivity, tables, progress,
              budget_counts="weights"):
    attach_weight_masks(model)
    targets = _weight_targets(model, data, config, sensitivity, tables, progress,
                              budget_counts)
    layers = dict(maskable_layers(model))
    for step in range(1, config.prune_steps + 1):
        for name, target in targets.items():
            prune_to_density(layers[name], target ** (step / config.prune_steps))
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr * config.finetune_lr_scale)
        # The retraining epochs are shared out over the rounds, the first rounds taking any
        # remainder: the later, smaller cuts need less recovery.
        epochs = config.epochs // config.prune_steps + (step <= config.epochs % config.prune_steps)
        train_epochs(model, data, epochs, optimizer, config, f"wp round {step}", history,
                     progress=progress)


def _train_joint(model, data, config, history, sensitivity, tables, progress, static):
    attach_weight_masks(model)
    _check_names(config.winner_rates, model, "winner rates")
    measured = _measured(tables, "activation", model, data, activation_sensitivity, progress)
    baseline, table = measured["baseline"], measured["accuracy"]
    chosen = choose_by_tolerance(table, baseline, config.activation_tolerance,
                                 layer_shares(model, input_shape(config.model)))
    sensitivity["activation"] = {"baseline": baseline, "accuracy": table, "chosen": chosen}
    rates = {**chosen, **config.winner_rates}
    targets = _weight_targets(model, data, config, sensitivity, tables, progress)
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
    steps_per_epoch = -(-len(data["train"][1]) // config.batch_size)
    prune_steps = max(1, round(config.prune_fraction * config.epochs * steps_per_epoch))
    step = [0]

    def threshold_prune():
        # L1 pulls small weights towards zero; every `prune_interval` steps the weights under
        # the magnitude that meets the scheduled density are cut (cubic schedule: big cuts
        # early, while the network is redundant; small ones late; Zhu & Gupta 2017).
        step[0] += 1
        if step[0] % config.prune_interval and step[0] != prune_steps:
            return
        done = min(1.0, step[0] / prune_steps)
        for name, target in targets.items():
            prune_to_density(layers[name], target + (1 - target) * (1 - done) ** 3)

    warmup = min(config.warmup_epochs, config.epochs)
    adam = torch.optim.Adam(model.parameters(), lr=config.lr * config.finetune_lr_scale)
    train_epochs(model, data, warmup, adam, config, "jp warm-up", history, l1=config.l1,
                 after_step=threshold_prune, progress=progress)
    adadelta = torch.optim.Adadelta(model.parameters(), lr=config.adadelta_lr)
    train_epochs(model, data, config.epochs - warmup, adadelta, config, "jp adadelta", history,
                 l1=config.l1, after_step=threshold_prune, progress=progress)


@dataclass(frozen=True)
class Method:
    run: Callable      # (model, data, config, history, sensitivity, tables, progress)
    prunes: bool       # starts from a trained checkpoint
    epochs: int        # default epochs (TrainConfig.epochs), unless the model sets its own


# To add a method: write its run function above and register it here; the CLI and
# `accelsim pareto` (given a ladder in pareto.LADDERS) pick it up by name.
METHODS = {
    "dense": Method(_train_dense, prunes=False, epochs=12),
    "wp": Method(_train_wp, prunes=True, epochs=12),
    "wp-mac": Method(functools.partial(_train_wp, budget_counts="macs"), prunes=True, epochs=12),
    "jp": Method(functools.partial(_train_joint, static=False), prunes=True, epochs=20),
    "static-act": Method(functools.partial(_train_joint, static=True), prunes=True, epochs=20),
}


def training_method(name):
    if name not in METHODS:
        raise AccelsimError(f"method {name!r} is invalid: must be one of {', '.join(METHODS)}")
    return METHODS[name]


def default_epochs(model, method):
    """The epochs `method` trains `model` for when TrainConfig.epochs is None."""
    return zoo_model(model).epochs.get(method, training_method(method).epochs)


def resolved(config):
    """`config` with the defaults that depend on its model and method filled in: what
    `train` runs, and what a cached checkpoint's name must be computed from. An unknown
    model or method is refused here, before anything trains."""
    zoo_model(config.model)
    training_method(config.method)
    if config.epochs is None:
        config = dataclasses.replace(config, epochs=default_epochs(config.model, config.method))
    return config


def train(config: TrainConfig, start_from: Optional[Union[str, Path]] = None,
          progress: Optional[Progress] = None, tables: Optional[dict[str, Any]] = None,
          ) -> TrainResult:
    """Train or prune a zoo model as `config` (a TrainConfig) says -> TrainResult.

    start_from: the checkpoint of the trained model a pruning method starts from (dense
    training starts from scratch). tables: that checkpoint's `sensitivity_tables`, when
    already measured (shared by many runs). progress: None or a reporter
    progress(items, description) -> items (accelsim.core.progress). The result holds the model
    (masks attached), test and validation accuracy, the per-epoch history, the sensitivity
    analysis and the wall time; `save_checkpoint(result, path)` writes it.

        dense = accelsim.train(accelsim.TrainConfig(model="mlp3"))
        accelsim.save_checkpoint(dense, "mlp3-dense.pt")
        jp = accelsim.train(accelsim.TrainConfig(model="mlp3", method="jp"), "mlp3-dense.pt")
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    method = training_method(config.method)
    config = resolved(config)
    started = time.time()
    set_seed(config.seed)
    if start_from is not None:
        model, info = load_checkpoint(start_from)
        if info["model"] != config.model:
            raise AccelsimError(f"--from checkpoint holds {info['model']}, not {config.model}")
        history = list(info["history"])
    else:
        if method.prunes:
            raise AccelsimError(f"method {config.method} prunes a trained model: "
                                f"give --from DENSE_CHECKPOINT")
        model, history = build_model(config.model), []
    data = _load_data(config, dataset_of(config.model))
    sensitivity: dict[str, Any] = {}
    # oneDNN runs these small convs about a quarter faster in channels-last layout on CPU;
    # the model goes back to the default layout so checkpoints and traces hold plain tensors.
    model.to(memory_format=torch.channels_last)
    method.run(model, data, config, history, sensitivity, tables or {}, progress)
    model.to(memory_format=torch.contiguous_format)
    return TrainResult(model, config, evaluate(model, *data["test"]),
                       evaluate(model, *data["validation"]), history, sensitivity,
                       time.time() - started)
