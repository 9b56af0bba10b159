"""The machine registry: a new machine is one module plus one YAML file."""

import importlib.util
import textwrap

import pandas as pd
import pytest
import yaml
from conftest import ROOT, random_linear_layer

from accelsim import ConfigError, Trace, load_arch
from accelsim.cli import main
from accelsim.sim.machines import MACHINES, register

TOY_MODULE = '''
"""toy: one MAC unit per lane, every MAC of the layer in turn."""

from dataclasses import dataclass

from accelsim.sim.machines.base import Machine
from accelsim.sim.machines.counts import LayerCounts, bank_accesses
from accelsim.core.schema import spec


@dataclass(frozen=True)
class ToyParams:
    lanes: int = spec(4, doc="MAC units", minimum=1)


def layer_counts(layer, sample, arch, macs_effective, reference=False):
    dense = layer.weight.size * (1 if layer.kind == "linear" else layer.output_shape[1]
                                 * layer.output_shape[2])
    cycles = -(-dense // arch.params.lanes)
    return LayerCounts(
        cycles_compute=cycles, cycles_ideal=cycles, ops_executed=dense,
        macs_effective=macs_effective, mac_units=arch.params.lanes,
        actions={"mac": dense, "read:scratch": bank_accesses(arch, "scratch", dense, 16)},
        tiles=[(layer.weight.size * 2, cycles)],
        weight_footprint={"scratch": layer.weight.size * 2},
        input_footprint={"scratch": layer.activations[sample].size * 2},
        output_footprint={"scratch": 2})


MACHINE = Machine(name="toy", params=ToyParams, layer_counts=layer_counts, buffers=("scratch",),
                  efficiency=(("utilization", "toy utilization"),))
'''

TOY_CONFIG = {
    "name": "toy", "machine": "toy", "clock_mhz": 100, "toy": {"lanes": 8},
    "memory": {"dram_bandwidth_gb_s": 10, "weights_resident": True, "buffers": {
        "scratch": {"technology": "sram", "bank_kb": 64, "bank_width_bits": 64,
                    "source": "made up"}}},
    "static_power": {"mw": 1.0, "source": "made up"},
    "energy": "energy/45nm.yaml",
}


@pytest.fixture
def toy(tmp_path):
    module_path = tmp_path / "toy.py"
    module_path.write_text(textwrap.dedent(TOY_MODULE))
    spec = importlib.util.spec_from_file_location("toy_machine", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    register(module.MACHINE)
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump(
        dict(TOY_CONFIG, energy=str(ROOT / "arch_configs" / "energy" / "45nm.yaml"))))
    yield config
    del MACHINES["toy"]


def test_shipped_machines_are_registered_from_their_modules():
    assert {"dense", "cnvlutin", "eie"} <= set(MACHINES)
    assert [name for name, m in MACHINES.items() if m.reference] == ["dense"]


def test_a_toy_machine_is_one_module_and_one_yaml(toy, tmp_path):
    arch = load_arch(toy)
    assert arch.params.lanes == 8 and arch.to_dict()["toy"] == {"lanes": 8}
    with pytest.raises(ConfigError, match="toy.lanes = 0 is invalid"):
        load_arch(toy, {"toy.lanes": 0})
    with pytest.raises(ConfigError, match="memory.buffers lacks scratch; machine 'toy' needs"):
        load_arch(toy, {"memory.buffers": {}})

    rng = __import__("numpy").random.default_rng(0)
    trace_dir = tmp_path / "trace"
    from accelsim import save_trace
    save_trace(Trace([random_linear_layer(rng, n_in=40, n_out=10)], model="m", variant="dense"),
               trace_dir)
    out = tmp_path / "cmp"
    assert main(["compare", "--arch", str(toy), "--arch", str(ROOT / "arch_configs" / "dense.yaml"),
                 "--trace", str(trace_dir), "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    toy_row = table[(table.machine == "toy") & (table.layer == "fc")].iloc[0]
    assert toy_row.cycles_compute == 400 // 8 and toy_row.energy_buffer_scratch_pj > 0
    summary = pd.read_csv(out / "summary.csv").set_index("machine")
    assert summary.loc["toy", "speedup_vs_dense_machine"] > 0  # quoted against the reference
    assert (out / "plots" / "machine_efficiency.png").is_file()


def test_loading_configs_does_not_import_numba():
    import subprocess
    import sys
    code = ("import sys, accelsim.sim.config as c; c.load_arch(c.BUNDLED_CONFIGS / 'scnn.yaml'); "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
