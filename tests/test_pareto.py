"""The Pareto study: fronts, iso-accuracy, and a tiny resumable run on real MNIST."""

import pandas as pd
import pytest
import torch

from accelsim.cli import main
from accelsim.sim.config import BUNDLED_CONFIGS
from accelsim.studies import pareto
from accelsim.studies.pareto import (
    LADDERS,
    cost_at_accuracy,
    iso_accuracy,
    pareto_front,
    run_pareto,
)
from accelsim.training.checkpoint import save_checkpoint
from accelsim.training.methods import TrainConfig, sensitivity_tables, train
from accelsim.training.models import maskable_layers

EIE = str(BUNDLED_CONFIGS / "eie.yaml")


def test_every_ladder_goes_from_mild_to_aggressive_in_at_least_six_steps():
    for method, ladder in LADDERS.items():
        assert len(ladder.budgets) >= 6, method
    for budgeted in ("wp", "wp-mac"):
        assert list(LADDERS[budgeted].budgets) == sorted(LADDERS[budgeted].budgets, reverse=True)
    assert list(LADDERS["jp"].budgets) == sorted(LADDERS["jp"].budgets)


def test_every_training_method_that_prunes_has_a_ladder():
    from accelsim.training.methods import METHODS
    assert {name for name, method in METHODS.items() if method.prunes} == set(LADDERS)


def test_front_keeps_only_points_no_cheaper_point_beats():
    points = pd.DataFrame({"mac_percent": [1, 2, 3, 4, 5], "accuracy_percent": [97, 96, 98, 98, 99]})
    front = pareto_front(points, "mac_percent")
    assert front["mac_percent"].tolist() == [1, 3, 5]


def test_cost_at_accuracy_interpolates_bounds_and_says_not_reached():
    front = pd.DataFrame({"mac_percent": [1.0, 4.0], "accuracy_percent": [97.0, 99.0]})
    value, how = cost_at_accuracy(front, "mac_percent", 98.0)
    assert how == "interpolated" and value == pytest.approx(2.0)  # halfway on a log scale
    assert cost_at_accuracy(front, "mac_percent", 96.0) == (1.0, "cheapest point")
    assert cost_at_accuracy(front, "mac_percent", 99.5) == (None, "not reached")


def test_iso_table_gives_each_method_and_the_wp_jp_ratio():
    table = pd.DataFrame({
        "model": "m", "method": ["dense", "wp", "wp", "jp", "jp"], "seed": 0,
        "accuracy_percent": [99.0, 98.9, 97.0, 99.1, 98.95],
        "mac_percent": [100.0, 8.0, 2.0, 4.0, 1.0],
        "latency_us_eie": [10.0, 2.0, 1.0, 3.0, 1.5], "energy_uj_eie": [5.0, 1.0, 0.5, 1.0, 0.9]})
    iso = iso_accuracy(table, ["eie"])
    assert len(iso) == 3 * 3 and not iso.isna().any().any()
    row = iso[(iso["drop_pp"] == 0.1) & (iso["metric"] == "mac_percent")].iloc[0]
    assert (row["wp"], row["jp"], row["wp/jp"]) == pytest.approx((8.0, 1.0, 8.0))
    assert row["wp/jp verdict"] == "not distinguishable"  # one seed proves nothing
    assert row["upper_bound_for"] == "jp"  # jp's cheapest point is above the target already
    latency = iso[(iso["drop_pp"] == 0.1) & (iso["metric"] == "latency_us_eie")].iloc[0]
    assert latency["jp"] == pytest.approx(1.5)  # the latency front has its own points


def test_iso_table_says_not_reached():
    table = pd.DataFrame({"model": "m", "method": ["dense", "wp", "jp"], "seed": 0,
                          "accuracy_percent": [99.0, 97.0, 98.95], "mac_percent": [100.0, 5.0, 2.0]})
    iso = iso_accuracy(table, [])
    row = iso[iso["drop_pp"] == 0.3].iloc[0]
    assert row["wp"] == "not reached" and row["wp/jp"] == "not reached" and row["jp"] == 2.0


@pytest.mark.training
def test_quick_study_resumes_and_redoes_points_whose_dense_model_changed(tmp_path, monkeypatch):
    for method, budget in (("wp", 0.1), ("jp", 2)):  # one point each: seconds, not minutes
        monkeypatch.setitem(LADDERS, method, pareto.Ladder(LADDERS[method].knob, (budget,),
                                                           LADDERS[method].settings))
    kwargs = dict(archs=[EIE], samples=4, quick=True, workers=1, seeds=1)
    first = run_pareto("mlp3", ["wp", "jp"], tmp_path, **kwargs)
    table = first.table
    assert list(table.columns) == [
        "model", "method", "budget", "seed", "accuracy_percent", "weight_percent",
        "activation_percent", "mac_percent", "cycles_eie", "latency_us_eie", "energy_uj_eie",
        "train_seconds"]
    assert table["method"].tolist() == ["dense", "wp", "jp"]
    assert table["mac_percent"].iloc[1:].lt(table["mac_percent"].iloc[0]).all()
    assert len(first.computed) == 1 + 3  # the seed's dense model, then its points
    assert {p.name for p in first.plots} >= {"accuracy_vs_macs.png", "accuracy_vs_cost_eie.svg"}
    assert (tmp_path / "pareto.csv").is_file() and (tmp_path / "iso_accuracy.csv").is_file()
    assert set(first.iso["metric"]) == {"mac_percent", "latency_us_eie", "energy_uj_eie"}

    assert run_pareto("mlp3", ["wp", "jp"], tmp_path, **kwargs).computed == []

    # Another dense model at the same path: every point's input changed, and so did the
    # sensitivity tables, which belong to the checkpoint they were measured on.
    dense = next((tmp_path / "checkpoints").glob("mlp3-dense-*.pt"))
    other = TrainConfig(model="mlp3", method="dense", epochs=1, limit=400, validation=400, seed=1)
    save_checkpoint(train(other), dense)
    assert len(run_pareto("mlp3", ["wp", "jp"], tmp_path, **kwargs).computed) == 1 + 3


