"""SCALE-Sim topology files: `accelsim synth --topology` and `accelsim export --format scalesim`."""

import json
import math

import numpy as np
import pytest
from conftest import random_conv_layer, random_linear_layer

from accelsim import Layer, Trace, save_trace
from accelsim.cli import main
from accelsim.errors import AccelsimError
from accelsim.workload.inspect_trace import trace_summary
from accelsim.workload.synth import synthetic_trace
from accelsim.workload.topology import read_topology, topology_text

HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
          "Num Filter, Strides, Weight density, Activation density,")
# SCALE-Sim's own spacing and closing commas; a depthwise 'DP' row, a non-square filter,
# a strided layer and linear layers (1x1 filter on a 1x1 IFMAP); empty cells take the
# network's densities.
TOPOLOGY = f"""{HEADER}
conv1, 35, 35, 7, 7, 3, 16, 2, 0.8, 1,
block DP, 16, 16, 3, 3, 16, 1, 1, 0.5, 0.62,
pointwise, 14, 14, 1, 1, 16, 24, 1, , 0.4,
tall, 14, 14, 3, 1, 24, 8, 1, 0.3, ,
fc1, 1, 1, 1, 1, 1152, 100, 1, 0.12, 0.35,
fc2, 1, 1, 1, 1, 100, 10, 1, 0.5, 0.2,
"""


def scalesim_macs(height, width, rows, cols, channels, filters, stride):
    """SCALE-Sim 3.0.0's MAC count of a conv row (topology_utils.topo_calc_hyperparams)."""
    out_h = math.ceil((height - rows + stride) / stride)
    out_w = math.ceil((width - cols + stride) / stride)
    return out_h * out_w * rows * cols * channels * filters


def rows_of(text):
    return [[cell.strip() for cell in line.split(",")][:-1] for line in text.splitlines()[1:]]


def test_topology_synth_export_round_trip(tmp_path):
    path = tmp_path / "net.csv"
    path.write_text(TOPOLOGY)
    network = read_topology(path, weight_density=0.7, activation_density=0.9)
    trace = synthetic_trace(network, samples=2, seed=1)
    assert [l.kind for l in trace.layers] == ["conv2d"] * 4 + ["linear"] * 2
    assert trace.model == "net" and trace.layers[1].groups == 16  # DP: depthwise
    exported = topology_text(trace, densities=True)
    assert exported.splitlines()[0] == HEADER
    given, back = rows_of(TOPOLOGY), rows_of(exported)
    assert [row[:8] for row in back] == [row[:8] for row in given]  # the same geometry
    for row, original, layer in zip(back, given, trace.layers):
        # Densities: as given (an empty cell: the network's), to synth's one-element
        # quantization per array (activations: per sample) and the 6 digits written.
        for cell, wanted, size, default in ((row[8], original[8], layer.weight.size, 0.7),
                                            (row[9], original[9], layer.activations[0].size,
                                             0.9)):
            assert abs(float(cell) - float(wanted or default)) <= 0.5 / size + 1e-6
    # The same text again from the exported file (its densities are the measured ones).
    (tmp_path / "back.csv").write_text(exported)
    again = synthetic_trace(read_topology(tmp_path / "back.csv"), samples=2, seed=1)
    assert topology_text(again, densities=True) == exported


def test_dense_macs_are_scalesims_partial_windows_included(tmp_path):
    path = tmp_path / "partial.csv"
    path.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\n"
                    "resnet_conv1, 224, 224, 7, 7, 3, 64, 2,\n"
                    "odd, 23, 19, 5, 3, 13, 21, 3,\n"
                    "dw DP, 9, 9, 3, 3, 8, 2, 2,\n")
    trace = synthetic_trace(read_topology(path))
    rows = [(224, 224, 7, 7, 3, 64, 2), (23, 19, 5, 3, 13, 21, 3)]
    expected = [scalesim_macs(*row) for row in rows] + [8 * scalesim_macs(9, 9, 3, 3, 1, 2, 2)]
    assert list(trace_summary(trace)["macs_dense"]) == expected
    # SCALE-Sim rounds the partial last window up: the input is widened to its end.
    assert trace.layers[0].input_shape == (3, 225, 225)
    assert trace.layers[0].output_shape == (64, 110, 110)


