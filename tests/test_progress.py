"""One progress convention: progress(items, description) -> items, None meaning silent."""

from conftest import ROOT

from accelsim import simulate, synthetic_trace
from accelsim.core.progress import Counted, no_progress, tqdm_progress
from accelsim.studies import validate
from accelsim.workload.inspect_trace import trace_summary

EIE = ROOT / "arch_configs" / "eie.yaml"
NETWORK = {"model": "two", "layers": [
    {"name": "fc1", "kind": "linear", "in_features": 16, "out_features": 8,
     "weight_density": 0.5, "activation_density": 0.5},
    {"name": "fc2", "kind": "linear", "in_features": 8, "out_features": 4,
     "weight_density": 0.5, "activation_density": 0.5}]}


class Recorder:
    """A reporter that notes each loop's description and how many items went through it."""

    def __init__(self):
        self.loops = []

    def __call__(self, items, description):
        self.loops.append([description, 0])
        for item in items:
            self.loops[-1][1] += 1
            yield item


def test_library_loops_report_through_the_one_signature(monkeypatch):
    recorder = Recorder()
    trace = synthetic_trace(NETWORK, progress=recorder)
    trace_summary(trace, progress=recorder)
    quiet = simulate(EIE, trace)
    reported = simulate(EIE, trace, progress=recorder)
    assert reported.equals(quiet)

    def one_check(progress):
        assert list(progress([1, 2, 3], "inner")) == [1, 2, 3]
        return [], {}

    monkeypatch.setattr(validate, "CHECKS", [one_check])
    validate.run_validation(progress=recorder)
    assert recorder.loops == [["synth two", 2], ["inspect two/synthetic", 2],
                              ["eie two/synthetic", 2], ["validate", 1], ["inner", 3]]


def test_the_reporters():
    assert no_progress(items := [1, 2], "anything") is items
    # Off a terminal (as under pytest) tqdm's bar switches itself off; the items pass
    # unchanged, and an iterator of known length gives the bar its total.
    bar = tqdm_progress(Counted(iter("abc"), 3), "letters")
    assert bar.disable and bar.total == 3
    assert list(bar) == ["a", "b", "c"]
