"""Generated bad input for every file the CLI reads, and for its options.

Each input kind starts from a valid file, derived from what accelsim itself
writes (a trace, a machine config per registered machine, a sweep, a
checkpoint, a results table), and corrupts it at a place drawn from the
file's own structure: any key path of the parsed document, any byte of a
.npy header or body, any option of any subcommand. Every case must end in

- exit status 2 with one line "accelsim CMD: error: ..." (argparse's own
  usage errors also exit 2), or
- exit status 0 with a correct result (no NaN or negative figure),

and never in an exception escaping `main` (a traceback), a hang, a file
written outside the case's directory, or an input file lost or changed.

A finished sweep's and pareto study's own files (the points they resume
from) are corrupted the same way, and the study rerun.

Besides files, the harness generates the other ways input arrives: SCALE-Sim
topology CSVs (from a grammar of SCALE-Sim's format: both forms, density and
foreign columns, tabs, comments, placeholders, odd names and cells), model
files and the state_dicts loaded into them (from a grammar of layer stacks,
builders that misbehave, and tensors of odd kinds), objects built in Python
and handed to the API, and --scheduler addresses.

CI runs FUZZ_CASES cases per kind (1,710 in all); `pytest -m slow` runs the
30,000-case version (ACCELSIM_FUZZ_SCALE=17.7). Set ACCELSIM_FUZZ_REPORT=path.json to write the
count of outcomes per kind.
"""

import contextlib
import copy
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.sim.machines import MACHINES
from accelsim.sim.simulator import ADDITIVE

FUZZ_CASES = {"manifest": 250, "npy": 200, "arch": 250, "sweep": 100, "checkpoint": 60,
              "results": 30, "options": 200, "resume": 40, "topology": 200, "model file": 80,
              "state_dict": 60, "api": 200, "scheduler": 40}
if os.environ.get("ACCELSIM_FUZZ_SCALE"):  # e.g. 0.1 for a quick local run
    FUZZ_CASES = {k: max(1, int(v * float(os.environ["ACCELSIM_FUZZ_SCALE"]))) for k, v in FUZZ_CASES.items()}
SLOW_SCALE = "17.7"  # x the CI counts: 30,000 cases
CASE_SECONDS = 60  # a case running longer is a hang
OUTCOMES = defaultdict(Counter)  # per kind (and per command for "resume")

# ------------------------------------------------------------------ hostile values

huge_ints = st.sampled_from([0, -1, 1, 2, 3, 2**31, 2**40 + 1, 2**63, -(2**63) - 1, 10**30])
odd_floats = st.sampled_from([0.0, -0.0, 0.5, 1.5, -1.0, 1e-300, 1e308, float("inf"),
                              float("-inf"), float("nan")])
odd_text = st.one_of(st.sampled_from(["", "\udc80", "../../etc/passwd", "a" * 5000, "x\ny",
                                      "tcp://", "none", "1e309", "\x00", "dense"]),
                     st.text(max_size=12))


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


hostile = st.one_of(
    huge_ints, odd_floats, odd_text, st.booleans(), st.none(),
    st.lists(st.integers(-3, 3), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(-2, 2), max_size=3),
    st.sampled_from([nested(200), {"a": nested(100)}]),
)


def key_paths(document, prefix=()):
    """Every key path of a parsed JSON/YAML document."""
    paths = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            paths += key_paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document[:4]):
            paths += key_paths(value, prefix + (index,))
    return paths


def mutate(document, data):
    """Replace, delete or extend the value at a random key path of `document`."""
    document = copy.deepcopy(document)
    path = data.draw(st.sampled_from(key_paths(document)), label="path")
    action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
    if not path:
        return data.draw(hostile, label="document")
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.one_of(odd_text, huge_ints), label="new key")] = data.draw(hostile)
    else:
        parent[path[-1]] = data.draw(hostile, label="value")
    return document


# ------------------------------------------------------------------ running a case


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer in {CASE_SECONDS} s")


def files_under(directory):
    return {p: p.read_bytes() for p in Path(directory).rglob("*") if p.is_file()
            and not p.is_symlink()}


