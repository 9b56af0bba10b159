"""The light install (no torch): the commands that only read, make or simulate traces never
import it, and the ones that train say in one line that they need it."""

import json
import subprocess
import sys

import pytest
import yaml

from accelsim.sim.config import BUNDLED_CONFIGS

pytestmark = pytest.mark.system

# Runs each argv through accelsim's main in one process where importing torch fails as it
# does when torch is not installed; prints [status, stderr] per argv.
CHILD = r"""
import contextlib, io, json, sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTorch())
from accelsim.cli import main

results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        results.append([main(argv), err.getvalue()])
print(json.dumps(results))
"""


def test_commands_run_without_torch_and_training_says_it_needs_it(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"model": "tiny", "layers": [
        {"name": "conv", "kind": "conv2d", "input_shape": [2, 6, 6], "filters": 3, "kernel": 3,
         "padding": 1, "weight_density": 0.5, "activation_density": 0.6},
        {"name": "fc", "kind": "linear", "in_features": 12, "out_features": 5,
         "weight_density": 0.4, "activation_density": 0.5}]}))
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(
        {"arch": str(BUNDLED_CONFIGS / "eie.yaml"), "traces": ["trace"],
         "grid": {"eie.pes": [2, 4]}}))
    light = [
        ["synth", "--spec", "spec.yaml", "--samples", "2", "--out", "trace"],
        ["inspect", "trace"],
        ["simulate", "--arch", "eie", "--trace", "trace", "--out", "results.csv"],
        ["compare", "--arch", "dense", "--arch", "eie", "--trace", "trace", "--out", "cmp"],
        ["plot", "cmp/results.csv", "--out", "plots"],
        ["sweep", "sweep.yaml", "--workers", "1"],
        ["export", "--format", "scalesim", "trace", "--out", "topology.csv"],
        ["config", "--list"],
        ["config", "scnn"],
    ]
    training = [
        ["train", "--model", "mlp3", "--method", "dense", "--out", "m.pt"],
        ["trace", "--checkpoint", "m.pt", "--out", "t"],
        ["trace", "--model-file", "net.py:build", "--images", "x.npy", "--out", "t"],
        ["demo", "--quick", "--out", "demo"],
        ["pareto", "--model", "mlp3", "--quick", "--out", "pareto"],
    ]
    # The machine configs are checked before training needs torch.
    bad_arch = [["demo", "--arch", "tpu", "--out", "demo"],
                ["pareto", "--model", "mlp3", "--arch", "tpu", "--out", "pareto"]]
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(light + training + bad_arch)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    for argv, (status, err) in zip(light, results):
        assert status == 0, (argv, err)
    for argv, (status, err) in zip(training, results[len(light):]):
        assert (status, err) == (2, f"accelsim {argv[0]}: error: needs PyTorch "
                                    "(pip install 'accelsim[train]')\n"), argv
    for argv, (status, err) in zip(bad_arch, results[len(light) + len(training):]):
        assert status == 2 and "'tpu': no such file, and no bundled config" in err, (argv, err)
    assert (tmp_path / "plots").is_dir() and (tmp_path / "sweep.parquet").is_file()
