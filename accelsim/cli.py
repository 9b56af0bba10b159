"""The `accelsim` command line: one subcommand per pipeline stage."""

import argparse
import dataclasses
import importlib
import json
import shlex
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from .core.progress import tqdm_progress
from .defaults import DEMO_ARCHS, QUICK_SAMPLES, QUICK_TEXT, SAMPLES, SEEDS, TOTAL_ROW
from .errors import AccelsimError


def _comma_list(text):
    """'wp, jp,' -> ['wp', 'jp']."""
    return [item.strip() for item in text.split(",") if item.strip()]


class _Names:
    """The names of a registry (e.g. models.ZOO) as argparse `choices`, read only when
    argparse checks a value or shows them in help: the model zoo and the training methods
    import torch, which the commands that never train must not load. The option needs a
    metavar, or argparse lists the choices while the parser is built."""

    def __init__(self, module, registry):
        self.module, self.registry = module, registry

    def _names(self):
        """The registry, or None without torch."""
        try:
            return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.registry)
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            return None

    def __iter__(self):
        names = self._names()
        return iter(names if names is not None else ["(listed once PyTorch is installed)"])

    def __contains__(self, value):
        names = self._names()
        # Without torch, any value: the command then says, in one line, that it needs torch.
        return names is None or value in names


def _check_new_trace_directory(path, force):
    """Before any work: a trace may be written at `path` (new, or with --force a trace that
    holds nothing else), by the rule save_trace applies."""
    from .core.files import check_directory_replaceable
    from .report.results import check_output_directory
    from .workload.trace import is_trace_directory

    check_directory_replaceable(path, force, is_trace_directory)
    check_output_directory(Path(path).parent, "output directory")


def cmd_synth(args):
    from .core.inputs import load_yaml
    from .workload.synth import preset_spec, synthesis_estimate, synthetic_trace
    from .workload.topology import read_topology
    from .workload.trace import save_trace

    _check_new_trace_directory(args.out, args.force)
    densities = {"weight_density": args.weight_density,
                 "activation_density": args.activation_density}
    if args.topology:
        network = read_topology(args.topology, **densities)
    elif any(value is not None for value in densities.values()):
        raise AccelsimError("--weight-density and --activation-density apply to --topology")
    elif args.spec:
        network = load_yaml(args.spec, f"synthetic spec {args.spec}: ")
    else:
        network = preset_spec(args.preset)
    _limits(args).check(f"synth {args.out}", *synthesis_estimate(network, args.samples, args.dtype),
                        how=" (drawing the arrays)")
    trace = synthetic_trace(network, samples=args.samples, seed=args.seed, pattern=args.pattern,
                            cluster_size=args.cluster_size, dtype=args.dtype,
                            progress=tqdm_progress)
    save_trace(trace, args.out, overwrite=args.force)
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} sample(s)")


def cmd_export(args):
    from .report.results import check_output_file, check_replaceable, write_marked
    from .workload.topology import topology_text
    from .workload.trace import load_trace

    out = check_output_file(args.out, "topology")
    if out.exists() and not args.force:
        raise AccelsimError(f"{out} already exists (pass --force to replace it)")
    if out.resolve().is_relative_to(Path(args.trace).resolve()):
        raise AccelsimError(f"topology {out}: is inside the trace {args.trace} it is exported "
                            "from; choose a path outside it")
    check_replaceable(out, "topology")  # --force replaces an export, never a user's file
    trace = load_trace(args.trace, verify=not args.no_verify)
    text = topology_text(trace, densities=args.densities, split_groups=args.split_groups)
    write_marked(out, text.encode(), {"command": args.command_line, "trace": str(args.trace)})
    print(f"wrote {out} (and {out.name}.meta.json): {len(text.splitlines()) - 1} layer rows "
          "in SCALE-Sim's conv form" + (" with measured densities" if args.densities else ""))


def cmd_inspect(args):
    from .workload.inspect_trace import format_summary, summary_json, trace_summary
    from .workload.trace import load_trace

    trace = load_trace(args.trace, verify=not args.no_verify)
    table = trace_summary(trace, threshold=args.threshold, progress=tqdm_progress)
    if args.format == "json":
        print(json.dumps(summary_json(trace, table), indent=2))
    else:
        print(format_summary(trace, table))


