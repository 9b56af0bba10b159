"""kill -9 at random points: no final path is ever half-written, and the next run succeeds
and removes what the killed one left behind.

Each command runs in its own process and is killed twice: once after a random delay
from its start, and once a random moment after its first temporary file appears (in
the middle of a write, which a delay alone rarely hits). Then every output it names
is checked: absent, or whole (a trace that loads with its
checksums, a table whose sidecar matches it, a checkpoint that loads). The same
command is then run to the end, and no temporary file may remain beside the outputs.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim import load_trace
from accelsim.results import read_results

from conftest import ROOT

def accelsim_command(*args):
    return [sys.executable, "-c", "import sys; from accelsim.cli import main; "
            "sys.exit(main(sys.argv[1:]))", *map(str, args)]


def run_killed(argv, delay, cwd, when_writing):
    """Kill the command `delay` s after it starts, or after its first temporary file appears;
    returns whether a temporary file was seen."""
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    existing = set(leftovers(cwd))
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    seen = False
    deadline = time.monotonic() + 120
    while when_writing and not seen and process.poll() is None and time.monotonic() < deadline:
        seen = bool(set(leftovers(cwd)) - existing)  # busy: a small file's write is brief
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return seen


def leftovers(directory):
    return [p for p in Path(directory).rglob(".*") if ".partial-" in p.name or ".old-" in p.name]


def check_trace(path):
    if path.exists():
        load_trace(path, verify=True)


def check_table(path):
    if path.exists():
        read_results(path)


def check_checkpoint(path):
    if path.exists():
        from accelsim.checkpoint import load_checkpoint
        load_checkpoint(path)
        assert Path(f"{path}.json").is_file()


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    path = tmp_path_factory.mktemp("kill") / "alexnet-jp"
    subprocess.run(accelsim_command("synth", "--preset", "alexnet-jp", "--out", path), check=True)
    return path


def commands(alexnet, work):
    sweep = work / "sweep.yaml"
    sweep.write_text(f"arch: {ROOT / 'arch_configs' / 'eie.yaml'}\ntraces: [{alexnet}]\n"
                     "grid: {eie.pes: [16, 32, 64]}\n")
    return {
        "synth": (["synth", "--preset", "alexnet-jp", "--out", work / "t", "--force"],
                  [(work / "t", check_trace)]),
        "simulate": (["simulate", "--arch", ROOT / "arch_configs" / "eie.yaml",
                      "--arch", ROOT / "arch_configs" / "scnn.yaml", "--trace", alexnet,
                      "--out", work / "r.csv"], [(work / "r.csv", check_table)]),
        "sweep": (["sweep", sweep, "--out", work / "s.parquet", "--workers", "1"],
                  [(work / "s.parquet", check_table)]),
        "train": (["train", "--model", "mlp3", "--method", "dense", "--epochs", "1",
                   "--limit", "2000", "--validation", "500", "--out", work / "m.pt"],
                  [(work / "m.pt", check_checkpoint)]),
        "pareto": (["pareto", "--model", "mlp3", "--methods", "wp", "--quick", "--samples", "4",
                    "--workers", "1", "--arch", ROOT / "arch_configs" / "dense.yaml",
                    "--out", work / "p"],
                   [(work / "p" / "pareto.csv", check_table)]),
    }


@pytest.mark.parametrize("command", ["synth", "simulate", "sweep", "train", "pareto"])
def test_kill_at_random_points_then_rerun(command, alexnet, tmp_path):
    argv, outputs = commands(alexnet, tmp_path)[command]
    rng = random.Random(command)
    run_killed(accelsim_command(*argv), rng.uniform(1.0, 6.0), tmp_path, False)
    for path, check in outputs:
        check(path)
    # A small output is written in milliseconds: try a few times to catch it mid-write.
    for _ in range(5):
        seen = run_killed(accelsim_command(*argv), rng.uniform(0, 0.2), tmp_path, True)
        for path, check in outputs:
            check(path)
        if seen:
            break
    assert seen, "never caught the command with a temporary file"
    finished = subprocess.run(accelsim_command(*argv), cwd=tmp_path, capture_output=True,
                              text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert finished.returncode == 0, finished.stderr[-2000:]
    for path, check in outputs:
        assert path.exists()
        check(path)
    assert leftovers(tmp_path) == []
