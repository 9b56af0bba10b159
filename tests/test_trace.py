"""Trace format v1: round trips, atomic writes and rejection of corrupted traces."""

import json

import numpy as np
import pytest
from conftest import random_conv_layer, random_linear_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import Trace, TraceError, load_trace, save_trace
from accelsim.cli import main
from accelsim.errors import AccelsimError


@settings(max_examples=40, deadline=None)
@given(groups=st.sampled_from([1, 2]), kernel=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), samples=st.integers(1, 3),
       dtype=st.sampled_from(["float16", "float32", "int8"]))
def test_round_trip_every_geometry(tmp_path_factory, groups, kernel, stride, padding, dilation,
                                   samples, dtype):
    rng = np.random.default_rng(0)
    conv = random_conv_layer(rng, "conv", samples=samples, channels=4, size=8, filters=6,
                             kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                             groups=groups, dtype=dtype)
    fc = random_linear_layer(rng, "fc", samples=samples, dtype=dtype)
    path = tmp_path_factory.mktemp("rt") / "trace"
    save_trace(Trace([conv, fc], model="m", variant="wp", metadata={"acc": 0.9}), path)
    loaded = load_trace(path)
    assert [l.name for l in loaded.layers] == ["conv", "fc"]
    assert (loaded.model, loaded.variant, loaded.metadata) == ("m", "wp", {"acc": 0.9})
    for before, after in zip([conv, fc], loaded.layers):
        assert after.kind == before.kind
        assert (after.stride, after.padding, after.dilation, after.groups) == (
            before.stride, before.padding, before.dilation, before.groups)
        assert after.output_shape == before.output_shape
        np.testing.assert_array_equal(after.weight, before.weight)
        np.testing.assert_array_equal(after.activations, before.activations)
        assert after.weight.dtype == before.weight.dtype


def test_large_arrays_are_memory_mapped_and_small_ones_read(tmp_path, small_trace, monkeypatch):
    import accelsim.workload.trace as trace_module

    save_trace(small_trace, tmp_path / "t")
    assert not isinstance(load_trace(tmp_path / "t").layers[0].weight, np.memmap)
    monkeypatch.setattr(trace_module, "READ_WHOLE_BYTES", 0)
    assert isinstance(load_trace(tmp_path / "t").layers[0].weight, np.memmap)


def test_existing_trace_is_not_overwritten_without_force(tmp_path, small_trace):
    save_trace(small_trace, tmp_path / "t")
    with pytest.raises(AccelsimError):
        save_trace(small_trace, tmp_path / "t")
    save_trace(small_trace, tmp_path / "t", overwrite=True)
    load_trace(tmp_path / "t")


def test_interrupted_write_leaves_nothing_that_looks_valid(tmp_path, small_trace, monkeypatch):
    calls = []
    real_save = np.save

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_trace(small_trace, tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def _corrupt(path, how):
    manifest = json.loads((path / "manifest.json").read_text())
    layer = manifest["layers"][1]
    target = path / layer["activations"]["file"]
    if how == "truncated":
        target.write_bytes(target.read_bytes()[:-7])
    elif how == "flipped byte":
        data = bytearray(target.read_bytes())
        data[-3] ^= 0x01
        target.write_bytes(bytes(data))
    elif how == "missing file":
        target.unlink()
    elif how == "edited shape":
        layer["weight"]["shape"] = [9, 21]
    elif how == "inconsistent geometry":
        manifest["layers"][0]["stride"] = [2, 2]
    elif how == "unknown version":
        manifest["format_version"] = 7
    elif how == "edited output shape":
        layer["output_shape"] = [10]
    (path / "manifest.json").write_text(json.dumps(manifest))
    return layer["name"] if how != "inconsistent geometry" else manifest["layers"][0]["name"]


CORRUPTIONS = {
    "truncated": "truncated", "flipped byte": "checksum mismatch", "missing file": "missing",
    "edited shape": "manifest says", "inconsistent geometry": "inconsistent",
    "unknown version": "format_version", "edited output shape": "inconsistent",
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupted_trace_is_rejected_with_named_layer(tmp_path, small_trace, how, capsys):
    save_trace(small_trace, tmp_path / "t")
    layer_name = _corrupt(tmp_path / "t", how)
    with pytest.raises(TraceError, match=CORRUPTIONS[how]) as info:
        load_trace(tmp_path / "t")
    if how != "unknown version":
        assert f"layer '{layer_name}'" in str(info.value)
    # The CLI turns it into one line on stderr and a non-zero status, no traceback.
    assert main(["inspect", str(tmp_path / "t")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and CORRUPTIONS[how] in err


def test_cli_error_has_no_traceback_in_a_real_process(tmp_path, small_trace):
    import subprocess
    import sys
    save_trace(small_trace, tmp_path / "t")
    _corrupt(tmp_path / "t", "flipped byte")
    done = subprocess.run([sys.executable, "-m", "accelsim.cli", "inspect", str(tmp_path / "t")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("accelsim inspect: error: ") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_not_a_trace_directory(tmp_path):
    with pytest.raises(TraceError, match="no manifest.json"):
        load_trace(tmp_path)


def test_save_rejects_inconsistent_layers(tmp_path):
    rng = np.random.default_rng(0)
    conv = random_conv_layer(rng, channels=4, groups=1)
    conv.groups = 3
    with pytest.raises(TraceError, match="groups=3"):
        save_trace(Trace([conv]), tmp_path / "t")
    assert not (tmp_path / "t").exists()
