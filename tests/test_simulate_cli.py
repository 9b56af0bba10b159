import json

import pandas as pd
import pytest
from conftest import ROOT

from accelsim import save_trace
from accelsim.cli import main


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_simulate_writes_table_and_sidecar(tmp_path, small_trace, suffix, capsys):
    save_trace(small_trace, tmp_path / "t")
    out = tmp_path / f"results{suffix}"
    args = ["simulate", "--trace", str(tmp_path / "t"), "--out", str(out)]
    for machine in ("dense", "cnvlutin", "eie"):
        args += ["--arch", str(ROOT / "arch_configs" / f"{machine}.yaml")]
    assert main(args) == 0
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(table) == 3 * (len(small_trace.layers) + 1)
    required = {"model", "variant", "arch", "layer", "kind", "samples", "macs_dense",
                "macs_effective", "ops_executed", "cycles_ideal", "cycles_compute",
                "cycles_memory_stall", "cycles_total", "latency_us", "utilization",
                "load_efficiency", "dram_bytes", "energy_pj", "energy_mac_pj"}
    assert required <= set(table.columns)
    for _, group in table.groupby("arch"):
        layers, total = group[group.layer != "TOTAL"], group[group.layer == "TOTAL"].iloc[0]
        assert total.cycles_total == layers.cycles_total.sum()
        assert total.energy_pj == pytest.approx(layers.energy_pj.sum())
        parts = [c for c in group.columns if c.startswith("energy_") and c != "energy_pj"]
        assert group[parts].sum(axis=1).values == pytest.approx(group.energy_pj.values)
    meta = json.loads((tmp_path / f"results{suffix}.meta.json").read_text())
    assert set(meta["archs"]) == {"dense", "cnvlutin", "eie"}
    assert meta["traces"][0]["metadata"] == {"test_accuracy": 0.5}
    assert meta["archs"]["eie"]["eie"]["pes"] == 64


def test_per_sample_rows(tmp_path, small_trace):
    save_trace(small_trace, tmp_path / "t")
    out = tmp_path / "r.csv"
    assert main(["simulate", "--arch", str(ROOT / "arch_configs" / "eie.yaml"), "--trace",
                 str(tmp_path / "t"), "--out", str(out), "--per-sample"]) == 0
    table = pd.read_csv(out)
    assert sorted(table["sample"].unique()) == [0, 1]
    assert len(table) == 2 * (len(small_trace.layers) + 1)


def test_bad_results_suffix_is_a_clean_error(tmp_path, small_trace, capsys):
    save_trace(small_trace, tmp_path / "t")
    assert main(["simulate", "--arch", str(ROOT / "arch_configs" / "eie.yaml"), "--trace",
                 str(tmp_path / "t"), "--out", str(tmp_path / "r.xlsx")]) == 2
    assert "suffix must be one of .csv, .parquet" in capsys.readouterr().err


def test_two_traces_of_one_model_and_variant_are_named_by_path(tmp_path, small_trace, capsys):
    save_trace(small_trace, tmp_path / "a")
    save_trace(small_trace, tmp_path / "b")
    assert main(["simulate", "--arch", "eie", "--trace", str(tmp_path / "a"), "--trace",
                 str(tmp_path / "b"), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "a") in err and str(tmp_path / "b") in err
    assert len(err.splitlines()) == 1 and len(err) < 400 and "array" not in err