def test_gemm_form(tmp_path):
    path = tmp_path / "gemm.csv"
    path.write_text("Layer, M, N, K, Activation density,\n"
                    "qk, 64, 48, 128, 0.5,\n"
                    "fc, 1, 1000, 4096,\n")
    trace = synthetic_trace(read_topology(path, weight_density=0.25))
    qk, fc = trace.layers
    # M output pixels of K channels, N filters: the GEMM M x K times K x N.
    assert qk.kind == "conv2d" and qk.input_shape == (128, 64, 1)
    assert qk.weight.shape == (48, 128, 1, 1)
    assert fc.kind == "linear" and fc.weight.shape == (1000, 4096)
    table = trace_summary(trace)
    assert list(table["macs_dense"]) == [64 * 48 * 128, 1000 * 4096]
    assert list(table["weight_density"]) == [0.25, 0.25]
    assert list(table["activation_density"]) == [0.5, 1.0]
    assert rows_of(topology_text(trace)) == [["qk", "64", "1", "1", "1", "128", "48", "1"],
                                             ["fc", "1", "1", "1", "1", "4096", "1000", "1"]]


def test_trace_export_synth_keeps_dense_macs_per_layer(tmp_path, capsys):
    rng = np.random.default_rng(0)
    layers = [
        random_conv_layer(rng, "conv1", channels=3, size=15, filters=8, kernel=5, padding=2),
        random_conv_layer(rng, "conv2", channels=8, size=15, filters=6, kernel=3, stride=2,
                          padding=0, groups=2),  # partial last window, and groups
        Layer("wide", "conv2d", rng.standard_normal((4, 6, 1, 3)).astype(np.float32),
              np.abs(rng.standard_normal((2, 6, 7, 9))).astype(np.float32), padding=(0, 1)),
        random_linear_layer(rng, "fc", n_in=252, n_out=10),
    ]
    save_trace(Trace(layers, model="mine", variant="jp"), tmp_path / "trace")
    csv = tmp_path / "mine.csv"
    assert main(["export", "--format", "scalesim", str(tmp_path / "trace"), "--out", str(csv),
                 "--split-groups", "--densities"]) == 0
    assert main(["synth", "--topology", str(csv), "--out", str(tmp_path / "back")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "trace"), "--format", "json"]) == 0
    original = {l["name"]: l for l in json.loads(capsys.readouterr().out)["layers"]}
    assert main(["inspect", str(tmp_path / "back"), "--format", "json"]) == 0
    back = {l["name"]: l for l in json.loads(capsys.readouterr().out)["layers"]}
    assert list(back) == ["conv1", "conv2.g0", "conv2.g1", "wide", "fc"]
    for name in ("conv1", "wide", "fc"):
        assert back[name]["macs_dense"] == original[name]["macs_dense"]
        assert back[name]["weight_density"] == pytest.approx(original[name]["weight_density"],
                                                             abs=1e-5)
        assert back[name]["output_shape"] == original[name]["output_shape"]
    assert back["conv2.g0"]["macs_dense"] * 2 == original["conv2"]["macs_dense"]
    # The IFMAP is the padded input (cropped to the last window): the padding zeros count.
    assert back["conv1"]["input_shape"] == "3x19x19"
    assert back["conv1"]["activation_density"] < original["conv1"]["activation_density"]


