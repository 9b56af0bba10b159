"""Tracing a user's own model: `accelsim trace --model-file FILE.py:FUNCTION` and
`accelsim.capture_trace`."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import accelsim
from accelsim.cli import main
from accelsim.training.user_model import build_model

MODEL_FILE = textwrap.dedent("""
    import collections

    import torch
    from torch import nn

    from helper import WIDTH  # a neighbour module: the file's directory is importable


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, WIDTH, 3, padding=1)
            self.conv2 = nn.Conv2d(WIDTH, 6, 3, stride=2, groups=2)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(6 * 3 * 3, 10)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = self.pool(torch.relu(self.conv2(x)))
            return self.fc(x.flatten(1))


    def build():
        return Net()


    def wider():
        net = Net()
        net.fc = nn.Linear(6 * 3 * 3, 12)
        return net


    def unsupported_padding():
        return nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"))


    def unsupported_transpose():
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 2, 3))


    def unsupported_conv1d():
        block = nn.Module()
        block.temporal = nn.Conv1d(1, 2, 3)
        return nn.Sequential(block)


    def raises():
        raise ValueError("cannot build")


    def not_a_module():
        return 42


    def exits():
        import sys
        sys.exit(3)


    def long_error():
        raise RuntimeError("x" * 5000 + "\\nsecond line")


    def reserved_name():
        return nn.Sequential(collections.OrderedDict(flat=nn.Flatten(), TOTAL=nn.Linear(196, 2)))


    def meta_weights():
        return nn.Sequential(nn.Flatten(), nn.Linear(196, 2, device="meta"))


    def complex_weights():
        return nn.Sequential(nn.Flatten(), nn.Linear(196, 2, dtype=torch.complex64))


    def bare_linear():
        return nn.Linear(14, 3)