def cmd_config(args):
    import yaml

    from .sim.config import BUNDLED_CONFIGS, bundled_configs, load_arch

    if args.list:
        configs = {name: load_arch(path) for name, path in bundled_configs().items()}
        width = max(map(len, configs))
        machine_width = max(len(c.machine) for c in configs.values())
        for name, config in configs.items():
            print(f"{name:<{width}}  {config.machine:<{machine_width}}  "
                  + " ".join(config.description.split()))
        print(f"({len(configs)} configs in {BUNDLED_CONFIGS}; use one as --arch NAME)")
        return
    config = load_arch(args.config)
    print(yaml.safe_dump(config.to_dict(), sort_keys=False, width=100), end="")


def cmd_simulate(args):
    from .report.results import check_results_path, provenance, write_results
    from .studies.compare import simulate_all
    from .workload.trace import load_trace

    check_results_path(args.out)
    traces = [load_trace(path, verify=not args.no_verify) for path in args.trace]
    table, archs, traces = simulate_all(args.arch, traces, per_sample=args.per_sample,
                                        progress=tqdm_progress, limits=_limits(args))
    write_results(table, args.out, provenance(archs, traces, args.command_line))
    totals = table[table["layer"] == TOTAL_ROW]
    print(totals[["model", "variant", "arch", "macs_effective", "cycles_total", "latency_us",
                  "utilization", "energy_pj"]].to_string(index=False))
    _print_layer_notes(table)
    print(f"wrote {args.out} ({len(table)} rows) and {args.out}.meta.json")


def _layer_values(text, what):
    """'fc2=0.12,fc3=0.25' -> {'fc2': 0.12, 'fc3': 0.25}; TrainConfig checks the values."""
    values = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise AccelsimError(f"{what}: {item!r} is not LAYER=NUMBER") from None
    return values


def _option_name(field):
    return "--" + field.name.replace("_", "-")


def _train_config(args):
    """TrainConfig from the options given; the ones not given keep the field's default."""
    from .training.train_config import TrainConfig, field_kind, options

    given = {}
    for field in options():
        value = getattr(args, field.name)
        if value is not None:
            given[field.name] = (_layer_values(value, _option_name(field))
                                 if field_kind(field) is dict else value)
    return TrainConfig(model=args.model, method=args.method, **given)


def cmd_train(args):
    from .training.checkpoint import save_checkpoint
    from .training.methods import cap_torch_threads, train

    cap_torch_threads()
    config = _train_config(args)
    result = train(config, start_from=getattr(args, "from"), progress=tqdm_progress)
    save_checkpoint(result, args.out)
    meta_path = f"{args.out}.json"
    print(f"{config.model} {config.method}: test accuracy {100 * result.test_accuracy:.2f} %, "
          f"validation {100 * result.validation_accuracy:.2f} %, {result.seconds:.0f} s")
    from .training.models import maskable_layers
    from .training.pruning import activation_masks, weight_density
    rates = {n: m.rate for n, m in activation_masks(result.model).items()}
    for name, module in maskable_layers(result.model):
        print(f"  {name:<16} weight {100 * weight_density(module):6.2f} %"
              + (f"   input winner rate {100 * rates[name]:6.2f} %" if name in rates else ""))
    print(f"wrote {args.out} and {meta_path}")


MODEL_FILE_OPTIONS = ("weights", "images", "model_name", "variant")


def cmd_trace(args):
    from .training.tracing import trace_from_checkpoint, trace_from_model_file

    _check_new_trace_directory(args.out, args.force)
    if args.checkpoint:
        given = [name for name in MODEL_FILE_OPTIONS if getattr(args, name) is not None]
        if given:
            raise AccelsimError(f"--{given[0].replace('_', '-')} applies to --model-file, "
                                f"not --checkpoint")
        samples = SAMPLES if args.samples is None else args.samples
        trace = trace_from_checkpoint(args.checkpoint, samples, args.out, overwrite=args.force,
                                      limits=_limits(args))
    else:
        if args.images is None:
            raise AccelsimError("--model-file needs --images (a .npy file of inputs)")
        trace = trace_from_model_file(args.model_file, args.images, args.out, args.weights,
                                      args.samples, args.model_name, args.variant or "dense",
                                      overwrite=args.force, limits=_limits(args))
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} images")


