"""What accelsim writes it reads back with the same content: traces, topology exports and
results tables, for generated objects (odd names, any legal geometry, any density)."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accelsim
from accelsim import Layer, Trace
from accelsim.core.inputs import FORMULA_START
from accelsim.report.results import read_results, write_results
from accelsim.workload.synth import synthetic_trace
from accelsim.workload.topology import read_topology, topology_text
from accelsim.workload.trace import DTYPES

ROUND_TRIPS = {"trace": 120, "topology": 60, "results": 40}  # cases per kind (CI)

# Names as users and PyTorch give them: module paths, odd Unicode, spreadsheet formulas.
names = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]),
            min_size=1, max_size=30),
    st.sampled_from(["features.0", "=HYPERLINK(\"x\")", "+1", "-a", "@b", "'q", "TOTAL_",
                     "total", "layer #2", "名前", "a" * 200]),
).filter(lambda n: n != "TOTAL")


def _array(rng, shape, dtype, density):
    values = rng.standard_normal(shape) * 4
    values[rng.random(shape) >= density] = 0
    if np.dtype(dtype).kind == "i":
        values = np.clip(np.round(values), -100, 100)
    return values.astype(dtype)


@st.composite
def layers(draw, name, exportable=False):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    samples = draw(st.integers(1, 2))
    density = (draw(st.floats(0, 1)), draw(st.floats(0, 1)))
    if draw(st.booleans()):
        n_in, n_out = draw(st.integers(1, 24)), draw(st.integers(1, 12))
        return Layer(name, "linear", _array(rng, (n_out, n_in), dtype, density[0]),
                     np.abs(_array(rng, (samples, n_in), dtype, density[1])))
    groups = 1 if exportable else draw(st.sampled_from([1, 1, 2]))
    channels = groups * draw(st.integers(1, 3))
    filters = groups * draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 3))
    dilation = 1 if exportable else draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    size = max(1, dilation * (kernel - 1) + 1 - 2 * padding) + draw(st.integers(0, 5))
    stride = draw(st.integers(1, 3))
    return Layer(name, "conv2d", _array(rng, (filters, channels // groups, kernel, kernel),
                                        dtype, density[0]),
                 np.abs(_array(rng, (samples, channels, size, size), dtype, density[1])),
                 stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def traces(draw, exportable=False):
    layer_names = draw(st.lists(names.filter(lambda n: not exportable or (
        "," not in n and "DP" not in n and n == n.strip()
        and not n.startswith(FORMULA_START))), min_size=1, max_size=3,
        unique=True))
    samples = draw(st.integers(1, 2))
    built = [draw(layers(name, exportable)) for name in layer_names]
    built = [Layer(l.name, l.kind, l.weight, l.activations[:1].repeat(samples, axis=0),
                   l.stride, l.padding, l.dilation, l.groups) for l in built]
    metadata = draw(st.dictionaries(st.text(max_size=5), st.one_of(
        st.integers(-10**6, 10**6), st.text(max_size=5), st.booleans(), st.none()), max_size=3))
    return Trace(built, model=draw(names), variant=draw(names), dataset=draw(st.text(max_size=8)),
                 source=draw(st.text(max_size=8)), metadata=metadata,
                 independent_layers=draw(st.booleans()))


def round_trip_settings(kind):
    return settings(max_examples=ROUND_TRIPS[kind], deadline=None, database=None,
                    derandomize=True, suppress_health_check=list(HealthCheck))


@round_trip_settings("trace")
@given(trace=traces())
def test_a_saved_trace_loads_back_the_same(trace, tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "t"
    loaded = accelsim.load_trace(accelsim.save_trace(trace, path))
    for key in ("model", "variant", "dataset", "source", "metadata", "independent_layers"):
        assert getattr(loaded, key) == getattr(trace, key), key
    assert len(loaded.layers) == len(trace.layers)
    for got, want in zip(loaded.layers, trace.layers):
        assert (got.name, got.kind, got.stride, got.padding, got.dilation, got.groups) == \
            (want.name, want.kind, want.stride, want.padding, want.dilation, want.groups)
        for array in ("weight", "activations"):
            assert getattr(got, array).dtype == getattr(want, array).dtype
            assert np.array_equal(getattr(got, array), getattr(want, array))


@round_trip_settings("topology")
@given(trace=traces(exportable=True))
def test_an_exported_topology_reads_back_as_the_same_network(trace, tmp_path_factory):
    """Export with densities, read back, draw: the same names, geometry (outputs and dense
    MACs; a 1x1 conv on a 1x1 input comes back as the linear layer it is) and weight
    densities within a weight's share."""
    path = tmp_path_factory.mktemp("topology") / "net.csv"
    path.write_text(topology_text(trace, densities=True))
    again = synthetic_trace(read_topology(path), samples=1)
    assert [l.name for l in again.layers] == [l.name for l in trace.layers]
    for got, want in zip(again.layers, trace.layers):
        assert np.prod(got.output_shape) == np.prod(want.output_shape), got.name
        got_macs, want_macs = accelsim.layer_macs(got), accelsim.layer_macs(want)
        assert got_macs.macs_dense == want_macs.macs_dense
        assert abs(got_macs.weight_density - want_macs.weight_density) <= 1 / want_macs.weights


@round_trip_settings("results")
@given(trace=traces(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_a_results_table_reads_back_the_same(trace, suffix, tmp_path_factory):
    table = accelsim.simulate("eie", trace)
    path = tmp_path_factory.mktemp("results") / f"r{suffix}"
    write_results(table, path, {"command": "test"})
    loaded = read_results(path)
    if suffix == ".csv":  # CSV has one empty cell: an empty string comes back missing
        table = table.astype(object).where(table != "", None)
        loaded = loaded.astype(object).where(loaded.notna(), None)
    pd.testing.assert_frame_equal(loaded, table, check_dtype=False, check_exact=True)
