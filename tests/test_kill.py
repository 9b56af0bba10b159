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
from conftest import ROOT

from accelsim import load_trace
from accelsim.report.results import read_results

pytestmark = pytest.mark.system

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
        from accelsim.training.checkpoint import load_checkpoint
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
                    "--seeds", "2", "--workers", "1", "--arch", ROOT / "arch_configs" / "dense.yaml",
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


def children(pid):
    """The pids whose parent is `pid`."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
        except OSError:  # the process ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # an orphan's zombie waits for PID 1, which may not reap


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_killed_sweep_takes_its_workers_along(signum, tmp_path):
    """Workers busy with long points end with the sweep (and pareto, the same pool) that
    started them, instead of running on for minutes as orphans."""
    trace = tmp_path / "vgg16"
    subprocess.run(accelsim_command("synth", "--preset", "vgg16-scnn", "--out", trace),
                   check=True, capture_output=True)
    sweep = tmp_path / "sweep.yaml"  # 8 points of seconds each: work left when it is killed
    sweep.write_text(f"arch: {ROOT / 'arch_configs' / 'scnn.yaml'}\ntraces: [{trace}]\n"
                     "grid: {memory.dram_latency_ns: [100, 101, 102, 103, 104, 105, 106, 107]}\n")
    process = subprocess.Popen(accelsim_command("sweep", sweep, "--out", tmp_path / "s.parquet",
                                                "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers = []
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        workers = [pid for pid in children(process.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        time.sleep(0.05)
    assert len(workers) == 2, "the sweep never started its 2 workers"
    time.sleep(2)  # into their first points
    everyone = children(process.pid)
    process.send_signal(signum)
    process.wait()
    deadline = time.monotonic() + 10
    while any(map(running, everyone)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in everyone if running(pid)]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} worker(s) still running after the sweep was killed"
    assert not list(tmp_path.glob("s.parquet.parts/*.parquet")), "points finished: too short"
