"""Training, checkpoints, data loaders and the train -> trace -> inspect path on real MNIST."""

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUICK_DENSE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.sim.config import BUNDLED_CONFIGS
from accelsim.training.checkpoint import load_checkpoint, save_checkpoint
from accelsim.training.data import DataError, load_dataset
from accelsim.training.methods import TrainConfig, TrainResult, choose_by_budget, train
from accelsim.training.models import maskable_layers
from accelsim.training.pruning import ActivationMask, install_activation_masks, weight_mask
from accelsim.training.tracing import trace_from_checkpoint

pytestmark = pytest.mark.training

LIMIT = 400  # images per split: seconds, not minutes


def test_mnist_from_the_package_is_the_standard_split():
    data = load_dataset("mnist", validation=5000)
    assert (len(data.train.labels), len(data.validation.labels), len(data.test.labels)) == (
        55000, 5000, 10000)
    assert data.test.images.shape[1:] == (1, 28, 28)
    assert 0 <= data.test.images.min() and data.test.images.max() <= 1
    assert sorted(np.unique(data.test.labels)) == list(range(10))


def test_idx_and_cifar_loaders(tmp_path):
    def idx(path, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        with gzip.open(path, "wb") as handle:
            handle.write(header + array.astype(np.uint8).tobytes())
    rng = np.random.default_rng(0)
    for stem, n in (("train", 30), ("t10k", 10)):
        idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)))
        idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    data = load_dataset("mnist", validation=5, mnist_dir=tmp_path)
    assert (len(data.train.labels), len(data.validation.labels), len(data.test.labels)) == (25, 5, 10)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_dataset("mnist", mnist_dir=tmp_path)

    cifar = tmp_path / "cifar"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(cifar / name, "wb") as handle:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                         b"labels": list(rng.integers(0, 10, 4))}, handle)
    data = load_dataset("cifar10", validation=4, cifar_dir=cifar)
    assert data.train.images.shape == (16, 3, 32, 32) and len(data.test.labels) == 4
    # A crafted batch that names a function to call is refused, and the call never happens.
    witness = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (witness,))

    with open(cifar / "data_batch_2", "wb") as handle:
        pickle.dump({b"data": Payload(), b"labels": []}, handle)
    with pytest.raises(DataError, match="data_batch_2.*refused global"):
        load_dataset("cifar10", validation=4, cifar_dir=cifar)
    assert not witness.exists()
    (cifar / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing data_batch_3"):
        load_dataset("cifar10", cifar_dir=cifar)
    with pytest.raises(DataError, match="ACCELSIM_CIFAR10_DIR"):
        load_dataset("cifar10")


def test_checkpoint_round_trip(dense_checkpoint):
    path, result = dense_checkpoint
    model, meta = load_checkpoint(path)
    x = torch.rand(5, 1, 28, 28)
    result.model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), result.model(x))
    assert meta["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert json.loads(path.with_name(path.name + ".json").read_text())["model"] == "mlp3"


def test_training_is_seeded(dense_checkpoint):
    _, first = dense_checkpoint
    again = train(TrainConfig(**QUICK_DENSE))
    for (_, a), (_, b) in zip(maskable_layers(first.model), maskable_layers(again.model)):
        assert torch.equal(a.weight, b.weight)


def test_wp_shares_its_epochs_out_over_the_rounds(dense_checkpoint):
    path, _ = dense_checkpoint
    result = train(TrainConfig(model="mlp3", method="wp", limit=LIMIT, validation=400,
                               prune_steps=3, epochs=5, weight_budget=0.5), start_from=path)
    rounds = [h["phase"] for h in result.history if h["phase"].startswith("wp")]
    assert rounds == ["wp round 1"] * 2 + ["wp round 2"] * 2 + ["wp round 3"]


def test_wp_masks_stay_fixed_while_retraining(dense_checkpoint):
    path, _ = dense_checkpoint
    result = train(TrainConfig(model="mlp3", method="wp", limit=LIMIT, validation=400,
                               prune_steps=1, epochs=2,
                               weight_densities={"fc1": 0.2, "fc2": 0.3, "fc3": 0.5}),
                   start_from=path)
    history = [h for h in result.history if h["phase"].startswith("wp")]
    assert history[0]["weight_density"] == history[-1]["weight_density"]
    for _, module in maskable_layers(result.model):
        assert torch.all(module.weight[weight_mask(module) == 0] == 0)
    assert history[-1]["weight_density"]["fc1"] == pytest.approx(0.2, abs=1e-3)


def test_budget_allocation_meets_the_budget():
    table = {"a": {1.0: .98, .5: .97, .1: .90}, "b": {1.0: .98, .5: .98, .1: .97}}
    chosen = choose_by_budget(table, .98, {"a": 100, "b": 100}, 0.3)
    assert (100 * chosen["a"] + 100 * chosen["b"]) / 200 <= 0.3
    assert chosen["b"] <= chosen["a"]  # the insensitive layer is pruned first


def test_wp_mac_budgets_macs_where_wp_budgets_weights():
    """On LeNet-4 fc1 holds 96 % of the weights and conv2 75 % of the MACs: with every layer
    equally insensitive, wp cuts fc1 first and wp-mac conv2, each meeting its own budget."""
    from accelsim.training.methods import _weight_targets
    from accelsim.training.models import build_model, count_dense_macs, input_shape

    model = build_model("lenet4")
    layers = dict(maskable_layers(model))
    flat = {name: {d: 0.99 for d in (1.0, 0.5, 0.2, 0.1, 0.05)} for name in layers}
    tables = {"weight": {"baseline": 0.99, "accuracy": flat}}
    config = TrainConfig(model="lenet4", method="wp", weight_budget=0.2)
    by_weights = _weight_targets(model, None, config, {}, tables, None, "weights")
    by_macs = _weight_targets(model, None, config, {}, tables, None, "macs")
    weights = {n: m.weight.numel() for n, m in layers.items()}
    macs = count_dense_macs(model, input_shape("lenet4"))
    kept = lambda sizes, chosen: sum(sizes[n] * chosen[n] for n in sizes) / sum(sizes.values())  # noqa: E731
    assert kept(weights, by_weights) <= 0.2 and kept(macs, by_macs) <= 0.2
    assert by_macs["conv2"] < by_weights["conv2"] and by_macs["fc1"] > by_weights["fc1"]
    assert kept(macs, by_weights) > 0.5  # wp at 20 % of the weights keeps most MACs


def test_train_trace_inspect_end_to_end(dense_checkpoint, tmp_path, capsys):
    path, _ = dense_checkpoint
    jp = tmp_path / "mlp3-jp.pt"
    assert main(["train", "--model", "mlp3", "--method", "jp", "--from", str(path), "--out",
                 str(jp), "--limit", str(LIMIT), "--validation", "400", "--epochs", "2",
                 "--winner-rates", "fc2=0.2,fc3=0.3", "--weight-densities", "fc1=0.2"]) == 0
    assert main(["trace", "--checkpoint", str(jp), "--samples", "16", "--out",
                 str(tmp_path / "trace")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "trace"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["variant"] == "jp" and report["samples"] == 16
    layers = {l["name"]: l for l in report["layers"]}
    assert layers["fc2"]["activation_density"] <= 0.2 + 1e-9
    assert layers["fc3"]["activation_density"] <= 0.3 + 1e-9
    assert layers["fc1"]["weight_density"] == pytest.approx(0.2, abs=1e-3)
    assert report["metadata"]["activation_masks"]["fc2"]["rate"] == 0.2
    assert 0 < report["metadata"]["test_accuracy"] <= 1


def test_a_threshold_mode_checkpoint_is_traced_with_threshold_winners(dense_checkpoint, tmp_path):
    path, _ = dense_checkpoint
    model, _ = load_checkpoint(path)
    dense_trace = trace_from_checkpoint(path, 32, tmp_path / "dense")
    threshold = {"rate": 0.1, "mode": "threshold", "epsilon": 0.25}
    install_activation_masks(model, {"fc2": threshold})
    config = TrainConfig(model="mlp3", method="jp", inference="threshold", limit=LIMIT,
                         validation=400)
    save_checkpoint(TrainResult(model, config, 0.0, 0.0, [], {}, 0.0), tmp_path / "jp.pt")
    kept = np.count_nonzero(trace_from_checkpoint(tmp_path / "jp.pt", 32, tmp_path / "jp")
                            .layer("fc2").activations, axis=1)
    # What the threshold rule keeps of the unmasked fc2 inputs, sample by sample; exact top-k
    # would keep k = 30 of 300 in every sample.
    unmasked = torch.from_numpy(dense_trace.layer("fc2").activations)
    expected = ActivationMask(**threshold).winners(unmasked, training=False).sum(1).numpy()
    assert kept.tolist() == expected.tolist()
    assert len(set(kept.tolist())) > 1 and not (kept == 30).all()


def test_bad_training_input_is_a_clean_error(tmp_path, capsys):
    assert main(["train", "--model", "mlp3", "--method", "jp", "--out", str(tmp_path / "x.pt")]) == 2
    assert "give --from" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["trace", "--checkpoint", str(tmp_path / "junk.pt"), "--out",
                 str(tmp_path / "t")]) == 2
    assert "not a readable accelsim checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["mlp3", "lenet4"])
def test_sensitivity_from_cached_prefixes_equals_full_passes(model, tmp_path, monkeypatch):
    from accelsim.training import methods

    # 200 held-out images: every layer's sweep is measured twice, and only equality matters.
    config = TrainConfig(model=model, method="jp", limit=LIMIT, validation=200, epochs=1)
    dense = tmp_path / "dense.pt"
    save_checkpoint(train(TrainConfig(model=model, limit=LIMIT, validation=200, epochs=1)), dense)
    cached = methods.sensitivity_tables(config, dense)
    monkeypatch.setattr(methods, "_split_at", lambda model, name: None)
    assert cached == methods.sensitivity_tables(config, dense)
    assert any(a < cached["weight"]["baseline"] for table in cached["weight"]["accuracy"].values()
               for a in table.values())


def test_demo_reuses_a_checkpoint_only_while_its_inputs_are_the_same(tmp_path, monkeypatch):
    from accelsim.studies import compare
    logs = []

    def trained():
        logs.clear()
        compare.run_demo(tmp_path / "demo", [str(BUNDLED_CONFIGS / "dense.yaml")], samples=2,
                          quick=True, log=logs.append)
        return [line.split()[2] for line in logs if line.startswith("training ")]

    assert trained() == ["dense", "wp", "jp"]
    assert trained() == []
    monkeypatch.setitem(compare.DEMO_METHODS, "wp", {"weight_budget": 0.2})
    assert trained() == ["wp"]
    # A dense model trained differently makes every checkpoint that starts from it stale.
    monkeypatch.setattr(compare, "QUICK_TRAINING", {**compare.QUICK_TRAINING, "seed": 1})
    assert trained() == ["dense", "wp", "jp"]


@settings(max_examples=30, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0, 1), masked=st.booleans(),
       accuracy=st.floats(0, 1), seconds=st.floats(0, 1e6))
def test_a_saved_checkpoint_loads_back_the_same(dense_checkpoint, tmp_path_factory, seed,
                                                 density, masked, accuracy, seconds):
    """Round trip as a property: generated weights, weight masks of any density and
    figures; the loaded model computes exactly what the saved one did."""
    import copy
    import dataclasses

    from accelsim.training.pruning import attach_weight_masks

    _, dense = dense_checkpoint
    model = copy.deepcopy(dense.model)
    generator = torch.Generator().manual_seed(seed)
    if masked:
        attach_weight_masks(model)
    with torch.no_grad():
        for _, module in maskable_layers(model):
            if masked:
                weight_mask(module).copy_(torch.rand(weight_mask(module).shape,
                                                     generator=generator) < density)
            else:
                module.weight.mul_(torch.rand(module.weight.shape, generator=generator) * 2)
    result = dataclasses.replace(dense, model=model, test_accuracy=accuracy, seconds=seconds)
    path = tmp_path_factory.mktemp("checkpoint") / "m.pt"
    save_checkpoint(result, path)
    loaded, meta = load_checkpoint(path)
    x = torch.rand(3, 1, 28, 28, generator=generator)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    for (_, got), (_, want) in zip(maskable_layers(loaded), maskable_layers(model)):
        assert torch.equal(got.weight, want.weight)
    assert meta["test_accuracy"] == accuracy and meta["train_seconds"] == seconds