def run_case(kind, argv, case_dir, inputs=()):
    """Run `accelsim argv` in this process, from inside `case_dir` (so relative paths stay in
    it); check the outcome and record it."""
    before = set(os.listdir(case_dir.parent))
    started_in = os.getcwd()
    before_here = set(os.listdir(started_in))
    kept = {p: p.read_bytes() for p in inputs}
    stdout, stderr = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    os.chdir(case_dir)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse: usage errors and --help
                status = exc.code if isinstance(exc.code, int) else 2
                assert status in (0, 2), f"argparse exit {exc.code}"
    finally:
        signal.alarm(0)
        os.chdir(started_in)
    message = stderr.getvalue().strip()
    if status == 2:
        lines = message.splitlines()
        assert lines and lines[-1].startswith("accelsim") and "error" in lines[-1], message
        if not message.startswith("usage:"):
            assert len(lines) == 1, message
        OUTCOMES[kind]["clean error"] += 1
    else:
        assert status == 0, (status, message)
        check_outputs(case_dir, kept)
        OUTCOMES[kind]["correct result"] += 1
    assert set(os.listdir(case_dir.parent)) == before, "a file appeared outside the case"
    assert set(os.listdir(started_in)) == before_here, "a file appeared in the working directory"
    for path, content in kept.items():
        assert path.is_file() and path.read_bytes() == content, f"input {path} lost or changed"
    return status


# pareto.csv's figures, besides the simulator's ADDITIVE columns
FIGURE_SUFFIXES = ("_percent", "_seconds")
FIGURE_PREFIXES = ("cycles_", "latency_us_", "energy_uj_")


def check_outputs(case_dir, inputs):
    """Every results table written holds no NaN, infinite or negative figure."""
    for path in list(case_dir.rglob("*.csv")) + list(case_dir.rglob("*.parquet")):
        if ".parts" in str(path) or path.name.startswith(".") or path in inputs \
                or not path.is_file():
            continue
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        figures = [c for c in table.columns if c in ADDITIVE or c.startswith(FIGURE_PREFIXES)
                   or c.endswith(FIGURE_SUFFIXES)]
        for column in figures:
            values = table[column].astype(float)
            assert np.isfinite(values).all() and (values >= 0).all(), (path, column)


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    yield
    target = os.environ.get("ACCELSIM_FUZZ_REPORT")
    if target and any(OUTCOMES.values()):  # not from the process that only ran the slow test
        Path(target).write_text(json.dumps({k: dict(v) for k, v in OUTCOMES.items()}, indent=2))