def _print_layer_notes(table):
    """One line per machine whose results note layers it runs far below its peak."""
    layers = table[table["layer"] != TOTAL_ROW]
    for arch, rows in layers.groupby("arch", sort=False):
        noted = rows[rows["notes"].fillna("") != ""].drop_duplicates("layer")
        if len(noted):
            first = noted.iloc[0]
            print(f"note: on {arch}, {len(noted)} of {rows['layer'].nunique()} layers cannot "
                  f"keep half the MAC units busy for their shape (the notes column says why; "
                  f"{first['layer']}: {first['notes']})")


def _print_summary(summary):
    import pandas as pd

    from .report.summary import missing_baselines
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
    for note in missing_baselines(summary):
        print(f"note: {note}")


def cmd_compare(args):
    from .studies.compare import compare

    result = compare(args.arch, args.trace, args.out, progress=tqdm_progress,
                     command=args.command_line, limits=_limits(args))
    _print_summary(result.summary)
    _print_layer_notes(result.table)
    print(f"wrote {args.out}/results.csv, results.parquet, summary.csv and "
          f"{len(result.plots)} plot files in {args.out}/plots")


def cmd_plot(args):
    from .studies.compare import plot_results

    paths = plot_results(args.results, args.out)
    print(f"wrote {len(paths)} files in {args.out}: " + ", ".join(p.name for p in paths))


def cmd_sweep(args):
    from .report.results import check_results_path
    from .studies.runner import check_scheduler
    from .studies.sweep import load_sweep, run_sweep, sweep_estimate

    check_scheduler(args.scheduler, args.workers)
    out = check_results_path(args.out or Path(args.sweep).with_suffix(".parquet"))
    sweep = load_sweep(args.sweep)
    if not args.scheduler.startswith("tcp://"):  # a cluster's memory and cores are its own
        _limits(args).check(f"sweep {args.sweep}", *sweep_estimate(sweep, args.workers),
                            how=f" ({len(sweep.points)} points x {len(sweep.traces)} traces, "
                                "finished points included)")
    table = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers,
                      progress=tqdm_progress, command=args.command_line)
    print(f"wrote {out}: {len(sweep.points)} points x {len(sweep.traces)} traces, "
          f"{len(table)} rows")


def cmd_pareto(args):
    import time

    import pandas as pd

    from .studies.pareto import LADDERS, run_pareto

    started = time.time()
    methods = _comma_list(args.methods) if args.methods else list(LADDERS)
    result = run_pareto(args.model, methods, args.out, archs=args.arch, scheduler=args.scheduler,
                        workers=args.workers, samples=_samples(args), quick=args.quick,
                        progress=tqdm_progress, command=args.command_line, seeds=args.seeds)
    columns = ["method", "budget", "seeds", "accuracy_percent_mean", "accuracy_percent_std",
               "weight_percent", "activation_percent", "mac_percent"]
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(result.summary[columns].round(3).to_string(index=False))
        print("\niso-accuracy (median over seeds of the cost at each seed's dense accuracy minus "
              "drop_pp, on its fronts; ratios with a 95 % bootstrap interval over seeds):")
        print(result.iso.round(4).to_string(index=False))
    out = Path(args.out)
    print(f"\n{len(result.computed)} job(s) computed, the rest reused; done in "
          f"{time.time() - started:.0f} s. Wrote {out / 'pareto.csv'}, "
          f"{out / 'pareto_summary.csv'}, {out / 'iso_accuracy.csv'} and {len(result.plots)} "
          f"plot files in {out / 'plots'}")


