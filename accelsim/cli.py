"""The `accelsim` command line: one subcommand per pipeline stage."""

import argparse
import dataclasses
import importlib
import json
import sys
import textwrap
from pathlib import Path

from .errors import AccelsimError
from .progress import tqdm_progress

DEFAULT_ARCHS = ["dense", "cnvlutin", "eie", "systolic"]  # bundled configs, by name


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


def _add_command(subparsers, name, summary, example):
    return subparsers.add_parser(
        name, help=summary, description=summary,
        epilog="example:\n" + textwrap.indent(example.strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _check_new_directory(path, force):
    """Before any work: `path` may be created (or, with --force, replaced)."""
    from .results import check_output_directory

    if Path(path).exists() and not force:
        raise AccelsimError(f"{path} already exists (pass --force to replace it)")
    check_output_directory(Path(path).parent, "output directory")


def cmd_synth(args):
    from .inputs import load_yaml
    from .synth import preset_spec, synthetic_trace
    from .topology import read_topology
    from .trace import save_trace

    _check_new_directory(args.out, args.force)
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
    trace = synthetic_trace(network, samples=args.samples, seed=args.seed, pattern=args.pattern,
                            cluster_size=args.cluster_size, dtype=args.dtype,
                            progress=tqdm_progress)
    save_trace(trace, args.out, overwrite=args.force)
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} sample(s)")


def cmd_export(args):
    from .files import write_text_atomic
    from .results import check_output_file
    from .topology import topology_text
    from .trace import load_trace

    if Path(args.out).exists() and not args.force:
        raise AccelsimError(f"{args.out} already exists (pass --force to replace it)")
    check_output_file(args.out, "topology")
    trace = load_trace(args.trace, verify=not args.no_verify)
    text = topology_text(trace, densities=args.densities, split_groups=args.split_groups)
    write_text_atomic(args.out, text)
    print(f"wrote {args.out}: {len(text.splitlines()) - 1} layer rows in SCALE-Sim's conv form"
          + (" with measured densities" if args.densities else ""))


def cmd_inspect(args):
    from .inspect_trace import format_summary, summary_json, trace_summary
    from .trace import load_trace

    trace = load_trace(args.trace, verify=not args.no_verify)
    table = trace_summary(trace, threshold=args.threshold, progress=tqdm_progress)
    if args.format == "json":
        print(json.dumps(summary_json(trace, table), indent=2))
    else:
        print(format_summary(trace, table))


def cmd_config(args):
    import yaml

    from .config import BUNDLED_CONFIGS, bundled_configs, load_arch

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
    from .pipeline import simulate_all
    from .results import check_results_path, provenance, write_results
    from .trace import load_trace

    check_results_path(args.out)
    traces = [load_trace(path, verify=not args.no_verify) for path in args.trace]
    table, archs, traces = simulate_all(args.arch, traces, per_sample=args.per_sample,
                                        progress=tqdm_progress)
    write_results(table, args.out, provenance(archs, traces, " ".join(sys.argv)))
    totals = table[table["layer"] == "TOTAL"]
    print(totals[["model", "variant", "arch", "macs_effective", "cycles_total", "latency_us",
                  "utilization", "energy_pj"]].to_string(index=False))
    print(f"wrote {args.out} ({len(table)} rows) and {args.out}.meta.json")


def _layer_values(text, what):
    """'fc2=0.12,fc3=0.25' -> {'fc2': 0.12, 'fc3': 0.25}."""
    values = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise AccelsimError(f"{what}: {item!r} is not LAYER=NUMBER") from None
        if not 0 < values[name.strip()] <= 1:
            raise AccelsimError(f"{what}: {item!r}: the value must be in (0, 1]")
    return values


def _option_name(field):
    return "--" + field.name.replace("_", "-")


def _add_train_options(parser):
    """One option per TrainConfig field, its default and help taken from the field."""
    from .train_config import field_kind, options

    for field in options():
        per_layer = field_kind(field) is dict
        default = "" if field.default in (None, dataclasses.MISSING) or "default:" in \
            field.metadata["help"] else f" (default: {field.default})"
        parser.add_argument(_option_name(field), type=None if per_layer else field_kind(field),
                            choices=field.metadata.get("choices"),
                            metavar="LAYER=X,..." if per_layer else None,
                            help=field.metadata["help"] + default)


def _train_config(args):
    """TrainConfig from the options given; the ones not given keep the field's default."""
    from .train_config import TrainConfig, field_kind, options

    given = {}
    for field in options():
        value = getattr(args, field.name)
        if value is not None:
            given[field.name] = (_layer_values(value, _option_name(field))
                                 if field_kind(field) is dict else value)
    return TrainConfig(model=args.model, method=args.method, **given)


def cmd_train(args):
    from .checkpoint import save_checkpoint
    from .training import cap_torch_threads, train

    cap_torch_threads()
    config = _train_config(args)
    result = train(config, start_from=getattr(args, "from"), progress=tqdm_progress)
    save_checkpoint(result, args.out)
    meta_path = f"{args.out}.json"
    print(f"{config.model} {config.method}: test accuracy {100 * result.test_accuracy:.2f} %, "
          f"validation {100 * result.validation_accuracy:.2f} %, {result.seconds:.0f} s")
    from .models import maskable_layers
    from .pruning import activation_masks, weight_density
    rates = {n: m.rate for n, m in activation_masks(result.model).items()}
    for name, module in maskable_layers(result.model):
        print(f"  {name:<16} weight {100 * weight_density(module):6.2f} %"
              + (f"   input winner rate {100 * rates[name]:6.2f} %" if name in rates else ""))
    print(f"wrote {args.out} and {meta_path}")


MODEL_FILE_OPTIONS = ("weights", "images", "model_name", "variant")


def cmd_trace(args):
    from .pipeline import trace_from_checkpoint, trace_from_model_file

    _check_new_directory(args.out, args.force)
    if args.checkpoint:
        given = [name for name in MODEL_FILE_OPTIONS if getattr(args, name) is not None]
        if given:
            raise AccelsimError(f"--{given[0].replace('_', '-')} applies to --model-file, "
                                f"not --checkpoint")
        samples = 64 if args.samples is None else args.samples
        trace = trace_from_checkpoint(args.checkpoint, samples, args.out, overwrite=args.force)
    else:
        if args.images is None:
            raise AccelsimError("--model-file needs --images (a .npy file of inputs)")
        trace = trace_from_model_file(args.model_file, args.images, args.out, args.weights,
                                      args.samples, args.model_name, args.variant or "dense",
                                      overwrite=args.force)
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} images")


