"""Summary arithmetic, plots, compare/plot CLI, sweeps (processes and Dask) and analysis scripts."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, random_conv_layer, random_linear_layer

from accelsim import Trace, load_arch, save_trace
from accelsim.cli import main
from accelsim.core.files import content_key
from accelsim.report.plots import (
    cycles_per_layer,
    energy_breakdown,
    machine_efficiency,
    speedup_and_saving,
    variant_color,
)
from accelsim.report.results import read_results
from accelsim.report.summary import summarize
from accelsim.studies.sweep import load_sweep, run_sweep

sys.path.insert(0, str(ROOT / "analysis"))


def total(model, arch, machine, variant, cycles, energy, macs=50):
    return {"model": model, "arch": arch, "machine": machine, "variant": variant,
            "layer": "TOTAL", "macs_dense": 100, "macs_effective": macs, "cycles_total": cycles,
            "latency_us": cycles / 100, "energy_pj": energy}


def test_summary_arithmetic_on_a_known_table():
    table = pd.DataFrame([
        total("m", "dense", "dense", "dense", 1000, 4e6, 100),
        total("m", "dense", "dense", "jp", 1000, 2e6, 10),
        total("m", "eie", "eie", "dense", 2000, 1e6, 100),
        total("m", "eie", "eie", "jp", 250, 5e5, 10),
        {**total("m", "dense", "dense", "dense", 1, 1), "layer": "fc1"},  # not a TOTAL row
    ])
    s = summarize(table).set_index(["arch", "variant"])
    assert len(s) == 4
    assert s.loc[("dense", "jp"), "mac_percent"] == pytest.approx(10)
    assert s.loc[("dense", "jp"), "speedup_vs_dense_model"] == pytest.approx(1.0)
    assert s.loc[("dense", "jp"), "energy_saving_vs_dense_model"] == pytest.approx(2.0)
    assert s.loc[("eie", "jp"), "speedup_vs_dense_model"] == pytest.approx(8.0)
    assert s.loc[("eie", "jp"), "speedup_vs_dense_machine"] == pytest.approx(4.0)
    assert s.loc[("eie", "dense"), "speedup_vs_dense_machine"] == pytest.approx(0.5)
    assert s.loc[("eie", "jp"), "energy_saving_vs_dense_machine"] == pytest.approx(8.0)
    assert s.loc[("eie", "jp"), "energy_uj"] == pytest.approx(0.5)
    no_dense = summarize(table[table["variant"] != "dense"])
    assert no_dense["speedup_vs_dense_model"].isna().all()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A small compare run: 2 variants x 3 machines, 3 layers each."""
    root = tmp_path_factory.mktemp("cmp")
    traces = []
    for variant, density in (("dense", 1.0), ("jp", 0.3)):
        rng = np.random.default_rng(1)
        trace = Trace([random_conv_layer(rng, "conv1", weight_density=density, act_density=0.9),
                       random_conv_layer(rng, "conv2", weight_density=density, act_density=0.5),
                       random_linear_layer(rng, "fc1", weight_density=density, act_density=0.4)],
                      model="tiny", variant=variant)
        save_trace(trace, root / variant)
        traces.append(root / variant)
    args = ["compare", "--out", str(root / "out")]
    for machine in ("dense", "cnvlutin", "eie"):
        args += ["--arch", str(ROOT / "arch_configs" / f"{machine}.yaml")]
    for trace in traces:
        args += ["--trace", str(trace)]
    assert main(args) == 0
    return root


def test_compare_writes_table_summary_and_plots(results):
    out = results / "out"
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 2 * 3 * 4
    assert len(pd.read_csv(out / "summary.csv")) == 6
    pngs = sorted((out / "plots").glob("*.png"))
    assert len(pngs) == 3 * 2 + 2 and all(p.stat().st_size > 1000 for p in pngs)
    assert len(list((out / "plots").glob("*.svg"))) == len(pngs)


def _bar_containers(ax):
    return [c for c in ax.containers if len(c.patches)]


