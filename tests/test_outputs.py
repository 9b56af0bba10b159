"""What accelsim writes: never a file it did not write, never an input of the same run, with
the permissions the umask gives, and refused before any work when it cannot be written."""

import contextlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import random_linear_layer

from accelsim import Trace, save_trace
from accelsim.cli import main
from accelsim.report.results import written_by_accelsim


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _trace(path):
    save_trace(Trace([random_linear_layer(np.random.default_rng(0))]), path)
    return path


def _tiny_spec(directory):
    """A one-layer synthetic network spec: synth in a fraction of a second."""
    spec = directory / "spec.yaml"
    spec.write_text("model: tiny\nlayers:\n  - {name: fc, kind: linear, in_features: 8, "
                    "out_features: 4, weight_density: 0.5, activation_density: 0.5}\n")
    return spec


def _snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file()}


def test_export_force_replaces_its_own_export_only(tmp_path, capsys):
    trace = _trace(tmp_path / "t")
    export = ["export", "--format", "scalesim", str(trace), "--out"]
    # The trace's own manifest, even with --force: an input of this very run.
    before = _snapshot(trace)
    assert main(export + [str(trace / "manifest.json"), "--force"]) == 2
    assert "is inside the trace" in capsys.readouterr().err
    assert _snapshot(trace) == before
    # A user's file of the same name: refused with and without --force.
    mine = tmp_path / "net.csv"
    mine.write_text("mine\n")
    for force in ([], ["--force"]):
        assert main(export + [str(mine), *force]) == 2
        assert mine.read_text() == "mine\n"
    assert "accelsim did not write it" in capsys.readouterr().err
    # Its own export: written with its sidecar, then replaced only with --force.
    own = tmp_path / "own.csv"
    assert main(export + [str(own)]) == 0 and written_by_accelsim(own)
    assert main(export + [str(own)]) == 2 and "already exists" in capsys.readouterr().err
    assert main(export + [str(own), "--force"]) == 0
    assert own.read_text().startswith("Layer name, IFMAP Height")
    # Edited since: the user's now, though its sidecar is still beside it.
    own.write_text(own.read_text() + "my, 1, 1, 1, 1, 1, 1, 1,\n")
    edited = own.read_text()
    assert main(export + [str(own), "--force"]) == 2 and own.read_text() == edited
    assert "accelsim did not write it" in capsys.readouterr().err


def test_trace_force_never_replaces_a_trace_holding_a_users_file(tmp_path, capsys):
    trace = _trace(tmp_path / "t")
    synth = ["synth", "--spec", str(_tiny_spec(tmp_path)), "--out", str(trace), "--force"]
    (trace / "notes.txt").write_text("mine\n")
    assert main(synth) == 2 and "not one that accelsim wrote" in capsys.readouterr().err
    assert (trace / "notes.txt").read_text() == "mine\n"
    (trace / "notes.txt").unlink()
    assert main(synth) == 0  # a trace and nothing else: --force replaces it


def test_plot_replaces_its_own_figures_and_no_users(tmp_path, capsys):
    trace = _trace(tmp_path / "t")
    results = tmp_path / "r.csv"
    assert main(["simulate", "--arch", "eie", "--trace", str(trace), "--out", str(results)]) == 0
    figs = tmp_path / "figs"
    assert main(["plot", str(results), "--out", str(figs)]) == 0
    written = sorted(figs.iterdir())
    assert written and all(written_by_accelsim(p) for p in written)
    assert main(["plot", str(results), "--out", str(figs)]) == 0  # a rerun replaces its own
    # A figure of the user's in the directory, named like one of ours or not: refused
    # before anything is written, and nothing in the directory changes.
    for name in (written[0].name, "photo.png", "drawing.svg"):
        user = figs / name
        user.write_bytes(b"\x89PNG user's own" if name.endswith(".png") else b"<svg/>")
        before = _snapshot(figs)
        assert main(["plot", str(results), "--out", str(figs)]) == 2
        assert f"{user}: exists and accelsim did not write it" in capsys.readouterr().err
        assert _snapshot(figs) == before
        user.unlink()


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_honour_the_umask(tmp_path, mask):
    with umask(mask):
        trace = _trace(tmp_path / "t")
        results = tmp_path / "r.csv"
        assert main(["simulate", "--arch", "dense", "--trace", str(trace), "--out",
                     str(results)]) == 0
        assert main(["export", "--format", "scalesim", str(trace), "--out",
                     str(tmp_path / "t.csv")]) == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in [trace, *trace.iterdir(), *tmp_path.glob("r.csv*"), *tmp_path.glob("t.csv*")]}
    assert modes == {name: (0o777 if name == "t" else 0o666) & ~mask for name in modes}


def test_studies_check_their_outputs_before_training(tmp_path, capsys):
    not_a_directory = tmp_path / "f"
    not_a_directory.write_text("mine\n")
    assert main(["pareto", "--model", "mlp3", "--quick", "--out", str(not_a_directory)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    plots = tmp_path / "study" / "plots"
    plots.mkdir(parents=True)
    (plots / "figure1.svg").write_text("<svg/>")
    for command in (["pareto", "--model", "mlp3", "--quick"], ["demo", "--quick"]):
        assert main(command + ["--out", str(tmp_path / "study")]) == 2
        assert "figure1.svg: exists and accelsim did not write it" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "study").rglob("*")) == ["figure1.svg", "plots"]
    for options, message in ((["--models", ","], "name at least one"),
                             (["--samples", "0"], "samples 0: must be at least 1"),
                             (["--models", "mlp3,bogus"], "model 'bogus' is unknown")):
        assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), *options]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "demo").exists()


def test_a_full_disk_is_named_and_replaces_nothing(tmp_path, monkeypatch, capsys):
    import accelsim.workload.trace as trace_module

    def full_disk(path, array, allow_pickle):
        Path(path).write_bytes(b"\0" * 100)
        raise OSError("262144 requested and 100 written")  # what numpy's writer says

    trace = _trace(tmp_path / "t")
    before = _snapshot(trace)
    monkeypatch.setattr(trace_module.np, "save", full_disk)
    assert main(["synth", "--spec", str(_tiny_spec(tmp_path)), "--out", str(trace),
                 "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{trace}: the disk is full" in err
    assert _snapshot(trace) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "t"]


def test_names_a_spreadsheet_would_run_are_escaped_in_csv_and_read_back(tmp_path):
    import pandas as pd

    from accelsim.report.results import read_results, write_results

    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-conv", "@sum", "'quoted", "\tfc", "plain"]
    table = pd.DataFrame({"layer": names, "cycles": range(len(names))})
    write_results(table, tmp_path / "r.csv", {})
    cells = pd.read_csv(tmp_path / "r.csv")["layer"]  # as a spreadsheet would see them
    assert not cells.str.match(r"[=+\-@\t]").any()
    assert read_results(tmp_path / "r.csv")["layer"].tolist() == names


def test_a_sweep_names_a_bundled_config(tmp_path):
    trace = _trace(tmp_path / "t")
    (tmp_path / "s.yaml").write_text("arch: eie\ntraces: [t]\ngrid: {eie.pes: [4, 8]}\n")
    assert main(["sweep", str(tmp_path / "s.yaml"), "--workers", "1"]) == 0
    assert main(["inspect", str(trace)]) == 0
