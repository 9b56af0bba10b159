"""Resource estimates before work: a run that would not fit is refused in one line, with
its estimate, before it allocates; large traces load without one open file per array."""

import json
import resource
import subprocess
import sys
import textwrap

import pytest

from accelsim.cli import main
from accelsim.core.resources import Limits, parse_seconds, parse_size
from accelsim.errors import AccelsimError

# Runs `accelsim ARGV` in a fresh process and prints its exit status and peak RSS (MiB).
MEASURE = textwrap.dedent("""
    import json, resource, sys
    from accelsim.cli import main
    status = main(sys.argv[1:])
    print(json.dumps([status, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
""")


def _measured(argv, cwd, limit_files=None):
    def limit():
        if limit_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, limit_files))
    done = subprocess.run([sys.executable, "-c", MEASURE, *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, preexec_fn=limit, timeout=300)
    status, peak_mib = json.loads(done.stdout.strip().splitlines()[-1])
    return status, peak_mib, done.stderr


@pytest.mark.parametrize("text, size", [("4096", 4096), ("8G", 8 * 2**30), ("1.5m", 3 * 2**19),
                                        ("500 MiB", 500 * 2**20), ("2kb", 2048)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200),
                                           ("0.5d", 43200)])
def test_durations(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "-1", "8X", "1e9", "lots", "G8"])
def test_bad_limits_are_one_line_errors(text):
    for parse in (parse_size, parse_seconds):
        with pytest.raises(AccelsimError, match=repr(text).replace("\\", "\\\\")):
            parse(text)


def test_a_run_that_passes_announces_a_long_estimate():
    heard = []
    Limits(max_memory=2**40, announce=heard.append).check("run", 2**30, 120.0)
    Limits(max_memory=2**40, announce=heard.append).check("short run", 2**30, 5.0)
    assert heard == ["run: estimated 2 min of work at most, about 1.0 GiB of memory"]


def test_big_inputs_are_refused_before_they_allocate(tmp_path):
    """The legal but huge cases of the issue: a 32768 x 32768 GEMM and a 16384 x 16384
    plane under a 6 GB budget, and a simulation past --max-work. Each is refused with its
    estimate in one line, under 500 MB of peak RSS, and writes nothing."""
    (tmp_path / "gemm.csv").write_text("Layer, M, N, K,\nbig, 1, 32768, 32768,\n")
    (tmp_path / "plane.yaml").write_text(
        "model: plane\nlayers:\n  - {name: c, kind: conv2d, input_shape: [1, 16384, 16384], "
        "filters: 1, kernel: 3, weight_density: 0.5, activation_density: 0.5}\n")
    (tmp_path / "conv.yaml").write_text(
        "model: conv\nlayers:\n  - {name: c, kind: conv2d, input_shape: [16, 128, 128], "
        "filters: 64, kernel: 3, padding: 1, weight_density: 0.5, activation_density: 0.5}\n")
    assert main(["synth", "--spec", str(tmp_path / "conv.yaml"), "--out",
                 str(tmp_path / "conv")]) == 0
    cases = [
        (["synth", "--topology", "gemm.csv", "--out", "g", "--max-memory", "6G"],
         "needs about 30.1 GiB at its peak, over --max-memory (6.0 GiB)"),
        (["synth", "--spec", "plane.yaml", "--out", "p", "--max-memory", "6G"],
         "GiB at its peak, over --max-memory (6.0 GiB)"),
        (["simulate", "--arch", "eie", "--trace", "conv", "--out", "r.csv", "--max-work", "1"],
         "of work (1 trace(s) on 1 machine(s)), over --max-work (1 s)"),
        (["compare", "--arch", "eie", "--arch", "scnn", "--trace", "conv", "--out", "cmp",
          "--max-work", "1"], "of work (1 trace(s) on 2 machine(s)), over --max-work"),
    ]
    for argv, message in cases:
        before = sorted(p.name for p in tmp_path.iterdir())
        status, peak_mib, err = _measured(argv, tmp_path)
        assert status == 2 and err.count("\n") == 1 and message in err, err
        assert peak_mib < 500, (argv, peak_mib)
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_trace_of_many_layers_loads_under_a_small_open_file_limit(tmp_path):
    layers = "".join(f"  - {{name: l{i}, kind: linear, in_features: 32, out_features: 16, "
                     "weight_density: 0.5, activation_density: 0.5}\n" for i in range(600))
    (tmp_path / "many.yaml").write_text("model: many\nlayers:\n" + layers)
    assert main(["synth", "--spec", str(tmp_path / "many.yaml"), "--out",
                 str(tmp_path / "many")]) == 0
    status, _, err = _measured(["simulate", "--arch", "dense", "--trace", "many", "--out",
                                "r.csv"], tmp_path, limit_files=256)
    assert status == 0, err


MAPS = textwrap.dedent("""
    import resource, sys
    import accelsim.workload.trace as trace_module
    trace_module.READ_WHOLE_BYTES = 64  # every array of the test trace is mapped
    soft, hard = int(sys.argv[1]), int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        trace = trace_module.load_trace(sys.argv[3])
    except trace_module.TraceError as exc:
        print("refused:", exc)
    else:
        print("loaded", len(trace.layers), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
""")


def test_mapped_arrays_raise_the_open_file_limit_or_are_refused_before_mapping(tmp_path):
    layers = "".join(f"  - {{name: l{i}, kind: linear, in_features: 32, out_features: 16, "
                     "weight_density: 0.5, activation_density: 0.5}\n" for i in range(150))
    (tmp_path / "net.yaml").write_text("model: net\nlayers:\n" + layers)
    assert main(["synth", "--spec", str(tmp_path / "net.yaml"), "--out", str(tmp_path / "t"),
                 "--dtype", "float32"]) == 0

    def load(soft, hard):
        return subprocess.run([sys.executable, "-c", MAPS, str(soft), str(hard),
                               str(tmp_path / "t")], capture_output=True, text=True,
                              timeout=120).stdout.strip()
    loaded = load(128, 4096)  # 300 maps: the soft limit is raised towards the hard one
    assert loaded.startswith("loaded 150 ") and int(loaded.split()[-1]) > 300
    refused = load(128, 128)
    assert refused.startswith("refused:") and "300 arrays over" in refused
    assert "the limit is 128 (ulimit -n)" in refused