def test_figures_have_the_right_bars_and_series(results):
    table = pd.read_parquet(results / "out" / "results.parquet")
    fig = energy_breakdown(table, "eie")
    components = [c for c in table.columns if c.startswith("energy_") and c != "energy_pj"
                  and table[table.arch == "eie"][c].sum() > 0]
    containers = _bar_containers(fig.axes[0])
    assert len(containers) == 2 * len(components)  # variants x components
    assert all(len(c.patches) == 3 for c in containers)  # one bar per layer
    assert "energy" in fig.axes[0].get_ylabel() and "µJ" in fig.axes[0].get_ylabel()
    fig = cycles_per_layer(table, "dense")
    assert len(_bar_containers(fig.axes[0])) == 2
    fig = speedup_and_saving(table)
    for ax in fig.axes[:2]:
        containers = _bar_containers(ax)
        assert len(containers) == 2 and all(len(c.patches) == 3 for c in containers)
        heights = [p.get_height() for p in containers[0].patches]  # dense vs itself
        assert heights == pytest.approx([1, 1, 1])
    fig = machine_efficiency(table)
    assert sorted(ax.get_title().split(" (")[0] for ax in fig.axes) == [
        "Cnvlutin lane utilization", "EIE load efficiency"]


def test_two_models_with_the_same_variants_get_a_figure_each(results, tmp_path):
    """Layers of two models share names (fc1) and not scale: per-layer figures are per
    model, named by it; the summary figure has both."""
    from accelsim.report.plots import all_figures
    table = pd.read_parquet(results / "out" / "results.parquet")
    other = table.assign(model="other", energy_pj=table["energy_pj"] * 7)
    figures = all_figures(pd.concat([table, other], ignore_index=True))
    assert {"energy_breakdown_eie_tiny", "energy_breakdown_eie_other", "cycles_dense_other",
            "machine_efficiency_tiny", "machine_efficiency_other",
            "speedup_energy_saving"} <= set(figures)
    assert not any(stem.endswith("_eie") for stem in figures)
    assert figures["energy_breakdown_eie_other"].axes[0].get_title().startswith("other:")
    summary_axes = figures["speedup_energy_saving"].axes[0]
    assert all(len(c.patches) == 6 for c in _bar_containers(summary_axes))  # 2 models x 3
    with pytest.raises(ValueError, match="one model"):
        energy_breakdown(pd.concat([table, other]), "eie")


def test_plots_leave_matplotlib_global_state_alone(results, tmp_path):
    # In a fresh process: the backend is still unchosen and rcParams unchanged after importing
    # accelsim.report.plots and making and saving every figure. Read raw: reading rcParams["backend"]
    # would choose a backend itself.
    code = """
import json, sys
import matplotlib
raw = lambda: {key: repr(value) for key, value in dict.items(matplotlib.rcParams)}
plain = raw()
import pandas as pd
import accelsim.report.plots
imported = raw()
accelsim.report.plots.write_plots(pd.read_parquet(sys.argv[1]), sys.argv[2])
print(json.dumps({"after_import": imported == plain, "after_plots": raw() == plain,
                  "pyplot": "matplotlib.pyplot" in sys.modules,
                  "color": accelsim.report.plots.variant_color("my-method")}))
"""
    done = subprocess.run([sys.executable, "-c", code, str(results / "out" / "results.parquet"),
                           str(tmp_path)], capture_output=True, text=True, check=True, cwd=ROOT)
    report = json.loads(done.stdout)
    assert report == {"after_import": True, "after_plots": True, "pyplot": False,
                      # a stable hash: the same colour in another process (salted hash() is not)
                      "color": variant_color("my-method")}
    assert len(list(tmp_path.glob("*.png"))) == 3 * 2 + 2


def test_variant_colors_do_not_depend_on_call_order():
    names = ["dense", "wp", "jp", "alpha", "beta", "gamma"]
    forward = {name: variant_color(name) for name in names}
    assert {name: variant_color(name) for name in reversed(names)} == forward
    assert (forward["dense"], forward["wp"], forward["jp"]) == ("#7f7f7f", "#1f77b4", "#d62728")
    # Other variants never take a fixed variant's colour.
    assert not {forward[n] for n in ("alpha", "beta", "gamma")} & {
        variant_color(n) for n in ("dense", "wp", "jp", "static-act", "synthetic")}


