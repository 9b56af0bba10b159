"""Defaults shared by several commands and functions, each stated once."""

VERSION = "0.1.0"  # accelsim's (pyproject.toml reads it from here)

SAMPLES = 64  # test images per trace (trace --checkpoint, demo, pareto)
QUICK_SAMPLES = 8  # the same with --quick
# `pareto`: each seed its own dense model and points, so a win must hold across them.
SEEDS = 3

# Smoke runs (tests, `demo --quick`, `pareto --quick`): TrainConfig fields for 400 images
# per split and one epoch per phase.
QUICK_TRAINING = {"limit": 400, "validation": 400, "epochs": 1, "prune_steps": 1,
                  "warmup_epochs": 1}
QUICK_TEXT = (f"{QUICK_TRAINING['limit']} images per split, {QUICK_TRAINING['epochs']} epoch "
              "per phase")

DEMO_ARCHS = ("dense", "cnvlutin", "eie", "systolic")  # bundled configs, by name

# The `layer` of a results table's whole-model row (and of `inspect`'s): the sum of the
# layer rows' counts, with ratios recomputed from those sums.
TOTAL_ROW = "TOTAL"