def _print_summary(summary):
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))


def cmd_compare(args):
    from .pipeline import compare

    _, summary, plots = compare(args.arch, args.trace, args.out, progress=tqdm_progress)
    _print_summary(summary)
    print(f"wrote {args.out}/results.csv, results.parquet, summary.csv and {len(plots)} plot files "
          f"in {args.out}/plots")


def cmd_plot(args):
    from .pipeline import plot_results

    paths = plot_results(args.results, args.out)
    print(f"wrote {len(paths)} files in {args.out}: " + ", ".join(p.name for p in paths))


def cmd_sweep(args):
    from .results import check_results_path
    from .runner import check_scheduler
    from .sweep import load_sweep, run_sweep

    check_scheduler(args.scheduler, args.workers)
    out = check_results_path(args.out or Path(args.sweep).with_suffix(".parquet"))
    sweep = load_sweep(args.sweep)
    table = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers,
                      progress=tqdm_progress, command=" ".join(sys.argv))
    print(f"wrote {out}: {len(sweep.points)} points x {len(sweep.traces)} traces, "
          f"{len(table)} rows")


def cmd_pareto(args):
    import time

    import pandas as pd

    from .pareto import LADDERS, run_pareto

    started = time.time()
    methods = _comma_list(args.methods) if args.methods else list(LADDERS)
    result = run_pareto(args.model, methods, args.out, archs=args.arch, scheduler=args.scheduler,
                        workers=args.workers, samples=args.samples, quick=args.quick,
                        progress=tqdm_progress)
    columns = ["method", "budget", "accuracy_percent", "weight_percent", "activation_percent",
               "mac_percent"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.table[columns].round(3).to_string(index=False))
        print("\niso-accuracy (cost at the dense accuracy minus drop_pp, on each method's front):")
        print(result.iso.round(4).to_string(index=False))
    out = Path(args.out)
    print(f"\n{len(result.computed)} point(s) computed, {len(result.table) - len(result.computed)} "
          f"reused; done in {time.time() - started:.0f} s. Wrote {out / 'pareto.csv'}, "
          f"{out / 'iso_accuracy.csv'} and {len(result.plots)} plot files in {out / 'plots'}")