def cmd_demo(args):
    import time

    from .studies.compare import load_archs, run_demo

    started = time.time()
    archs = load_archs(args.arch or list(DEMO_ARCHS))  # before torch loads: a bad one fails at once
    from .training.methods import cap_torch_threads

    cap_torch_threads()
    samples = _samples(args)
    result = run_demo(args.out, archs, models=_comma_list(args.models), samples=samples,
                      retrain=args.retrain, quick=args.quick, progress=tqdm_progress,
                      command=args.command_line)
    _print_summary(result.summary)
    out = Path(args.out)
    print(f"\ndone in {time.time() - started:.0f} s. Wrote:\n"
          f"  {out / 'checkpoints'}/   trained models (reused by the next run)\n"
          f"  {out / 'traces'}/        traces of {samples} test images each\n"
          f"  {out / 'results.csv'}    per-layer results (also .parquet, with .meta.json)\n"
          f"  {out / 'summary.csv'}    the summary above\n"
          f"  {out / 'plots'}/         {len(result.plots)} figures (PNG and SVG)")


def cmd_validate(args):
    from .report.plots import save_figure
    from .report.results import (
        check_output_directory,
        check_replaceable,
        check_results_path,
        write_results,
    )
    from .studies.validate import format_table, run_validation, validation_figure

    out = Path(args.out)
    check_output_directory(out, "output directory")  # before a minute of simulation
    check_results_path(out / "validation.csv")
    for suffix in (".png", ".svg"):
        check_replaceable(out / f"validation{suffix}", "figure")
    table, curves = run_validation(progress=tqdm_progress)
    write_results(table, out / "validation.csv", {"command": args.command_line})
    save_figure(validation_figure(table, curves), out / "validation")
    print(format_table(table))
    failed = table[table["status"] == "FAIL"]
    print(f"\n{(table['status'] == 'PASS').sum()} PASS, {len(failed)} FAIL "
          f"({(table['status'] == 'bound').sum()} rows are bounds, not checks). "
          f"Wrote {out}/validation.csv, .png and .svg")
    return 1 if args.strict and len(failed) else 0


# ------------------------------------------------------------------ options
# An option is a function that adds itself to a parser (or a mutually exclusive group);
# the options several commands share are defined once here, with one help text.


def option(*flags, **settings):
    return lambda parser: parser.add_argument(*flags, **settings)


def one_of(*options, required=True):
    """Options of which at most one (exactly one when required) may be given."""
    def add(parser):
        group = parser.add_mutually_exclusive_group(required=required)
        for add_option in options:
            add_option(group)
    return add


def arch_option(required=True, default=None):
    default = f"; default {default}" if default else ""
    return option("--arch", action="append", required=required,
                  help=f"machine config YAML or bundled config name (repeatable{default})")


def out_option(what, default=None):
    return option("--out", required=default is None, default=default,
                  help=what + (f" (default {default})" if default else ""))


def model_option():
    return option("--model", required=True, choices=_Names("training.models", "ZOO"), metavar="MODEL",
                  help="one of %(choices)s")


def samples_option(default_help, default=None):
    return option("--samples", type=int, default=default, help=default_help)


TRACE_DIR = option("trace", help="trace directory")
TRACES = option("--trace", action="append", required=True, help="trace directory (repeatable)")
FORCE = option("--force", action="store_true", help="replace --out if it exists")
NO_VERIFY = option("--no-verify", action="store_true",
                   help="skip the trace sha256 checks (sizes and shapes are still checked)")
SCHEDULER = option("--scheduler", default="processes",
                   help="processes (default), local (Dask LocalCluster) or tcp://HOST:PORT")
WORKERS = option("--workers", type=int, help="worker processes of processes and local "
                 "(default: the cores this process was given)")
MAX_MEMORY = option("--max-memory", help="refuse a run estimated to need more memory at its "
                    "peak, e.g. 8G (default: the memory free here)")
MAX_WORK = option("--max-work", help="refuse a run estimated to take longer, in seconds or "
                  "with m/h, e.g. 2h (default 1h)")
QUICK_SAMPLES_HELP = f"test images per trace (default {SAMPLES}; {QUICK_SAMPLES} with --quick)"


def train_options(parser):
    """One option per TrainConfig field, its default and help taken from the field."""
    from .training.train_config import field_kind, options

    for field in options():
        per_layer = field_kind(field) is dict
        default = "" if field.default in (None, dataclasses.MISSING) or "default:" in \
            field.metadata["doc"] else f" (default: {field.default})"
        parser.add_argument(_option_name(field), type=None if per_layer else field_kind(field),
                            choices=field.metadata.get("choices"),
                            metavar="LAYER=X,..." if per_layer else None,
                            help=field.metadata["doc"] + default)


