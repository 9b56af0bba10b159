"""Long experiments: `pytest -m slow` (CI does not run them; with the slow fuzz, 11 minutes on 2 cores)."""

import pytest

from accelsim.training.checkpoint import save_checkpoint
from accelsim.training.methods import TrainConfig, train
from accelsim.training.tracing import trace_from_checkpoint
from accelsim.workload.inspect_trace import summary_totals, trace_summary


@pytest.mark.slow
def test_mlp3_reaches_the_acceptance_figures(tmp_path):
    dense = train(TrainConfig(model="mlp3", method="dense"))
    save_checkpoint(dense, tmp_path / "dense.pt")
    assert dense.test_accuracy >= 0.982
    wp = train(TrainConfig(model="mlp3", method="wp", weight_budget=0.1),
               start_from=tmp_path / "dense.pt")
    jp = train(TrainConfig(model="mlp3", method="jp"), start_from=tmp_path / "dense.pt")
    save_checkpoint(wp, tmp_path / "wp.pt")
    save_checkpoint(jp, tmp_path / "jp.pt")
    assert jp.test_accuracy >= dense.test_accuracy - 0.002
    totals = {}
    for name in ("wp", "jp"):
        trace = trace_from_checkpoint(tmp_path / f"{name}.pt", 64, tmp_path / f"trace-{name}")
        totals[name] = summary_totals(trace_summary(trace))
    assert totals["jp"]["mac_fraction"] <= 0.05
    assert totals["wp"]["weight_density"] <= 0.10