def cmd_demo(args):
    import time

    from .pipeline import load_archs, run_demo

    started = time.time()
    archs = load_archs(args.arch or DEFAULT_ARCHS)  # before torch loads: a bad one fails at once
    from .training import cap_torch_threads

    cap_torch_threads()
    samples = args.samples if args.samples is not None else 8 if args.quick else 64
    _, summary, plots = run_demo(args.out, archs, models=_comma_list(args.models),
                                 samples=samples, retrain=args.retrain, quick=args.quick,
                                 progress=tqdm_progress)
    _print_summary(summary)
    out = Path(args.out)
    print(f"\ndone in {time.time() - started:.0f} s. Wrote:\n"
          f"  {out / 'checkpoints'}/   trained models (reused by the next run)\n"
          f"  {out / 'traces'}/        traces of {samples} test images each\n"
          f"  {out / 'results.csv'}    per-layer results (also .parquet, with .meta.json)\n"
          f"  {out / 'summary.csv'}    the summary above\n"
          f"  {out / 'plots'}/         {len(plots)} figures (PNG and SVG)")


def cmd_validate(args):
    from .files import atomic_file
    from .results import write_results
    from .validate import format_table, run_validation, validation_figure

    table, curves = run_validation(progress=tqdm_progress)
    out = Path(args.out)
    write_results(table, out / "validation.csv", {"command": " ".join(sys.argv)})
    figure = validation_figure(table, curves)
    for suffix in ("png", "svg"):
        with atomic_file(out / f"validation.{suffix}") as handle:
            figure.savefig(handle, format=suffix)
    print(format_table(table))
    failed = table[table["status"] == "FAIL"]
    print(f"\n{(table['status'] == 'PASS').sum()} PASS, {len(failed)} FAIL "
          f"({(table['status'] == 'bound').sum()} rows are bounds, not checks). "
          f"Wrote {out}/validation.csv, .png and .svg")
    return 1 if args.strict and len(failed) else 0