# ------------------------------------------------------------------ commands


@dataclasses.dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line summary, example lines, options and function."""

    name: str
    summary: str
    example: str
    run: Callable
    options: tuple


def _commands():
    from .workload.synth import PATTERNS, PRESETS
    from .workload.trace import DTYPES

    return [
        Command("synth", "write a synthetic trace with chosen per-layer densities", """
accelsim synth --preset eie-benchmarks --out traces/eie
accelsim synth --preset alexnet-jp --pattern clustered --seed 1 --out traces/alexnet-jp
accelsim synth --spec my_net.yaml --samples 4 --out traces/my_net
accelsim synth --topology alexnet.csv --weight-density 0.4 --activation-density 0.5 \\
    --out traces/alexnet-scalesim""", cmd_synth, (
            one_of(option("--preset", choices=sorted(PRESETS), help="a built-in network"),
                   option("--spec", help="YAML file: model, layers (see traces/README.md)"),
                   option("--topology", help="SCALE-Sim topology CSV, conv or GEMM form, "
                          "optionally with 'Weight density' and 'Activation density' columns "
                          "(see docs/tracing.md)")),
            option("--weight-density", type=float, help="--topology: every layer's weight "
                   "density where its row gives none (default 1)"),
            option("--activation-density", type=float, help="--topology: every layer's "
                   "activation density where its row gives none (default 1)"),
            out_option("trace directory to create"),
            samples_option("input samples per layer (default 1)", default=1),
            option("--seed", type=int, default=0, help="random seed (default 0)"),
            option("--pattern", choices=PATTERNS, default="uniform",
                   help="where the non-zeros fall (default uniform)"),
            option("--cluster-size", type=int, default=4,
                   help="smoothing width of the clustered pattern (default 4)"),
            option("--dtype", choices=DTYPES, default="float16",
                   help="storage dtype of weights and activations (default float16)"),
            MAX_MEMORY, MAX_WORK, FORCE)),
        Command("export", "write a trace's geometry as a SCALE-Sim topology CSV (conv form; "
                "IFMAP = the padded input)", """
accelsim export --format scalesim traces/generated/mlp3-jp --out mlp3.csv
accelsim export --format scalesim traces/alexnet-jp --split-groups --densities --out alexnet.csv""",
                cmd_export, (
            TRACE_DIR,
            option("--format", required=True, choices=("scalesim",),
                   help="scalesim: SCALE-Sim 3 topology"),
            out_option("topology CSV to write"),
            option("--densities", action="store_true", help="add 'Weight density' and "
                   "'Activation density' columns (measured), which synth --topology reads; "
                   "SCALE-Sim itself cannot read them"),
            option("--split-groups", action="store_true", help="one row per group of a grouped "
                   "conv (SCALE-Sim has no groups; default: refuse such a layer)"),
            FORCE, NO_VERIFY)),
        Command("inspect", "per-layer shapes, densities and dense/effective MACs of a trace", """
accelsim inspect traces/eie
accelsim inspect traces/alexnet-jp --format json > alexnet-jp.json""", cmd_inspect, (
            TRACE_DIR,
            option("--format", choices=("table", "json"), default="table",
                   help="table (default) or json"),
            option("--threshold", type=float, default=0.0,
                   help="count |activation| <= threshold as zero (default 0)"),
            NO_VERIFY)),
        Command("simulate", "simulate traces cycle by cycle on machine configs", """
accelsim simulate --arch eie --trace traces/generated/eie --out results/eie.csv
accelsim simulate --arch dense --arch my_configs/cnvlutin-8lanes.yaml \\
    --trace traces/generated/alexnet-wp --trace traces/generated/alexnet-jp \\
    --out results/alexnet.parquet""", cmd_simulate, (
            arch_option(), TRACES, out_option("results table, .csv or .parquet"),
            option("--per-sample", action="store_true",
                   help="one row per sample instead of the per-inference average"),
            MAX_MEMORY, MAX_WORK, NO_VERIFY)),
        Command("train", "train a model, or prune a trained one (wp, wp-mac, jp, static-act)", """