""")


@pytest.fixture
def user_files(tmp_path):
    (tmp_path / "helper.py").write_text("WIDTH = 4\n")
    (tmp_path / "my_net.py").write_text(MODEL_FILE)
    torch.manual_seed(0)
    model = build_model(f"{tmp_path / 'my_net.py'}:build")
    with torch.no_grad():
        model.conv1.weight[0] = 0  # a pruned filter, kept as zeros in the trace
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    images = np.random.default_rng(0).random((6, 1, 14, 14), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)
    return tmp_path, model.state_dict(), images


def test_model_file_trace_records_every_conv_and_linear(user_files, capsys):
    directory, state, images = user_files
    out = directory / "trace"
    assert main(["trace", "--model-file", f"{directory / 'my_net.py'}:build",
                 "--weights", str(directory / "weights.pt"), "--images",
                 str(directory / "images.npy"), "--samples", "4", "--out", str(out)]) == 0
    trace = accelsim.load_trace(out)
    assert (trace.model, trace.variant, trace.samples) == ("my_net", "dense", 4)
    assert [layer.name for layer in trace.layers] == ["conv1", "conv2", "fc"]
    conv1, conv2, fc = trace.layers
    assert conv1.activations.shape == (4, 1, 14, 14) and conv1.padding == (1, 1)
    assert conv2.input_shape == (4, 14, 14) and conv2.output_shape == (6, 6, 6)
    assert conv2.stride == (2, 2) and conv2.groups == 2
    assert fc.kind == "linear" and fc.activations.shape == (4, 54)
    for layer in trace.layers:
        assert np.array_equal(layer.weight, state[f"{layer.name}.weight"].numpy())
    assert np.array_equal(conv1.activations, images[:4])
    assert not conv1.weight[0].any()
    # The layers after the first see the model's own intermediate values (ReLU: non-negative).
    assert (conv2.activations >= 0).all() and (conv2.activations == 0).any()
    assert "wrote" in capsys.readouterr().out


def test_python_api_matches_the_cli(user_files):
    directory, state, images = user_files
    assert main(["trace", "--model-file", f"{directory / 'my_net.py'}:build", "--weights",
                 str(directory / "weights.pt"), "--images", str(directory / "images.npy"),
                 "--model-name", "net", "--variant", "wp", "--out", str(directory / "t")]) == 0
    from_cli = accelsim.load_trace(directory / "t")
    assert (from_cli.model, from_cli.variant, from_cli.samples) == ("net", "wp", 6)

    model = torch.nn.Sequential(torch.nn.Linear(10, 3))
    trace = accelsim.capture_trace(model, np.ones((2, 10)), model_name="mlp")
    assert trace.layers[0].activations.dtype == np.float32  # cast to the model's dtype
    assert (trace.model, trace.variant) == ("mlp", "dense")


@pytest.mark.parametrize("function, message", [
    ("unsupported_padding", "layer '0' (Conv2d): padding 'same' is not supported"),
    ("unsupported_transpose", "layer '1' (ConvTranspose2d): not supported"),
    ("unsupported_conv1d", "layer '0.temporal' (Conv1d): not supported"),
    ("raises", "raises() raised ValueError: cannot build"),
    ("not_a_module", "not_a_module() returned int, not a torch.nn.Module"),
    ("exits", "exits() raised SystemExit: 3"),
    ("long_error", "long_error() raised RuntimeError: xxx"),
    ("reserved_name", "layer name 'TOTAL' is reserved"),
    ("meta_weights", "layer '1' (Linear): its weight is on the meta device"),
    ("complex_weights", "layer '1' (Linear): its weight is complex"),
    ("missing", "no function 'missing'"),
])
def test_bad_models_are_one_line_errors_naming_file_and_layer(user_files, capsys, function,
                                                             message):
    directory, _, _ = user_files
    status = main(["trace", "--model-file", f"{directory / 'my_net.py'}:{function}",
                   "--images", str(directory / "images.npy"), "--out", str(directory / "t")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and len(err) < 600, err
    assert message in err
    assert not (directory / "t").exists()


def test_a_model_that_is_one_layer_is_named_after_its_class(user_files, capsys):
    directory, _, _ = user_files
    np.save(directory / "rows.npy", np.ones((2, 14), np.float32))
    assert main(["trace", "--model-file", f"{directory / 'my_net.py'}:bare_linear", "--images",
                 str(directory / "rows.npy"), "--out", str(directory / "t")]) == 0
    assert [layer.name for layer in accelsim.load_trace(directory / "t").layers] == ["linear"]
    assert main(["inspect", str(directory / "t")]) == 0


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.to_sparse(), "is a torch.sparse_coo tensor; save dense tensors"),
    (lambda t: torch.empty_like(t, device="meta"), "is on the meta device"),
    (lambda t: t.to(torch.complex64), "is complex"),
])
def test_a_state_dict_of_tensors_that_hold_no_dense_real_values_is_refused(user_files, capsys,
                                                                           damage, message):
    directory, state, _ = user_files
    torch.save({k: damage(v) if k == "fc.weight" else v for k, v in state.items()},
               directory / "odd.pt")
    assert main(["trace", "--model-file", f"{directory / 'my_net.py'}:build", "--weights",
                 str(directory / "odd.pt"), "--images", str(directory / "images.npy"),
                 "--out", str(directory / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"weights {directory / 'odd.pt'}: key 'fc.weight' {message}" in err


def test_bad_weights_and_images_are_one_line_errors(user_files, capsys):
    directory, _, images = user_files
    np.save(directory / "ints.npy", (images * 255).astype(np.uint8))
    np.save(directory / "flat.npy", images[:, 0])  # N x H x W: no channel axis
    (directory / "junk.pt").write_bytes(b"not a torch file")
    model = f"{directory / 'my_net.py'}"
    cases = [
        ([f"{model}:wider", "--weights", str(directory / "weights.pt")],
         "key 'fc.weight' has shape [10, 54], the model's is [12, 54]"),
        ([f"{model}:build", "--weights", str(directory / "junk.pt")],
         "not a state_dict saved with torch.save"),
        ([f"{model}:build", "--weights", str(directory / "absent.pt")], "file not found"),
    ]
    for args, message in cases:
        assert main(["trace", "--model-file", *args, "--images", str(directory / "images.npy"),
                     "--out", str(directory / "t")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    for name, message in (("ints.npy", "dtype uint8"), ("flat.npy", "shape [6, 14, 14]"),
                          ("junk.pt", "not a readable .npy array")):
        assert main(["trace", "--model-file", f"{model}:build", "--images",
                     str(directory / name), "--out", str(directory / "t")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"images {directory / name}: {message}" in err, err


def test_conv_input_that_is_not_4d_is_named():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3))
    with pytest.raises(accelsim.AccelsimError,
                       match=r"layer '0' \(Conv2d\): its input has shape \(3, 8, 8\)"):
        accelsim.capture_trace(model, torch.rand(3, 8, 8))


def test_capture_trace_is_public_and_import_accelsim_stays_torch_free():
    assert "capture_trace" in accelsim.__all__
    code = "import sys, accelsim; accelsim.capture_trace; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_trace_estimates_its_memory_from_a_dry_run_before_capturing(user_files, capsys):
    directory, _, _ = user_files
    args = ["trace", "--model-file", f"{directory / 'my_net.py'}:build", "--images",
            str(directory / "images.npy"), "--out", str(directory / "t")]
    assert main(args + ["--max-memory", "300M"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trace: needs about" in err and "over --max-memory" in err
    assert not (directory / "t").exists()
    assert main(args + ["--max-memory", "2G"]) == 0
