"""Training speed: prints wall times, never fails on a slow machine.

    python benchmarks/bench_training.py [--models mlp3,lenet4] [--methods dense,wp,jp]
                                        [--threads N] [--limit N] [--epochs N]
                                        [--dense CHECKPOINT]

Per model: dense training from scratch, then each pruning method from that dense
checkpoint (or from --dense, given one model), with the defaults of `accelsim train`
unless --limit/--epochs shorten them.
Prints the wall time, its sensitivity-analysis part, and the test accuracy of each.
"""

import argparse
import tempfile
import time
from pathlib import Path

from accelsim.training.checkpoint import save_checkpoint
from accelsim.training.methods import TrainConfig, cap_torch_threads, sensitivity_tables, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp3,lenet4")
    parser.add_argument("--methods", default="dense,wp,jp",
                        help="dense is always trained first (the others start from it)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the cores given)")
    parser.add_argument("--limit", type=int, help="images per split (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs of every method (default: its own)")
    parser.add_argument("--dense", type=Path, help="start the pruning methods from this dense "
                        "checkpoint instead of training one (one model only)")
    args = parser.parse_args()
    if args.dense and "," in args.models:
        parser.error("--dense takes one model in --models")
    print(f"torch threads: {cap_torch_threads(args.threads)}")
    print(f"{'model':<8}{'method':<12}{'wall s':>9}{'sensitivity s':>15}{'test acc %':>12}")
    workdir = Path(tempfile.mkdtemp(prefix="accelsim-bench-training-"))
    shorten = {key: value for key, value in (("limit", args.limit), ("epochs", args.epochs))
               if value is not None}
    for model in args.models.split(","):
        dense = args.dense or workdir / f"{model}-dense.pt"
        first = [] if args.dense else ["dense"]
        for method in first + [m for m in args.methods.split(",") if m != "dense"]:
            config = TrainConfig(model=model, method=method, **shorten)
            started = time.perf_counter()
            if method == "dense":
                result, analysis = train(config), 0.0
                save_checkpoint(result, dense)
            else:
                tables = sensitivity_tables(config, dense)
                analysis = time.perf_counter() - started
                result = train(config, start_from=dense, tables=tables)
            print(f"{model:<8}{method:<12}{time.perf_counter() - started:>9.1f}{analysis:>15.1f}"
                  f"{100 * result.test_accuracy:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