accelsim train --model mlp3 --method dense --out checkpoints/mlp3-dense.pt
accelsim train --model mlp3 --method jp --from checkpoints/mlp3-dense.pt --out checkpoints/mlp3-jp.pt
accelsim train --model mlp3 --method wp --from checkpoints/mlp3-dense.pt --weight-budget 0.1 \\
    --out checkpoints/mlp3-wp.pt""", cmd_train, (
            model_option(),
            option("--method", required=True, choices=_Names("training.methods", "METHODS"),
                   metavar="METHOD", help="one of %(choices)s"),
            out_option("checkpoint file to write (.pt; metadata in .pt.json)"),
            option("--from", help="checkpoint of the trained (dense) model to prune"),
            train_options)),
        Command("trace", "record what each layer of a trained model multiplies: a zoo "
                "checkpoint, or your own PyTorch model (Conv2d and Linear layers are recorded)",
                f"""
accelsim trace --checkpoint checkpoints/mlp3-jp.pt --samples {SAMPLES} --out traces/generated/mlp3-jp
accelsim trace --model-file my_net.py:build --weights my_net.pt --images images.npy \\
    --samples 16 --out traces/generated/my_net""", cmd_trace, (
            one_of(option("--checkpoint", help="a checkpoint written by accelsim train"),
                   option("--model-file", metavar="FILE.py:FUNCTION",
                          help="your model: FUNCTION() in FILE.py returns the torch.nn.Module "
                               "(the file is run)")),
            option("--weights", help="--model-file: state_dict saved with torch.save "
                   "(default: the module as built)"),
            option("--images", help="--model-file: .npy of float inputs, N x C x H x W "
                   "or N x features, scaled as the model expects"),
            option("--model-name", help="--model-file: model name in the trace "
                   "(default: the file's name)"),
            option("--variant", help="--model-file: variant in the trace (default dense)"),
            samples_option(f"images to run, the first N (default: {SAMPLES} test images of "
                           "a checkpoint's data set; all of --images)"),
            out_option("trace directory to create"), MAX_MEMORY, MAX_WORK, FORCE)),
        Command("demo", "the main job: MNIST models as dense, WP and JP, traced, simulated "
                "on every machine, summarized and plotted", """
accelsim demo --out results/demo
accelsim demo --models mlp3,lenet4 --samples 16 --out results/demo-lenet""", cmd_demo, (
            out_option("output directory", default="results/demo"),
            option("--models", default="mlp3",
                   help="comma-separated: mlp3, lenet4 (default mlp3)"),
            samples_option(QUICK_SAMPLES_HELP),
            arch_option(required=False, default=", ".join(DEMO_ARCHS)),
            option("--retrain", action="store_true",
                   help="train again even where OUT/checkpoints holds a checkpoint of the "
                        "same settings (one whose settings changed is retrained anyway)"),
            option("--quick", action="store_true",
                   help=f"smoke run: {QUICK_TEXT}, {QUICK_SAMPLES} test images per trace"))),
        Command("compare", "every trace on every machine: one table, a summary and the plots",
                """
accelsim compare --arch dense --arch eie \\
    --trace traces/generated/alexnet-wp --trace traces/generated/alexnet-jp --out results/alexnet""",
                cmd_compare, (arch_option(), TRACES, out_option("output directory"),
                              MAX_MEMORY, MAX_WORK)),
        Command("plot", "figures from a results table alone (PNG and SVG)", """
accelsim plot results/demo/results.csv --out results/demo/plots""", cmd_plot, (
            option("results", help="results table (.csv or .parquet)"),
            out_option("directory for the figures"))),
        Command("sweep", "a grid of config overrides x traces -> one Parquet table (resumable)",
                """
