"""The settings of one training or pruning run (`TrainConfig`), without torch.

Each field's default and help live here once: `accelsim train` makes one option per
field from them (`--weight-tolerance` for `weight_tolerance`), so the CLI and the
library cannot disagree, and the CLI builds its parser without importing torch.
"""

import dataclasses
import typing
from dataclasses import dataclass, fields
from typing import Optional

from ..core.files import content_key
from ..core.schema import check, spec
from ..errors import ConfigError

# How jp picks its winners at inference; accelsim.training.pruning adds static-act's "static".
JP_INFERENCE_MODES = ("topk", "threshold")

AT_LEAST_1 = {"minimum": 1}
POSITIVE = {"exclusive_minimum": 0}
NON_NEGATIVE = {"minimum": 0}
FRACTION = {"exclusive_minimum": 0, "maximum": 1}


@dataclass
class TrainConfig:
    """The settings of one training or pruning run: the zoo model, the method (a name in
    accelsim.training.methods.METHODS) and every knob, each with its default and valid range
    (checked on construction: a bad value raises ConfigError naming the field).
    `accelsim train --<field-name>` sets the same fields."""

    model: str
    method: str = "dense"
    epochs: Optional[int] = spec(
        None, doc="dense: training epochs; wp: retraining epochs over all rounds; jp and "
        "static-act: fine-tuning epochs (default: the method's, or the model's where it "
        "needs fewer; see accelsim.training.methods.default_epochs)", **AT_LEAST_1)
    batch_size: int = spec(128, doc="images per step", **AT_LEAST_1)
    lr: float = spec(1e-3, doc="Adam learning rate of dense training (pruning runs take "
                     "finetune_lr_scale x this)", **POSITIVE)
    lr_decay_every: Optional[int] = spec(
        None, doc="dense: halve the learning rate every N epochs (default: a third of the "
        "epochs)", **AT_LEAST_1)
    seed: int = spec(0, doc="seeds weights, data order and the validation split", minimum=0,
                     maximum=2**32 - 1)
    validation: int = spec(5000, doc="training images held out for validation and "
                           "sensitivity analysis", **AT_LEAST_1)
    limit: Optional[int] = spec(None, doc="use only the first N images of each split (tests)",
                                **AT_LEAST_1)
    # A layer may cost accuracy in proportion to what it can save: its tolerance is scaled
    # by its MACs relative to the largest layer's.
    weight_tolerance: float = spec(
        0.03, doc="validation accuracy pruning one layer's weights alone may cost, scaled by "
        "its MAC share", **NON_NEGATIVE)
    activation_tolerance: float = spec(0.005, doc="the same for activation masks",
                                       **NON_NEGATIVE)
    weight_budget: Optional[float] = spec(
        None, doc="instead of weight_tolerance: keep this fraction of all weights (wp-mac: of "
        "all dense MACs, on the weight side), allocated greedily", **FRACTION)
    winner_rates: dict[str, float] = spec(
        doc="override the activation winner rates, e.g. fc2=0.12,fc3=0.25", factory=dict,
        **FRACTION)
    weight_densities: dict[str, float] = spec(
        doc="override the weight densities, e.g. fc1=0.1", factory=dict, **FRACTION)
    prune_steps: int = spec(4, doc="wp: rounds of magnitude pruning, each followed by "
                            "retraining", **AT_LEAST_1)
    l1: float = spec(1e-6, doc="jp: L1 strength on weights", **NON_NEGATIVE)
    warmup_epochs: int = spec(2, doc="jp: Adam epochs before Adadelta", **NON_NEGATIVE)
    prune_fraction: float = spec(0.3, doc="jp: share of the fine-tuning steps that prune "
                                 "weights", **FRACTION)
    prune_interval: int = spec(50, doc="jp: steps between threshold-pruning updates",
                               **AT_LEAST_1)
    finetune_lr_scale: float = spec(0.3, doc="pruning runs: Adam learning rate as a multiple "
                                    "of lr", **POSITIVE)
    adadelta_lr: float = spec(1.0, doc="jp: Adadelta learning rate", **POSITIVE)
    dropout: Optional[float] = spec(None, doc="C_d, the dropout before masked layers "
                                    "(default: the model's own)", minimum=0,
                                    exclusive_maximum=1)
    inference: str = spec("topk", doc="jp winners at inference: exact top-k or predicted "
                          "threshold", choices=JP_INFERENCE_MODES)
    epsilon: float = spec(0.25, doc="down-sampling rate of the threshold prediction",
                          **FRACTION)

    def __post_init__(self):
        check(self, "training setting ", ConfigError)


def options():
    """The fields `accelsim train` exposes as options: all but model and method."""
    return [f for f in fields(TrainConfig) if f.name not in ("model", "method")]


def field_kind(field_):
    """int, float, str or dict: the field's type with Optional and item types removed."""
    kind = next(t for t in typing.get_args(field_.type) or (field_.type,)
                if t is not type(None)) if typing.get_origin(field_.type) is typing.Union \
        else field_.type
    return typing.get_origin(kind) or kind


def training_key(config, start_from_sha256=None):
    """16 hex digits naming a training run by all it depends on: every field of `config`
    (its defaults resolved: `accelsim.training.methods.resolved`) and the sha256 of the checkpoint
    it starts from. Cached checkpoints are named by it (demo, pareto), so a changed setting
    or a retrained starting point is never served from an old file."""
    return content_key(dataclasses.asdict(config), start_from_sha256)