@pytest.mark.parametrize("layer, message", [
    (random_conv_layer(np.random.default_rng(0), "grouped", groups=2),
     "layer 'grouped': groups=2: SCALE-Sim has no groups (--split-groups"),
    (random_conv_layer(np.random.default_rng(0), "dilated", dilation=2),
     "layer 'dilated': stride (1, 1) and dilation (2, 2)"),
    (random_conv_layer(np.random.default_rng(0), "myDPconv"),
     "layer 'myDPconv': SCALE-Sim runs a layer whose name contains 'DP' as a depthwise conv"),
    (random_linear_layer(np.random.default_rng(0), "fc,1"), "layer 'fc,1': a comma or line"),
    (random_linear_layer(np.random.default_rng(0), "=SUM(A1)"),
     "layer '=SUM(A1)': a name starting with '=' is run as a formula by a spreadsheet"),
])
def test_export_refuses_what_scalesim_cannot_express(tmp_path, capsys, layer, message):
    save_trace(Trace([layer]), tmp_path / "t")
    assert main(["export", "--format", "scalesim", str(tmp_path / "t"), "--out",
                 str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"trace {tmp_path / 't'}: {message}" in err
    assert not (tmp_path / "t.csv").exists()


CONV = HEADER.replace(" Weight density, Activation density,", "\n")


@pytest.mark.parametrize("text, message", [
    ("", "needs a header line and at least one layer"),
    ("Layer, X, Y,\nc, 1, 2,\n", "line 1: the header must be SCALE-Sim's conv form"),
    (CONV.replace("Strides,", "Strides, Sparsity,") + "c, 8, 8, 3, 3, 2, 4, 1, 2:4,\n",
     "line 1: column 9 'Sparsity' is unknown"),
    (CONV + "c, 8, 8, 3, 3, two, 4, 1,\n",
     "line 2 ('c'): column 'Channels': 'two' is not an integer >= 1"),
    (CONV + "c, 8, 8, 3, 3, 2, 0, 1,\n",
     "line 2 ('c'): column 'Num Filter': '0' is not an integer"),
    (CONV + "c, 8, 2, 3, 3, 2, 4, 1,\n", "line 2 ('c'): filter 3x3 is larger than the IFMAP 8x2"),
    (CONV + "c, 8, 8, 3, 3, 2, 4,\n", "line 2 ('c'): 7 values, expected 8"),
    (CONV + "c, 8, 8, 3, 3, 2, 4, 1,\n\nc, 8, 8, 3, 3, 2, 4, 1,\n",
     "line 4 ('c'): layer names must be unique"),
    (CONV + "c, 8, 8, 3, 3, 70000, 70000, 1,\n", "line 2 ('c'): the weight array has"),
    (CONV.replace("Strides,", "Strides, Activation density,")
     + "c, 8, 8, 3, 3, 2, 4, 1, 1.5,\n",
     "line 2 ('c'): column 'Activation density': '1.5' is not a density in 0..1"),
])
def test_bad_topologies_are_one_line_errors_naming_file_and_line(tmp_path, capsys, text,
                                                                   message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(AccelsimError, match="^topology .*bad.csv: "):
        read_topology(path)
    assert main(["synth", "--topology", str(path), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"topology {path}: {message}" in err, err


PLAIN = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
         "Num Filter, Strides,")
ROWS = ["conv1, 10, 10, 3, 3, 4, 8, 1,", "Conv2DP, 8, 8, 3, 3, 8, 1, 1,", "fc, 1, 1, 1, 1, 8, 5, 1,"]


@pytest.mark.parametrize("form", ["commas", "tabs", "comments", "dw comment", "empty header",
                                  "titles", "no closing commas", "blank lines"])
def test_the_forms_scalesims_own_files_take_read_as_the_same_network(tmp_path, form):
    """Each form, written from SCALE-Sim's documented layout, reads as the plain file does."""
    header, rows = PLAIN, list(ROWS)
    if form == "tabs":
        header = header.replace(", ", "\t").rstrip(",")
        rows = [row.replace(", ", "\t").rstrip(",") for row in rows]
    elif form == "comments":
        rows = ["# the first block", *rows[:2], "   # a note", rows[2]]
    elif form == "dw comment":
        rows[1] = rows[1] + " #dw"
    elif form == "empty header":
        header += " ,"
    elif form == "titles":
        rows = ["Block 1", *rows[:2], "Classifier", rows[2]]
    elif form == "no closing commas":
        rows = [row.rstrip(",") for row in rows]
    elif form == "blank lines":
        rows = ["", rows[0], "  ", *rows[1:], ""]
    plain, variant = tmp_path / "plain.csv", tmp_path / f"{form}.csv"
    plain.write_text("\n".join([PLAIN, *ROWS]) + "\n")
    variant.write_text("\n".join([header, *rows]) + "\n")
    assert read_topology(variant).layers == read_topology(plain).layers


def test_a_placeholder_left_in_a_template_is_named(tmp_path, capsys):
    (tmp_path / "t.csv").write_text(PLAIN + "\nconv1, H, H, 3, 3, B, 8, 1,\n")
    assert main(["synth", "--topology", str(tmp_path / "t.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "column 'IFMAP Height': 'H' is a placeholder of a template" in capsys.readouterr().err


def test_a_depthwise_conv_is_exported_as_scalesims_dp_row_and_read_back(tmp_path):
    layer = random_conv_layer(np.random.default_rng(0), "dw", channels=8, filters=8, groups=8,
                              padding=1)
    text = topology_text(Trace([layer]), split_groups=True)
    assert text.splitlines()[1].startswith("dw_DP, 9, 9, 3, 3, 8, 1, 1,")
    (tmp_path / "dw.csv").write_text(text)
    back = synthetic_trace(read_topology(tmp_path / "dw.csv")).layers[0]
    assert (back.groups, back.weight.shape, back.output_shape) == (8, (8, 1, 3, 3), (8, 7, 7))


def test_network_densities_need_a_topology(tmp_path, capsys):
    assert main(["synth", "--preset", "alexnet-jp", "--weight-density", "0.5",
                 "--out", str(tmp_path / "t")]) == 2
    assert "--weight-density and --activation-density apply to --topology" in \
        capsys.readouterr().err
