"""The settings of one training or pruning run (`TrainConfig`), without torch.

Each field's default and help live here once: `accelsim train` makes one option per
field from them (`--weight-tolerance` for `weight_tolerance`), so the CLI and the
library cannot disagree, and the CLI builds its parser without importing torch.
"""

import dataclasses
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Optional

from .errors import ConfigError
from .files import content_key


def _option(default, help, valid=None, choices=None):
    """A field with its help; `valid`: (predicate, what a valid value is) or None;
    `choices`: the valid values, when they are a list (the CLI offers them too)."""
    if choices is not None:
        valid = (lambda v: v in choices, " or ".join(choices))
    return field(default=default, metadata={"help": help, "valid": valid, "choices": choices})


# How jp picks its winners at inference; accelsim.pruning adds static-act's "static".
JP_INFERENCE_MODES = ("topk", "threshold")

AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
POSITIVE = (lambda v: v > 0, "> 0")
NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
FRACTION = (lambda v: 0 < v <= 1, "in (0, 1]")


def _per_layer(help):
    return field(default_factory=dict, metadata={"help": help})


@dataclass
class TrainConfig:
    """The settings of one training or pruning run: the zoo model, the method (a name in
    accelsim.training.METHODS) and every knob, each with its default and valid range
    (checked on construction: a bad value raises ConfigError naming the field).
    `accelsim train --<field-name>` sets the same fields."""

    model: str
    method: str = "dense"
    epochs: Optional[int] = _option(
        None, "dense: training epochs; wp: retraining epochs over all rounds; jp and "
        "static-act: fine-tuning epochs (default: the method's, or the model's where it "
        "needs fewer; see accelsim.training.default_epochs)", AT_LEAST_1)
    batch_size: int = _option(128, "images per step", AT_LEAST_1)
    lr: float = _option(1e-3, "Adam learning rate of dense training (pruning runs take "
                        "finetune_lr_scale x this)", POSITIVE)
    lr_decay_every: Optional[int] = _option(
        None, "dense: halve the learning rate every N epochs (default: a third of the epochs)",
        AT_LEAST_1)
    seed: int = _option(0, "seeds weights, data order and the validation split",
                        (lambda v: 0 <= v < 2**32, "in 0 .. 2**32 - 1"))
    validation: int = _option(5000, "training images held out for validation and "
                              "sensitivity analysis", AT_LEAST_1)
    limit: Optional[int] = _option(None, "use only the first N images of each split (tests)",
                                   AT_LEAST_1)
    # A layer may cost accuracy in proportion to what it can save: its tolerance is scaled
    # by its MACs relative to the largest layer's.
    weight_tolerance: float = _option(
        0.03, "validation accuracy pruning one layer's weights alone may cost, scaled by "
        "its MAC share", NON_NEGATIVE)
    activation_tolerance: float = _option(0.005, "the same for activation masks",
                                            NON_NEGATIVE)
    weight_budget: Optional[float] = _option(
        None, "instead of weight_tolerance: keep this fraction of all weights, allocated "
        "greedily", FRACTION)
    winner_rates: dict = _per_layer("override the activation winner rates, e.g. "
                                    "fc2=0.12,fc3=0.25")
    weight_densities: dict = _per_layer("override the weight densities, e.g. fc1=0.1")
    prune_steps: int = _option(4, "wp: rounds of magnitude pruning, each followed by retraining",
                               AT_LEAST_1)
    l1: float = _option(1e-6, "jp: L1 strength on weights", NON_NEGATIVE)
    warmup_epochs: int = _option(2, "jp: Adam epochs before Adadelta", NON_NEGATIVE)
    prune_fraction: float = _option(0.3, "jp: share of the fine-tuning steps that prune weights",
                                    FRACTION)
    prune_interval: int = _option(50, "jp: steps between threshold-pruning updates",
                                 AT_LEAST_1)
    finetune_lr_scale: float = _option(0.3, "pruning runs: Adam learning rate as a multiple of lr",
                                       POSITIVE)
    adadelta_lr: float = _option(1.0, "jp: Adadelta learning rate", POSITIVE)
    dropout: Optional[float] = _option(None, "C_d, the dropout before masked layers "
                                       "(default: the model's own)", (lambda v: 0 <= v < 1, "in [0, 1)"))
    inference: str = _option("topk", "jp winners at inference: exact top-k or predicted "
                             "threshold", choices=JP_INFERENCE_MODES)
    epsilon: float = _option(0.25, "down-sampling rate of the threshold prediction", FRACTION)

    def __post_init__(self):
        _check(self)


def options():
    """The fields `accelsim train` exposes as options: all but model and method."""
    return [f for f in fields(TrainConfig) if f.name not in ("model", "method")]


def field_kind(field_):
    """int, float, str or dict: the field's type with Optional removed."""
    return next(t for t in typing.get_args(field_.type) or (field_.type,) if t is not type(None))


def _check(config):
    for field_ in options():
        value, kind = getattr(config, field_.name), field_kind(field_)
        if value is None and field_.default is None:
            continue
        if kind is dict:
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                and 0 < v <= 1 for k, v in value.items())
            what = "a {layer: number in (0, 1]} mapping"
        else:
            valid, what = field_.metadata["valid"] or (lambda v: True, "")
            numeric = kind in (int, float)
            ok = (isinstance(value, (int, float) if kind is float else kind)
                  and not isinstance(value, bool)
                  and (not numeric or math.isfinite(value)) and valid(value))
            what = f"{'an integer' if kind is int else 'a number' if numeric else 'one of'} {what}"
        if not ok:
            raise ConfigError(f"training setting {field_.name} = {value!r:.60} is invalid: "
                              f"must be {what}")


def training_key(config, start_from_sha256=None):
    """16 hex digits naming a training run by all it depends on: every field of `config`
    (its defaults resolved: `accelsim.training.resolved`) and the sha256 of the checkpoint
    it starts from. Cached checkpoints are named by it (demo, pareto), so a changed setting
    or a retrained starting point is never served from an old file."""
    return content_key(dataclasses.asdict(config), start_from_sha256)