def build_parser():
    from .synth import PATTERNS, PRESETS
    from .trace import DTYPES

    parser = argparse.ArgumentParser(
        prog="accelsim",
        description="What does a pruned model really cost on a zero-skipping accelerator? "
                    "Make or capture traces, inspect them, simulate them on machine models.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = _add_command(
        subparsers, "synth", "write a synthetic trace with chosen per-layer densities",
        """
accelsim synth --preset eie-benchmarks --out traces/eie
accelsim synth --preset alexnet-jp --pattern clustered --seed 1 --out traces/alexnet-jp
accelsim synth --spec my_net.yaml --samples 4 --out traces/my_net
accelsim synth --topology alexnet.csv --weight-density 0.4 --activation-density 0.5 \\
    --out traces/alexnet-scalesim
        """)
    source = synth.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS), help="a built-in network")
    source.add_argument("--spec", help="YAML file: model, layers (see traces/README.md)")
    source.add_argument("--topology", help="SCALE-Sim topology CSV, conv or GEMM form, "
                        "optionally with 'Weight density' and 'Activation density' columns "
                        "(see accelsim/topology.py)")
    synth.add_argument("--weight-density", type=float,
                       help="--topology: every layer's weight density where its row gives none "
                       "(default 1)")
    synth.add_argument("--activation-density", type=float,
                       help="--topology: every layer's activation density where its row gives "
                       "none (default 1)")
    synth.add_argument("--out", required=True, help="trace directory to create")
    synth.add_argument("--samples", type=int, default=1, help="input samples per layer (default 1)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--pattern", choices=PATTERNS, default="uniform",
                       help="where the non-zeros fall (default uniform)")
    synth.add_argument("--cluster-size", type=int, default=4,
                       help="smoothing width of the clustered pattern (default 4)")
    synth.add_argument("--dtype", choices=DTYPES, default="float16",
                       help="storage dtype of weights and activations (default float16)")
    synth.add_argument("--force", action="store_true", help="replace --out if it exists")
    synth.set_defaults(run=cmd_synth)

    export = _add_command(
        subparsers, "export", "write a trace's geometry as a SCALE-Sim topology CSV (conv form; "
        "IFMAP = the padded input)",
        """
accelsim export --format scalesim traces/generated/mlp3-jp --out mlp3.csv
accelsim export --format scalesim traces/alexnet-jp --split-groups --densities --out alexnet.csv
        """)
    export.add_argument("trace", help="trace directory")
    export.add_argument("--format", required=True, choices=("scalesim",),
                        help="scalesim: SCALE-Sim 3 topology")
    export.add_argument("--out", required=True, help="topology CSV to write")
    export.add_argument("--densities", action="store_true",
                        help="add 'Weight density' and 'Activation density' columns (measured), "
                        "which synth --topology reads; SCALE-Sim itself cannot read them")
    export.add_argument("--split-groups", action="store_true",
                        help="one row per group of a grouped conv (SCALE-Sim has no groups; "
                        "default: refuse such a layer)")
    export.add_argument("--force", action="store_true", help="replace --out if it exists")
    export.add_argument("--no-verify", action="store_true", help="skip the trace sha256 check")
    export.set_defaults(run=cmd_export)

    inspect = _add_command(
        subparsers, "inspect", "per-layer shapes, densities and dense/effective MACs of a trace",
        """
accelsim inspect traces/eie
accelsim inspect traces/alexnet-jp --format json > alexnet-jp.json
        """)
    inspect.add_argument("trace", help="trace directory")
    inspect.add_argument("--format", choices=("table", "json"), default="table")
    inspect.add_argument("--threshold", type=float, default=0.0,
                         help="count |activation| <= threshold as zero (default 0)")
    inspect.add_argument("--no-verify", action="store_true",
                         help="skip the sha256 check (sizes and shapes are still checked)")
    inspect.set_defaults(run=cmd_inspect)

    simulate = _add_command(
        subparsers, "simulate", "simulate traces cycle by cycle on machine configs",
        """
accelsim simulate --arch eie --trace traces/generated/eie --out results/eie.csv
accelsim simulate --arch dense --arch my_configs/cnvlutin-8lanes.yaml \\
    --trace traces/generated/alexnet-wp --trace traces/generated/alexnet-jp --out results/alexnet.parquet
        """)
    simulate.add_argument("--arch", action="append", required=True,
                          help="machine config YAML or bundled config name (repeatable)")
    simulate.add_argument("--trace", action="append", required=True,
                          help="trace directory (repeatable)")
    simulate.add_argument("--out", required=True, help="results table, .csv or .parquet")
    simulate.add_argument("--per-sample", action="store_true",
                          help="one row per sample instead of the per-inference average")
    simulate.add_argument("--no-verify", action="store_true", help="skip trace sha256 checks")
    simulate.set_defaults(run=cmd_simulate)

    train = _add_command(
        subparsers, "train", "train a model, or prune a trained one (wp, jp, static-act)",
        """
accelsim train --model mlp3 --method dense --out checkpoints/mlp3-dense.pt
accelsim train --model mlp3 --method jp --from checkpoints/mlp3-dense.pt --out checkpoints/mlp3-jp.pt
accelsim train --model mlp3 --method wp --from checkpoints/mlp3-dense.pt --weight-budget 0.1 \\
    --out checkpoints/mlp3-wp.pt
        """)
    train.add_argument("--model", required=True, choices=_Names("models", "ZOO"),
                       metavar="MODEL", help="one of %(choices)s")
    train.add_argument("--method", required=True, choices=_Names("training", "METHODS"),
                       metavar="METHOD", help="one of %(choices)s")
    train.add_argument("--out", required=True, help="checkpoint file to write (.pt; metadata in .pt.json)")
    train.add_argument("--from", help="checkpoint of the trained (dense) model to prune")
    _add_train_options(train)
    train.set_defaults(run=cmd_train)

    trace = _add_command(
        subparsers, "trace", "record what each layer of a trained model multiplies: a zoo "
        "checkpoint, or your own PyTorch model (Conv2d and Linear layers are recorded)",
        """
accelsim trace --checkpoint checkpoints/mlp3-jp.pt --samples 64 --out traces/generated/mlp3-jp
accelsim trace --model-file my_net.py:build --weights my_net.pt --images images.npy \\
    --samples 16 --out traces/generated/my_net
        """)
    model = trace.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a checkpoint written by accelsim train")
    model.add_argument("--model-file", metavar="FILE.py:FUNCTION",
                       help="your model: FUNCTION() in FILE.py returns the torch.nn.Module "
                            "(the file is run)")
    trace.add_argument("--weights", help="--model-file: state_dict saved with torch.save "
                       "(default: the module as built)")
    trace.add_argument("--images", help="--model-file: .npy of float inputs, N x C x H x W "
                       "or N x features, scaled as the model expects")
    trace.add_argument("--model-name", help="--model-file: model name in the trace "
                       "(default: the file's name)")
    trace.add_argument("--variant", help="--model-file: variant in the trace (default dense)")
    trace.add_argument("--samples", type=int, help="images to run, the first N (default: 64 "
                       "test images of a checkpoint's data set; all of --images)")
    trace.add_argument("--out", required=True, help="trace directory to create")
    trace.add_argument("--force", action="store_true", help="replace --out if it exists")
    trace.set_defaults(run=cmd_trace)

    demo = _add_command(
        subparsers, "demo", "the main job: MNIST models as dense, WP and JP, traced, simulated "
        "on every machine, summarized and plotted",
        """
accelsim demo --out results/demo
accelsim demo --models mlp3,lenet4 --samples 16 --out results/demo-lenet
        """)
    demo.add_argument("--out", default="results/demo", help="output directory (default results/demo)")
    demo.add_argument("--models", default="mlp3", help="comma-separated: mlp3, lenet4 (default mlp3)")
    demo.add_argument("--samples", type=int,
                      help="test images per trace (default 64; 8 with --quick)")
    demo.add_argument("--arch", action="append",
                      help="machine config YAML or bundled config name (repeatable; default "
                           f"{', '.join(DEFAULT_ARCHS)})")
    demo.add_argument("--retrain", action="store_true",
                      help="train again even where OUT/checkpoints holds a checkpoint of the "
                           "same settings (one whose settings changed is retrained anyway)")
    demo.add_argument("--quick", action="store_true",
                      help="smoke run: 400 images, one epoch per phase, 8 test images per trace")
    demo.set_defaults(run=cmd_demo)

    compare = _add_command(
        subparsers, "compare", "every trace on every machine: one table, a summary and the plots",
        """
accelsim compare --arch dense --arch eie \\
    --trace traces/generated/alexnet-wp --trace traces/generated/alexnet-jp --out results/alexnet
        """)
    compare.add_argument("--arch", action="append", required=True,
                         help="machine config YAML or bundled config name (repeatable)")
    compare.add_argument("--trace", action="append", required=True, help="trace directory (repeatable)")
    compare.add_argument("--out", required=True, help="output directory")
    compare.set_defaults(run=cmd_compare)

    plot = _add_command(
        subparsers, "plot", "figures from a results table alone (PNG and SVG)",
        """
accelsim plot results/demo/results.csv --out results/demo/plots
        """)
    plot.add_argument("results", help="results table (.csv or .parquet)")
    plot.add_argument("--out", required=True, help="directory for the figures")
    plot.set_defaults(run=cmd_plot)

    sweep = _add_command(
        subparsers, "sweep", "a grid of config overrides x traces -> one Parquet table (resumable)",
        """
accelsim sweep analysis/sweeps/eie_pes.yaml --out results/eie_pes.parquet --scheduler local
accelsim sweep analysis/sweeps/eie_pes.yaml --scheduler tcp://10.0.0.5:8786
        """)
    sweep.add_argument("sweep", help="sweep YAML (arch, traces, grid and/or points)")
    sweep.add_argument("--out", help="results table, .parquet or .csv (default: the sweep file "
                       "with .parquet); finished points are kept in OUT.parts/")
    sweep.add_argument("--scheduler", default="processes",
                       help="processes (default), local (Dask LocalCluster) or tcp://HOST:PORT")
    sweep.add_argument("--workers", type=int, help="worker processes (default: CPU count)")
    sweep.set_defaults(run=cmd_sweep)

    pareto = _add_command(
        subparsers, "pareto", "train every method over a ladder of budgets from one dense model, "
        "trace and simulate each point: accuracy against MACs, latency and energy, Pareto "
        "fronts and an iso-accuracy table (resumable)",
        """
accelsim pareto --model mlp3 --methods wp,jp,static-act --out results/pareto-mlp3
accelsim pareto --model lenet4 --methods wp,jp --arch eie \\
    --workers 2 --out results/pareto-lenet4
accelsim pareto --model mlp3 --quick --samples 8 --out /tmp/pareto-smoke
        """)
    pareto.add_argument("--model", required=True, choices=_Names("models", "ZOO"),
                        metavar="MODEL", help="one of %(choices)s")
    pareto.add_argument("--methods", help="comma-separated methods that have a ladder in "
                        "accelsim/pareto.py (default: all of them)")
    pareto.add_argument("--out", required=True, help="output directory (finished points are kept)")
    pareto.add_argument("--arch", action="append",
                        help="machine config YAML or bundled config name (repeatable; default: "
                             "every bundled config, see accelsim config --list)")
    pareto.add_argument("--scheduler", default="processes",
                        help="processes (default), local (Dask LocalCluster) or tcp://HOST:PORT")
    pareto.add_argument("--workers", type=int, help="worker processes (default: the cores given)")
    pareto.add_argument("--samples", type=int, default=64,
                        help="test images per trace (default 64)")
    pareto.add_argument("--quick", action="store_true",
                        help="smoke run: 400 images, one epoch per phase, each ladder's two ends")
    pareto.set_defaults(run=cmd_pareto)

    validate = _add_command(
        subparsers, "validate", "run the machine models on the published reference points and "
        "print model against published, with the accepted range of each (PASS/FAIL)",
        """
accelsim validate --out results/validate
accelsim validate --strict      # exit status 1 if any check is outside its range
        """)
    validate.add_argument("--out", default="results/validate",
                          help="directory for validation.csv/.png/.svg (default results/validate)")
    validate.add_argument("--strict", action="store_true",
                          help="exit with status 1 when a check fails (default: report only)")
    validate.set_defaults(run=cmd_validate)

    config = _add_command(
        subparsers, "config", "validate a machine config and print it resolved (defaults filled "
        "in), or list the bundled ones",
        """
accelsim config --list
accelsim config eie
accelsim config my_configs/eie-128pe.yaml
        """)
    which = config.add_mutually_exclusive_group(required=True)
    which.add_argument("config", nargs="?", help="machine config YAML, or a bundled config's name")
    which.add_argument("--list", action="store_true",
                       help="list the bundled configs: name, machine, description")
    config.set_defaults(run=cmd_config)
    return parser


def _error_line(command, message):
    # One line, whatever the user's bytes: newlines folded, unencodable characters escaped.
    text = f"accelsim {command}: error: " + " ".join(str(message).split())
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding), file=sys.stderr)
    return 2


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
    except AccelsimError as exc:
        return _error_line(args.command, exc)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        # torch is the `train` extra: the light install runs every command but these.
        return _error_line(args.command, "needs PyTorch (pip install 'accelsim[train]')")
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
