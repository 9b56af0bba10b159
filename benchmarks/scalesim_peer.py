"""Run SCALE-Sim 3.0.0 (the peer of the systolic machine) and record its compute cycles.

    python benchmarks/scalesim_peer.py [--venv .peers/scalesim] [--out tests/golden/scalesim_cycles.csv]
                                       [--layers conv1,pointwise] [--dataflows os,ws,is]

SCALE-Sim needs numpy<2 and pandas<3, so it runs in its own virtual
environment (created at --venv if missing: pip install scalesim==3.0.0
'numpy<2' 'pandas<3'), never in accelsim's. For each layer and dataflow it
writes SCALE-Sim's config (32 x 32, bandwidth mode CALC: no stalls), topology
and layout files, runs it, and reads "Total Cycles" from COMPUTE_REPORT.csv.
The same layer (a synthetic trace) is simulated on arch_configs/systolic.yaml.
The table (layer, dataflow, both cycle counts, both wall times and their
ratio) goes to --out; tests/test_systolic.py compares accelsim against it in
CI, and the `peers` test reruns SCALE-Sim live on three small layers (CI runs it;
`pytest -m "not peers"` leaves it out offline). SCALE-Sim is slow: the
AlexNet layers take minutes. Prints figures; never fails on a slow machine.
"""

import argparse
import csv
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim import Trace, load_arch  # noqa: E402
from accelsim.sim.simulator import simulate  # noqa: E402
from accelsim.workload.synth import LayerSpec, NetworkSpec, synthetic_trace  # noqa: E402
from accelsim.workload.topology import scalesim_row, topology_text  # noqa: E402

# AlexNet conv1-5 as one group each (SCALE-Sim has no groups), and three more:
# stride 2 on an odd size, an odd size whose last window is partial, a 1x1.
LAYERS = [
    LayerSpec(name="conv1", kind="conv2d", input_shape=[3, 227, 227], filters=96, kernel=11,
              stride=4, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="conv2", kind="conv2d", input_shape=[96, 27, 27], filters=256, kernel=5,
              padding=2, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="conv3", kind="conv2d", input_shape=[256, 13, 13], filters=384, kernel=3,
              padding=1, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="conv4", kind="conv2d", input_shape=[384, 13, 13], filters=384, kernel=3,
              padding=1, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="conv5", kind="conv2d", input_shape=[384, 13, 13], filters=256, kernel=3,
              padding=1, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="stride2_odd", kind="conv2d", input_shape=[24, 17, 17], filters=40, kernel=3,
              stride=2, padding=1, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="partial_window", kind="conv2d", input_shape=[13, 23, 19], filters=21,
              kernel=5, stride=3, weight_density=1.0, activation_density=1.0),
    LayerSpec(name="pointwise", kind="conv2d", input_shape=[160, 14, 14], filters=48, kernel=1,
              weight_density=1.0, activation_density=1.0),
]
CONFIG = """\
[general]
run_name = {name}
[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = 512
FilterSramSzkB = 512
OfmapSramSzkB = 256
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
Bandwidth = 10
ReadRequestBuffer = 32
WriteRequestBuffer = 32
[layout]
IfmapCustomLayout = False
FilterCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2
[sparsity]
SparsitySupport = false
[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""
DRIVER = textwrap.dedent("""
    import csv, sys
    from scalesim.scale_sim import scalesim
    config, topology, layout, top = sys.argv[1:5]
    scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
             layout=layout, input_type_gemm=False).run_scale(top_path=top)
""")


def ensure_venv(venv):
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with scalesim 3.0.0 ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "scalesim==3.0.0",
                        "numpy<2", "pandas<3"], check=True)
    return python


def run_scalesim(python, layer, dataflow, rows, cols, workdir):
    """(Total Cycles, stall cycles, wall seconds) of one layer."""
    name = f"{layer.name}_{dataflow}"
    run = Path(workdir) / name
    run.mkdir(parents=True)
    (run / "scale.cfg").write_text(CONFIG.format(name=name, rows=rows, cols=cols,
                                                 dataflow=dataflow))
    (run / "topo.csv").write_text(topology_text(Trace([layer])))
    (run / "layout.csv").write_text("Layout name, unused,\n")
    (run / "driver.py").write_text(DRIVER)
    start = time.perf_counter()
    subprocess.run([str(python), str(run / "driver.py"), str(run / "scale.cfg"),
                    str(run / "topo.csv"), str(run / "layout.csv"), str(run / "out")],
                   check=True, capture_output=True)
    wall = time.perf_counter() - start
    with open(run / "out" / name / "COMPUTE_REPORT.csv") as handle:
        report = {k.strip(): v.strip() for k, v in next(csv.DictReader(handle)).items()}
    return int(report["Total Cycles"]), int(report["Stall Cycles"]), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".peers" / "scalesim"))
    parser.add_argument("--out", default=str(ROOT / "tests" / "golden" / "scalesim_cycles.csv"))
    parser.add_argument("--layers", help="comma-separated subset of " +
                        ", ".join(layer.name for layer in LAYERS))
    parser.add_argument("--dataflows", default="os,ws,is")
    args = parser.parse_args(argv)
    python = ensure_venv(Path(args.venv))
    wanted = set(args.layers.split(",")) if args.layers else None
    specs = [layer for layer in LAYERS if wanted is None or layer.name in wanted]
    trace = synthetic_trace(NetworkSpec(model="scalesim-peer", layers=specs,
                                        independent_layers=True))
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for dataflow in args.dataflows.split(","):
            arch = load_arch(ROOT / "arch_configs" / "systolic.yaml",
                             {"systolic.dataflow": dataflow})
            for layer in trace.layers:
                start = time.perf_counter()
                ours = simulate(arch, Trace([layer])).iloc[0]
                accelsim_wall = time.perf_counter() - start
                topology = scalesim_row(layer)
                cycles, stalls, wall = run_scalesim(python, layer, dataflow,
                                                    arch.params.rows, arch.params.cols, workdir)
                rows.append({
                    "layer": layer.name, "dataflow": dataflow,
                    "ifmap_h": topology[1], "ifmap_w": topology[2], "filter_h": topology[3],
                    "filter_w": topology[4], "channels": topology[5], "filters": topology[6],
                    "stride": topology[7], "scalesim_cycles": cycles,
                    "scalesim_stall_cycles": stalls, "accelsim_cycles": int(ours.cycles_compute),
                    "scalesim_wall_s": round(wall, 3), "accelsim_wall_s": round(accelsim_wall, 4),
                    "wall_ratio": round(wall / accelsim_wall, 1)})
                print(f"{layer.name:>15} {dataflow}  SCALE-Sim {cycles:>10} ({wall:7.1f} s)  "
                      f"accelsim {int(ours.cycles_compute):>10} ({accelsim_wall:.3f} s)  "
                      f"{'equal' if cycles == ours.cycles_compute else 'DIFFERENT'}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    equal = sum(r["scalesim_cycles"] == r["accelsim_cycles"] for r in rows)
    print(f"{equal} of {len(rows)} equal; wrote {out}")


if __name__ == "__main__":
    main()
