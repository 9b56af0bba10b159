"""Simulator speed: prints figures, never fails on a slow machine.

    python benchmarks/bench_simulator.py [--samples 1] [--workdir DIR]

For the alexnet-jp synthetic preset on each machine: wall time after JIT
warm-up and effective MACs simulated per second; then the speedup of the
Numba kernels over the plain-Python references on the EIE Alex-6 layer.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from accelsim import load_arch, load_trace, save_trace
from accelsim.defaults import TOTAL_ROW
from accelsim.sim.machines import MACHINES
from accelsim.sim.simulator import simulate
from accelsim.workload.macs import effective_macs
from accelsim.workload.synth import preset_spec, synthetic_trace

ROOT = Path(__file__).resolve().parents[1]


def timed(function, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="where to write the traces (default: temp)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="accelsim-bench-"))

    alexnet_path = workdir / "alexnet-jp"
    if not alexnet_path.exists():
        save_trace(synthetic_trace(preset_spec("alexnet-jp"), samples=args.samples), alexnet_path)
    alexnet = load_trace(alexnet_path)
    print(f"alexnet-jp, {alexnet.samples} sample(s), {len(alexnet.layers)} layers")
    print(f"{'machine':<10}{'wall s':>10}{'eff. MACs':>14}{'MACs/s':>12}{'dense MACs/s':>14}")
    for name in MACHINES:
        arch = load_arch(ROOT / "arch_configs" / f"{name}.yaml")
        simulate(arch, alexnet)  # JIT warm-up (and cache fill)
        seconds, table = timed(lambda: simulate(arch, alexnet))  # noqa: B023 (called at once)
        total = table[table.layer == TOTAL_ROW].iloc[0]
        eff = total.macs_effective * alexnet.samples
        dense = total.macs_dense * alexnet.samples
        print(f"{name:<10}{seconds:>10.3f}{eff:>14.3e}{eff / seconds:>12.3e}{dense / seconds:>14.3e}")

    eie_path = workdir / "eie-benchmarks"
    if not eie_path.exists():
        save_trace(synthetic_trace(preset_spec("eie-benchmarks")), eie_path)
    layer = load_trace(eie_path).layer("Alex-6")
    arch = load_arch(ROOT / "arch_configs" / "eie.yaml")
    eff = int(effective_macs(layer)[0])
    MACHINES["eie"].layer_counts(layer, 0, arch, eff)
    fast, counts = timed(lambda: MACHINES["eie"].layer_counts(layer, 0, arch, eff))
    slow, reference = timed(lambda: MACHINES["eie"].layer_counts(layer, 0, arch, eff, True), 1)
    same = counts.cycles_compute == reference.cycles_compute
    print(f"EIE Alex-6: numba {fast * 1e3:.1f} ms, reference {slow:.2f} s, "
          f"speedup {slow / fast:.0f}x, identical cycles: {same}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
