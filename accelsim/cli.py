"""The `accelsim` command line: one subcommand per pipeline stage."""

import argparse
import json
import sys
import textwrap

from tqdm import tqdm

from .errors import AccelsimError


def _progress(description):
    # disable=None: tqdm switches itself off when stderr is not a terminal.
    return lambda items: tqdm(items, desc=description, unit="layer", disable=None, leave=False)


def _add_command(subparsers, name, summary, example):
    return subparsers.add_parser(
        name, help=summary, description=summary,
        epilog="example:\n" + textwrap.indent(example.strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def cmd_synth(args):
    import yaml

    from .synth import preset_spec, synthetic_trace
    from .trace import save_trace

    if args.spec:
        try:
            network = yaml.safe_load(open(args.spec))
        except (OSError, yaml.YAMLError) as exc:
            raise AccelsimError(f"synthetic spec {args.spec}: cannot read it ({exc})") from None
    else:
        network = preset_spec(args.preset)
    trace = synthetic_trace(network, samples=args.samples, seed=args.seed, pattern=args.pattern,
                            cluster_size=args.cluster_size, dtype=args.dtype,
                            progress=_progress("synth"))
    try:
        save_trace(trace, args.out, overwrite=args.force)
    except FileExistsError as exc:
        raise AccelsimError(str(exc)) from None
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} sample(s)")


def cmd_inspect(args):
    from .inspect_trace import format_summary, summary_json, trace_summary
    from .trace import load_trace

    trace = load_trace(args.trace, verify=not args.no_verify)
    table = trace_summary(trace, threshold=args.threshold, progress=_progress("inspect"))
    if args.format == "json":
        print(json.dumps(summary_json(trace, table), indent=2))
    else:
        print(format_summary(trace, table))


def cmd_config(args):
    import yaml

    from .config import load_arch

    config = load_arch(args.config)
    print(yaml.safe_dump(config.to_dict(), sort_keys=False, width=100), end="")


def cmd_simulate(args):
    import pandas as pd

    from .config import load_arch
    from .results import check_results_path, provenance, write_results
    from .simulator import simulate
    from .trace import load_trace

    check_results_path(args.out)
    archs = [load_arch(path) for path in args.arch]
    traces = [load_trace(path, verify=not args.no_verify) for path in args.trace]
    tables = []
    for arch in archs:
        for trace in traces:
            tables.append(simulate(arch, trace, per_sample=args.per_sample,
                                   progress=_progress(f"{arch.name} {trace.model}/{trace.variant}")))
    table = pd.concat(tables, ignore_index=True)
    energy_columns = [c for c in table.columns if c.startswith("energy_")]
    table[energy_columns] = table[energy_columns].fillna(0.0)
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


def cmd_train(args):
    from .training import TrainConfig, save_checkpoint, train

    config = TrainConfig(
        model=args.model, method=args.method, epochs=args.epochs, seed=args.seed,
        batch_size=args.batch_size, lr=args.lr, validation=args.validation, limit=args.limit,
        weight_tolerance=args.weight_tolerance, activation_tolerance=args.activation_tolerance,
        weight_budget=args.weight_budget,
        winner_rates=_layer_values(args.winner_rates, "--winner-rates"),
        weight_densities=_layer_values(args.weight_densities, "--weight-densities"),
        inference=args.inference, epsilon=args.epsilon)
    result = train(config, start_from=getattr(args, "from"))
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


def cmd_trace(args):
    import torch

    from .capture import capture_trace
    from .data import load_dataset
    from .trace import save_trace
    from .training import load_checkpoint

    model, meta = load_checkpoint(args.checkpoint)
    data = load_dataset(meta["dataset"], validation=meta["config"]["validation"],
                        seed=meta["config"]["seed"])
    if not 1 <= args.samples <= len(data.test.labels):
        raise AccelsimError(f"--samples {args.samples}: must be in 1..{len(data.test.labels)}")
    images = torch.from_numpy(data.test.images[:args.samples])
    metadata = {key: meta[key] for key in ("method", "test_accuracy", "validation_accuracy",
                                           "weight_density", "activation_masks", "dropout")}
    metadata.update(checkpoint=str(args.checkpoint), samples_from="first N test images")
    trace = capture_trace(model, images, meta["model"], meta["method"], meta["dataset"],
                          metadata, source=f"accelsim trace --checkpoint {args.checkpoint}")
    try:
        save_trace(trace, args.out, overwrite=args.force)
    except FileExistsError as exc:
        raise AccelsimError(str(exc)) from None
    print(f"wrote {args.out}: {trace.model}/{trace.variant}, {len(trace.layers)} layers, "
          f"{trace.samples} test images")


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
        """)
    source = synth.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS), help="a built-in network")
    source.add_argument("--spec", help="YAML file: model, layers (see traces/README.md)")
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
accelsim simulate --arch arch_configs/eie.yaml --trace traces/generated/eie --out results/eie.csv
accelsim simulate --arch arch_configs/dense.yaml --arch arch_configs/cnvlutin.yaml \\
    --trace traces/generated/alexnet-wp --trace traces/generated/alexnet-jp --out results/alexnet.parquet
        """)
    simulate.add_argument("--arch", action="append", required=True,
                          help="machine config YAML (repeatable)")
    simulate.add_argument("--trace", action="append", required=True,
                          help="trace directory (repeatable)")
    simulate.add_argument("--out", required=True, help="results table, .csv or .parquet")
    simulate.add_argument("--per-sample", action="store_true",
                          help="one row per sample instead of the per-inference average")
    simulate.add_argument("--no-verify", action="store_true", help="skip trace sha256 checks")
    simulate.set_defaults(run=cmd_simulate)

    from .models import ZOO
    from .training import METHODS

    train = _add_command(
        subparsers, "train", "train a model, or prune a trained one (wp, jp, static-act)",
        """
accelsim train --model mlp3 --method dense --out checkpoints/mlp3-dense.pt
accelsim train --model mlp3 --method jp --from checkpoints/mlp3-dense.pt --out checkpoints/mlp3-jp.pt
accelsim train --model mlp3 --method wp --from checkpoints/mlp3-dense.pt --weight-budget 0.1 \\
    --out checkpoints/mlp3-wp.pt
        """)
    train.add_argument("--model", required=True, choices=sorted(ZOO))
    train.add_argument("--method", required=True, choices=METHODS)
    train.add_argument("--out", required=True, help="checkpoint file to write (.pt; metadata in .pt.json)")
    train.add_argument("--from", help="checkpoint of the trained (dense) model to prune")
    train.add_argument("--epochs", type=int, help="dense: 12, jp/static-act: 20 fine-tuning epochs")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of dense training")
    train.add_argument("--validation", type=int, default=5000,
                       help="training images held out for sensitivity analysis (default 5000)")
    train.add_argument("--limit", type=int, help="use only the first N images of each split")
    train.add_argument("--weight-tolerance", type=float, default=0.03,
                       help="validation accuracy a layer's weight pruning alone may cost, "
                            "scaled by its MAC share (default 0.03)")
    train.add_argument("--activation-tolerance", type=float, default=0.005,
                       help="the same for activation masks (default 0.005)")
    train.add_argument("--weight-budget", type=float,
                       help="instead: keep this fraction of all weights, allocated greedily")
    train.add_argument("--winner-rates", help="override per layer, e.g. fc2=0.12,fc3=0.25")
    train.add_argument("--weight-densities", help="override per layer, e.g. fc1=0.1")
    train.add_argument("--inference", choices=("topk", "threshold"), default="topk",
                       help="jp winners at inference: exact top-k or predicted threshold")
    train.add_argument("--epsilon", type=float, default=0.25,
                       help="down-sampling rate of the threshold prediction (default 0.25)")
    train.set_defaults(run=cmd_train)

    trace = _add_command(
        subparsers, "trace", "record what each layer of a trained model multiplies",
        """
accelsim trace --checkpoint checkpoints/mlp3-jp.pt --samples 64 --out traces/generated/mlp3-jp
        """)
    trace.add_argument("--checkpoint", required=True)
    trace.add_argument("--samples", type=int, default=64, help="test images to run (the first N)")
    trace.add_argument("--out", required=True, help="trace directory to create")
    trace.add_argument("--force", action="store_true", help="replace --out if it exists")
    trace.set_defaults(run=cmd_trace)

    config = _add_command(
        subparsers, "config", "validate a machine config and print it resolved (defaults filled in)",
        """
accelsim config arch_configs/eie.yaml
        """)
    config.add_argument("config", help="machine config YAML")
    config.set_defaults(run=cmd_config)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except AccelsimError as exc:
        print(f"accelsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"accelsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