accelsim sweep analysis/sweeps/eie_pes.yaml --out results/eie_pes.parquet --scheduler local
accelsim sweep analysis/sweeps/eie_pes.yaml --scheduler tcp://10.0.0.5:8786""", cmd_sweep, (
            option("sweep", help="sweep YAML (arch, traces, grid and/or points)"),
            option("--out", help="results table, .parquet or .csv (default: the sweep file "
                   "with .parquet); finished points are kept in OUT.parts/"),
            SCHEDULER, WORKERS, MAX_MEMORY, MAX_WORK)),
        Command("pareto", "train every method over a ladder of budgets from one dense model, "
                "trace and simulate each point: accuracy against MACs, latency and energy, "
                "Pareto fronts and an iso-accuracy table (resumable)", """
accelsim pareto --model mlp3 --methods wp,jp,static-act --out results/pareto-mlp3
accelsim pareto --model lenet4 --methods wp,jp --arch eie \\
    --workers 2 --out results/pareto-lenet4
accelsim pareto --model mlp3 --quick --seeds 2 --out /tmp/pareto-smoke""", cmd_pareto, (
            model_option(),
            option("--methods", help="comma-separated methods that have a ladder in "
                   "the pareto study (default: all of them)"),
            out_option("output directory (finished points are kept)"),
            arch_option(required=False, default="every bundled config, see accelsim config "
                        "--list"),
            SCHEDULER, WORKERS, samples_option(QUICK_SAMPLES_HELP),
            option("--seeds", type=int, default=SEEDS, help="independent runs of the whole "
                   f"study, each from its own dense model (default {SEEDS}): the iso-accuracy "
                   "ratios get a bootstrap interval over them"),
            option("--quick", action="store_true", help=f"smoke run: {QUICK_TEXT}, each "
                   f"ladder's two ends, {QUICK_SAMPLES} test images per trace"))),
        Command("validate", "run the machine models on the published reference points and "
                "print model against published, with the accepted range of each (PASS/FAIL)",
                """
accelsim validate --out results/validate
accelsim validate --strict      # exit status 1 if any check is outside its range""",
                cmd_validate, (
            out_option("directory for validation.csv/.png/.svg", default="results/validate"),
            option("--strict", action="store_true",
                   help="exit with status 1 when a check fails (default: report only)"))),
        Command("config", "validate a machine config and print it resolved (defaults filled "
                "in), or list the bundled ones", """
accelsim config --list
accelsim config eie
accelsim config my_configs/eie-128pe.yaml""", cmd_config, (
            one_of(option("config", nargs="?",
                          help="machine config YAML, or a bundled config's name"),
                   option("--list", action="store_true",
                          help="list the bundled configs: name, machine, description")),)),
    ]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="accelsim",
        description="What does a pruned model really cost on a zero-skipping accelerator? "
                    "Make or capture traces, inspect them, simulate them on machine models.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _commands():
        sub = subparsers.add_parser(
            command.name, help=command.summary, description=command.summary,
            epilog="example:\n" + textwrap.indent(command.example.strip(), "  "),
            formatter_class=argparse.RawDescriptionHelpFormatter)
        for add_option in command.options:
            add_option(sub)
        sub.set_defaults(run=command.run)
    return parser


def _error_line(command, message):
    # One line, whatever the user's bytes: newlines folded, unencodable characters escaped.
    text = f"accelsim {command}: error: " + " ".join(str(message).split())
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding), file=sys.stderr)
    return 2


def _limits(args):
    from .core.resources import Limits

    return Limits.from_options(args.max_memory, args.max_work, announce=lambda line: print(
        f"accelsim {args.command}: {line}", file=sys.stderr))


def _samples(args):
    """--samples, or its default for --quick or not."""
    if args.samples is not None:
        return args.samples
    return QUICK_SAMPLES if args.quick else SAMPLES


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["accelsim", *map(str, argv)])  # the tables' provenance
    try:
        status = args.run(args)
    except AccelsimError as exc:
        return _error_line(args.command, exc)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        # torch is the `train` extra: the light install runs every command but these.
        return _error_line(args.command, "needs PyTorch (pip install 'accelsim[train]')")
    except MemoryError:  # what the estimates before work did not foresee
        return _error_line(args.command, "ran out of memory: the inputs or machine sizes "
                           "ask for more than this machine has; see --max-memory")
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as exc:
        # The file system said no (full disk, read-only, a path under a file): the user's to fix.
        return _error_line(args.command, f"{exc.filename or ''}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print(f"accelsim {args.command}: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