# ------------------------------------------------------------------ the valid inputs


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny trace, one config per machine, a results table and a sweep (no torch)."""
    root = tmp_path_factory.mktemp("fuzz-base")
    spec = {"model": "tiny", "layers": [
        {"name": "conv", "kind": "conv2d", "input_shape": [2, 6, 6], "filters": 3, "kernel": 3,
         "padding": 1, "weight_density": 0.5, "activation_density": 0.6},
        {"name": "fc", "kind": "linear", "in_features": 12, "out_features": 5,
         "weight_density": 0.4, "activation_density": 0.5}]}
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["synth", "--spec", str(root / "spec.yaml"), "--out", str(root / "trace"),
                 "--samples", "2"]) == 0
    energy = ROOT / "arch_configs" / "energy" / "45nm.yaml"
    for name in MACHINES:
        text = (ROOT / "arch_configs" / f"{name}.yaml").read_text()
        (root / f"{name}.yaml").write_text(text.replace("energy: energy/45nm.yaml",
                                                         f"energy: {energy}"))
    assert main(["simulate", "--arch", str(root / "dense.yaml"), "--trace", str(root / "trace"),
                 "--out", str(root / "results.csv")]) == 0
    (root / "sweep.yaml").write_text(yaml.safe_dump(
        {"arch": str(root / "eie.yaml"), "traces": [str(root / "trace")],
         "grid": {"eie.pes": [2, 4]}}))
    assert main(["sweep", str(root / "sweep.yaml"), "--out", str(root / "swept.parquet"),
                 "--workers", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def trained(base, dense_checkpoint):
    """base plus a checkpoint (model.pt) and a quick Pareto study (study/): needs torch."""
    assert main(["pareto", "--model", "mlp3", "--methods", "wp", "--quick", "--samples", "2",
                 "--seeds", "1", "--arch", str(base / "dense.yaml"), "--workers", "1",
                 "--out", str(base / "study")]) == 0
    checkpoint, _ = dense_checkpoint
    for source in (checkpoint, checkpoint.with_name(checkpoint.name + ".json")):
        shutil.copy(source, base / source.name.replace("mlp3-dense", "model"))
    return base


@pytest.fixture
def case_dirs(tmp_path):
    counter = iter(range(10**9))

    def new_case(base_root, *names):
        case = tmp_path / "cases" / f"case{next(counter)}"
        case.mkdir(parents=True)
        for name in names:
            source = base_root / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, case / name)
        return case
    return new_case


def fuzz_settings(kind):
    # CI draws the same cases every run (no flaky red); a scaled run draws new ones.
    return settings(max_examples=FUZZ_CASES[kind], deadline=None, database=None,
                    derandomize=not os.environ.get("ACCELSIM_FUZZ_SCALE"),
                    suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ the input kinds


@fuzz_settings("manifest")
@given(data=st.data())
def test_fuzz_trace_manifests(base, case_dirs, data):
    case = case_dirs(base, "trace")
    manifest_path = case / "trace" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(mutate(manifest, data)))  # escapes lone surrogates
    command = data.draw(st.sampled_from(["inspect", "simulate"]))
    argv = (["inspect", case / "trace"] if command == "inspect" else
            ["simulate", "--arch", base / "dense.yaml", "--trace", case / "trace",
             "--out", case / "out.csv"])
    run_case("manifest", argv, case, inputs=[manifest_path])


@fuzz_settings("npy")
@given(data=st.data())
def test_fuzz_npy_files(base, case_dirs, data):
    case = case_dirs(base, "trace")
    arrays = sorted((case / "trace").glob("*.npy"))
    target = data.draw(st.sampled_from(arrays))
    raw = bytearray(target.read_bytes())
    header_end = raw.index(b"\n") + 1
    how = data.draw(st.sampled_from(["header byte", "body byte", "truncate", "extend",
                                     "big-endian", "dtype", "garbage", "symlink", "directory"]))
    if how == "header byte":
        raw[data.draw(st.integers(0, header_end - 1))] = data.draw(st.integers(0, 255))
    elif how == "body byte" and len(raw) > header_end:
        raw[data.draw(st.integers(header_end, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "extend":
        raw += bytes(data.draw(st.integers(1, 64)))
    elif how == "big-endian":
        array = np.load(target)
        buffer = io.BytesIO()
        np.save(buffer, array.astype(array.dtype.newbyteorder(">")))
        raw = bytearray(buffer.getvalue())
    elif how == "dtype":
        buffer = io.BytesIO()
        np.save(buffer, np.load(target).astype(data.draw(st.sampled_from(
            ["float32", "int64", "complex64", "bool", "uint8"]))))
        raw = bytearray(buffer.getvalue())
    elif how == "garbage":
        raw = bytearray(data.draw(st.binary(max_size=200)))
    target.unlink()
    if how == "symlink":
        outside = case / "outside.npy"
        outside.write_bytes(bytes(raw))
        target.symlink_to(outside)
    elif how == "directory":
        target.mkdir()
    else:
        target.write_bytes(bytes(raw))
    verify = [] if data.draw(st.booleans()) else ["--no-verify"]
    command = data.draw(st.sampled_from(["inspect", "simulate"]))
    argv = (["inspect", case / "trace", *verify] if command == "inspect" else
            ["simulate", "--arch", base / "eie.yaml", "--trace", case / "trace",
             "--out", case / "out.parquet", *verify])
    run_case("npy", argv, case)


@fuzz_settings("arch")
@given(data=st.data())
def test_fuzz_arch_configs(base, case_dirs, data):
    machine = data.draw(st.sampled_from(sorted(MACHINES)))
    case = case_dirs(base, f"{machine}.yaml")
    config_path = case / f"{machine}.yaml"
    document = mutate(yaml.safe_load(config_path.read_text()), data)
    text = yaml.safe_dump(document, allow_unicode=False) if data.draw(st.integers(0, 9)) else \
        data.draw(st.sampled_from(["a: &x [1, 2]\nb: *x\n", "{", "\xff\xfe", "- - - -"]))
    config_path.write_bytes(text.encode("utf-8", "surrogatepass"))
    command = data.draw(st.sampled_from(["config", "simulate"]))
    argv = (["config", config_path] if command == "config" else
            ["simulate", "--arch", config_path, "--trace", base / "trace",
             "--out", case / "out.csv"])
    run_case("arch", argv, case, inputs=[config_path])


@fuzz_settings("sweep")
@given(data=st.data())
def test_fuzz_sweep_files(base, case_dirs, data):
    case = case_dirs(base, "sweep.yaml")
    sweep_path = case / "sweep.yaml"
    document = mutate(yaml.safe_load(sweep_path.read_text()), data)
    sweep_path.write_bytes(yaml.safe_dump(document).encode("utf-8", "surrogatepass"))
    suffix = data.draw(st.sampled_from([".parquet", ".csv", ".txt"]))
    run_case("sweep", ["sweep", sweep_path, "--out", case / f"out{suffix}", "--workers", "1"],
             case, inputs=[sweep_path])


@pytest.mark.training
@fuzz_settings("checkpoint")
@given(data=st.data())
def test_fuzz_checkpoints(trained, case_dirs, data):
    base = trained
    import torch
    case = case_dirs(base, "model.pt")
    path = case / "model.pt"
    saved = torch.load(path, weights_only=True)
    plain = {k: (dict(v) if isinstance(v, dict) else v) for k, v in saved.items()}
    how = data.draw(st.sampled_from(["mutate", "tensor", "bytes"]))
    if how == "bytes":
        raw = bytearray(path.read_bytes())
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
        path.write_bytes(bytes(raw))
    else:
        document = mutate(plain, data) if how == "mutate" else plain
        if how == "tensor":  # a tensor of the wrong shape where a weight belongs
            section = data.draw(st.sampled_from(["weights", "state"]))
            key = data.draw(st.sampled_from(sorted(document[section])))
            document[section][key] = torch.zeros(data.draw(st.lists(st.integers(0, 3),
                                                                       max_size=3)))
        torch.save(document, path)
    run_case("checkpoint", ["trace", "--checkpoint", path, "--samples", "2",
                            "--out", case / "trace"], case, inputs=[path])


@fuzz_settings("results")
@given(data=st.data())
def test_fuzz_results_tables(base, case_dirs, data):
    case = case_dirs(base, "results.csv")
    path = case / "results.csv"
    corrupt_table(path, data)
    run_case("results", ["plot", path, "--out", case / "plots"], case, inputs=[path])


def corrupt_table(path, data):
    """Rewrite a CSV or parquet table with a dropped column, bad values, no rows, or raw
    bytes (random or the file cut short)."""
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    how = data.draw(st.sampled_from(["drop column", "bad values", "empty", "bytes"]))
    if how == "drop column":
        table = table.drop(columns=data.draw(st.sampled_from(list(table.columns))))
    elif how == "bad values":
        column = data.draw(st.sampled_from(list(table.columns)))
        table[column] = data.draw(st.sampled_from(["x", "5", "", True, float("nan"), -1,
                                                   float("inf"), None, 1e30]))
    elif how == "empty":
        table = table.iloc[:0]
    if how == "bytes":
        raw = path.read_bytes()
        path.write_bytes(data.draw(st.one_of(st.binary(max_size=100),
                                             st.integers(0, len(raw) - 1).map(lambda n: raw[:n]))))
    elif path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        try:
            table.to_parquet(path, index=False)
        except (TypeError, ValueError):  # a value pyarrow cannot store in that column: as text
            table[column] = table[column].astype(str)
            table.to_parquet(path, index=False)


@pytest.mark.training
@fuzz_settings("resume")
@given(data=st.data())
def test_fuzz_resumed_studies(trained, case_dirs, data):
    """A finished sweep's part files, and a pareto study's point rows and checkpoint
    metadata, corrupted; the rerun must resume cleanly or say which file is bad."""
    base = trained
    command = data.draw(st.sampled_from(["sweep", "pareto"]))
    if command == "sweep":
        case = case_dirs(base, "sweep.yaml", "swept.parquet", "swept.parquet.meta.json",
                         "swept.parquet.parts")
        target = data.draw(st.sampled_from(sorted((case / "swept.parquet.parts").glob("*"))))
        corrupt_table(target, data)
        argv = ["sweep", case / "sweep.yaml", "--out", case / "swept.parquet", "--workers", "1"]
    else:
        case = case_dirs(base, "study", "dense.yaml")
        files = sorted((case / "study" / "points").glob("*.parquet")) + \
            sorted((case / "study" / "checkpoints").glob("*.json"))
        target = data.draw(st.sampled_from(files))
        if target.suffix == ".json":
            target.write_text(json.dumps(mutate(json.loads(target.read_text()), data)))
            # pareto takes a point's figures from the checkpoint itself, never from this
            # readable copy: with the row gone, the recomputed point must ignore the edit.
            # (A dense model's sensitivity tables are JSON too: they have no row.)
            if ".pt." in target.name and data.draw(st.booleans()):
                next((case / "study" / "points").glob(target.name.split(".pt")[0] + "-*")
                     ).unlink()
        else:
            corrupt_table(target, data)
        argv = ["pareto", "--model", "mlp3", "--methods", "wp", "--quick", "--samples", "2",
                "--seeds", "1", "--arch", case / "dense.yaml", "--workers", "1",
                "--out", case / "study"]
    run_case(f"resume {command}", argv, case, inputs=[target])


# ------------------------------------------------------------------ topology CSVs

TOPOLOGY_CELLS = st.one_of(st.integers(-3, 300).map(str), huge_ints.map(str),
                           st.sampled_from(["", "B", "H", "1.5", "1e3", " 7 ", "0x10", "nan",
                                            "2:4", "#dw", "-", "\u0661"]),
                           st.text(max_size=4))
LAYER_NAMES = st.one_of(st.sampled_from(["conv1", "fc", "TOTAL", "=HYPERLINK(1)", "DP1",
                                         "a" * 300, "", "x\ty", "dup", "dup"]),
                        st.text(max_size=8).filter(lambda t: "," not in t and "\n" not in t))


@st.composite
def topology_text(draw):
    """A SCALE-Sim topology drawn from its grammar: a header of either form (with density,
    sparsity, batch or foreign columns), rows of cells that are mostly well-formed, and the
    variants SCALE-Sim's own files use (tabs, comments, empty lines and columns)."""
    from accelsim.workload.topology import CONV_COLUMNS, DENSITY_COLUMNS, GEMM_COLUMNS

    form = list(draw(st.sampled_from([CONV_COLUMNS, GEMM_COLUMNS])))
    # Mostly what accelsim and SCALE-Sim write, so that many cases get through to a run.
    extra = draw(st.one_of(st.just([]), st.just(list(DENSITY_COLUMNS)), st.lists(
        st.sampled_from([*DENSITY_COLUMNS, "Sparsity", "Batch Size", "", "Foo"]), max_size=3)))
    header = form + extra
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        if form[0] == "Layer":
            values = [draw(st.integers(1, 64)) for _ in range(3)]
        else:
            h, r = draw(st.integers(1, 20)), draw(st.integers(1, 5))
            values = [h, h, r, r, draw(st.integers(1, 8)), draw(st.integers(1, 8)),
                      draw(st.integers(1, 3))]
        cells = [draw(st.one_of(st.just(f"layer{len(rows)}"), LAYER_NAMES))]
        cells += [str(v) for v in values]
        cells += [draw(st.one_of(st.sampled_from(["0.5", "1", "", "2:4"]), TOPOLOGY_CELLS))
                  for _ in extra]
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a damaged cell
            cells[draw(st.integers(0, len(cells) - 1))] = draw(TOPOLOGY_CELLS)
        rows.append(cells)
    separator = draw(st.sampled_from([",", ",", ",", ", ", "\t"]))
    trailer = draw(st.sampled_from([",", ",", "", ",,", ", #dw"]))
    lines = [separator.join(header) + trailer] + [separator.join(c) + trailer for c in rows]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a comment, title or blank line
        lines.insert(draw(st.integers(0, len(lines))),
                     draw(st.sampled_from(["", "# comment", "Section 1", "   "])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


@fuzz_settings("topology")
@given(text=topology_text(), options=st.lists(st.sampled_from(
    [["--weight-density", "0.3"], ["--activation-density", "2"], ["--samples", "1"],
     ["--pattern", "clustered"]]), max_size=2))
def test_fuzz_topology_files(base, case_dirs, text, options):
    case = case_dirs(base)
    (case / "net.csv").write_text(text)
    argv = ["synth", "--topology", case / "net.csv", "--samples", "1", "--out", case / "t"]
    if run_case("topology", argv + [a for o in options for a in o], case,
                inputs=[case / "net.csv"]) == 0:
        run_case("topology", ["simulate", "--arch", base / "eie.yaml", "--trace", case / "t",
                              "--out", case / "r.csv"], case, inputs=[case / "net.csv"])


# ------------------------------------------------------------------ model files

MODEL_LAYERS = st.sampled_from([
    "nn.Linear(F, 3)", "nn.ReLU()", "nn.Conv2d(1, 2, 3)", "nn.Conv2d(1, 2, 3, padding='same')",
    "nn.Conv2d(1, 2, 3, padding_mode='reflect', padding=1)", "nn.Conv1d(1, 2, 3)",
    "nn.ConvTranspose2d(1, 2, 3)", "nn.MaxPool2d(2)", "nn.Flatten()", "nn.Dropout()",
    "nn.BatchNorm2d(1)", "nn.Identity()", "nn.Linear(F, 3, dtype=torch.complex64)",
    "nn.Linear(F, 3, device='meta')", "nn.Linear(F, 3).half()", "nn.LayerNorm(F)"])
MODEL_BODIES = st.sampled_from([
    "return nn.Sequential({layers})", "return nn.Sequential(nn.Flatten(), {first}, nn.ReLU())",
    *["return nn.Sequential(nn.Flatten(), nn.Linear(F, 8), nn.ReLU(), nn.Linear(8, 2))"] * 4,
    "return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), {first})",
    "return {first}", "return 42", "raise ValueError('no')", "import sys; sys.exit(3)",
    "raise RuntimeError('x' * 10000)", "return nn.Module()", "return None",
    "return nn.Sequential(collections.OrderedDict(TOTAL={first}))"])


@st.composite
def model_file(draw):
    """A model file from a grammar: a builder whose body returns a stack of layers (some
    supported, some refused, some odd) or misbehaves; F is the images' feature count."""
    layers = draw(st.lists(MODEL_LAYERS, min_size=1, max_size=4))
    body = draw(MODEL_BODIES).format(layers=", ".join(layers), first=layers[0])
    top = draw(st.sampled_from(["", "", "", "", "import sys\nsys.exit(0)\n",
                                "raise ImportError('x')\n", "syntax error here\n"]))
    return (f"import collections\nimport torch\nfrom torch import nn\n{top}F = 16\n\n\n"
            f"def build():\n    {body}\n")


IMAGE_SHAPES = st.sampled_from([(2, 16), (2, 1, 4, 4), (2, 1, 4, 4), (1, 1, 8, 8), (2, 3),
                                (2, 16, 1)])


@fuzz_settings("model file")
@given(text=model_file(), shape=IMAGE_SHAPES,
       kind=st.sampled_from(["f4", "f4", "f8", "f2", "i4"]))
def test_fuzz_model_files(base, case_dirs, text, shape, kind):
    case = case_dirs(base)
    (case / "net.py").write_text(text)
    np.save(case / "images.npy", np.random.default_rng(0).random(shape).astype(kind))
    run_case("model file", ["trace", "--model-file", f"{case / 'net.py'}:build", "--images",
                            case / "images.npy", "--out", case / "t"], case,
             inputs=[case / "net.py", case / "images.npy"])


@fuzz_settings("state_dict")
@given(damage=st.sampled_from(["drop", "extra", "shape", "sparse", "meta", "complex", "text",
                               "nan", "int", "half", "none"]),
       key=st.sampled_from(["1.weight", "1.bias", "3.weight", "3.bias"]),
       container=st.sampled_from(["dict", "dict", "list", "nested"]))
def test_fuzz_state_dicts(base, case_dirs, damage, key, container):
    import torch

    case = case_dirs(base)
    (case / "net.py").write_text("from torch import nn\n\n\ndef build():\n    return "
                                 "nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.ReLU(), "
                                 "nn.Linear(3, 2))\n")
    np.save(case / "images.npy", np.ones((2, 16), np.float32))
    state = {"1.weight": torch.ones(3, 16), "1.bias": torch.zeros(3),
             "3.weight": torch.ones(2, 3), "3.bias": torch.zeros(2)}
    tensor = state[key]
    if damage == "drop":
        del state[key]
    elif damage == "extra":
        state[key + "_extra"] = tensor
    else:
        state[key] = {"shape": lambda: torch.ones(*tensor.shape[:-1], tensor.shape[-1] + 1),
                      "sparse": lambda: tensor.to_sparse(),
                      "meta": lambda: torch.empty_like(tensor, device="meta"),
                      "complex": lambda: tensor.to(torch.complex64),
                      "text": lambda: "zeros",
                      "nan": lambda: torch.full_like(tensor, float("nan")),
                      "int": lambda: tensor.to(torch.int64),
                      "half": lambda: tensor.half(),
                      "none": lambda: None}[damage]()
    saved = {"dict": state, "list": list(state.values()), "nested": {"state_dict": state}}
    torch.save(saved[container], case / "w.pt")
    run_case("state_dict", ["trace", "--model-file", f"{case / 'net.py'}:build", "--weights",
                            case / "w.pt", "--images", case / "images.npy", "--out", case / "t"],
             case, inputs=[case / "w.pt", case / "net.py"])


# ------------------------------------------------------------------ objects given to the API

ARRAYS = st.one_of(
    st.builds(lambda shape, kind: np.ones(shape, kind),
              st.lists(st.integers(0, 5), min_size=1, max_size=5).map(tuple),
              st.sampled_from(["f4", "f2", "i1", "u1", "c8", "bool", "f8"])),
    st.sampled_from([None, [[1.0]], "weights", 3.0]))


@st.composite
def api_layer(draw):
    from accelsim import Layer

    kind = draw(st.sampled_from(["conv2d", "linear", "conv2d", "conv3d", "", None]))
    good = draw(st.booleans())
    if good and kind == "conv2d":
        weight, acts = np.ones((4, 2, 3, 3), "f4"), np.ones((1, 2, 6, 6), "f4")
    elif good:
        weight, acts = np.ones((3, 5), "f4"), np.ones((1, 5), "f4")
    else:
        weight, acts = draw(ARRAYS), draw(ARRAYS)
    geometry = {key: draw(st.one_of(st.integers(-2, 3), st.just((1, 0)), st.just("1")))
                for key in draw(st.lists(st.sampled_from(["stride", "padding", "dilation",
                                                          "groups"]), unique=True))}
    return Layer(draw(LAYER_NAMES), kind, weight, acts, **geometry)


@st.composite
def api_trace(draw):
    from accelsim import Trace

    fields = {key: draw(st.one_of(st.text(max_size=5), hostile)) for key in
              draw(st.lists(st.sampled_from(["model", "variant", "dataset", "metadata",
                                             "independent_layers"]), unique=True, max_size=2))}
    return Trace(draw(st.lists(api_layer(), max_size=3)), **fields)


@fuzz_settings("api")
@given(data=st.data())
def test_fuzz_objects_given_to_the_api(base, data, tmp_path):
    """Layers and traces built in Python, valid or not, given to the public API: a result
    with integer counts, or AccelsimError/ValueError/TypeError in one line."""
    import accelsim

    try:
        trace = data.draw(api_trace())
    except (accelsim.AccelsimError, ValueError, TypeError) as exc:  # refused at construction
        assert "\n" not in str(exc)
        OUTCOMES["api"]["clean error"] += 1
        return
    call = data.draw(st.sampled_from(["simulate", "save_trace", "layer_macs"]))
    try:
        if call == "simulate":
            table = accelsim.simulate(base / "eie.yaml", trace)
            assert (table["cycles_total"] >= 0).all() and table["macs_effective"].notna().all()
        elif call == "save_trace":
            accelsim.save_trace(trace, tmp_path / f"t{len(os.listdir(tmp_path))}")
        else:
            for layer in trace.layers:
                macs = accelsim.layer_macs(layer)
                assert macs.macs_dense >= 0 and (macs.macs_effective >= 0).all()
        OUTCOMES["api"]["correct result"] += 1
    except (accelsim.AccelsimError, ValueError, TypeError) as exc:
        assert str(exc) and "\n" not in str(exc), str(exc)
        OUTCOMES["api"]["clean error"] += 1


# ------------------------------------------------------------------ scheduler addresses


@fuzz_settings("scheduler")
@given(address=st.one_of(
    st.builds("{}{}:{}".format, st.sampled_from(["tcp://", "tcp:/", "tls://", "", "ucx://"]),
              st.sampled_from(["127.0.0.1", "localhost", "no-such-host.invalid", "", "[::1]",
                               "a b", "256.1.1.1"]),
              st.one_of(st.integers(-1, 70000).map(str), st.sampled_from(["", "x", "8786/"]))),
    odd_text.map(lambda t: "tcp://" + t)))
def test_fuzz_scheduler_addresses(base, case_dirs, address):
    case = case_dirs(base)
    run_case("scheduler", ["sweep", base / "sweep.yaml", "--out", case / "s.parquet",
                           "--scheduler", address], case)


def option_values():
    return st.sampled_from(["-1", "0", "1", "2", "nan", "1e309", "abc", "", "tcp://127.0.0.1:9",
                            "local", "threshold", "float16", "int8", "clustered"])


@pytest.mark.training  # one of its commands traces a checkpoint
@fuzz_settings("options")
@given(data=st.data())
def test_fuzz_cli_options(trained, case_dirs, data):
    """Random values for the options of the commands that run in seconds."""
    base = trained
    case = case_dirs(base, "trace", "dense.yaml", "results.csv", "spec.yaml")
    paths = st.sampled_from([case / "new", case, case / "trace", case / "trace" / "manifest.json",
                             case / "dense.yaml", case / "results.csv", base / "sweep.yaml",
                             base / "model.pt", case / "x.csv", case / "x.parquet",
                             case / "missing" / "deeper.csv", case / "spec.yaml",
                             case / "results.csv" / "under-a-file"])
    command, argv = data.draw(st.sampled_from([
        ("synth", ["synth", "--spec", base / "spec.yaml", "--out", case / "t"]),
        ("inspect", ["inspect", base / "trace"]),
        ("simulate", ["simulate", "--arch", base / "dense.yaml", "--trace", base / "trace",
                      "--out", case / "r.csv"]),
        ("compare", ["compare", "--arch", base / "dense.yaml", "--arch", base / "cnvlutin.yaml",
                     "--trace", base / "trace", "--out", case / "cmp"]),
        ("plot", ["plot", base / "results.csv", "--out", case / "plots"]),
        ("sweep", ["sweep", base / "sweep.yaml", "--out", case / "s.parquet", "--workers", "1"]),
        ("trace", ["trace", "--checkpoint", base / "model.pt", "--samples", "2",
                   "--out", case / "tr"]),
        ("config", ["config", base / "dense.yaml"]),
    ]))
    argv = list(argv)
    options = ["--samples", "--seed", "--pattern", "--cluster-size", "--dtype", "--threshold",
               "--format", "--workers", "--scheduler", "--out", "--arch", "--trace", "--spec",
               "--force", "--no-verify", "--per-sample"]
    for _ in range(data.draw(st.integers(1, 3))):
        option = data.draw(st.sampled_from(options))
        value = data.draw(st.one_of(option_values(), paths))
        argv += [option] if option in ("--force", "--no-verify", "--per-sample") else [option, value]
    # Every file not named as an output must survive: --force replaces only what accelsim wrote.
    outputs = [Path(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a == "--out"]
    inputs = [p for p in files_under(case) if not any(p == o or o in p.parents for o in outputs)]
    run_case("options", argv, case, inputs=inputs + [base / "model.pt", base / "sweep.yaml"])


@pytest.mark.slow
def test_fuzz_twenty_thousand_cases():
    env = dict(os.environ, ACCELSIM_FUZZ_SCALE=SLOW_SCALE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