def test_a_changed_default_renames_the_points_it_changes(monkeypatch):
    """A point's files are named by its config: a method's default epochs must be in it,
    or a point trained with the old default would be reused as current."""
    from accelsim.studies.pareto import _stem
    from accelsim.training import models

    def stems():
        dense, points = pareto.point_configs("lenet4", ["wp", "jp"])
        assert dense.epochs is not None and all(c.epochs is not None for _, _, c in points)
        return {(method, budget): _stem(method, budget, config, "dense-sha")
                for method, budget, config in points + [("dense", None, dense)]}

    before = stems()
    lenet4 = models.ZOO["lenet4"]
    monkeypatch.setitem(models.ZOO, "lenet4", models.ZooModel(
        lenet4.build, lenet4.input_shape, lenet4.dataset, {**lenet4.epochs, "jp": 99}))
    after = stems()
    changed = {key[0] for key in before if before[key] != after[key]}
    assert changed == {"jp"}


def test_pareto_errors_are_one_line(tmp_path, capsys):
    assert main(["pareto", "--model", "mlp3", "--methods", "wp,bogus", "--out", str(tmp_path)]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["pareto", "--model", "mlp3", "--arch", str(tmp_path / "none.yaml"),
                 "--out", str(tmp_path)]) == 2
    assert "none.yaml" in capsys.readouterr().err


@pytest.mark.training
def test_shared_sensitivity_tables_give_the_same_model(dense_checkpoint):
    dense, _ = dense_checkpoint
    config = TrainConfig(model="mlp3", method="jp", weight_budget=0.2, limit=400, validation=400,
                         epochs=1)
    tables = sensitivity_tables(config, dense)
    shared, alone = train(config, dense, tables=tables), train(config, dense)
    assert shared.sensitivity == alone.sensitivity
    for (_, a), (_, b) in zip(maskable_layers(shared.model), maskable_layers(alone.model)):
        assert torch.equal(a.weight, b.weight)


@pytest.mark.training
def test_worker_processes_and_a_dask_cluster_give_the_same_study(tmp_path, monkeypatch):
    # One point per method; both schedulers run each point in a worker with 1 torch thread,
    # so their results must agree to the last bit, and so must a resumed run.
    for method, budget in (("wp", 0.1), ("jp", 2)):
        monkeypatch.setitem(LADDERS, method, pareto.Ladder(LADDERS[method].knob, (budget,),
                                                           LADDERS[method].settings))
    kwargs = dict(archs=[EIE], samples=4, quick=True, workers=2, seeds=1)
    processes = run_pareto("mlp3", ["wp", "jp"], tmp_path / "processes", **kwargs).table
    dask = run_pareto("mlp3", ["wp", "jp"], tmp_path / "dask", scheduler="local", **kwargs).table
    figures = [c for c in processes.columns if c != "train_seconds"]
    pd.testing.assert_frame_equal(processes[figures], dask[figures])
    assert processes["method"].tolist() == ["dense", "wp", "jp"]


@pytest.mark.slow
def test_a_two_seed_study_end_to_end(tmp_path, capsys):
    """Each seed its own dense model and points; one row per point and seed, a summary per
    point, iso-accuracy ratios with intervals and verdicts, plots with the spread."""
    assert main(["pareto", "--model", "mlp3", "--methods", "wp,wp-mac,jp", "--quick",
                 "--seeds", "2", "--arch", EIE, "--samples", "4", "--workers", "2",
                 "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "pareto.csv")
    assert table.groupby(["method", "budget"], dropna=False)["seed"].nunique().eq(2).all()
    assert table[table["method"] == "dense"]["accuracy_percent"].nunique() == 2
    summary = pd.read_csv(tmp_path / "pareto_summary.csv")
    assert len(summary) == 1 + 3 * 2 and summary["seeds"].eq(2).all()
    assert (summary["accuracy_percent_min"] <= summary["accuracy_percent_mean"]).all()
    iso = pd.read_csv(tmp_path / "iso_accuracy.csv")
    for name in ("wp/jp", "wp-mac/jp"):
        assert {f"{name} low", f"{name} high", f"{name} p", f"{name} verdict"} <= set(iso)
        assert set(iso[f"{name} verdict"]) <= {"not distinguishable", "not reached"}  # 2 seeds
    assert (tmp_path / "plots" / "accuracy_vs_macs.png").is_file()
    assert run_pareto("mlp3", ["wp", "wp-mac", "jp"], tmp_path, archs=[EIE], samples=4,
                      quick=True, workers=2, seeds=2).computed == []