def test_plot_from_a_results_table_alone(results, tmp_path, capsys):
    assert main(["plot", str(results / "out" / "results.csv"), "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 8
    assert main(["plot", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["drop", "text"])
def test_plot_checks_a_machines_own_columns_on_its_rows(tmp_path, capsys, damage):
    from accelsim.report.results import write_results
    from accelsim.sim.simulator import simulate
    rng = np.random.default_rng(2)
    trace = Trace([random_conv_layer(rng, "conv1", samples=1)], model="tiny", variant="jp")
    table = pd.concat([simulate(load_arch(ROOT / "arch_configs" / f"{m}.yaml"), trace)
                       for m in ("eie", "scnn")], ignore_index=True)
    table = table.fillna({c: 0.0 for c in table if c.startswith("energy_")})  # as simulate's
    # eie rows have no SCNN columns (NaN there), which is fine; damage the SCNN rows' own.
    if damage == "drop":
        table = table.drop(columns="multiplier_utilization")
    else:
        table["barrier_idle_fraction"] = table["barrier_idle_fraction"].astype(object)
        table.loc[table.machine == "scnn", "barrier_idle_fraction"] = "x"
    write_results(table, tmp_path / "r.csv", {})
    assert main(["plot", str(tmp_path / "r.csv"), "--out", str(tmp_path / "plots")]) == 2
    err = capsys.readouterr().err
    assert ("multiplier_utilization" if damage == "drop" else "barrier_idle_fraction") in err
    assert "Traceback" not in err


def _sweep_file(tmp_path, traces, values):
    spec = {"arch": str(ROOT / "arch_configs" / "eie.yaml"), "traces": [str(t) for t in traces],
            "grid": {"eie.pes": values}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_sweep_resumes_after_interruption(results, tmp_path):
    good = results / "jp"
    broken = tmp_path / "broken"  # its manifest reads, its arrays fail the checksum
    shutil.copytree(good, broken)
    for array in broken.glob("*.npy"):
        array.write_bytes(array.read_bytes()[:-2] + b"\x01\x02")
    path = _sweep_file(tmp_path, [good, broken], [2, 4])
    out = tmp_path / "sweep.parquet"
    with pytest.raises(Exception):  # noqa: B017 (whatever the worker raised)
        run_sweep(load_sweep(path), out, workers=2)
    parts = tmp_path / "sweep.parquet.parts"
    done = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.parquet")}
    assert len(done) == 2 and not out.exists()  # the good points landed, nothing else
    assert not list(parts.glob(".*"))  # no half-written part
    path = _sweep_file(tmp_path, [good], [2, 4, 8])
    table = run_sweep(load_sweep(path), out, workers=2)
    assert {p.name: p.stat().st_mtime_ns for p in parts.glob("*.parquet")
            if p.name in done} == done  # finished points were not run again
    assert sorted(table["eie.pes"].unique()) == [2, 4, 8]
    assert len(table) == 3 * 4 and out.exists()
    cycles = table[table.layer == "TOTAL"].sort_values("eie.pes")["cycles_compute"].tolist()
    assert cycles[0] > cycles[1] > cycles[2]


def test_sweep_on_a_dask_local_cluster_matches_processes(results, tmp_path):
    path = _sweep_file(tmp_path, [results / "jp"], [1, 64])
    dask_table = run_sweep(load_sweep(path), tmp_path / "dask.parquet", scheduler="local",
                           workers=2)
    local_table = run_sweep(load_sweep(path), tmp_path / "local.parquet", workers=2)
    columns = ["eie.pes", "layer", "cycles_total", "energy_pj"]
    assert dask_table[columns].equals(local_table[columns])


def test_bad_sweep_names_the_problem(tmp_path, results):
    path = _sweep_file(tmp_path, [results / "jp"], [0])
    with pytest.raises(Exception, match="eie.pes = 0"):
        load_sweep(path)
    assert content_key({"x": 1}, "t") != content_key({"x": 2}, "t")


def test_a_sweep_never_reuses_a_point_whose_config_changed(results, tmp_path):
    arch = tmp_path / "eie.yaml"
    text = (ROOT / "arch_configs" / "eie.yaml").read_text()
    arch.write_text(text.replace("energy: energy/45nm.yaml",
                                 f"energy: {ROOT / 'arch_configs' / 'energy' / '45nm.yaml'}"))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"arch": str(arch), "traces": [str(results / "jp")],
                                    "grid": {"eie.pes": [4, 8]}}))
    out = tmp_path / "sweep.csv"
    first = run_sweep(load_sweep(path), out, workers=1)
    clock = load_arch(arch).clock_mhz
    arch.write_text(arch.read_text().replace(f"clock_mhz: {clock:g}", f"clock_mhz: {clock / 8:g}"))
    assert load_arch(arch).clock_mhz == clock / 8
    second = run_sweep(load_sweep(path), out, workers=1)
    totals = [t[t.layer == "TOTAL"].sort_values("eie.pes") for t in (first, second)]
    assert (totals[1]["latency_us"].to_numpy() > 7 * totals[0]["latency_us"].to_numpy()).all()
    assert read_results(out)["latency_us"].equals(second["latency_us"])  # CSV, with its sidecar


def test_analysis_scripts(results, tmp_path):
    import cnvlutin_speedup
    import eie_scalability
    import wp_vs_jp

    table = wp_vs_jp.main([str(results / "dense"), str(results / "jp"), "--out", str(tmp_path)])
    assert list(table["variant"]) == ["dense", "jp"]
    assert table["mac_percent"].iloc[1] < table["mac_percent"].iloc[0]
    speed = cnvlutin_speedup.main([str(results / "out" / "results.csv"), "--out", str(tmp_path)])
    assert len(speed) == 4 and (speed["speedup"] >= 1).all()
    run_sweep(load_sweep(_sweep_file(tmp_path, [results / "jp"], [1, 2, 4])),
              tmp_path / "pes.parquet", workers=1)
    scal = eie_scalability.main(["--pes", str(tmp_path / "pes.parquet"), "--out", str(tmp_path)])
    assert (scal[scal["eie.pes"] == 1]["speedup"] == 1).all()
    for stem in ("wp_vs_jp", "cnvlutin_speedup", "eie_scalability"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
        assert (tmp_path / f"{stem}.csv").exists()


def test_compare_without_a_dense_variant_says_why_its_speedups_are_empty(tmp_path, capsys):
    rng = np.random.default_rng(3)
    save_trace(Trace([random_linear_layer(rng, "fc1")], model="tiny", variant="jp"),
               tmp_path / "jp")
    assert main(["compare", "--arch", "eie", "--trace", str(tmp_path / "jp"), "--out",
                 str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "note: model tiny: no 'dense' variant among the traces" in out
    assert "no dense variant on a reference machine (dense)" in out
    assert not list((tmp_path / "out" / "plots").glob("speedup_energy_saving*"))


def test_two_traces_of_one_model_file_name_the_option_that_tells_them_apart(tmp_path, capsys):
    rng = np.random.default_rng(4)
    for name in ("a", "b"):
        save_trace(Trace([random_linear_layer(rng, "fc1")], model="my_net"), tmp_path / name)
    assert main(["compare", "--arch", "eie", "--trace", str(tmp_path / "a"), "--trace",
                 str(tmp_path / "b"), "--out", str(tmp_path / "out")]) == 2
    assert "--model-name or --variant" in capsys.readouterr().err


def test_inspect_says_when_no_data_set_was_recorded(tmp_path, capsys):
    save_trace(Trace([random_linear_layer(np.random.default_rng(5), "fc1")], model="m",
                     dataset=""), tmp_path / "t")
    assert main(["inspect", str(tmp_path / "t")]) == 0
    assert capsys.readouterr().out.startswith("m / unknown / data set not recorded: 1 layers")
